"""The sourcing fixtures make consistent rows (the later steps' tests build on them)."""

from __future__ import annotations

from sqlalchemy import select

from souk.models import Offer


async def test_rfq_and_quote_rows(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory):
    buyer = await sourcing_buyer()
    supplier = await sourcing_supplier()
    rfq = await rfq_factory(buyer, quantity=2000)
    quote = await quote_factory(rfq, supplier, unit_price_amount=199)
    assert rfq.quote_count == 1 and rfq.quote_cap == 10
    assert quote.quantity == 2000 and quote.store_id == supplier.store_id
    offers = (await session.scalars(select(Offer).where(Offer.quote_id == quote.id))).all()
    assert [(o.version, o.kind, o.side, o.unit_price_amount) for o in offers] == [
        (1, "quote", "supplier", 199)
    ]
