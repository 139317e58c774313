"""Reading orders: the buyer's orders and a store's orders, with the read models the API and the pages show, and
the conversation of a seller order. The transitions live in ``souk.order.service`` (``OrderService`` extends this).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import get_store_for, require_user, require_writer
from souk.errors import invalid_field
from souk.kit.clock import utcnow
from souk.kit.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from souk.messaging.service import messaging_service
from souk.models import Conversation, Order, Payment, SellerOrder, Store
from souk.order.errors import OrderNotFound, SellerOrderNotFound
from souk.order.repository import OrderRepository, WrittenRows
from souk.order.schemas import OrderRead, SellerOrderRead, StoreOrderRead
from souk.order.views import buyer_next_action, order_read, seller_order_read, store_order_read

# statuses of the buyer's tabs
BUYER_TABS: dict[str, tuple[str, ...]] = {
    "to_pay": ("pending_payment", "awaiting_deposit", "awaiting_balance"),
    "to_ship": ("paid", "in_production"),
    "shipped": ("shipped",),
    "completed": ("completed",),
    "cancelled": ("cancelled", "refunded"),
}
STATUSES: tuple[str, ...] = (
    "pending_payment",
    "paid",
    "shipped",
    "completed",
    "cancelled",
    "refunded",
    # a sourcing contract's order
    "awaiting_deposit",
    "in_production",
    "awaiting_balance",
)


def buyer_link(order_id: int) -> str:
    return f"/orders/{order_id}"


def seller_link(store_id: int, seller_order_id: int) -> str:
    return f"/seller/stores/{store_id}/orders/{seller_order_id}"


@dataclass
class StoreOrders:
    """A page of a store's seller orders, with how many it has in each status."""

    store: Store
    page: Page[StoreOrderRead]
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class BuyerOrders:
    page: Page[OrderRead]
    counts: dict[str, int] = field(default_factory=dict)


def _store_cursor(values: list[Any] | None) -> tuple[str, datetime | None, int] | None:
    if values is None:
        return None
    bad = invalid_field("cursor", "is not a cursor this API issued")
    try:
        if values[0] == "ship" and len(values) == 3 and isinstance(values[2], int):
            return "ship", datetime.fromisoformat(str(values[1])), values[2]
        if values[0] == "rest" and len(values) == 2 and isinstance(values[1], int):
            return "rest", None, values[1]
        if values == ["rest"]:
            return "rest", None, 0
    except (TypeError, ValueError, IndexError) as exc:
        raise bad from exc
    raise bad


def _id_cursor(cursor: str | None) -> int | None:
    values = decode_cursor(cursor)
    if values is None:
        return None
    if len(values) != 1 or isinstance(values[0], bool) or not isinstance(values[0], int):
        raise invalid_field("cursor", "is not a cursor this API issued")
    return values[0]


class OrderQueries:
    # --- reading: the buyer -----------------------------------------------------------------------------

    async def _buyer_order(self, session: AsyncSession, actor: Actor, order_id: int) -> Order:
        order = await OrderRepository(session).order_of_buyer(require_user(actor), order_id)
        if order is None:
            raise OrderNotFound()
        return order

    async def _buyer_seller_order(
        self, session: AsyncSession, actor: Actor, order_id: int, seller_order_id: int
    ) -> tuple[Order, SellerOrder]:
        order = await self._buyer_order(session, actor, order_id)
        so = await OrderRepository(session).seller_order(seller_order_id)
        if so is None or so.order_id != order.id:
            raise SellerOrderNotFound()
        return order, so

    async def get_for_buyer(self, session: AsyncSession, actor: Actor, order_id: int) -> OrderRead:
        """One of the actor's orders with its seller orders, lines, shipments, timelines and next actions
        (``OrderRead``); another buyer's order is 404."""
        order = await self._buyer_order(session, actor, order_id)
        return await self._order_read(session, order, timeline=True)

    async def read_for_buyer(
        self,
        session: AsyncSession,
        order: Order,
        payment: Payment | None,
        *,
        written: WrittenRows | None = None,
    ) -> OrderRead:
        """``get_for_buyer`` for an order and its payment that the caller has just read in this transaction
        through a statement scoped to the buyer (the checkout flow's own order): they are not read again, nor
        are the lines and events the caller has just ``written`` (a new order's)."""
        repo = OrderRepository(session)
        bundles = await repo.bundles_of_orders([order.id], timeline=True, written=written)
        return order_read(order, payment, bundles, utcnow())

    async def _order_read(self, session: AsyncSession, order: Order, *, timeline: bool) -> OrderRead:
        repo = OrderRepository(session)
        payment = await repo.payment(order.payment_id)
        bundles = await repo.bundles_of_orders([order.id], timeline=timeline)
        return order_read(order, payment, bundles, utcnow())

    async def list_for_buyer(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        statuses: Sequence[str] | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> BuyerOrders:
        """The actor's orders, newest first (``statuses``: those with a seller order in one of them), and how
        many seller orders they have in each status."""
        user_id = require_user(actor)
        for status in statuses or ():
            if status not in STATUSES:
                raise invalid_field("status", f"must be one of {', '.join(STATUSES)}")
        size = clamp_limit(limit)
        repo = OrderRepository(session)
        orders = await repo.buyer_orders(user_id, statuses, _id_cursor(cursor), size + 1)
        next_cursor = encode_cursor([orders[size - 1].id]) if len(orders) > size else None
        orders = orders[:size]
        bundles = await repo.bundles_of_orders([o.id for o in orders], timeline=False)
        payments = await repo.payments([o.payment_id for o in orders])
        now = utcnow()
        items = []
        for order in orders:
            mine = [b for b in bundles if b.seller_order.order_id == order.id]
            payment = payments.get(order.payment_id) if order.payment_id is not None else None
            items.append(order_read(order, payment, mine, now))
        return BuyerOrders(
            Page[OrderRead](items=items, next_cursor=next_cursor), await repo.buyer_counts(user_id)
        )

    # --- reading: the store's people -------------------------------------------------------------------

    async def _store_order(
        self, session: AsyncSession, actor: Actor, store_id: int, seller_order_id: int, permission: str
    ) -> tuple[Store, SellerOrder]:
        store = await get_store_for(session, actor, store_id, permission)
        so = await OrderRepository(session).store_order(store.id, seller_order_id)
        if so is None:
            raise SellerOrderNotFound()
        return store, so

    async def _store_views(self, session: AsyncSession, sos: Sequence[SellerOrder]) -> list[StoreOrderRead]:
        repo = OrderRepository(session)
        orders = await repo.orders_by_ids(sorted({so.order_id for so in sos}))
        names = await repo.buyer_names(sorted({so.buyer_id for so in sos}))
        bundles = await repo.bundles(sos, timeline=True)
        now = utcnow()
        return [
            store_order_read(b, orders[b.seller_order.order_id], names.get(b.seller_order.buyer_id, ""), now)
            for b in bundles
        ]

    async def get_for_store(
        self, session: AsyncSession, actor: Actor, store_id: int, seller_order_id: int
    ) -> StoreOrderRead:
        """One of the store's seller orders with the buyer's address (``store:read``; else 404/403)."""
        _, so = await self._store_order(session, actor, store_id, seller_order_id, "store:read")
        return (await self._store_views(session, [so]))[0]

    async def list_for_store(
        self,
        session: AsyncSession,
        actor: Actor,
        store_id: int,
        *,
        status: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> StoreOrders:
        """The store's seller orders (``store:read``). Without ``status``: those to ship first (earliest
        ship-by first), then the others newest first; ``status="paid"`` lists only those to ship."""
        store = await get_store_for(session, actor, store_id, "store:read")
        if status is not None and status not in STATUSES:
            raise invalid_field("status", f"must be one of {', '.join(STATUSES)}")
        size = clamp_limit(limit)
        repo = OrderRepository(session)
        position = _store_cursor(decode_cursor(cursor))
        rows: list[SellerOrder] = []
        next_cursor = None
        if status in (None, "paid") and (position is None or position[0] == "ship"):
            after = (position[1], position[2]) if position and position[1] is not None else None
            rows = await repo.store_orders_to_ship(store.id, after, size + 1)
            if len(rows) > size:
                rows = rows[:size]
                last = rows[-1]
                assert last.ship_by is not None
                next_cursor = encode_cursor(["ship", last.ship_by.isoformat(), last.id])
            elif (
                status is None
                and len(rows) == size
                and await repo.store_orders(store.id, None, None, 1, exclude=("paid",))
            ):
                # the page is full of orders to ship: the others start on the next page
                next_cursor = encode_cursor(["rest"])
        if status != "paid" and next_cursor is None and len(rows) < size:
            before = position[2] or None if position and position[0] == "rest" else None
            rest = await repo.store_orders(
                store.id,
                [status] if status else None,
                before,
                size - len(rows) + 1,
                exclude=("paid",) if status is None else (),
            )
            if len(rest) > size - len(rows):
                rest = rest[: size - len(rows)]
                next_cursor = encode_cursor(["rest", rest[-1].id]) if rest else None
            rows += rest
        items = await self._store_views(session, rows)
        return StoreOrders(
            store,
            Page[StoreOrderRead](items=items, next_cursor=next_cursor),
            await repo.store_counts(store.id),
        )

    async def _buyer_so_read(
        self, session: AsyncSession, order: Order, seller_order_id: int
    ) -> SellerOrderRead:
        repo = OrderRepository(session)
        so = await repo.seller_order(seller_order_id)
        assert so is not None
        bundle = (await repo.bundles([so], timeline=True))[0]
        return seller_order_read(
            bundle, buyer_next_action(so, await repo.payment(order.payment_id), utcnow(), bundle)
        )

    # --- the conversation of a seller order ----------------------------------------------------------------

    async def buyer_conversation(
        self, session: AsyncSession, actor: Actor, order_id: int, seller_order_id: int
    ) -> Conversation:
        """The thread between the buyer and the store about one seller order (opened on first use)."""
        require_writer(actor)
        _, so = await self._buyer_seller_order(session, actor, order_id, seller_order_id)
        return await self._conversation(session, actor, so)

    async def store_conversation(
        self, session: AsyncSession, actor: Actor, store_id: int, seller_order_id: int
    ) -> Conversation:
        """The same thread, for the store's people (``store:read``)."""
        require_writer(actor)
        _, so = await self._store_order(session, actor, store_id, seller_order_id, "store:read")
        return await self._conversation(session, actor, so)

    async def _conversation(self, session: AsyncSession, actor: Actor, so: SellerOrder) -> Conversation:
        return await messaging_service.open_thread(
            session,
            actor,
            store_id=so.store_id,
            buyer_user_id=so.buyer_id,
            subject_type="seller_order",
            subject_id=so.id,
            title=f"Order {so.number}",
        )
