"""The SQL budget (issue 6, part 3): how many SQL statements one HTTP request sends.

- one checkout (``POST /api/v1/checkouts``, a cart with lines from 2 stores, paid with the simulated card):
  at most ``CHECKOUT_BUDGET`` statements, everything the request does (its three transactions: place, charge,
  settle);
- the catalog (``GET /api/v1/products`` and a category page), the product page (``/p/...`` and
  ``GET /api/v1/products/{id}``), the search page (``/search?q=`` and ``GET /api/v1/search?q=``) and the cart
  (``/cart`` and ``GET /api/v1/cart``): the same number of statements for a small and a large page (3 vs 30
  products, 1 vs 10 variants and images, 1 vs 10 cart lines), for an anonymous visitor and for a logged-in
  buyer (session cookie on pages, API token on the API), and at most ``PAGE_BUDGET``.

What is counted (see ``fixtures/sql_counter.py``): every statement that reaches a DBAPI cursor, on the test's
engine and the app's. Not counted: SAVEPOINT / RELEASE SAVEPOINT / ROLLBACK TO SAVEPOINT (the test harness
turns every commit of the app into a savepoint; this also leaves out the checkout's own savepoint around
placing the order); COMMIT and ROLLBACK (driver calls, not statements). On a real server each transaction also
has its BEGIN (SQLite sends ``BEGIN IMMEDIATE`` as a statement; asyncpg opens it itself) and its COMMIT.

Each request is measured warm, as on a running server: the same request was made once before (the
per-process header cache is filled, the API token's ``last_used_at`` was just written), and the session's
identity map is emptied first (each real request has a new session). A failure prints every statement, the
repeated ones marked, so the query that repeats per row is easy to see.

Where a surface is still over the budget its budget test is an expected failure (strict, so meeting the
budget turns it into a failure to remove the mark) and ``CEILING`` holds today's count so that a regression
still fails.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import api_token_for, login_as
from fixtures.sql_counter import Statements
from souk.auth.actor import Actor
from souk.cart.service import cart_service, new_guest_token
from souk.deps import SESSION_COOKIE
from souk.models import Category, Product, Sku, User
from souk.web.buyer.cart import CART_COOKIE

PAGE_BUDGET = 6
CHECKOUT_BUDGET = 20
SMALL, LARGE = 3, 30  # products on a catalog or search page
FEW, MANY = 1, 10  # variants and images of a product; lines of a cart

SURFACES = (
    "catalog_api",
    "catalog_page",
    "product_api",
    "product_page",
    "search_api",
    "search_page",
    "cart_api",
    "cart_page",
)
AUDIENCES = ("anonymous", "buyer")

# Today's counts (a large page, warm): a regression above them fails even where the budget is not met yet.
CEILING: dict[tuple[str, str], int] = {
    ("catalog_api", "anonymous"): 4,
    ("catalog_api", "buyer"): 4,
    ("catalog_page", "anonymous"): 2,
    ("catalog_page", "buyer"): 4,
    ("product_api", "anonymous"): 4,
    ("product_api", "buyer"): 5,
    ("product_page", "anonymous"): 3,
    ("product_page", "buyer"): 5,
    ("search_api", "anonymous"): 2,
    ("search_api", "buyer"): 3,
    ("search_page", "anonymous"): 2,
    ("search_page", "buyer"): 4,
    ("cart_api", "buyer"): 2,
    ("cart_page", "anonymous"): 2,
    ("cart_page", "buyer"): 3,
}
# Surfaces still over PAGE_BUDGET, and why.
OVER_BUDGET: dict[tuple[str, str], str] = {}

# an anonymous visitor has no API cart (401): the guest cart lives behind the web's cookie
CASES = [(s, a) for s in SURFACES for a in AUDIENCES if (s, a) != ("cart_api", "anonymous")]


def _budget_params() -> list[Any]:
    params = []
    for surface, audience in CASES:
        reason = OVER_BUDGET.get((surface, audience))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(surface, audience, marks=marks, id=f"{surface}-{audience}"))
    return params


@dataclass
class Visitor:
    """Who makes the requests: anonymous (maybe with a guest cart cookie) or a logged-in buyer."""

    audience: str
    user: User | None = None
    headers: dict[str, str] = field(default_factory=dict)
    guest_token: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.user.id if self.user else None)


@dataclass
class Measured:
    small: Statements
    large: Statements


class Budget:
    def __init__(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        count_sql: Callable[[], Any],
        listing_factory: Callable[..., Awaitable[Product]],
        category_factory: Callable[..., Awaitable[Category]],
        user_factory: Callable[..., Awaitable[User]],
    ) -> None:
        self.client = client
        self.session = session
        self.count_sql = count_sql
        self.listing_factory = listing_factory
        self.category_factory = category_factory
        self.user_factory = user_factory
        self.serial = 0

    async def visitor(self, audience: str, api: bool) -> Visitor:
        if audience == "anonymous":
            self.client.cookies.delete(SESSION_COOKIE)
            return Visitor(audience)
        user = await self.user_factory(display_name="Bea Buyer")
        visitor = Visitor(audience, user)
        if api:
            visitor.headers = await api_token_for(self.session, user)
        else:
            await login_as(self.client, self.session, user)
        return visitor

    async def get(self, url: str, visitor: Visitor) -> Statements:
        """The statements of a warm ``GET url`` (made once before, with a fresh identity map)."""
        warm = await self.client.get(url, headers=visitor.headers)
        assert warm.status_code == 200, f"{url}: {warm.status_code} {warm.text[:500]}"
        await self.session.commit()
        self.session.expunge_all()
        with self.count_sql() as sql:
            response = await self.client.get(url, headers=visitor.headers)
        assert response.status_code == 200, f"{url}: {response.status_code} {response.text[:500]}"
        return sql

    # --- what the pages show ----------------------------------------------------------------------------

    async def products(self, n: int, word: str) -> Category:
        """``n`` products titled with ``word``, each in its own store, in a new category."""
        self.serial += 1
        category = await self.category_factory(name=f"Budget {word}", slug=f"budget-{word}-{self.serial}")
        for i in range(n):
            await self.listing_factory(
                title=f"{word.capitalize()} thing {i + 1}", category=category, price=1000 + i, images=1
            )
        return category

    async def product(self, variants: int) -> Product:
        skus = [
            {
                "price": 1000 + i,
                "stock": 5 + i,
                "options": {"Size": f"S{i + 1}"},
                "code": f"B{variants}-{i + 1}",
            }
            for i in range(variants)
        ]
        tiers = [(10 * (i + 1), 900 - i) for i in range(variants)]
        return await self.listing_factory(
            title=f"Budget product {variants}", skus=skus, images=variants, tiers=tiers
        )

    async def sku_ids(self, n: int) -> list[int]:
        """The SKUs of ``n`` new products, each in its own store."""
        ids = []
        for i in range(n):
            product = await self.listing_factory(title=f"Cart thing {i + 1}", price=500 + i, stock=50)
            sku_id = await self.session.scalar(select(Sku.id).where(Sku.product_id == product.id))
            assert sku_id is not None
            ids.append(sku_id)
        return ids

    async def fill_cart(self, visitor: Visitor, sku_ids: list[int]) -> None:
        for sku_id in sku_ids:
            await cart_service.add(self.session, visitor.actor, visitor.guest_token, sku_id, 1)
        await self.session.commit()

    # --- one surface, small and large -------------------------------------------------------------------

    async def measure(self, surface: str, audience: str) -> Measured:
        kind, _, where = surface.partition("_")
        api = where == "api"
        visitor = await self.visitor(audience, api)
        if kind in ("catalog", "search"):
            small = await self.products(SMALL, "alpaca")
            large = await self.products(LARGE, "bison")
            await self.session.commit()
            if kind == "catalog":
                urls = [
                    f"/api/v1/products?category_id={c.id}&limit=50" if api else f"/c/{c.slug}"
                    for c in (small, large)
                ]
            else:
                urls = [
                    f"/api/v1/search?q={w}&limit=50" if api else f"/search?q={w}" for w in ("alpaca", "bison")
                ]
            return Measured(await self.get(urls[0], visitor), await self.get(urls[1], visitor))
        if kind == "product":
            few, many = await self.product(FEW), await self.product(MANY)
            await self.session.commit()
            urls = [f"/api/v1/products/{p.id}" if api else f"/p/{p.id}/{p.slug}" for p in (few, many)]
            return Measured(await self.get(urls[0], visitor), await self.get(urls[1], visitor))
        assert kind == "cart"
        if visitor.user is None:
            visitor.guest_token = new_guest_token()
            self.client.cookies.set(CART_COOKIE, visitor.guest_token)
        skus = await self.sku_ids(MANY)
        url = "/api/v1/cart" if api else "/cart"
        await self.fill_cart(visitor, skus[:FEW])
        small_sql = await self.get(url, visitor)
        await self.fill_cart(visitor, skus[FEW:])
        response = await self.client.get(url, headers=visitor.headers)
        assert response.text.count("Cart thing") >= MANY, "the large cart does not show every line"
        return Measured(small_sql, await self.get(url, visitor))


@pytest.fixture
def budget(
    client: httpx.AsyncClient,
    session: AsyncSession,
    count_sql: Callable[[], Any],
    listing_factory: Callable[..., Awaitable[Product]],
    category_factory: Callable[..., Awaitable[Category]],
    user_factory: Callable[..., Awaitable[User]],
) -> Budget:
    return Budget(client, session, count_sql, listing_factory, category_factory, user_factory)


def _both(measured: Measured) -> str:
    return f"small page:\n{measured.small.report()}\n\nlarge page:\n{measured.large.report()}"


@pytest.mark.parametrize(("surface", "audience"), CASES, ids=[f"{s}-{a}" for s, a in CASES])
async def test_page_statements_do_not_grow_with_the_page(budget: Budget, surface: str, audience: str) -> None:
    measured = await budget.measure(surface, audience)
    print(f"SQL budget: {surface} {audience}: {len(measured.small)} small, {len(measured.large)} large")
    assert len(measured.small) == len(measured.large), _both(measured)
    ceiling = CEILING[(surface, audience)]
    assert len(measured.large) <= ceiling, f"more statements than today's {ceiling}\n" + _both(measured)


@pytest.mark.parametrize(("surface", "audience"), _budget_params())
async def test_page_within_sql_budget(budget: Budget, surface: str, audience: str) -> None:
    measured = await budget.measure(surface, audience)
    assert len(measured.large) <= PAGE_BUDGET, _both(measured)


# --- checkout -----------------------------------------------------------------------------------------


async def _checkout_statements(
    client: httpx.AsyncClient, session: AsyncSession, count_sql: Callable[[], Any], market: Any
) -> Statements:
    m = await market()  # a buyer whose cart holds one line from each of two stores
    assert len(m.store_ids) == 2
    user = await session.get(User, m.buyer_id)
    assert user is not None
    headers = await api_token_for(session, user)
    await session.commit()
    warm = await client.get("/api/v1/cart", headers=headers)  # the token's last_used_at is written now
    assert warm.status_code == 200, warm.text
    session.expunge_all()
    with count_sql() as sql:
        r = await client.post(
            "/api/v1/checkouts", json=m.body(), headers={**headers, "Idempotency-Key": "budget-1"}
        )
    assert r.status_code == 201, r.text
    body = r.json()
    assert len(body["seller_orders"]) == 2 and body["payment"]["card_last4"] == "4242"
    return sql


async def test_checkout_within_sql_budget(
    client: httpx.AsyncClient,
    session: AsyncSession,
    count_sql: Callable[[], Any],
    market: Any,
    assert_ledger_balanced: Callable[[AsyncSession], Awaitable[None]],
) -> None:
    """20 statements for a checkout of two stores' SKUs: auth 1, the Idempotency-Key claim and answer 2, the
    cart with the own-store check 1, shipping methods 1, address 1, the order, seller orders (numbered by the
    database), lines and events 4, the payment intent and payment 2 and the order's payment_id 1, the stock
    last (PostgreSQL: a reserve-and-log statement per SKU; SQLite: one UPDATE for all SKUs and the movements),
    the charge 4 and the seller orders read for the answer 1 (lines and events come from their INSERTs)."""
    sql = await _checkout_statements(client, session, count_sql, market)
    print(f"SQL budget: checkout: {len(sql)}")
    assert len(sql) <= CHECKOUT_BUDGET, sql.report()
    await assert_ledger_balanced(session)
