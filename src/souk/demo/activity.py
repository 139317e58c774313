"""The demo's buying activity: orders in every state, reviews, refund requests, a dispute and an inquiry, then
the sourcing story of ``souk.demo.sourcing`` (RFQs, quotes, a counter-offer, a contract in production).

It runs after the catalog is written, on the same session (the caller commits), and goes through the real
services only: the cart, the three checkout steps of ``souk.checkout.flows`` (place; the simulated provider
charges the card; settle), the provider's webhook delivered by the worker's job runner, ``order_service``
(ship, confirm receipt, cancel), ``dispute_service``, ``review_service`` and ``messaging_service``. No order or
ledger row is written by hand, so ``souk audit`` holds afterwards.

The flows' own entry points commit between their steps; the demo runs the same steps on its one uncommitted
session instead (as the checkout tests do), so a failed build leaves nothing behind. The webhook jobs run in
savepoints of that transaction.

Time: every event happens at a planned moment of the last three weeks (``souk.kit.clock`` is moved there and
put back at the end), in time order, so completed orders were shipped and confirmed days before, and the
timers that the worker sweeps later (unpaid close, ship-by, receipt, refund answer) fall where a newcomer
expects them: the order waiting for payment is closed by the unpaid timer half an hour after the build.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from souk.address.schemas import AddressCreate
from souk.address.service import address_service
from souk.auth.actor import Actor
from souk.cart.service import cart_service
from souk.checkout.schemas import CheckoutCreate, ShippingChoice
from souk.checkout.service import checkout_service
from souk.demo import sourcing
from souk.demo.parties import (
    BUYER,
    BUYER_NAMES,
    CROSSBORDER_STORES,
    MALL_STORES,
    MARKET_STORES,
    OPERATOR,
    SOURCING_STORES,
    StoreSpec,
)
from souk.dispute.schemas import DisputeCreate, DisputeReason
from souk.dispute.service import dispute_service
from souk.kit.clock import clock, utcnow
from souk.messaging.service import messaging_service
from souk.models import (
    Membership,
    Order,
    OrderLine,
    Product,
    SellerOrder,
    ShippingMethod,
    Sku,
    Stock,
    Store,
    User,
)
from souk.order.schemas import ShipCreate
from souk.order.service import order_service
from souk.payment.schemas import CardIn
from souk.payment.service import payment_service
from souk.payment.simulated import CARD_DECLINED, CARD_SUCCEEDS
from souk.review.schemas import ReplyCreate, ReviewCreate
from souk.review.service import review_service
from souk.worker.runner import Worker

STAGE = "Placing orders, reviews, refunds, a dispute and RFQs"
# a product is bought only when it was listed this long before the first order, and only from a SKU with
# plenty of units (buying never empties a SKU)
LISTED_BEFORE = timedelta(days=30)
MIN_UNITS = 10


class Reporter(Protocol):
    def stage(self, description: str, total: int) -> None: ...

    def advance(self, amount: int = 1) -> None: ...


@dataclass(frozen=True)
class Item:
    sku_id: int
    product_id: int
    store_id: int
    currency: str


@dataclass
class Shop:
    store_id: int
    currency: str
    seller: Actor
    surface_id: int
    express_id: int
    items: list[Item]
    taken: int = 0

    def next_item(self) -> Item:
        """The next product of the store (round robin), so the orders show several products."""
        item = self.items[self.taken % len(self.items)]
        self.taken += 1
        return item


@dataclass
class Placed:
    order_id: int
    seller_order_id: int
    store_id: int
    buyer: Actor


@dataclass
class ActivitySummary:
    orders: int = 0
    reviews: int = 0
    disputes: int = 0
    conversations: int = 0
    states: dict[str, int] = field(default_factory=dict)
    sourcing: sourcing.SourcingSummary | None = None


async def has_activity(session: AsyncSession) -> bool:
    """Whether the demo buyer has ordered already (the activity is written once)."""
    found = await session.scalar(
        select(Order.id).join(User, User.id == Order.buyer_id).where(User.email == BUYER.email).limit(1)
    )
    return found is not None


class _Timeline:
    """Moves ``souk.kit.clock`` to planned moments (``days`` ago from the start) and back at the end."""

    def __init__(self) -> None:
        self.start = utcnow()
        self.moved = timedelta(0)

    def go(self, ago: timedelta) -> datetime:
        target = self.start - ago
        delta = target - utcnow()
        clock.advance(delta)
        self.moved += delta
        return target

    def restore(self) -> None:
        clock.advance(-self.moved)
        self.moved = timedelta(0)


class _Activity:
    def __init__(self, session: AsyncSession, worker: Worker, report: Reporter | None) -> None:
        self.session = session
        self.worker = worker
        self.report = report
        self.summary = ActivitySummary()
        self.addresses: dict[int, int] = {}

    # --- looking things up ---------------------------------------------------------------------------------

    async def user(self, *, email: str | None = None, name: str | None = None) -> Actor:
        stmt = select(User.id, User.display_name, User.email)
        stmt = stmt.where(User.email == email) if email else stmt.where(User.display_name == name)
        row = (await self.session.execute(stmt.order_by(User.id).limit(1))).one()
        return Actor(user_id=row.id, display_name=row.display_name, email=row.email)

    async def shop(self, spec: StoreSpec, listed_before: datetime) -> Shop | None:
        store = (
            await self.session.execute(
                select(Store.id, Store.currency, Store.owner_user_id, Store.organization_id).where(
                    Store.name == spec.name, Store.status == "active"
                )
            )
        ).one_or_none()
        if store is None:
            return None
        methods = dict(
            (
                await self.session.execute(
                    select(ShippingMethod.kind, ShippingMethod.id).where(
                        ShippingMethod.store_id == store.id, ShippingMethod.active.is_(True)
                    )
                )
            ).all()
        )
        # one SKU per product, the first with plenty of units, of products listed long enough ago
        rows = (
            await self.session.execute(
                select(Sku.id, Sku.product_id)
                .join(Product, Product.id == Sku.product_id)
                .join(Stock, Stock.sku_id == Sku.id)
                .where(
                    Product.store_id == store.id,
                    Product.status == "active",
                    Product.created_at <= listed_before,
                    Sku.is_active.is_(True),
                    Stock.on_hand - Stock.reserved >= MIN_UNITS,
                )
                .order_by(Product.id, Sku.id)
            )
        ).all()
        items: dict[int, Item] = {}
        for sku_id, product_id in rows:
            items.setdefault(product_id, Item(sku_id, product_id, store.id, store.currency))
        if not items or "surface" not in methods or "express" not in methods:
            return None
        owner = store.owner_user_id or await self._org_owner(store.organization_id)
        return Shop(
            store_id=store.id,
            currency=store.currency,
            seller=Actor(user_id=owner),
            surface_id=methods["surface"],
            express_id=methods["express"],
            items=list(items.values()),
        )

    async def _org_owner(self, organization_id: int | None) -> int:
        owner = await self.session.scalar(
            select(Membership.user_id).where(
                Membership.organization_id == organization_id, Membership.role == "owner"
            )
        )
        assert owner is not None
        return int(owner)

    # --- buying ----------------------------------------------------------------------------------------------

    async def address_of(self, buyer: Actor, city: str, line1: str, postal_code: str, country: str) -> int:
        assert buyer.user_id is not None
        if buyer.user_id not in self.addresses:
            address = await address_service.create(
                self.session,
                buyer,
                AddressCreate(
                    full_name=buyer.display_name,
                    phone="+33 6 12 34 56 78",
                    line1=line1,
                    city=city,
                    postal_code=postal_code,
                    country=country,
                    is_default=True,
                ),
            )
            self.addresses[buyer.user_id] = address.id
        return self.addresses[buyer.user_id]

    async def buy(
        self,
        buyer: Actor,
        shop: Shop,
        quantity: int = 1,
        *,
        express: bool = False,
        card: str = CARD_SUCCEEDS,
        address_id: int,
    ) -> Placed:
        """Cart, then the three checkout steps; the provider's webhook (a job) marks a good card's order paid."""
        item = shop.next_item()
        await cart_service.add(self.session, buyer, None, item.sku_id, quantity)
        now = utcnow()
        payload = CheckoutCreate(
            currency=shop.currency,
            address_id=address_id,
            shipping=[
                ShippingChoice(
                    store_id=shop.store_id, shipping_method_id=shop.express_id if express else shop.surface_id
                )
            ],
            card=CardIn(number=card, exp_month=12, exp_year=now.year + 3, cvc="123"),
        )
        order = await checkout_service.place(
            self.session, buyer, payload, token=f"demo:{buyer.user_id}:{self.summary.orders + 1}"
        )
        order_id = order.id
        assert order.payment_id is not None
        await payment_service.confirm(self.session, order.payment_id, payload.card)
        await checkout_service.settle(self.session, order_id)
        await self.run_jobs()
        so_id = await self.session.scalar(select(SellerOrder.id).where(SellerOrder.order_id == order_id))
        assert so_id is not None
        self.summary.orders += 1
        self.tick()
        return Placed(order_id, so_id, shop.store_id, buyer)

    async def run_jobs(self) -> None:
        """The worker's job runner on this transaction (each job in a savepoint): the webhook deliveries."""
        await self.session.flush()
        await self.worker.run_jobs(utcnow())
        self.session.expire_all()

    # --- after the sale ------------------------------------------------------------------------------------

    async def ship(self, shop: Shop, placed: Placed, carrier: str, tracking: str) -> None:
        await order_service.ship(
            self.session,
            shop.seller,
            placed.store_id,
            placed.seller_order_id,
            ShipCreate(carrier=carrier, tracking_number=tracking),
        )
        self.tick()

    async def confirm(self, placed: Placed) -> None:
        await order_service.confirm_receipt(
            self.session, placed.buyer, placed.order_id, placed.seller_order_id
        )
        self.tick()

    async def review(self, placed: Placed, rating: int, text: str, *, store: int | None = None) -> int:
        line_id = await self.session.scalar(
            select(OrderLine.id)
            .where(OrderLine.seller_order_id == placed.seller_order_id)
            .order_by(OrderLine.id)
        )
        assert line_id is not None
        review = await review_service.create(
            self.session,
            placed.buyer,
            ReviewCreate(
                order_line_id=line_id,
                rating=rating,
                text=text,
                item_as_described=store or rating,
                communication=store or rating,
                shipping_speed=store or max(rating - 1, 1),
            ),
        )
        self.summary.reviews += 1
        self.tick()
        return review.id

    def tick(self) -> None:
        if self.report is not None:
            self.report.advance()


# what happens, in time order (each step ``days`` ago); 40 steps drive the progress bar
STEPS = 40


async def build_activity(
    session: AsyncSession, *, reporter: Reporter | None = None
) -> ActivitySummary | None:
    """Write the buying activity of the demo (once: None when the demo buyer has ordered already, or when the
    demo's stores are missing). The caller commits."""
    if await has_activity(session):
        return None
    if reporter is not None:
        reporter.stage(STAGE, STEPS + sourcing.STEPS)
    timeline = _Timeline()
    connection = await session.connection()
    worker = Worker(
        async_sessionmaker(
            bind=connection,
            expire_on_commit=False,
            autoflush=False,
            join_transaction_mode="create_savepoint",
        ),
        name="souk-demo",
        concurrency=1,
    )
    act = _Activity(session, worker, reporter)
    try:
        summary = await _play(act, timeline)
        if summary is not None:
            summary.sourcing = await _play_sourcing(act, timeline)
        return summary
    finally:
        timeline.restore()


async def _play_sourcing(act: _Activity, t: _Timeline) -> sourcing.SourcingSummary | None:
    """The sourcing story (``souk.demo.sourcing``) on the same timeline, after the shop orders."""
    buyer = await act.user(email=BUYER.email)
    operator = await act.user(email=OPERATOR.email)
    operator = Actor(
        user_id=operator.user_id, display_name=operator.display_name, email=operator.email, is_operator=True
    )

    async def address_id() -> int:
        return await act.address_of(buyer, "Paris", "18 Rue des Martyrs", "75009", "FR")

    result = await sourcing.play_sourcing(
        act.session,
        buyer=buyer,
        operator=operator,
        lead_store_name=SOURCING_STORES[0].name,
        address_id=address_id,
        go=t.go,
        run_jobs=act.run_jobs,
        tick=act.tick,
    )
    t.restore()
    await act.session.flush()
    return result


def _days(days: float, hours: float = 0) -> timedelta:
    return timedelta(days=days, hours=hours)


async def _play(act: _Activity, t: _Timeline) -> ActivitySummary | None:
    listed_before = t.start - _days(21) - LISTED_BEFORE
    market = await act.shop(MARKET_STORES[0], listed_before)
    mall = await act.shop(MALL_STORES[0], listed_before)
    overseas = await act.shop(CROSSBORDER_STORES[0], listed_before)
    if market is None or mall is None or overseas is None:
        return None
    buyer = await act.user(email=BUYER.email)
    other = await act.user(name=BUYER_NAMES[0][0])
    steps: list[tuple[timedelta, Callable[[], Awaitable[object]]]] = []
    orders: dict[str, Placed] = {}
    disputes: dict[str, int] = {}
    reviews: dict[str, int] = {}
    threads: dict[str, int] = {}

    def at(ago: timedelta, step: Callable[[], Awaitable[object]]) -> None:
        steps.append((ago, step))

    async def home(actor: Actor) -> int:
        if actor is buyer:
            return await act.address_of(actor, "Paris", "18 Rue des Martyrs", "75009", "FR")
        return await act.address_of(actor, "Milano", "Via Torino 21", "20123", "IT")

    def buy(
        key: str, actor: Actor, shop: Shop, quantity: int = 1, **kw: object
    ) -> Callable[[], Awaitable[None]]:
        async def go() -> None:
            orders[key] = await act.buy(actor, shop, quantity, address_id=await home(actor), **kw)  # type: ignore[arg-type]

        return go

    def ship(key: str, shop: Shop, carrier: str, tracking: str) -> Callable[[], Awaitable[None]]:
        return lambda: act.ship(shop, orders[key], carrier, tracking)

    def confirm(key: str) -> Callable[[], Awaitable[None]]:
        return lambda: act.confirm(orders[key])

    def review(key: str, rating: int, text: str) -> Callable[[], Awaitable[None]]:
        async def go() -> None:
            reviews[key] = await act.review(orders[key], rating, text)

        return go

    async def reply() -> None:
        await review_service.reply(
            act.session,
            market.seller,
            reviews["completed-2"],
            ReplyCreate(
                text="Thank you Amira! The colour varies a little from batch to batch; I am glad you like "
                "this one. More colours are back in stock next week."
            ),
        )
        act.tick()

    async def cancel() -> None:
        placed = orders["cancelled"]
        await order_service.cancel(act.session, buyer, placed.order_id, placed.seller_order_id)
        act.tick()

    async def open_dispute(key: str, reason: DisputeReason, message: str) -> None:
        placed = orders[key]
        read = await dispute_service.open(
            act.session,
            buyer,
            DisputeCreate(seller_order_id=placed.seller_order_id, reason=reason, message=message),
        )
        disputes[key] = read.id
        act.summary.disputes += 1
        act.tick()

    async def reject() -> None:
        await dispute_service.reject(
            act.session,
            market.seller,
            disputes["escalated"],
            "The photos show the colour under warm light; the vase matches the listing pictures and "
            "handmade pieces vary slightly. I can offer 10% off your next order.",
        )
        act.tick()

    async def escalate() -> None:
        await dispute_service.escalate(act.session, buyer, disputes["escalated"])
        act.tick()

    async def ask() -> None:
        product_id = market.items[-1].product_id
        posted = await messaging_service.start_inquiry(
            act.session,
            buyer,
            product_id,
            "Hello! Is this made to order, and could you ship it to Paris before the 20th?",
        )
        threads["inquiry"] = posted.view.conversation.id
        act.summary.conversations += 1
        act.tick()

    async def answer() -> None:
        await messaging_service.post(
            act.session,
            market.seller,
            threads["inquiry"],
            "Hi Amira, it is in stock and ready to go. With express courier it reaches Paris in 4-6 days, "
            "so well before the 20th.",
        )
        act.tick()

    # three weeks ago: orders that are completed and reviewed by now
    at(_days(21), buy("completed-1", buyer, market, 2))
    at(_days(20), ship("completed-1", market, "SF Express", "SF1402288310571"))
    at(_days(18), buy("completed-2", buyer, market, express=True))
    at(_days(17, 20), ship("completed-2", market, "SF Express", "SF1402290047816"))
    at(_days(16), buy("completed-3", buyer, mall))
    at(_days(15, 22), buy("completed-4", other, market))
    at(_days(15), ship("completed-3", mall, "JD Logistics", "JDVA20419338561"))
    at(_days(14, 21), ship("completed-4", market, "SF Express", "SF1402301255904"))
    at(_days(14), confirm("completed-1"))
    at(
        _days(13, 20),
        review(
            "completed-1",
            5,
            "Even nicer than in the photos, and packed with a lot of care.",
        ),
    )
    at(_days(12), confirm("completed-2"))
    at(_days(12), buy("escalated", buyer, market))
    at(
        _days(11, 18),
        review("completed-2", 4, "Good quality, the colour is slightly darker than pictured. Fast shipping."),
    )
    at(_days(11, 12), reply)
    at(_days(11, 8), ship("escalated", market, "SF Express", "SF1402317730862"))
    at(_days(11), buy("cancelled", buyer, market))
    at(_days(10, 22), cancel)
    at(_days(10), confirm("completed-3"))
    at(_days(9), confirm("completed-4"))
    at(_days(8, 22), review("completed-4", 5, "Bellissimo! Exactly as described, my daughter loves it."))
    at(
        _days(8),
        lambda: open_dispute(
            "escalated",
            "not_as_described",
            "The vase is brown, not the sage green shown in the listing. I would like a refund.",
        ),
    )
    at(_days(7), buy("refund", buyer, market, 2))
    at(_days(6, 20), reject)
    at(_days(6, 12), ship("refund", market, "SF Express", "SF1402330918245"))
    at(_days(6), escalate)
    at(_days(5), buy("shipped-2", buyer, overseas, express=True))
    at(_days(4, 18), ship("shipped-2", overseas, "DHL", "JD014600006281"))
    at(_days(4), buy("shipped-1", buyer, market))
    at(_days(3, 16), ship("shipped-1", market, "SF Express", "SF1402345561370"))
    at(_days(2), ask)
    at(_days(1, 21), answer)
    at(
        _days(1),
        lambda: open_dispute(
            "refund", "damaged", "One of the two cups arrived with a chipped rim; photos are in the box."
        ),
    )
    at(_days(0, 20), buy("paid-1", buyer, market, 2))
    at(_days(0, 3), buy("paid-2", buyer, mall, express=True))
    # a card declined a few minutes ago: the order waits for payment (the unpaid timer closes it later)
    at(timedelta(minutes=6), buy("awaiting-payment", buyer, market, card=CARD_DECLINED))

    for ago, step in sorted(steps, key=lambda s: -s[0]):  # stable: same moment keeps the written order
        t.go(ago)
        await step()
    t.restore()
    await act.session.flush()
    rows = await act.session.execute(
        select(SellerOrder.status, func.count())
        .join(Order, Order.id == SellerOrder.order_id)
        .where(Order.buyer_id == buyer.user_id)
        .group_by(SellerOrder.status)
    )
    act.summary.states = {status: int(n) for status, n in rows.all()}
    return act.summary
