"""Reviews and seller credit under real parallel transactions (PostgreSQL only; the per-test transaction is
invisible to other connections, so the rows are committed and cleaned up here): six reviews of one buyer's lines
from one store at the same moment count once for the month; two reviews of the same line make one review."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from fixtures.core import is_postgres
from fixtures.shops import market_store
from souk.auth.actor import Actor
from souk.errors import Conflict
from souk.kit.clock import utcnow
from souk.models import (
    Category,
    CreditPoint,
    Order,
    OrderLine,
    Product,
    Review,
    SellerOrder,
    Sku,
    Store,
    StoreRating,
    User,
)
from souk.models.notification import Notification
from souk.review.repository import ReviewRepository
from souk.review.schemas import ReviewCreate
from souk.review.service import review_service

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not is_postgres(), reason="needs real parallel PostgreSQL connections: set SOUK_TEST_DATABASE_URL"
    ),
]

LINES = 6


@dataclass(frozen=True)
class Completed:
    """Plain ids of committed rows: a store, its owner, a buyer and the buyer's completed order lines."""

    store_id: int
    owner_id: int
    buyer_id: int
    line_ids: list[int]


@pytest.fixture
async def completed(engine: AsyncEngine) -> AsyncIterator[Completed]:
    """One buyer's completed seller orders from ONE store this month (three orders of two lines each),
    committed so that every connection sees them."""
    tag = secrets.token_hex(4)
    now = utcnow()
    async with AsyncSession(engine, expire_on_commit=False) as s:
        owner = User(email=f"owner-{tag}@example.com", password_hash="x", display_name="Owner")
        buyer = User(email=f"buyer-{tag}@example.com", password_hash="x", display_name="Bea Buyer")
        category = Category(name=f"Reviews {tag}", slug=f"reviews-{tag}")
        s.add_all([owner, buyer, category])
        await s.flush()
        store = await market_store(s, owner.id, f"rv-{tag}", "Review store")
        product = Product(
            store_id=store.id, category_id=category.id, title="Teapot", slug=f"teapot-{tag}", currency="USD"
        )
        s.add(product)
        await s.flush()
        skus = [
            Sku(product_id=product.id, code=f"TP-{tag}-{k}", price_amount=1000, currency="USD")
            for k in range(2)
        ]
        s.add_all(skus)
        await s.flush()
        lines: list[OrderLine] = []
        for n in range(LINES // 2):
            order = Order(
                buyer_id=buyer.id,
                currency="USD",
                status="paid",
                items_amount=2000,
                shipping_amount=0,
                total_amount=2000,
                shipping_address={"full_name": "Bea Buyer", "country": "DE"},
                checkout_token=f"rv-{tag}-{n}",
                pay_by=now,
                paid_at=now,
            )
            s.add(order)
            await s.flush()
            so = SellerOrder(
                order_id=order.id,
                store_id=store.id,
                buyer_id=buyer.id,
                number=f"RV{tag}{n}",
                status="completed",
                currency="USD",
                items_amount=2000,
                shipping_amount=0,
                total_amount=2000,
                trade_model="market",
                commission_bps=200,
                ship_by_days=3,
                auto_confirm_days=10,
                receipt_extension_days=5,
                receipt_extension_window_days=3,
                receipt_extensions_allowed=1,
                policy_snapshot={},
                shipping_method_name="Express",
                shipping_kind="express",
                shipping_price_amount=0,
                paid_at=now,
                shipped_at=now,
                delivered_at=now,
                completed_at=now,
            )
            s.add(so)
            await s.flush()
            for k, sku in enumerate(skus):
                line = OrderLine(
                    seller_order_id=so.id,
                    sku_id=sku.id,
                    product_id=product.id,
                    title=f"Teapot {n}.{k}",
                    sku_code=sku.code,
                    options={},
                    unit_price_amount=1000,
                    quantity=1,
                    line_total_amount=1000,
                    currency="USD",
                )
                s.add(line)
                lines.append(line)
        await s.commit()
        ids = Completed(store.id, owner.id, buyer.id, [line.id for line in lines])
        category_id, product_id = category.id, product.id
    try:
        yield ids
    finally:
        async with AsyncSession(engine) as s:
            seller_orders = select(SellerOrder.id).where(SellerOrder.store_id == ids.store_id)
            orders = select(SellerOrder.order_id).where(SellerOrder.store_id == ids.store_id)
            order_ids = list((await s.scalars(orders)).all())
            await s.execute(
                delete(Notification).where(Notification.user_id.in_([ids.owner_id, ids.buyer_id]))
            )
            await s.execute(delete(CreditPoint).where(CreditPoint.store_id == ids.store_id))
            await s.execute(delete(StoreRating).where(StoreRating.store_id == ids.store_id))
            await s.execute(delete(Review).where(Review.store_id == ids.store_id))
            await s.execute(delete(OrderLine).where(OrderLine.seller_order_id.in_(seller_orders)))
            await s.execute(delete(SellerOrder).where(SellerOrder.store_id == ids.store_id))
            await s.execute(delete(Order).where(Order.id.in_(order_ids)))
            await s.execute(delete(Sku).where(Sku.product_id == product_id))
            await s.execute(delete(Product).where(Product.id == product_id))
            await s.execute(delete(Store).where(Store.id == ids.store_id))
            await s.execute(delete(Category).where(Category.id == category_id))
            await s.execute(delete(User).where(User.id.in_([ids.owner_id, ids.buyer_id])))
            await s.commit()


async def _review(engine: AsyncEngine, buyer_id: int, line_id: int, rating: int, gate: asyncio.Event) -> int:
    """One review in its own connection and transaction, started when the gate opens."""
    async with AsyncSession(engine, expire_on_commit=False) as s, s.begin():
        await gate.wait()
        review = await review_service.create(
            s,
            Actor(user_id=buyer_id, display_name="Bea Buyer"),
            ReviewCreate(order_line_id=line_id, rating=rating, text=f"Line {line_id}"),
        )
        return review.id


async def _race(engine: AsyncEngine, buyer_id: int, jobs: list[tuple[int, int]]) -> list[int | BaseException]:
    gate = asyncio.Event()
    tasks = [
        asyncio.create_task(_review(engine, buyer_id, line_id, rating, gate)) for line_id, rating in jobs
    ]
    await asyncio.sleep(0.05)
    gate.set()
    return await asyncio.gather(*tasks, return_exceptions=True)


async def test_parallel_reviews_of_one_store_count_once_a_month(
    engine: AsyncEngine, completed: Completed
) -> None:
    ratings = [5, 1, 3, 4, 2, 5]
    results = await _race(engine, completed.buyer_id, list(zip(completed.line_ids, ratings, strict=True)))
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    assert len(set(results)) == LINES
    async with AsyncSession(engine) as s:
        reviews = await s.scalar(
            select(func.count()).select_from(Review).where(Review.store_id == completed.store_id)
        )
        credit = (
            await s.execute(
                select(
                    CreditPoint.buyer_user_id, CreditPoint.month, CreditPoint.review_id, CreditPoint.points
                ).where(CreditPoint.store_id == completed.store_id)
            )
        ).all()
        points = await ReviewRepository(s).credit_points(completed.store_id)
    assert reviews == LINES
    assert len(credit) == 1
    buyer_id, month, review_id, value = credit[0]
    assert (buyer_id, month) == (completed.buyer_id, utcnow().strftime("%Y-%m"))
    # the one counted review is one of the six, and its stars give the row's value
    counted = dict(zip(results, ratings, strict=True))
    assert review_id in counted
    assert value == {5: 1, 4: 1, 3: 0, 2: -1, 1: -1}[counted[review_id]]
    assert points == value


async def test_two_reviews_of_the_same_line_at_once_make_one(
    engine: AsyncEngine, completed: Completed
) -> None:
    line_id = completed.line_ids[0]
    results = await _race(engine, completed.buyer_id, [(line_id, 5), (line_id, 4)])
    created = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(created) == 1, results
    assert len(refused) == 1 and isinstance(refused[0], Conflict), results
    assert refused[0].code == "already_reviewed"
    async with AsyncSession(engine) as s:
        reviews = (await s.scalars(select(Review.id).where(Review.order_line_id == line_id))).all()
        credit = (
            await s.scalars(select(CreditPoint.review_id).where(CreditPoint.store_id == completed.store_id))
        ).all()
    assert list(reviews) == created
    assert len(credit) <= 1 and set(credit) <= set(created)
