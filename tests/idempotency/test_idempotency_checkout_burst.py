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

from fixtures.parallel import OpenParallelApp, ParallelApp
from fixtures.servers import soak
from fixtures.shops import checkout_body, seed_buyer, seed_shop, seed_sku
from souk.audit import run_checks
from souk.cart.service import cart_service
from souk.models import IdempotencyKey, Order, Payment

REQUESTS = 50


# at most BURSTS bursts, and no more than BUDGET seconds of them (the CI budget is 60 s per database), but at
# least MIN_BURSTS; with SOUK_SOAK=1 all of them
BURSTS = soak(ci=100, soak=500)
BUDGET = soak(ci=60, soak=3600)
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
            shop = await seed_shop(s, "burst")
            sku_id = await seed_sku(s, shop, stock=99_999, title="Plenty")
            ids = (shop.store_id, sku_id, shop.method_id)
        yield World(par, *ids)


async def _buyer(world: World, n: int) -> tuple[dict[str, str], dict[str, Any]]:
    """A buyer with an address, one unit in the cart and an API token: (headers with the key, body)."""
    async with world.par.maker() as s, s.begin():
        buyer = await seed_buyer(s, n)
        await cart_service.add(s, buyer.actor, None, world.sku_id, 1)
    body = checkout_body(buyer.address_id, {world.store_id: world.method_id})
    return {**buyer.headers, "Idempotency-Key": f"burst-{n}"}, body


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
