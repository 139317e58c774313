"""Helpers for the contract-order tests: a confirmed contract inserted directly (quote and offer from the sourcing
fixtures), placed as an order, and paying a milestone through the real payment steps.

```python
world = await contract_world(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory,
                             balance_due="on_documents")
so = await contract_orders.place(session, world.contract)
await pay_milestone(session, run_worker, world, so_id, "deposit")     # card charged, webhook delivered
```
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.factories import actor_of
from fixtures.orders import card
from fixtures.sourcing import Party
from souk.auth.actor import Actor
from souk.kit.clock import utcnow
from souk.ledger import accounts
from souk.ledger.service import ledger_service
from souk.models import Contract, Offer, Order, PaymentMilestone, SellerOrder
from souk.payment.schemas import CardIn
from souk.trade.sourcing.contract.orders import contract_orders

_numbers = itertools.count(7001)

ADDRESS = {
    "full_name": "Hilde Einkauf",
    "phone": "+49 30 123456",
    "line1": "Lagerstraße 5",
    "line2": "",
    "city": "Hamburg",
    "region": "",
    "postal_code": "20095",
    "country": "DE",
}


@dataclass
class ContractWorld:
    """Plain ids and actors too: the worker expires the session's objects."""

    buyer: Party
    supplier: Party
    contract: Contract
    buyer_actor: Actor
    supplier_actor: Actor
    store_id: int
    buyer_org_id: int


async def contract_world(
    session: AsyncSession,
    sourcing_buyer: Callable[..., Awaitable[Party]],
    sourcing_supplier: Callable[..., Awaitable[Party]],
    rfq_factory: Callable[..., Awaitable[Any]],
    quote_factory: Callable[..., Awaitable[Any]],
    *,
    quantity: int = 1000,
    unit_price_amount: int = 250,
    shipping_amount: int = 30_000,
    deposit_bps: int = 3000,
    balance_due: str = "before_shipment",
    ship_in_days: int = 30,
) -> ContractWorld:
    """A buyer organisation, a supplier and a confirmed contract (version 1) between them, not placed yet."""
    buyer = await sourcing_buyer()
    supplier = await sourcing_supplier()
    rfq = await rfq_factory(buyer, quantity=quantity)
    quote = await quote_factory(
        rfq,
        supplier,
        unit_price_amount=unit_price_amount,
        shipping_amount=shipping_amount,
        deposit_bps=deposit_bps,
        balance_due=balance_due,
    )
    offer = await session.scalar(select(Offer).where(Offer.quote_id == quote.id))
    assert offer is not None
    goods = quantity * unit_price_amount
    total = goods + shipping_amount
    deposit = total * deposit_bps // 10_000
    now = utcnow()
    contract = Contract(
        number=f"C-{next(_numbers)}",
        version=1,
        status="confirmed",
        rfq_id=rfq.id,
        quote_id=quote.id,
        offer_id=offer.id,
        buyer_organization_id=buyer.organization.id,
        buyer_user_id=buyer.user.id,
        store_id=supplier.store_id,
        product_specification=f"{rfq.title}\n{rfq.requirements}",
        quantity=quantity,
        unit=rfq.unit,
        currency="USD",
        unit_price_amount=unit_price_amount,
        goods_amount=goods,
        shipping_amount=shipping_amount,
        total_amount=total,
        incoterm="FOB",
        place="Ningbo",
        ship_by=(now + timedelta(days=ship_in_days)).date(),
        quality_terms="AQL 2.5",
        deposit_bps=deposit_bps,
        deposit_amount=deposit,
        balance_amount=total - deposit,
        balance_due=balance_due,
        shipping_address=dict(ADDRESS),
        buyer_confirmed_at=now,
        buyer_confirmed_by_id=buyer.user.id,
        supplier_confirmed_at=now,
        supplier_confirmed_by_id=supplier.user.id,
        confirmed_at=now,
    )
    session.add(contract)
    await session.flush()
    return ContractWorld(
        buyer,
        supplier,
        contract,
        actor_of(buyer.user),
        actor_of(supplier.user),
        supplier.store_id,
        buyer.organization.id,
    )


async def fresh_so(session: AsyncSession, so_id: int) -> SellerOrder:
    so = await session.scalar(
        select(SellerOrder).where(SellerOrder.id == so_id).execution_options(populate_existing=True)
    )
    assert so is not None
    return so


async def fresh_order(session: AsyncSession, order_id: int) -> Order:
    order = await session.scalar(
        select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    )
    assert order is not None
    return order


async def milestones_of(session: AsyncSession, so_id: int) -> dict[str, PaymentMilestone]:
    rows = await session.scalars(
        select(PaymentMilestone)
        .where(PaymentMilestone.seller_order_id == so_id)
        .execution_options(populate_existing=True)
    )
    return {m.kind: m for m in rows.all()}


async def pay_milestone(
    session: AsyncSession,
    run_worker: Callable[..., Awaitable[Any]],
    world: ContractWorld,
    so_id: int,
    kind: str,
    *,
    deliver: bool = True,
) -> None:
    """The buyer pays the milestone with the card that succeeds; ``deliver`` runs the worker so the provider's
    webhook marks it paid."""
    so = await fresh_so(session, so_id)
    milestone = (await milestones_of(session, so_id))[kind]
    await contract_orders.pay(
        session, world.buyer_actor, milestone.id, CardIn.model_validate(card()), order_id=so.order_id
    )
    if deliver:
        await run_worker()


async def escrow_of(session: AsyncSession, so: SellerOrder) -> int:
    return await ledger_service.balance(session, accounts.escrow(so.store_id, so.id), so.currency)


async def payable_of(session: AsyncSession, store_id: int, currency: str = "USD") -> int:
    return await ledger_service.balance(session, accounts.payable(store_id), currency)
