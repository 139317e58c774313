"""Fifty identical checkout requests at once (one buyer, one Idempotency-Key, real parallel connections): exactly
one order and one payment, and fifty byte-identical answers (status and body; the requests that came while the
first was running waited for it). Repeated up to ``BURSTS`` times within ``BUDGET`` seconds (more with ``SOUK_SOAK=1``), with a clean audit.

Runs on PostgreSQL and on SQLite (a database file of its own; writers take turns)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from fixtures.orders import card
from fixtures.parallel import OpenParallelApp, ParallelApp, api_headers, new_user
from fixtures.servers import soak
from souk.address.schemas import AddressCreate
from souk.address.service import address_service
from souk.audit import run_checks
from souk.auth.actor import Actor
from souk.cart.service import cart_service
from souk.catalog.schemas import ProductCreate
from souk.catalog.service import catalog_service
from souk.models import Category, IdempotencyKey, Order, Payment, Sku, Store, User
from souk.shipping.schemas import ShippingMethodCreate
from souk.shipping.service import shipping_service

REQUESTS = 50


# at most BURSTS bursts, and no more than BUDGET seconds of them (the CI budget is 45 s per database), but at
# least MIN_BURSTS; with SOUK_SOAK=1 all of them
BURSTS = soak(ci=100, soak=500)
BUDGET = soak(ci=25, soak=3600)
MIN_BURSTS = 10


@dataclass
class World:
    par: ParallelApp
    store_id: int
    sku_id: int
    method_id: int


@pytest.fixture
async def world(parallel_app: OpenParallelApp) -> AsyncIterator[World]:
    async with parallel_app("idem_burst", pool_size=20) as par:
        async with par.maker() as s, s.begin():
            owner = User(email="seller@example.com", password_hash="x", display_name="Seller")
            category = Category(name="Burst", slug="burst")
            s.add_all([owner, category])
            await s.flush()
            store = Store(
                slug="burst",
                name="Burst store",
                country="CN",
                currency="USD",
                trade_model="market",
                status="active",
                owner_user_id=owner.id,
            )
            s.add(store)
            await s.flush()
            seller = Actor(user_id=owner.id)
            view = await catalog_service.create(
                s,
                seller,
                store.id,
                ProductCreate.model_validate(
                    {
                        "title": "Plenty",
                        "category_id": category.id,
                        "skus": [{"price_amount": 1000, "stock": 99_999}],
                    }
                ),
            )
            await catalog_service.publish(s, seller, view.product.id)
            method = await shipping_service.create(
                s, seller, store.id, ShippingMethodCreate(name="Express", kind="express", price_amount=0)
            )
            sku_id = await s.scalar(select(Sku.id).where(Sku.product_id == view.product.id))
            assert sku_id is not None
            ids = (store.id, sku_id, method.id)
        yield World(par, *ids)


async def _buyer(world: World, n: int) -> tuple[dict[str, str], dict[str, Any]]:
    """A buyer with an address, one unit in the cart and an API token: (headers with the key, body)."""
    async with world.par.maker() as s, s.begin():
        user = await new_user(s, "buyer", n)
        actor = Actor(user_id=user.id)
        address = await address_service.create(
            s,
            actor,
            AddressCreate(
                full_name=f"Buyer {n}", phone="+49 30 1234567", line1="1 Main St", city="Berlin", country="DE"
            ),
        )
        await cart_service.add(s, actor, None, world.sku_id, 1)
        headers = await api_headers(s, user.id)
        body = {
            "currency": "USD",
            "address_id": address.id,
            "shipping": [{"store_id": world.store_id, "shipping_method_id": world.method_id}],
            "card": card(),
        }
    return {**headers, "Idempotency-Key": f"burst-{n}"}, body


async def test_fifty_identical_checkouts_at_once_make_one_order_and_fifty_identical_answers(
    world: World,
) -> None:
    started = time.monotonic()
    bursts = 0
    async with world.par.client() as client:
        for n in range(BURSTS):
            if n >= MIN_BURSTS and time.monotonic() - started > BUDGET:
                break
            bursts += 1
            headers, body = await _buyer(world, n)
            answers = await asyncio.gather(
                *(client.post("/api/v1/checkouts", json=body, headers=headers) for _ in range(REQUESTS))
            )
            statuses = {a.status_code for a in answers}
            assert statuses == {201}, (
                n,
                [(a.status_code, a.text[:200]) for a in answers if a.status_code != 201],
            )
            assert len({a.content for a in answers}) == 1, n
            assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == REQUESTS - 1
            assert len({a.headers["location"] for a in answers}) == 1
    elapsed = time.monotonic() - started
    assert await world.par.count(select(func.count()).select_from(Order)) == bursts
    assert await world.par.count(select(func.count()).select_from(Payment)) == bursts
    done = select(func.count()).select_from(IdempotencyKey).where(IdempotencyKey.status == "done")
    assert await world.par.count(done) == bursts
    async with world.par.maker() as s:
        report = await run_checks(s)
    assert report.violations == []
    print(f"{bursts} bursts of {REQUESTS} in {elapsed:.1f} s")  # shown with -s: the CI budget
