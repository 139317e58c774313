"""The SQL budget of adding to the cart (``POST /api/v1/cart/items``, API token, warm): at most
``ADD_BUDGET`` statements, the token's user included, whether the cart exists or not, whether the SKU's line
is new or gets more units, for a retail product and for a sourcing product priced by volume tier, and for a
sample; and no savepoint of the app's own (a concurrent add is told apart by ``ON CONFLICT`` and a
compare-and-set, not by a failed INSERT rolled back to a savepoint).

Today: the token's user, one read (the SKU's facts with its tiers, the cart's id and the line's id and
quantity), the line (INSERT ... ON CONFLICT DO NOTHING, or UPDATE ... WHERE quantity = the one read), and the
cart's ``updated_at`` (an existing cart) or the new cart (INSERT ... ON CONFLICT DO NOTHING): 4.

What is counted, and how a request is made warm: see ``test_sql_budget.py`` and ``fixtures/sql_counter.py``
(the harness's savepoints around each request's commit are not counted; this test checks the app sends no
others). The answers and the rows written are checked too: the budget must not change what an add does.

Concurrent adds to the same line (real parallel transactions, PostgreSQL) are checked at the end: none lost,
and the stock limit holds exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import api_token_for
from fixtures.parallel import POSTGRES_ONLY, OpenParallelApp, ParallelApp, api_headers
from fixtures.shops import seed_buyer, seed_shop, seed_sku
from fixtures.sql_counter import Statements
from souk.auth.actor import Actor
from souk.cart.service import cart_service
from souk.kit.clock import as_utc, utcnow
from souk.models import Cart, CartLine, Product, Sku, Store, User

ADD_BUDGET = 4
TIERS = [(10, 900), (50, 800)]  # a sourcing product: MOQ 10, US$9.00 from 10, US$8.00 from 50


class Adder:
    """A buyer with an API token adding to their cart through the API, each add counted warm."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        count_sql: Callable[[], Any],
        listing_factory: Callable[..., Awaitable[Product]],
        store_factory: Callable[..., Awaitable[Store]],
        user_factory: Callable[..., Awaitable[User]],
    ) -> None:
        self.client = client
        self.session = session
        self.count_sql = count_sql
        self.listing_factory = listing_factory
        self.store_factory = store_factory
        self.user_factory = user_factory
        self.headers: dict[str, str] = {}
        self.user_id = 0

    async def buyer(self) -> None:
        user = await self.user_factory(display_name="Bea Buyer")
        self.user_id = user.id
        self.headers = await api_token_for(self.session, user)
        await self.session.commit()
        warm = await self.client.get("/api/v1/cart", headers=self.headers)  # the token's last_used_at
        assert warm.status_code == 200, warm.text

    async def retail_sku(self, price: int = 1250, stock: int = 40) -> int:
        product = await self.listing_factory(title="Enamel mug", price=price, stock=stock, images=1)
        return await self._sku_of(product)

    async def sourcing_sku(self) -> int:
        store = await self.store_factory(trade_model="sourcing", currency="USD", name="Bolt Works")
        product = await self.listing_factory(
            title="Steel bolt", store=store, price=1000, stock=500, moq=10, tiers=TIERS, sample_price=4500
        )
        return await self._sku_of(product)

    async def _sku_of(self, product: Product) -> int:
        sku_id = await self.session.scalar(select(Sku.id).where(Sku.product_id == product.id))
        assert sku_id is not None
        await self.session.commit()
        return sku_id

    async def add(self, sku_id: int, quantity: int, *, sample: bool = False) -> tuple[Statements, Any]:
        """The statements of one add, and its answer (201)."""
        self.session.expunge_all()  # each real request has a new session
        body = {"sku_id": sku_id, "quantity": quantity, "sample": sample}
        with self.count_sql() as sql:
            response = await self.client.post("/api/v1/cart/items", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        return sql, response.json()

    async def line(self, sku_id: int, *, sample: bool = False) -> tuple[int, int]:
        """(quantity, unit_price_amount) of the line as stored."""
        row = (
            await self.session.execute(
                select(CartLine.quantity, CartLine.unit_price_amount)
                .join(Cart, Cart.id == CartLine.cart_id)
                .where(
                    Cart.user_id == self.user_id, CartLine.sku_id == sku_id, CartLine.is_sample.is_(sample)
                )
            )
        ).one()
        return row[0], row[1]

    async def cart(self) -> Cart:
        self.session.expunge_all()
        cart = await self.session.scalar(select(Cart).where(Cart.user_id == self.user_id))
        assert cart is not None
        return cart


@pytest.fixture
def adder(
    client: httpx.AsyncClient,
    session: AsyncSession,
    count_sql: Callable[[], Any],
    listing_factory: Callable[..., Awaitable[Product]],
    store_factory: Callable[..., Awaitable[Store]],
    user_factory: Callable[..., Awaitable[User]],
) -> Adder:
    return Adder(client, session, count_sql, listing_factory, store_factory, user_factory)


def _within_budget(sql: Statements) -> None:
    print(f"SQL budget: cart add: {len(sql)}")
    assert len(sql) <= ADD_BUDGET, sql.report()
    # the harness wraps the request's commit in one savepoint; the app adds none of its own
    assert len([s for s in sql.skipped if s.lstrip().upper().startswith("SAVEPOINT")]) <= 1, sql.skipped


async def test_add_to_a_new_cart_then_to_the_existing_one(adder: Adder) -> None:
    await adder.buyer()
    mug, other = await adder.retail_sku(), await adder.retail_sku(price=700)

    sql, line = await adder.add(mug, 2)  # no cart yet
    _within_budget(sql)
    assert any("INSERT INTO carts" in s for s in sql.sql), sql.report()
    assert (line["sku_id"], line["quantity"], line["unit_price_amount"], line["line_total_amount"]) == (
        mug,
        2,
        1250,
        2500,
    )
    assert (line["title"], line["available"], line["purchasable"], line["warnings"]) == (
        "Enamel mug",
        40,
        True,
        [],
    )
    assert line["thumb_url"] and line["thumb_url"].startswith("/media/")
    assert await adder.line(mug) == (2, 1250)
    # an hour ago, as far as the cart knows (moving the clock would also renew the token's last_used_at)
    a_while_ago = utcnow() - timedelta(hours=1)
    await adder.session.execute(
        update(Cart).where(Cart.user_id == adder.user_id).values(updated_at=a_while_ago)
    )
    await adder.session.commit()
    sql, line = await adder.add(mug, 3)  # more units on the same line
    _within_budget(sql)
    assert (line["quantity"], line["line_total_amount"]) == (5, 6250)
    assert await adder.line(mug) == (5, 1250)
    assert as_utc((await adder.cart()).updated_at) > a_while_ago + timedelta(minutes=59)

    sql, line = await adder.add(other, 1)  # a new line in the existing cart
    _within_budget(sql)
    assert (line["quantity"], line["unit_price_amount"]) == (1, 700)
    assert await adder.session.scalar(select(func.count()).select_from(Cart)) == 1
    view = (await adder.client.get("/api/v1/cart", headers=adder.headers)).json()
    assert (view["line_count"], view["item_count"]) == (2, 6)
    shown = view["groups"][0]["stores"][0]["lines"][0]
    assert (shown["sku_id"], shown["added_at"]) == (other, line["added_at"])


async def test_add_of_a_sourcing_product_is_priced_by_tier_within_budget(adder: Adder) -> None:
    await adder.buyer()
    bolt = await adder.sourcing_sku()
    sql, line = await adder.add(bolt, 20)
    _within_budget(sql)
    assert (line["quantity"], line["unit_price_amount"], line["min_quantity"]) == (20, 900, 10)
    # 20 + 30 reaches the 50 tier: the whole line is repriced
    sql, line = await adder.add(bolt, 30)
    _within_budget(sql)
    assert (line["quantity"], line["unit_price_amount"], line["line_total_amount"]) == (50, 800, 40_000)
    assert await adder.line(bolt) == (50, 800)
    # a sample is a line of its own, 1 piece at the sample price, again and again
    for _ in range(2):
        sql, line = await adder.add(bolt, 1, sample=True)
        _within_budget(sql)
        assert (line["is_sample"], line["quantity"], line["unit_price_amount"]) == (True, 1, 4500)
    assert await adder.line(bolt, sample=True) == (1, 4500)
    assert await adder.line(bolt) == (50, 800)


async def test_refused_adds_change_nothing(adder: Adder) -> None:
    await adder.buyer()
    mug = await adder.retail_sku(stock=3)
    await adder.add(mug, 2)
    too_many = await adder.client.post(
        "/api/v1/cart/items", json={"sku_id": mug, "quantity": 2}, headers=adder.headers
    )
    assert too_many.status_code == 409 and too_many.json()["error"] == "insufficient_stock"
    missing = await adder.client.post(
        "/api/v1/cart/items", json={"sku_id": mug + 10_000, "quantity": 1}, headers=adder.headers
    )
    assert missing.status_code == 404
    assert await adder.line(mug) == (2, 1250)


async def test_the_session_copy_of_a_line_follows_an_add(session: AsyncSession, adder: Adder) -> None:
    """A session that already holds the line (it read the cart, then adds) sees what the add wrote."""
    await adder.buyer()
    mug, bolt = await adder.retail_sku(), await adder.sourcing_sku()
    buyer = Actor(user_id=adder.user_id)
    await cart_service.add(session, buyer, None, mug, 1)
    await cart_service.add(session, buyer, None, bolt, 1, sample=True)
    held = {
        line.is_sample: line
        for line in (await session.scalars(select(CartLine).where(CartLine.sku_id.in_([mug, bolt])))).all()
    }
    assert held[False].quantity == 1
    line = await cart_service.add(session, buyer, None, mug, 2)
    assert line.quantity == 3 and held[False].quantity == 3
    product = await session.scalar(select(Product).join(Sku).where(Sku.id == bolt))
    assert product is not None
    product.sample_price_amount = 3900
    await session.flush()
    line = await cart_service.add(session, buyer, None, bolt, 1, sample=True)
    assert line.unit_price_amount == 3900 and held[True].unit_price_amount == 3900
    view = await cart_service.get_cart(session, buyer, None)
    assert sorted(
        (v.sku_id, v.quantity, v.seen_unit_price_amount)
        for g in view.groups
        for s in g.stores
        for v in s.lines
    ) == sorted([(mug, 3, 1250), (bolt, 1, 3900)])


# --- concurrent adds (PostgreSQL) ---------------------------------------------------------------------------


def postgres_only(test: Any) -> Any:
    for mark in POSTGRES_ONLY:
        test = mark(test)
    return test


@dataclass
class Race:
    par: ParallelApp
    sku_id: int


@pytest.fixture
async def race(parallel_app: OpenParallelApp) -> AsyncIterator[Race]:
    async with parallel_app("cart_add_race", pool_size=20) as par:
        async with par.maker() as s, s.begin():
            shop = await seed_shop(s, "cartrace")
            sku_id = await seed_sku(s, shop, stock=15, title="Fifteen left")
        yield Race(par, sku_id)


async def _line_quantity(par: ParallelApp, user_id: int, sku_id: int) -> int:
    return await par.count(
        select(func.coalesce(func.sum(CartLine.quantity), 0))
        .join(Cart, Cart.id == CartLine.cart_id)
        .where(Cart.user_id == user_id, CartLine.sku_id == sku_id)
    )


async def _add_at_once(par: ParallelApp, sku_id: int, tokens: list[dict[str, str]]) -> list[httpx.Response]:
    async with par.client() as client:
        return list(
            await asyncio.gather(
                *(
                    client.post("/api/v1/cart/items", json={"sku_id": sku_id, "quantity": 1}, headers=headers)
                    for headers in tokens
                )
            )
        )


@postgres_only
async def test_concurrent_adds_to_one_line_add_up_and_never_pass_the_stock(race: Race) -> None:
    async with race.par.maker() as s, s.begin():
        buyer = await seed_buyer(s, 1)
        # a token per request: requests on one token queue behind each other's write of its last_used_at
        tokens = [await api_headers(s, buyer.user_id, f"device {n}") for n in range(10)]

    # no cart yet: every request races to create the cart and the line; none is lost
    responses = await _add_at_once(race.par, race.sku_id, tokens)
    assert [r.status_code for r in responses] == [201] * 10, [r.text for r in responses]
    assert sorted(r.json()["quantity"] for r in responses) == list(range(1, 11))
    assert await _line_quantity(race.par, buyer.user_id, race.sku_id) == 10
    carts = select(func.count()).select_from(Cart).where(Cart.user_id == buyer.user_id)
    assert await race.par.count(carts) == 1

    # 5 left: 10 more at once onto the existing line, exactly 5 fit
    responses = await _add_at_once(race.par, race.sku_id, tokens)
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 5 + [409] * 5, [r.text for r in responses]
    assert {r.json()["error"] for r in responses if r.status_code == 409} == {"insufficient_stock"}
    assert sorted(r.json()["quantity"] for r in responses if r.status_code == 201) == list(range(11, 16))
    assert await _line_quantity(race.par, buyer.user_id, race.sku_id) == 15
