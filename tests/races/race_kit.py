"""Shared pieces of the race suite (issue 5): N requests sent at the same moment to several real server
processes on one database (``souk_servers``), the check of their answers, and the seeding the modules share.

```python
async with souk_servers("race_stock", processes=PROCESSES) as servers:
    for i in range(iterations()):
        ...                                     # fresh rows for this iteration (servers.maker())
        answers = await fire(servers, [Call("POST", url, json=body, headers=h) for ...])
        ok = expect(answers, successes=5, ok_status=201, refusals={409: {"insufficient_stock"}})
        await assert_audit_clean(servers)
```

``fire`` opens the connections first (one warm-up request per call, all at once, so the pool holds a connection
for each), lets every call wait on one ``asyncio.Event`` and then releases them together. ``expect`` fails on
any transport error or 5xx, on a refusal that is not a 409/422 with one of the expected error codes, and on
any other number of successes than the expected one.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select

from fixtures.orders import card
from fixtures.parallel import api_headers
from fixtures.servers import ServerGroup, soak
from fixtures.shops import SeededBuyer, SeededShop, seed_buyer, seed_shop, seed_sku
from fixtures.shops import checkout_body as shop_checkout_body
from souk.audit import run_checks
from souk.checkout.schemas import CheckoutCreate
from souk.checkout.service import checkout_service
from souk.models import Cart, CartLine, SellerOrder
from souk.payment.schemas import CardIn
from souk.payment.service import payment_service
from souk.worker.runner import Worker

# requests sent at once in every race, and the server processes they are spread over
N = 200
PROCESSES = 2
# connections per server process (the pool doubles it with its overflow)
POOL_SIZE = 10


def iterations(ci: int = 1) -> int:
    """Iterations per resource: ``ci`` in the normal suite (CI runs the whole suite twice in under 25 minutes on
    two cores, so one race of 200 per resource and database), 100 with ``SOUK_SOAK=1``."""
    return soak(ci=ci, soak=100)


# keyed requests retried once after their connection dropped without an answer (see ``fire``)
RETRIED: list[str] = []


def key() -> str:
    """A fresh Idempotency-Key (one per logical request)."""
    return f"race-{secrets.token_hex(8)}"


@dataclass
class Call:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None


Answer = httpx.Response | Exception


async def fire(servers: ServerGroup, calls: Sequence[Call], *, alongside: Any = None) -> list[Answer]:
    """Send ``calls`` at the same moment, spread over the server processes, and return their answers (a
    transport error as the exception). ``alongside``: a coroutine function started at the same moment (a
    timer run in this process).

    A new client per race: its connections are opened by the warm-up just before the start (a connection
    left idle from an earlier race could be closed by the server's keep-alive timeout as it is reused)."""
    async with servers.client() as client:
        warm = await asyncio.gather(*(client.get("/healthz") for _ in calls), return_exceptions=True)
        broken = [w for w in warm if not isinstance(w, httpx.Response) or w.status_code != 200]
        assert not broken, f"warm-up failed: {broken[:3]}"
        go, parked = asyncio.Event(), asyncio.Event()
        ready = 0

        async def one(call: Call) -> Answer:
            nonlocal ready
            ready += 1
            if ready == len(calls):
                parked.set()
            await go.wait()
            try:
                return await client.request(call.method, call.url, headers=dict(call.headers), json=call.json)
            except httpx.TransportError as exc:
                if "Idempotency-Key" not in call.headers:
                    return exc
            # the connection dropped before an answer: a client retries with the same key, which must neither
            # do the work twice nor lose it (counted, and the race still needs its exact number of successes)
            RETRIED.append(call.url)
            try:
                return await client.request(call.method, call.url, headers=dict(call.headers), json=call.json)
            except httpx.TransportError as exc:
                return exc

        tasks = [asyncio.create_task(one(c)) for c in calls]
        await parked.wait()  # every call is parked on the barrier
        extra = asyncio.create_task(_after(go, alongside)) if alongside is not None else None
        go.set()
        answers = await asyncio.gather(*tasks)
        if extra is not None:
            await extra
        return list(answers)


async def _after(go: asyncio.Event, job: Any) -> Any:
    await go.wait()
    return await job()


def describe(answer: Answer) -> str:
    if isinstance(answer, httpx.Response):
        return f"{answer.status_code} {answer.text[:300]}"
    return f"{type(answer).__name__}: {answer}"


def expect(
    answers: Sequence[Answer],
    *,
    successes: int | Iterable[int],
    ok_status: int | Iterable[int],
    refusals: Mapping[int, set[str]],
) -> list[httpx.Response]:
    """Every answer is a success (``ok_status``) or a clear refusal (a status of ``refusals`` with one of its
    error codes); never a transport error or a 5xx; exactly ``successes`` succeeded (or one of those counts).
    Returns the successful responses."""
    ok_codes = {ok_status} if isinstance(ok_status, int) else set(ok_status)
    wanted = {successes} if isinstance(successes, int) else set(successes)
    broken = [describe(a) for a in answers if not isinstance(a, httpx.Response) or a.status_code >= 500]
    assert not broken, f"{len(broken)} of {len(answers)} answers broke, e.g. {broken[:3]}"
    ok = [a for a in answers if isinstance(a, httpx.Response) and a.status_code in ok_codes]
    unclear: list[str] = []
    seen: Counter[str] = Counter()
    for answer in answers:
        assert isinstance(answer, httpx.Response)
        if answer.status_code in ok_codes:
            continue
        code = _error_code(answer)
        seen[f"{answer.status_code} {code}"] += 1
        if answer.status_code not in refusals or code not in refusals[answer.status_code]:
            unclear.append(describe(answer))
    assert not unclear, f"{len(unclear)} unexpected refusals, e.g. {unclear[:3]}"
    assert len(ok) in wanted, f"{len(ok)} successes, expected {sorted(wanted)}; refusals: {dict(seen)}"
    return ok


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None


async def assert_audit_clean(servers: ServerGroup) -> None:
    """Every ``souk audit`` check passes on the servers' database."""
    async with servers.maker() as s:
        report = await run_checks(s)
    if report.violations:
        pytest.fail("the audit found violations:\n" + "\n".join(report.violations))


class Stopwatch:
    """Seconds per iteration, printed at the end of a race (``pytest -s`` shows them)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.laps: list[float] = []
        self._start = time.perf_counter()

    def lap(self) -> None:
        now = time.perf_counter()
        self.laps.append(now - self._start)
        self._start = now

    def report(self) -> str:
        total = sum(self.laps)
        return (
            f"{self.name}: {len(self.laps)} iterations x {N} requests, {total:.1f} s "
            f"({total / max(len(self.laps), 1):.2f} s each), {len(RETRIED)} dropped connections retried so far"
        )


# --- a market store and its buyers -------------------------------------------------------------------------


@dataclass
class Shop(SeededShop):
    """A market store (USD) with a free shipping method; its owner's headers for the store routes."""

    owner_headers: dict[str, str]


@dataclass
class Buyer(SeededBuyer):
    cart_id: int


async def open_shop(servers: ServerGroup, name: str = "race") -> Shop:
    async with servers.maker() as s, s.begin():
        shop = await seed_shop(s, name)
        return Shop(**shop.__dict__, owner_headers=await api_headers(s, shop.owner_id, "seller"))


async def new_sku(servers: ServerGroup, shop: Shop, stock: int, price: int = 1000) -> int:
    """A published product of the shop with one SKU of ``stock`` units; returns the SKU id."""
    async with servers.maker() as s, s.begin():
        return await seed_sku(s, shop, stock=stock, price=price, title=f"Race item {secrets.token_hex(3)}")


async def new_buyers(servers: ServerGroup, count: int, start: int = 0) -> list[Buyer]:
    """``count`` buyers, each with an address, an empty cart and an API token."""
    buyers: list[Buyer] = []
    async with servers.maker() as s, s.begin():
        for n in range(start, start + count):
            buyer = await seed_buyer(s, n)
            cart = Cart(user_id=buyer.user_id)
            s.add(cart)
            await s.flush()
            buyers.append(Buyer(**buyer.__dict__, cart_id=cart.id))
    return buyers


async def fill_carts(servers: ServerGroup, buyers: Sequence[Buyer], sku_id: int, price: int = 1000) -> None:
    """Every buyer's cart holds exactly one unit of ``sku_id`` (whatever it held before is removed)."""
    async with servers.maker() as s, s.begin():
        await s.execute(delete(CartLine).where(CartLine.cart_id.in_([b.cart_id for b in buyers])))
        s.add_all(
            CartLine(cart_id=b.cart_id, sku_id=sku_id, quantity=1, unit_price_amount=price, currency="USD")
            for b in buyers
        )


def checkout_body(shop: Shop, buyer: Buyer) -> dict[str, Any]:
    return shop_checkout_body(buyer.address_id, {shop.store_id: shop.method_id})


async def paid_seller_order(
    servers: ServerGroup, shop: Shop, buyer: Buyer, price: int = 1000
) -> tuple[int, int]:
    """An order of one unit (a new SKU of 3 units) placed, charged and paid through the checkout's steps and
    the provider's webhook: (order id, seller order id)."""
    sku_id = await new_sku(servers, shop, 3, price)
    await fill_carts(servers, [buyer], sku_id, price)
    async with servers.maker() as s, s.begin():
        payload = CheckoutCreate.model_validate(checkout_body(shop, buyer))
        order = await checkout_service.place(s, buyer.actor, payload, token=key())
        order_id, payment_id = order.id, order.payment_id
    assert payment_id is not None
    async with servers.maker() as s, s.begin():
        await payment_service.confirm(s, payment_id, CardIn.model_validate(card()))
    async with servers.maker() as s, s.begin():
        await checkout_service.settle(s, order_id)
    stats = await Worker(servers.maker).run_once()
    assert stats.jobs_failed == 0
    async with servers.maker() as s:
        so_id, status = (
            await s.execute(
                select(SellerOrder.id, SellerOrder.status).where(SellerOrder.order_id == order_id)
            )
        ).one()
    assert status == "paid"
    return order_id, so_id


async def ship_once(servers: ServerGroup, shop: Shop, so_id: int) -> None:
    """The store ships the seller order (one request)."""
    async with servers.client() as client:
        r = await client.post(
            f"/api/v1/stores/{shop.store_id}/orders/{so_id}/ship",
            json={"carrier": "DHL", "tracking_number": "JD0146000062"},
            headers={**shop.owner_headers, "Idempotency-Key": key()},
        )
    assert r.status_code == 200, r.text


__all__ = [
    "POOL_SIZE",
    "PROCESSES",
    "Buyer",
    "Call",
    "N",
    "Shop",
    "Stopwatch",
    "assert_audit_clean",
    "checkout_body",
    "describe",
    "expect",
    "fill_carts",
    "fire",
    "iterations",
    "key",
    "new_buyers",
    "new_sku",
    "open_shop",
    "paid_seller_order",
    "ship_once",
]
