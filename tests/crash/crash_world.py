"""The crash suite's world and its rounds: a seeded marketplace on real server processes, checkout load, a crash at
a random moment (a server process killed with SIGKILL, or the database stopped with an immediate shutdown), the
recovery, and the checks that must hold afterwards.

A round:
1. every buyer's cart gets one to three lines (random SKUs of two stores, 1-3 units); a quarter of the buyers pay
   with a card that is declined (their orders wait for payment until the unpaid timer closes them);
2. every buyer sends one checkout with an Idempotency-Key of its own, all at once, over both server processes;
3. after a random delay (seeded RNG; within 0.8 times the duration of the first round's load, which has no
   crash; the round's log line says which delay and what was crashed) the crash happens; the test waits for
   every answer (or transport error), then recovers (restarts what it crashed);
4. every request is retried with its key and body:
   - a 2xx answer: the retry returns the same status and body (the stored answer, never a new order);
   - no answer (the process died, or a 5xx while the database was down): the outcome is unknown; the retry
     finishes it. A request that died after checkout's step 1 committed left its key held (``in_progress``,
     5 minutes): the test moves that key row's ``locked_until`` into the past, as if the hold had run out (the
     servers run on the real clock, so the row is changed rather than the clock; waiting would cost 5 minutes),
     and retries: the retry must take the key over (``resumed``), find the pending order step 1 committed and
     finish it: one order, not two. (A retry still refused with 409 ``idempotency_in_progress`` moves it again.)
     A retry that ends in 2xx is retried once more and must return the same answer;
   - a 4xx answer: nothing was ordered for that key;
5. checks (every failure is recorded as a violation with the round's seed and log):
   - every acknowledged order (2xx) exists in the database (same id, number, buyer, total) and through
     ``GET /api/v1/orders/{id}`` with the buyer's token; no key has an order without an acknowledgement;
   - the payment provider's webhooks are delivered (the test runs the jobs); the audit (``souk.audit``:
     ledger, escrows, payments, stock movements) is clean;
   - stock: for every SKU ``on_hand + sold == initial`` (``sold``: the units of order lines whose seller order
     was paid; a sale takes the units off ``on_hand`` and ``reserved`` together) and ``reserved`` == the units of
     lines of orders still waiting for payment;
   - the unpaid timer (``order.close_unpaid``, run with its clock a day ahead) closes every order still waiting
     for payment and releases its reservations: afterwards no order waits, ``reserved`` is 0 for every SKU, and
     the stock and audit checks hold again.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from crash_zygote import Zygote
from sqlalchemy import func, select, update

from fixtures.orders import CARD_DECLINED, CARD_OK
from fixtures.servers import ServerGroup
from fixtures.shops import SeededBuyer, checkout_body, seed_buyer, seed_category, seed_shop, seed_sku
from souk.audit import run_checks
from souk.auth.actor import Actor
from souk.cart.service import cart_service
from souk.errors import SoukError
from souk.kit.clock import utcnow
from souk.models import IdempotencyKey, Order, OrderLine, SellerOrder, Stock
from souk.shipping.schemas import ShippingMethodCreate
from souk.worker.runner import Worker
from souk.worker.timers import TIMERS

CHECKOUT = "/api/v1/checkouts"
DECLINED_SHARE = 0.25
IN_PROGRESS = "idempotency_in_progress"
SOLD_STATUSES = ("paid", "shipped", "completed")


@dataclass
class Shop:
    store_id: int
    method_id: int
    sku_ids: list[int]


Buyer = SeededBuyer


@dataclass
class Attempt:
    """One checkout request of a round and what became of it."""

    buyer: Buyer
    key: str
    body: dict[str, Any]
    first: httpx.Response | BaseException | None = None
    final: httpx.Response | None = None
    holds_released: int = 0

    @property
    def headers(self) -> dict[str, str]:
        return {**self.buyer.headers, "Idempotency-Key": self.key}

    @property
    def token(self) -> str:
        return f"api:{self.key}"


@dataclass
class Tally:
    rounds: int = 0
    server_kills: int = 0
    db_shutdowns: int = 0
    requests: int = 0
    acknowledged_first: int = 0  # 2xx to the first attempt
    acknowledged: int = 0  # 2xx in the end (first attempt or a retry)
    unanswered: int = 0  # transport errors (the process died) and 5xx during a database outage
    refused: int = 0  # 4xx in the end (insufficient stock ...)
    holds_released: int = 0  # keys held by a killed request, taken over by a retry (resumed)
    closed_by_timer: int = 0
    replays_checked: int = 0

    def line(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.__dict__.items())


Disrupt = Callable[[random.Random], Awaitable[str]]
Recover = Callable[[], Awaitable[None]]


@dataclass
class World:
    servers: ServerGroup
    seed: int
    shops: list[Shop]
    buyers: list[Buyer]
    initial: dict[int, int]
    rng: random.Random
    tally: Tally = field(default_factory=Tally)
    violations: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    window: float = 0.5  # the crash comes within this many seconds of the load's start

    def note(self, text: str) -> None:
        self.log.append(text)
        print(text)  # shown by pytest when the test fails

    def violation(self, text: str) -> None:
        self.violations.append(f"[seed {self.seed}, round {self.tally.rounds}] {text}")
        self.note(f"VIOLATION: {text}")


# --- seeding -----------------------------------------------------------------------------------------------


async def seed_world(servers: ServerGroup, seed: int, *, buyers: int, stock: int) -> World:
    """Two market stores with two SKUs each (``stock`` units each) and a shipping method, and ``buyers`` buyers
    with an address and an API token."""
    async with servers.maker() as s, s.begin():
        category_id = await seed_category(s, "crash")
        standard = ShippingMethodCreate(name="Standard", kind="surface", price_amount=300)
        shops: list[Shop] = []
        for n in range(2):
            shop = await seed_shop(s, f"crash-{n}", n=n, category_id=category_id, shipping=standard)
            sku_ids = [
                await seed_sku(
                    s, shop, stock=stock, price=1000 + 250 * k + 100 * n, title=f"Crash item {n}-{k}"
                )
                for k in range(2)
            ]
            shops.append(Shop(shop.store_id, shop.method_id, sku_ids))
        people = [await seed_buyer(s, n) for n in range(buyers)]
    initial = {sku_id: stock for shop in shops for sku_id in shop.sku_ids}
    return World(servers, seed, shops, people, initial, random.Random(seed))


async def _fill_carts(world: World, round_no: int) -> list[Attempt]:
    """Each buyer's cart gets 1-3 random lines (what the stock still allows); one attempt per buyer."""
    rng = world.rng
    every_sku = [(shop, sku_id) for shop in world.shops for sku_id in shop.sku_ids]
    attempts: list[Attempt] = []
    async with world.servers.maker() as s, s.begin():
        for n, buyer in enumerate(world.buyers):
            actor = Actor(user_id=buyer.user_id)
            await cart_service.remove_many(s, actor, None, [sku_id for _, sku_id in every_sku])
            stores: dict[int, int] = {}
            for shop, sku_id in rng.sample(every_sku, rng.randint(1, 3)):
                try:
                    async with s.begin_nested():
                        await cart_service.add(s, actor, None, sku_id, rng.randint(1, 3))
                except SoukError:
                    continue  # sold out: the line is left out
                stores[shop.store_id] = shop.method_id
            if not stores:
                continue
            number = CARD_DECLINED if rng.random() < DECLINED_SHARE else CARD_OK
            body = checkout_body(buyer.address_id, stores, number)
            attempts.append(Attempt(buyer, f"crash-{world.seed}-{round_no}-{n}", body))
    return attempts


# --- a round -----------------------------------------------------------------------------------------------


def _is_2xx(response: object) -> bool:
    return isinstance(response, httpx.Response) and 200 <= response.status_code < 300


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None


def _describe(outcome: object) -> str:
    if isinstance(outcome, httpx.Response):
        return f"{outcome.status_code} {outcome.text[:300]}"
    return f"{type(outcome).__name__}: {outcome}"


async def _release_hold(world: World, attempt: Attempt) -> bool:
    """The killed request's hold on the key runs out: its ``locked_until`` moves into the past. False when the
    key is not held (the request died before its first step committed, or it finished)."""
    async with world.servers.maker() as s, s.begin():
        released = await s.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.user_id == attempt.buyer.user_id,
                IdempotencyKey.key == attempt.key,
                IdempotencyKey.status == "in_progress",
            )
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    return bool(released.rowcount)  # type: ignore[attr-defined]


async def _replay(world: World, client: httpx.AsyncClient, attempt: Attempt, answer: httpx.Response) -> None:
    """A retry of an acknowledged request returns the original answer."""
    again = await client.post(CHECKOUT, json=attempt.body, headers=attempt.headers)
    world.tally.replays_checked += 1
    if (again.status_code, again.json()) != (answer.status_code, answer.json()):
        world.violation(
            f"key {attempt.key}: the retry answered {_describe(again)} instead of the original {_describe(answer)}"
        )


async def _finish(world: World, client: httpx.AsyncClient, attempt: Attempt, *, outage: bool) -> None:
    first = attempt.first
    if _is_2xx(first):
        assert isinstance(first, httpx.Response)
        attempt.final = first
        world.tally.acknowledged_first += 1
        await _replay(world, client, attempt, first)
        return
    if isinstance(first, httpx.Response) and first.status_code < 500:
        attempt.final = first
        return
    if isinstance(first, httpx.Response) and not outage:
        world.violation(f"key {attempt.key}: a server error while no database was down: {_describe(first)}")
    world.tally.unanswered += 1
    # the request died with its process (or ended in a 5xx): its hold on the key runs out at once
    if not isinstance(first, httpx.TimeoutException) and await _release_hold(world, attempt):
        attempt.holds_released += 1
        world.tally.holds_released += 1
    response: httpx.Response | None = None
    for _ in range(3):
        response = await client.post(CHECKOUT, json=attempt.body, headers=attempt.headers)
        if response.status_code == 409 and _error_code(response) == IN_PROGRESS:
            await _release_hold(world, attempt)
            continue
        break
    assert response is not None
    attempt.final = response
    if response.status_code >= 500 or _error_code(response) == IN_PROGRESS:
        world.violation(f"key {attempt.key}: the retry after recovery answered {_describe(response)}")
        return
    if _is_2xx(response):
        await _replay(world, client, attempt, response)


async def run_round(world: World, disrupt: Disrupt | None, recover: Recover, *, outage: bool = False) -> None:
    """One round of load with one crash (``disrupt``, None for a round without one), its recovery and the
    checks. ``outage``: the crash takes the database down (5xx answers meanwhile are expected)."""
    world.tally.rounds += 1
    round_no = world.tally.rounds
    attempts = await _fill_carts(world, round_no)
    world.tally.requests += len(attempts)
    delay = world.rng.uniform(0.0, world.window)
    started = time.monotonic()
    async with world.servers.client(timeout=30.0) as client:
        tasks = [asyncio.create_task(client.post(CHECKOUT, json=a.body, headers=a.headers)) for a in attempts]
        what = "nothing"
        if disrupt is not None:
            await asyncio.sleep(delay)
            what = await disrupt(world.rng)
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    elapsed = time.monotonic() - started
    for attempt, outcome in zip(attempts, outcomes, strict=True):
        attempt.first = outcome
    answered = sum(1 for o in outcomes if isinstance(o, httpx.Response))
    world.note(
        f"round {round_no}: {len(attempts)} checkouts, crash: {what} after {delay:.3f}s; "
        f"{answered} answered ({sum(1 for o in outcomes if _is_2xx(o))} 2xx) in {elapsed:.2f}s"
    )
    if disrupt is None:
        world.window = max(0.05, 0.8 * elapsed)
    marks = [time.monotonic()]
    await recover()
    marks.append(time.monotonic())
    async with world.servers.client(timeout=30.0) as client:
        await asyncio.gather(*(_finish(world, client, a, outage=outage) for a in attempts))
        marks.append(time.monotonic())
        await _check_orders(world, client, attempts)
        marks.append(time.monotonic())
    await _check_after_round(world)
    marks.append(time.monotonic())
    steps = ", ".join(f"{b - a:.2f}" for a, b in itertools.pairwise(marks))
    world.note(f"round {round_no}: recovery, retries, order checks, other checks took {steps}s")


# --- checks ------------------------------------------------------------------------------------------------


async def _check_orders(world: World, client: httpx.AsyncClient, attempts: list[Attempt]) -> None:
    """Every acknowledged order exists (database and API); no key has an order without an acknowledgement."""
    tokens = {a.token: a for a in attempts}
    async with world.servers.maker() as s:
        rows = (
            await s.execute(
                select(Order.id, Order.checkout_token, Order.buyer_id, Order.total_amount).where(
                    Order.checkout_token.in_(list(tokens))
                )
            )
        ).all()
    found: dict[str, list[Any]] = {}
    for row in rows:
        found.setdefault(row.checkout_token, []).append(row)
    for token, attempt in tokens.items():
        orders = found.get(token, [])
        final = attempt.final
        if len(orders) > 1:
            world.violation(f"key {attempt.key}: {len(orders)} orders")
        if final is None or not _is_2xx(final):
            world.tally.refused += 1
            if orders:
                world.violation(
                    f"key {attempt.key}: order {orders[0].id} exists but the request ended with "
                    f"{_describe(final)}"
                )
            continue
        world.tally.acknowledged += 1
        body = final.json()
        if not orders:
            world.violation(f"key {attempt.key}: acknowledged order {body.get('id')} is not in the database")
            continue
        order = orders[0]
        if (order.id, order.buyer_id, order.total_amount) != (
            body["id"],
            attempt.buyer.user_id,
            body["total_amount"],
        ):
            world.violation(f"key {attempt.key}: the database holds {tuple(order)}, the answer said {body}")
        seen = await client.get(f"/api/v1/orders/{body['id']}", headers=attempt.buyer.headers)
        if seen.status_code != 200:
            world.violation(f"key {attempt.key}: GET order {body['id']} answered {_describe(seen)}")
            continue
        read = seen.json()
        if (read["id"], read["number"], read["total_amount"]) != (
            body["id"],
            body["number"],
            body["total_amount"],
        ):
            world.violation(f"key {attempt.key}: GET order {body['id']} shows {read}, the answer said {body}")


async def _stock_levels(world: World) -> dict[int, tuple[int, int, int, int]]:
    """{sku_id: (on_hand, reserved, sold, waiting)}: sold = units of lines of paid seller orders, waiting =
    units of lines of orders waiting for payment."""
    async with world.servers.maker() as s:
        levels = {
            row.sku_id: (row.on_hand, row.reserved)
            for row in (
                await s.execute(
                    select(Stock.sku_id, Stock.on_hand, Stock.reserved).where(
                        Stock.sku_id.in_(list(world.initial))
                    )
                )
            ).all()
        }

        async def units(*statuses: str) -> dict[int, int]:
            rows = await s.execute(
                select(OrderLine.sku_id, func.sum(OrderLine.quantity))
                .join(SellerOrder, SellerOrder.id == OrderLine.seller_order_id)
                .where(SellerOrder.status.in_(statuses))
                .group_by(OrderLine.sku_id)
            )
            return {sku_id: int(total) for sku_id, total in rows.all() if sku_id is not None}

        sold = await units(*SOLD_STATUSES)
        waiting = await units("pending_payment")
    return {
        sku_id: (*levels.get(sku_id, (-1, -1)), sold.get(sku_id, 0), waiting.get(sku_id, 0))
        for sku_id in world.initial
    }


async def _check_stock(world: World, when: str) -> dict[int, tuple[int, int, int, int]]:
    levels = await _stock_levels(world)
    for sku_id, (on_hand, reserved, sold, waiting) in levels.items():
        if on_hand + sold != world.initial[sku_id]:
            world.violation(
                f"{when}: SKU {sku_id}: on hand {on_hand} + sold {sold} != initial {world.initial[sku_id]}"
            )
        if reserved != waiting:
            world.violation(
                f"{when}: SKU {sku_id}: {reserved} reserved, but orders waiting for payment hold {waiting}"
            )
    return levels


async def _check_audit(world: World, when: str) -> None:
    async with world.servers.maker() as s:
        report = await run_checks(s)
    for problem in report.violations:
        world.violation(f"{when}: audit: {problem}")


async def _count_waiting(world: World) -> int:
    return await world.servers.count(
        select(func.count()).select_from(Order).where(Order.status == "pending_payment")
    )


async def _check_after_round(world: World) -> None:
    stats = await Worker(world.servers.maker, concurrency=2).run_once()  # the provider's webhooks
    if stats.jobs_failed:
        world.violation(f"{stats.jobs_failed} jobs failed")
    await _check_audit(world, "after recovery")
    levels = await _check_stock(world, "after recovery")
    waiting = await _count_waiting(world)
    orders = await world.servers.count(select(func.count()).select_from(Order))
    if orders != world.tally.acknowledged:
        world.violation(f"{orders} orders in the database, {world.tally.acknowledged} acknowledged")
    # the unpaid timer, a day ahead: every order still waiting for payment closes and releases its stock
    unpaid = {"order.close_unpaid": TIMERS["order.close_unpaid"]}
    await Worker(world.servers.maker, timers=unpaid).run_timers(utcnow() + timedelta(days=1))
    left = await _count_waiting(world)
    world.tally.closed_by_timer += waiting - left
    if left:
        world.violation(f"{left} orders still wait for payment after the unpaid timer")
    after = await _check_stock(world, "after the unpaid timer")
    for sku_id, (on_hand, reserved, _, _) in after.items():
        if reserved != 0 or on_hand != levels[sku_id][0]:
            world.violation(
                f"SKU {sku_id}: after the unpaid timer {reserved} reserved and {on_hand} on hand "
                f"(before: {levels[sku_id][:2]})"
            )
    await _check_audit(world, "after the unpaid timer")


# --- crashes -----------------------------------------------------------------------------------------------


def server_crashes(world: World, zygote: Zygote) -> tuple[Disrupt, Recover]:
    """SIGKILL one or both server processes (chosen by the RNG); recovery restarts them."""
    servers = world.servers
    killed: list[int] = []

    async def disrupt(rng: random.Random) -> str:
        targets = rng.choice([[0], [1], [0, 1], [0, 1]])
        for index in targets:
            if servers.alive(index):
                servers.kill(index)
                world.tally.server_kills += 1
                killed.append(index)
        return f"SIGKILL server {'+'.join(map(str, targets))}"

    async def recover() -> None:
        for index in killed:
            zygote.start(servers, index)
        killed.clear()
        await servers.ready()

    return disrupt, recover


async def no_recovery() -> None:
    return None


__all__ = ["Buyer", "Shop", "Tally", "World", "no_recovery", "run_round", "seed_world", "server_crashes"]
