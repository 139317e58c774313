"""Reservations under real parallel transactions: each attempt has its own connection (PostgreSQL only; the
per-test transaction is invisible to other connections, so the rows are committed and cleaned up here)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from fixtures.core import is_postgres
from souk.catalog.schemas import MAX_STOCK
from souk.inventory.repository import StockRepository
from souk.inventory.service import inventory_service
from souk.models import Category, Product, Sku, Stock, StockMovement, Store, User

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not is_postgres(), reason="needs real parallel PostgreSQL connections: set SOUK_TEST_DATABASE_URL"
    ),
]


@pytest.fixture
async def committed_sku(engine: AsyncEngine) -> AsyncIterator[tuple[int, AsyncEngine]]:
    """A SKU with 5 units on hand, committed so that every connection sees it; removed afterwards."""
    tag = secrets.token_hex(4)
    async with AsyncSession(engine, expire_on_commit=False) as s:
        user = User(email=f"race-{tag}@example.com", password_hash="x", display_name="Race")
        category = Category(name=f"Race {tag}", slug=f"race-{tag}")
        s.add_all([user, category])
        await s.flush()
        store = Store(
            slug=f"race-{tag}",
            name="Race store",
            country="CN",
            currency="USD",
            trade_model="market",
            status="active",
            owner_user_id=user.id,
        )
        s.add(store)
        await s.flush()
        product = Product(
            store_id=store.id,
            category_id=category.id,
            title="Last five",
            slug="last-five",
            currency="USD",
            status="active",
        )
        s.add(product)
        await s.flush()
        sku = Sku(product_id=product.id, code="LAST", price_amount=1000, currency="USD")
        s.add(sku)
        await s.flush()
        s.add(Stock(sku_id=sku.id, on_hand=5, reserved=0))
        await s.commit()
        ids = (user.id, category.id, store.id, product.id, sku.id)
    try:
        yield sku.id, engine
    finally:
        user_id, category_id, store_id, product_id, sku_id = ids
        async with AsyncSession(engine) as s:
            await s.execute(delete(StockMovement).where(StockMovement.sku_id == sku_id))
            await s.execute(delete(Stock).where(Stock.sku_id == sku_id))
            await s.execute(delete(Sku).where(Sku.id == sku_id))
            await s.execute(delete(Product).where(Product.id == product_id))
            await s.execute(delete(Store).where(Store.id == store_id))
            await s.execute(delete(Category).where(Category.id == category_id))
            await s.execute(delete(User).where(User.id == user_id))
            await s.commit()


async def _reserve_in_own_transaction(engine: AsyncEngine, sku_id: int) -> bool:
    async with AsyncSession(engine, expire_on_commit=False) as s, s.begin():
        return await inventory_service.reserve(s, sku_id, 1)


async def _remove_one_in_own_transaction(engine: AsyncEngine, sku_id: int) -> bool:
    async with AsyncSession(engine, expire_on_commit=False) as s, s.begin():
        return await StockRepository(s).adjust(sku_id, -1, MAX_STOCK) is not None


async def _levels(engine: AsyncEngine, sku_id: int) -> tuple[int, int, int]:
    async with AsyncSession(engine) as s:
        on_hand, reserved = (
            await s.execute(select(Stock.on_hand, Stock.reserved).where(Stock.sku_id == sku_id))
        ).one()
        movements = await s.scalar(
            select(func.count())
            .select_from(StockMovement)
            .where(StockMovement.sku_id == sku_id, StockMovement.kind == "reservation")
        )
    return on_hand, reserved, int(movements or 0)


async def test_twenty_parallel_reservations_of_one_on_five_succeed_five_times(
    committed_sku: tuple[int, AsyncEngine],
) -> None:
    sku_id, engine = committed_sku
    results = await asyncio.gather(*(_reserve_in_own_transaction(engine, sku_id) for _ in range(20)))
    assert results.count(True) == 5
    assert await _levels(engine, sku_id) == (5, 5, 5)


async def test_reservations_and_removals_racing_never_oversell(
    committed_sku: tuple[int, AsyncEngine],
) -> None:
    sku_id, engine = committed_sku
    attempts = [_reserve_in_own_transaction(engine, sku_id) for _ in range(10)]
    attempts += [_remove_one_in_own_transaction(engine, sku_id) for _ in range(10)]
    results = await asyncio.gather(*attempts)
    reserved_ok, removed_ok = results[:10].count(True), results[10:].count(True)
    assert reserved_ok + removed_ok == 5  # each success used one of the five available units
    on_hand, reserved, movements = await _levels(engine, sku_id)
    assert (on_hand, reserved, movements) == (5 - removed_ok, reserved_ok, reserved_ok)
