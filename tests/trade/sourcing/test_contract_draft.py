"""Drafting a contract from the agreed offer."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from souk.kit.clock import utcnow
from souk.models import Contract, Offer
from souk.trade.sourcing.contract.service import contract_service, deposit_of


async def _offer(session, quote):
    return (await session.scalars(select(Offer).where(Offer.quote_id == quote.id))).one()


async def test_draft_from_offer(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory):
    buyer = await sourcing_buyer()
    supplier = await sourcing_supplier()
    rfq = await rfq_factory(buyer, quantity=1000, unit="pieces", title="Bottles", requirements="750 ml")
    quote = await quote_factory(
        rfq, supplier, unit_price_amount=233, shipping_amount=30_001, deposit_bps=3000, lead_time_days=20
    )
    offer = await _offer(session, quote)
    contract = await contract_service.draft(
        session, rfq=rfq, quote=quote, offer=offer, buyer_user_id=buyer.user.id
    )

    assert contract.number == f"C-{1000 + contract.id}"
    assert (contract.version, contract.status) == (1, "draft")
    assert contract.buyer_organization_id == buyer.organization.id
    assert contract.store_id == supplier.store_id
    assert contract.buyer_user_id == buyer.user.id
    assert (contract.rfq_id, contract.quote_id, contract.offer_id) == (rfq.id, quote.id, offer.id)
    assert contract.product_specification == "Bottles\n\n750 ml"
    assert (contract.quantity, contract.unit, contract.currency) == (1000, "pieces", "USD")
    assert contract.goods_amount == 233_000
    assert contract.total_amount == 263_001
    # 263001 * 0.3 = 78900.3 -> 78900
    assert contract.deposit_amount == 78_900
    assert contract.balance_amount == 184_101
    assert contract.deposit_amount + contract.balance_amount == contract.total_amount
    assert (contract.incoterm, contract.place, contract.balance_due) == ("FOB", "Ningbo", "before_shipment")
    assert contract.ship_by == utcnow().date() + timedelta(days=20)
    assert contract.quality_terms == "" and contract.shipping_address == {}
    assert contract.buyer_confirmed_at is None and contract.supplier_confirmed_at is None
    stored = (await session.scalars(select(Contract).where(Contract.number == contract.number))).one()
    assert stored.id == contract.id


async def test_two_drafts_get_distinct_numbers(
    session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory
):
    buyer = await sourcing_buyer()
    numbers = set()
    for _ in range(2):
        rfq = await rfq_factory(buyer)
        quote = await quote_factory(rfq, await sourcing_supplier())
        offer = await _offer(session, quote)
        c = await contract_service.draft(
            session, rfq=rfq, quote=quote, offer=offer, buyer_user_id=buyer.user.id
        )
        numbers.add(c.number)
    assert len(numbers) == 2


def test_deposit_rounds_half_up():
    assert deposit_of(10_005, 5000) == 5003  # 5002.5 -> 5003
    assert deposit_of(10_003, 5000) == 5002  # 5001.5 -> 5002
    assert deposit_of(263_001, 3000) == 78_900  # 78900.3
    assert deposit_of(263_005, 3000) == 78_902  # 78901.5 -> 78902
    assert deposit_of(1000, 0) == 0
    assert deposit_of(1000, 10000) == 1000
