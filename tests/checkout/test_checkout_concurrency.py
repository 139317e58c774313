"""Checkout and receipt under real parallel transactions (PostgreSQL), through the app and the worker on a database
of their own: 50 buyers race for the last 5 units; one checkout submitted several times at once; the buyer's
confirmation and the auto-confirm timer at the same moment."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from fixtures.core import TEST_SECRET
from fixtures.parallel import POSTGRES_ONLY, OpenParallelApp, ParallelApp, api_headers
from fixtures.shops import checkout_body, seed_buyer, seed_shop, seed_sku
from souk.audit import run_checks
from souk.auth.tokens import hash_secret
from souk.cart.service import cart_service
from souk.deps import SESSION_COOKIE
from souk.kit.clock import clock, utcnow
from souk.ledger import accounts
from souk.ledger.service import ledger_service
from souk.models import (
    LedgerEntry,
    Order,
    Payment,
    SellerOrder,
    Stock,
    Store,
    User,
    WebSession,
)
from souk.web.render import CSRF_COOKIE, make_csrf_token
from souk.worker.runner import Worker

pytestmark = POSTGRES_ONLY


@dataclass
class World:
    par: ParallelApp
    store_id: int
    sku_id: int
    method_id: int


@pytest.fixture
async def world(parallel_app: OpenParallelApp) -> AsyncIterator[World]:
    async with parallel_app("checkout_race", pool_size=20) as par:
        async with par.maker() as s, s.begin():
            shop = await seed_shop(s, "race")
            sku_id = await seed_sku(s, shop, stock=5, title="Last five")
            ids = (shop.store_id, sku_id, shop.method_id)
        yield World(par, *ids)


async def _buyer(world: World, n: int, quantity: int = 1) -> tuple[dict[str, str], dict[str, object]]:
    """A buyer with an address, a cart holding ``quantity`` of the SKU, and an API token: (headers, body)."""
    async with world.par.maker() as s, s.begin():
        buyer = await seed_buyer(s, n)
        await cart_service.add(s, buyer.actor, None, world.sku_id, quantity)
    body = checkout_body(buyer.address_id, {world.store_id: world.method_id})
    return {**buyer.headers, "Idempotency-Key": f"race-{n}"}, body


async def test_fifty_buyers_race_for_the_last_five_units(world: World) -> None:
    buyers = [await _buyer(world, n) for n in range(50)]
    async with world.par.client() as client:
        responses = await asyncio.gather(
            *(client.post("/api/v1/checkouts", json=body, headers=headers) for headers, body in buyers)
        )
    codes = [r.status_code for r in responses]
    assert codes.count(201) == 5, codes
    assert codes.count(409) == 45
    assert {r.json()["error"] for r in responses if r.status_code == 409} == {"insufficient_stock"}
    # the provider's confirmations arrive: exactly five orders are paid, and nothing is oversold
    stats = await Worker(world.par.maker, concurrency=4).run_once()
    assert stats.jobs_failed == 0
    assert await world.par.count(select(func.count()).select_from(Order).where(Order.status == "paid")) == 5
    assert await world.par.count(select(func.count()).select_from(Order)) == 5
    assert await world.par.count(select(func.count()).select_from(Payment)) == 5
    async with world.par.maker() as s:
        on_hand, reserved = (
            await s.execute(select(Stock.on_hand, Stock.reserved).where(Stock.sku_id == world.sku_id))
        ).one()
        report = await run_checks(s)
    assert (on_hand, reserved) == (0, 0)
    assert report.violations == []


async def test_one_checkout_submitted_at_once_many_times_is_one_order(world: World) -> None:
    headers, body = await _buyer(world, 1)
    async with world.par.client() as client:
        responses = await asyncio.gather(
            *(client.post("/api/v1/checkouts", json=body, headers=headers) for _ in range(5))
        )
    codes = sorted(r.status_code for r in responses)
    assert set(codes) <= {201, 409}, codes
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    # the ones that came while the first was running were told to retry; the retry gets the same order
    async with world.par.client() as client:
        retry = await client.post("/api/v1/checkouts", json=body, headers=headers)
    assert retry.status_code == 201 and retry.json()["id"] in created
    assert await world.par.count(select(func.count()).select_from(Order)) == 1
    assert await world.par.count(select(func.count()).select_from(Payment)) == 1


async def test_double_submitted_checkout_form_is_one_order(world: World) -> None:
    _, body = await _buyer(world, 2)
    async with world.par.maker() as s, s.begin():
        user_id = await s.scalar(select(User.id).where(User.display_name == "B2"))
        raw = secrets.token_urlsafe(32)
        s.add(
            WebSession(token_hash=hash_secret(raw), user_id=user_id, expires_at=utcnow() + timedelta(days=1))
        )
    csrf = make_csrf_token(TEST_SECRET, raw)  # CSRF tokens are bound to the session
    async with world.par.client(cookies={CSRF_COOKIE: csrf, SESSION_COOKIE: raw}) as client:
        page = await client.get("/checkout?currency=USD")
        assert page.status_code == 200
        token = re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        total = re.search(r'name="expected_total_amount" value="(\d+)"', page.text).group(1)  # type: ignore[union-attr]
        fields = {
            "csrf_token": csrf,
            "form_token": token,
            "currency": "USD",
            "address_id": str(body["address_id"]),
            f"shipping.{world.store_id}": str(world.method_id),
            "expected_total_amount": total,
            "card_number": "4242424242424242",
            "card_exp_month": "12",
            "card_exp_year": str(utcnow().year + 2),
            "card_cvc": "123",
            "action": "place",
        }
        responses = await asyncio.gather(*(client.post("/checkout", data=fields) for _ in range(3)))
    assert [r.status_code for r in responses] == [303, 303, 303]
    locations = {r.headers["location"] for r in responses}
    assert len(locations) == 1 and next(iter(locations)).startswith("/orders/")
    assert await world.par.count(select(func.count()).select_from(Order)) == 1
    assert await world.par.count(select(func.count()).select_from(Payment)) == 1


async def test_confirm_receipt_and_auto_confirm_at_the_same_moment_release_once(world: World) -> None:
    headers, body = await _buyer(world, 3)
    async with world.par.client() as client:
        r = await client.post("/api/v1/checkouts", json=body, headers=headers)
        order_id = r.json()["id"]
        await Worker(world.par.maker).run_once()
        async with world.par.maker() as s:
            so_id, owner_id = (
                await s.execute(
                    select(SellerOrder.id, Store.owner_user_id)
                    .join(Store, Store.id == SellerOrder.store_id)
                    .where(SellerOrder.order_id == order_id)
                )
            ).one()
        async with world.par.maker() as s, s.begin():
            seller_headers = await api_headers(s, owner_id, "s")
        r = await client.post(
            f"/api/v1/stores/{world.store_id}/orders/{so_id}/ship",
            json={"carrier": "DHL", "tracking_number": "JD0146000062"},
            headers=seller_headers,
        )
        assert r.status_code == 200, r.text
        clock.advance(timedelta(days=10, minutes=1))
        try:
            confirm, _ = await asyncio.gather(
                client.post(
                    f"/api/v1/orders/{order_id}/seller-orders/{so_id}/confirm-receipt",
                    headers={**headers, "Idempotency-Key": "confirm-1"},
                ),
                Worker(world.par.maker).run_timers(),
            )
        finally:
            clock.reset()
    assert confirm.status_code in (200, 409), confirm.text
    released = select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "escrow_released")
    assert await world.par.count(released) == 1
    async with world.par.maker() as s:
        status = await s.scalar(select(SellerOrder.status).where(SellerOrder.id == so_id))
        escrow = await ledger_service.balance(s, accounts.escrow(world.store_id, so_id), "USD")
        payable = await ledger_service.balance(s, accounts.payable(world.store_id), "USD")
    assert (status, escrow, payable) == ("completed", 0, 980)
