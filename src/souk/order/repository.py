"""All SQL of orders: scoped reads for the buyer and the store's people, conditional state changes (a transition
is an ``UPDATE ... WHERE status IN (...)`` whose row count says whether it happened), stock sales and returns as
atomic updates, and the due rows of the timers. No rules, no commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from souk.inventory.repository import StockRepository
from souk.models import (
    Contract,
    Membership,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    PaymentMilestone,
    SellerOrder,
    Shipment,
    Stock,
    Store,
    TrackingEvent,
    User,
)


@dataclass(frozen=True)
class StockedLine:
    sku_id: int
    quantity: int


def stocked(lines: Sequence[OrderLine]) -> list[StockedLine]:
    """The lines that hold listed stock, in SKU order (the lock order); a sourcing contract's line has no SKU
    and no stock."""
    held = [StockedLine(line.sku_id, line.quantity) for line in lines if line.sku_id is not None]
    return sorted(held, key=lambda line: line.sku_id)


@dataclass
class SellerOrderBundle:
    """A seller order with everything its pages show."""

    seller_order: SellerOrder
    store: Store
    lines: list[OrderLine] = field(default_factory=list)
    events: list[OrderEvent] = field(default_factory=list)
    shipment: Shipment | None = None
    tracking: list[TrackingEvent] = field(default_factory=list)
    # user id -> display name, for the timeline
    actor_names: dict[int, str] = field(default_factory=dict)
    # a sourcing contract's order: its milestones (with their payments) and when its balance is due
    milestones: list[PaymentMilestone] = field(default_factory=list)
    milestone_payments: dict[int, Payment] = field(default_factory=dict)
    payment_plan: str | None = None


@dataclass
class WrittenRows:
    """The lines and events of a new order as its transaction inserted them, and the names of their actors."""

    lines: list[OrderLine]
    events: list[OrderEvent]
    actor_names: dict[int, str]


class OrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- transitions ------------------------------------------------------------------------------------

    async def transition(
        self, seller_order_id: int, from_statuses: Sequence[str], values: dict[str, Any]
    ) -> bool:
        """Apply ``values`` (with the new ``status``) when the seller order is in one of ``from_statuses``;
        True when it was (this transaction made the change), False when another state was found."""
        result = await self.session.execute(
            update(SellerOrder)
            .where(SellerOrder.id == seller_order_id, SellerOrder.status.in_(list(from_statuses)))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def update_if(self, seller_order_id: int, condition: Any, values: dict[str, Any]) -> bool:
        """Apply ``values`` when ``condition`` (an SQL expression on the seller order) holds."""
        result = await self.session.execute(
            update(SellerOrder)
            .where(SellerOrder.id == seller_order_id, condition)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def order_transition(self, order_id: int, from_status: str, values: dict[str, Any]) -> bool:
        result = await self.session.execute(
            update(Order)
            .where(Order.id == order_id, Order.status == from_status)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    def add_event(
        self,
        seller_order_id: int,
        kind: str,
        *,
        actor_id: int | None,
        actor_role: str,
        at: datetime,
        data: dict[str, Any] | None = None,
    ) -> OrderEvent:
        event = OrderEvent(
            seller_order_id=seller_order_id,
            kind=kind,
            actor_id=actor_id,
            actor_role=actor_role,
            data=data or {},
            created_at=at,
        )
        self.session.add(event)
        return event

    # --- stock ----------------------------------------------------------------------------------------------

    async def restock(self, sku_id: int, qty: int) -> int | None:
        """Put ``qty`` sold units back on hand (a cancelled paid order); the on-hand count after."""
        row = (
            await self.session.execute(
                update(Stock)
                .where(Stock.sku_id == sku_id)
                .values(on_hand=Stock.on_hand + qty)
                .returning(Stock.on_hand)
                .execution_options(synchronize_session=False)
            )
        ).first()
        return int(row[0]) if row is not None else None

    def add_movement(
        self, sku_id: int, kind: str, delta: int, on_hand_after: int, reason: str, actor_id: int | None
    ) -> None:
        StockRepository(self.session).add_movement(sku_id, kind, delta, on_hand_after, reason, actor_id)

    # --- reads: single rows ---------------------------------------------------------------------------------

    async def order(self, order_id: int, *, fresh: bool = False) -> Order | None:
        stmt = select(Order).where(Order.id == order_id)
        if fresh:
            stmt = stmt.execution_options(populate_existing=True)
        return await self.session.scalar(stmt)

    async def order_of_buyer(self, buyer_id: int, order_id: int) -> Order | None:
        return await self.session.scalar(
            select(Order)
            .where(Order.id == order_id, Order.buyer_id == buyer_id)
            .execution_options(populate_existing=True)
        )

    async def order_by_token(self, buyer_id: int, token: str) -> Order | None:
        return await self.session.scalar(
            select(Order).where(Order.buyer_id == buyer_id, Order.checkout_token == token)
        )

    async def seller_order(self, seller_order_id: int) -> SellerOrder | None:
        return await self.session.scalar(
            select(SellerOrder)
            .where(SellerOrder.id == seller_order_id)
            .execution_options(populate_existing=True)
        )

    async def seller_orders_of(self, order_ids: Sequence[int]) -> list[SellerOrder]:
        if not order_ids:
            return []
        rows = await self.session.scalars(
            select(SellerOrder)
            .where(SellerOrder.order_id.in_(list(order_ids)))
            .order_by(SellerOrder.order_id.desc(), SellerOrder.id)
            .execution_options(populate_existing=True)
        )
        return list(rows.all())

    async def lines_of(self, seller_order_ids: Sequence[int]) -> list[OrderLine]:
        if not seller_order_ids:
            return []
        rows = await self.session.scalars(
            select(OrderLine)
            .where(OrderLine.seller_order_id.in_(list(seller_order_ids)))
            .order_by(OrderLine.seller_order_id, OrderLine.id)
        )
        return list(rows.all())

    async def payment(self, payment_id: int | None) -> Payment | None:
        if payment_id is None:
            return None
        return await self.session.scalar(
            select(Payment).where(Payment.id == payment_id).execution_options(populate_existing=True)
        )

    async def payments(self, payment_ids: Sequence[int | None]) -> dict[int, Payment]:
        ids = sorted({i for i in payment_ids if i is not None})
        if not ids:
            return {}
        rows = await self.session.scalars(
            select(Payment).where(Payment.id.in_(ids)).execution_options(populate_existing=True)
        )
        return {p.id: p for p in rows.all()}

    async def store_people(self, store_id: int) -> list[int]:
        """The users who work on a store (its owner, or its organisation's members), for notifications."""
        store = await self.session.get(Store, store_id)
        if store is None:
            return []
        if store.owner_user_id is not None:
            return [store.owner_user_id]
        rows = await self.session.scalars(
            select(Membership.user_id)
            .where(Membership.organization_id == store.organization_id)
            .order_by(Membership.user_id)
        )
        return list(rows.all())

    # --- reads: bundles for the pages and the API -------------------------------------------------------------

    async def bundles_of_orders(
        self, order_ids: Sequence[int], *, timeline: bool, written: WrittenRows | None = None
    ) -> list[SellerOrderBundle]:
        """``bundles`` of every seller order of these orders (newest order first, then by id), the seller orders
        read fresh together with their stores, shipments and contract plans in one statement. ``written``: the
        lines and events this transaction has just inserted (all there are: a new order's), not read again."""
        if not order_ids:
            return []
        rows = await self.session.execute(
            self._with_extras(SellerOrder.order_id.in_(list(order_ids))).order_by(
                SellerOrder.order_id.desc(), SellerOrder.id
            )
        )
        found = {
            so.id: (so, store, shipment, contract, plan) for so, store, shipment, contract, plan in rows.all()
        }
        return await self._complete([v[0] for v in found.values()], found, timeline=timeline, written=written)

    def _with_extras(self, condition: Any) -> Any:
        """Seller orders with their store, shipment, contract id and plan (each unique per seller order)."""
        return (
            select(SellerOrder, Store, Shipment, Contract.id, Contract.balance_due)
            .join(Store, Store.id == SellerOrder.store_id)
            .outerjoin(Shipment, Shipment.seller_order_id == SellerOrder.id)
            .outerjoin(Contract, Contract.seller_order_id == SellerOrder.id)
            .where(condition)
            .execution_options(populate_existing=True)
        )

    async def bundles(
        self, seller_orders: Sequence[SellerOrder], *, timeline: bool
    ) -> list[SellerOrderBundle]:
        """Each seller order with its store, lines, shipment and (``timeline``) its events and tracking."""
        ids = [so.id for so in seller_orders]
        if not ids:
            return []
        rows = await self.session.execute(self._with_extras(SellerOrder.id.in_(ids)))
        found = {
            so.id: (so, store, shipment, contract, plan) for so, store, shipment, contract, plan in rows.all()
        }
        return await self._complete(seller_orders, found, timeline=timeline)

    async def _complete(
        self,
        seller_orders: Sequence[SellerOrder],
        found: dict[int, tuple[SellerOrder, Store, Shipment | None, int | None, str | None]],
        *,
        timeline: bool,
        written: WrittenRows | None = None,
    ) -> list[SellerOrderBundle]:
        ids = [so.id for so in seller_orders]
        bundles = {so.id: SellerOrderBundle(so, found[so.id][1]) for so in seller_orders}
        for line in written.lines if written is not None else await self.lines_of(ids):
            bundles[line.seller_order_id].lines.append(line)
        shipments = [shipment for _, _, shipment, _, _ in found.values() if shipment is not None]
        contract_orders: list[int] = []
        for so_id, (_, _, _, contract_id, plan) in found.items():
            if contract_id is not None:
                bundles[so_id].payment_plan = plan
                contract_orders.append(so_id)
        if contract_orders:
            rows = await self.session.scalars(
                select(PaymentMilestone)
                .where(PaymentMilestone.seller_order_id.in_(contract_orders))
                .order_by(PaymentMilestone.seller_order_id, PaymentMilestone.position)
                .execution_options(populate_existing=True)
            )
            for milestone in rows.all():
                bundles[milestone.seller_order_id].milestones.append(milestone)
            payments = await self.payments(
                [m.payment_id for b in bundles.values() for m in b.milestones if m.payment_id is not None]
            )
            for bundle in bundles.values():
                bundle.milestone_payments = payments
        by_shipment: dict[int, SellerOrderBundle] = {}
        for shipment in shipments:
            bundles[shipment.seller_order_id].shipment = shipment
            by_shipment[shipment.id] = bundles[shipment.seller_order_id]
        if timeline:
            # each event with the name of who did it, in one statement
            events: Sequence[tuple[OrderEvent, str | None]]
            if written is not None:
                events = [(e, written.actor_names.get(e.actor_id or 0)) for e in written.events]
            else:
                found_events = await self.session.execute(
                    select(OrderEvent, User.display_name)
                    .outerjoin(User, User.id == OrderEvent.actor_id)
                    .where(OrderEvent.seller_order_id.in_(ids))
                    .order_by(OrderEvent.seller_order_id, OrderEvent.created_at, OrderEvent.id)
                )
                events = [(event, name) for event, name in found_events.all()]
            names: dict[int, str] = {}
            for event, name in events:
                bundles[event.seller_order_id].events.append(event)
                if event.actor_id is not None and name is not None:
                    names[event.actor_id] = name
            for bundle in bundles.values():
                bundle.actor_names = names
            if by_shipment:
                tracking = await self.session.scalars(
                    select(TrackingEvent)
                    .where(TrackingEvent.shipment_id.in_(list(by_shipment)))
                    .order_by(TrackingEvent.occurred_at, TrackingEvent.id)
                )
                for tracked in tracking.all():
                    by_shipment[tracked.shipment_id].tracking.append(tracked)
        return [bundles[i] for i in ids]

    # --- lists ------------------------------------------------------------------------------------------------

    async def buyer_orders(
        self, buyer_id: int, statuses: Sequence[str] | None, before_id: int | None, limit: int
    ) -> list[Order]:
        """The buyer's orders, newest first; with ``statuses``, those with a seller order in one of them."""
        stmt = select(Order).where(Order.buyer_id == buyer_id)
        if statuses:
            stmt = stmt.where(
                Order.id.in_(
                    select(SellerOrder.order_id).where(
                        SellerOrder.buyer_id == buyer_id, SellerOrder.status.in_(list(statuses))
                    )
                )
            )
        if before_id is not None:
            stmt = stmt.where(Order.id < before_id)
        rows = await self.session.scalars(
            stmt.order_by(Order.id.desc()).limit(limit).execution_options(populate_existing=True)
        )
        return list(rows.all())

    async def buyer_counts(self, buyer_id: int) -> dict[str, int]:
        """How many of the buyer's seller orders are in each status."""
        rows = await self.session.execute(
            select(SellerOrder.status, func.count())
            .where(SellerOrder.buyer_id == buyer_id)
            .group_by(SellerOrder.status)
        )
        return {status: int(n) for status, n in rows.all()}

    async def store_order(self, store_id: int, seller_order_id: int) -> SellerOrder | None:
        return await self.session.scalar(
            select(SellerOrder)
            .where(SellerOrder.id == seller_order_id, SellerOrder.store_id == store_id)
            .execution_options(populate_existing=True)
        )

    async def store_orders_to_ship(
        self, store_id: int, after: tuple[datetime, int] | None, limit: int
    ) -> list[SellerOrder]:
        """Paid seller orders of a store, the earliest ship-by deadline first."""
        stmt = select(SellerOrder).where(SellerOrder.store_id == store_id, SellerOrder.status == "paid")
        if after is not None:
            at, so_id = after
            stmt = stmt.where(
                or_(SellerOrder.ship_by > at, and_(SellerOrder.ship_by == at, SellerOrder.id > so_id))
            )
        rows = await self.session.scalars(
            stmt.order_by(SellerOrder.ship_by, SellerOrder.id)
            .limit(limit)
            .execution_options(populate_existing=True)
        )
        return list(rows.all())

    async def store_orders(
        self,
        store_id: int,
        statuses: Sequence[str] | None,
        before_id: int | None,
        limit: int,
        *,
        exclude: Sequence[str] = (),
    ) -> list[SellerOrder]:
        """A store's seller orders, newest first (``statuses`` to filter, ``exclude`` to leave some out)."""
        stmt = select(SellerOrder).where(SellerOrder.store_id == store_id)
        if statuses:
            stmt = stmt.where(SellerOrder.status.in_(list(statuses)))
        if exclude:
            stmt = stmt.where(SellerOrder.status.not_in(list(exclude)))
        if before_id is not None:
            stmt = stmt.where(SellerOrder.id < before_id)
        rows = await self.session.scalars(
            stmt.order_by(SellerOrder.id.desc()).limit(limit).execution_options(populate_existing=True)
        )
        return list(rows.all())

    async def store_counts(self, store_id: int) -> dict[str, int]:
        rows = await self.session.execute(
            select(SellerOrder.status, func.count())
            .where(SellerOrder.store_id == store_id)
            .group_by(SellerOrder.status)
        )
        return {status: int(n) for status, n in rows.all()}

    async def orders_by_ids(self, order_ids: Sequence[int]) -> dict[int, Order]:
        if not order_ids:
            return {}
        rows = await self.session.scalars(select(Order).where(Order.id.in_(list(order_ids))))
        return {o.id: o for o in rows.all()}

    async def buyer_names(self, user_ids: Sequence[int]) -> dict[int, str]:
        if not user_ids:
            return {}
        rows = await self.session.execute(
            select(User.id, User.display_name).where(User.id.in_(list(user_ids)))
        )
        return {uid: name for uid, name in rows.all()}
