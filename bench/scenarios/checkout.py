"""Scenario 1, **checkout**: full checkouts over a large catalog, Souk against the same writes as raw SQL.

Each run, on a fresh database:

1. ``souk migrate``, then a bulk loader (Core inserts of 10,000 rows on SQLite, ``COPY`` on PostgreSQL) seeds
   ``--skus`` SKUs (2 per product, 1,000 units each) over ``--stores`` market stores, each with one shipping
   method, and ``--buyers`` buyers, each with an address and an API token and nothing else;
2. ``--processes`` uvicorn processes of Souk with production settings (default password profile, durable
   commits), the worker inside them (Souk's default) or, with ``--worker separate``, one ``souk worker``
   beside them, take the load of ``--concurrency`` virtual users for ``--duration`` seconds after a warm-up.
   A virtual user's operation is one full checkout: it takes a new buyer, adds 1-3 random SKUs from 1-2
   stores to the cart through the API (``POST /api/v1/cart/items``), then ``POST /api/v1/checkouts`` with the
   test card that succeeds and an Idempotency-Key. Every response is checked: status, the line added, the
   order ``pending_payment`` with its payment ``processing`` (the simulated provider confirms by a webhook job
   that the worker runs), one seller order per store, the totals. An order counts when it is **paid**: the
   throughput is the orders whose ``paid_at`` falls in the measured window, per second;
3. correctness afterwards: every order paid (the harness waits; ``souk worker --once`` runs what is left),
   ``souk audit`` passes, orders == paid orders == successful checkouts, no job failed, and for every SKU the
   units ordered equal what left its stock (``initial - on_hand + reserved``);
4. the limits, on the same database: ``bench.scenarios.checkout_raw`` makes exactly the writes of a full
   checkout, worker included (the same INSERT/UPDATE/DELETE set in the same transactions, durable commits)
   with asyncpg or sqlite3 at the same concurrency, and the same HTTP flow runs against a bare FastAPI app
   (``bench.bare_app``) behind the same uvicorn settings.

Throughput is full checkouts per second; the result is the ratio Souk / raw SQL (target >= 0.30) and Souk /
bare FastAPI, as the median of ``--runs`` runs with min and max. Writes ``bench/results/checkout.json`` (one
entry per database and worker setup) and that line of the table in ``docs/performance.md``.

    python -m bench checkout --db sqlite
    python -m bench checkout --db postgres --duration 30 --concurrency 32 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table
from sqlalchemy import JSON, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bench.common import (
    loadavg,
    machine,
    make_console,
    now_iso,
    percentile,
    run_child,
    souk_command,
)
from bench.harness import (
    ROOT,
    BenchDatabase,
    Exhausted,
    FlowError,
    LoadResult,
    ServerGroup,
    base_parser,
    check_args,
    drive,
    expect,
    fmt_spread,
    fresh_database,
    new_secret_key,
    postgres_analyze,
    run_all,
    running,
    save_result,
    souk_audit,
    souk_server_env,
    spread,
    update_docs_table,
)
from bench.scenarios.checkout_raw import raw_checkouts
from souk.config import Settings
from souk.db import create_engine
from souk.models import Base

NAME = "checkout"
SUMMARY = "full checkouts (cart of 1-3 lines from 1-2 stores, simulated card) over 100k SKUs"
TARGET_RATIO = 0.30
STOCK_PER_SKU = 1000
SHIPPING_PRICE = 499
CURRENCY = "USD"
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": datetime.now(UTC).year + 3, "cvc": "123"}
CHUNK = 10_000

console = make_console()


# --- the catalog ---------------------------------------------------------------------------------------


@dataclass
class Buyer:
    user_id: int
    address_id: int
    token: str


@dataclass
class Catalog:
    """What the loader wrote, with ids chosen by the loader: product ``p`` belongs to store
    ``(p - 1) % stores + 1``; SKU ``s`` to product ``(s - 1) // 2 + 1``; the shipping method of store ``i``
    has id ``i``."""

    skus: int
    stores: int
    buyers: list[Buyer] = field(default_factory=list)

    @property
    def products(self) -> int:
        return (self.skus + 1) // 2

    @staticmethod
    def price(sku_id: int) -> int:
        return 199 + (sku_id * 7919) % 9800

    def store_of_sku(self, sku_id: int) -> int:
        return ((sku_id - 1) // 2) % self.stores + 1

    def random_sku(self, rng: Any, store_id: int) -> int:
        """A random SKU of ``store_id``."""
        count = (
            self.products - store_id
        ) // self.stores + 1  # products p = store_id + j * stores <= products
        product = store_id + rng.randrange(count) * self.stores
        sku = 2 * (product - 1) + 1 + rng.randrange(2)
        return sku if sku <= self.skus else sku - 1

    def plan(self, rng: Any) -> list[tuple[int, list[tuple[int, int]]]]:
        """A cart: 1-3 lines from 1-2 stores, [(store_id, [(sku_id, quantity), ...]), ...]."""
        lines = rng.randint(1, 3)
        n_stores = 1 if lines == 1 or self.stores == 1 else rng.randint(1, 2)
        stores = rng.sample(range(1, self.stores + 1), n_stores)
        per_store: dict[int, list[tuple[int, int]]] = {s: [] for s in stores}
        used: set[int] = set()
        for i in range(lines):
            store = stores[i % n_stores]
            sku = self.random_sku(rng, store)
            if sku in used:
                continue
            used.add(sku)
            per_store[store].append((sku, rng.randint(1, 2)))
        return [(store, items) for store, items in per_store.items() if items]


def read_engine(db: BenchDatabase) -> AsyncEngine:
    """An engine for the bench's own reads while Souk runs: plain connections (Souk's SQLite engine opens
    every transaction with BEGIN IMMEDIATE, which would queue for the write lock; reads in WAL mode need no
    lock)."""
    return create_async_engine(db.url, poolclass=NullPool)


def _now() -> datetime:
    return datetime.now(UTC)


async def seed(
    db: BenchDatabase,
    skus: int,
    stores: int,
    buyers: int,
    *,
    stock: Callable[[int], int] | None = None,
) -> tuple[Catalog, dict[str, Any]]:
    """The bulk loader: every row the scenario needs, written with Core ``insert`` in chunks of thousands of
    rows (never the ORM one object at a time). ``stock(sku_id)`` gives a SKU's units (default
    ``STOCK_PER_SKU`` each). Returns the catalog and how long each table took."""
    catalog = Catalog(skus=skus, stores=stores)
    units = stock or (lambda _sku: STOCK_PER_SKU)
    t = Base.metadata.tables
    now = _now()
    engine = create_engine(db.url, pool_size=2)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    async def insert(conn: Any, table: str, rows: Any) -> None:
        """SQLite: Core ``insert`` with thousands of rows per call (sqlite3's executemany). PostgreSQL:
        ``COPY`` through asyncpg's ``copy_records_to_table`` on the same connection and transaction."""
        t0 = time.perf_counter()
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= CHUNK:
                await _write(conn, table, batch)
                batch = []
        if batch:
            await _write(conn, table, batch)
        timings[table] = round(timings.get(table, 0.0) + time.perf_counter() - t0, 2)

    async def _write(conn: Any, table: str, batch: list[dict[str, Any]]) -> None:
        if db.kind != "postgres":
            await conn.execute(t[table].insert(), batch)
            return
        columns = [c for c in t[table].columns if c.name in batch[0]]
        as_json = {c.name for c in columns if isinstance(c.type, JSON)}
        names = [c.name for c in columns]
        records = [tuple(json.dumps(row[n]) if n in as_json else row[n] for n in names) for row in batch]
        raw = await conn.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(table, records=records, columns=names)

    buyer_ids = range(stores + 1, stores + buyers + 1)
    tokens = {uid: "souk_" + secrets.token_urlsafe(32) for uid in buyer_ids}
    try:
        async with engine.begin() as conn:
            await insert(
                conn,
                "users",
                (
                    {
                        "id": uid,
                        "email": (f"seller{uid}" if uid <= stores else f"buyer{uid}") + "@bench.example",
                        "password_hash": "!bench: no password login",
                        "display_name": f"Bench seller {uid}" if uid <= stores else f"Bench buyer {uid}",
                        "country": "US",
                        "phone": None,
                        "is_operator": False,
                        "is_active": True,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for uid in range(1, stores + buyers + 1)
                ),
            )
            await insert(
                conn,
                "categories",
                [{"id": 1, "parent_id": None, "name": "Bench", "slug": "bench", "position": 0}],
            )
            await insert(
                conn,
                "stores",
                (
                    {
                        "id": i,
                        "slug": f"bench-store-{i}",
                        "name": f"Bench store {i}",
                        "description": "",
                        "logo_path": None,
                        "country": "US",
                        "currency": CURRENCY,
                        "trade_model": "market",
                        "status": "active",
                        "review_reason": None,
                        "reviewed_at": now,
                        "reviewed_by_id": None,
                        "approved_at": now,
                        "owner_user_id": i,
                        "organization_id": None,
                        "brand_name": None,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(1, stores + 1)
                ),
            )
            await insert(
                conn,
                "shipping_methods",
                (
                    {
                        "id": i,
                        "store_id": i,
                        "name": "Standard",
                        "kind": "surface",
                        "price_amount": SHIPPING_PRICE,
                        "currency": CURRENCY,
                        "free_over_amount": None,
                        "active": True,
                        "position": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(1, stores + 1)
                ),
            )
            await insert(
                conn,
                "products",
                (
                    {
                        "id": p,
                        "store_id": (p - 1) % stores + 1,
                        "category_id": 1,
                        "title": f"Bench product {p}",
                        "slug": f"bench-product-{p}",
                        "description": "",
                        "attributes": [],
                        "options": ["Size"],
                        "status": "active",
                        "currency": CURRENCY,
                        "min_price_amount": min(catalog.price(s) for s in (2 * p - 1, 2 * p) if s <= skus),
                        "max_price_amount": max(catalog.price(s) for s in (2 * p - 1, 2 * p) if s <= skus),
                        "moq": None,
                        "lead_time_days": None,
                        "sample_price_amount": None,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for p in range(1, catalog.products + 1)
                ),
            )
            await insert(
                conn,
                "skus",
                (
                    {
                        "id": s,
                        "product_id": (s - 1) // 2 + 1,
                        "code": f"B{s}",
                        "option_values": {"Size": "S" if s % 2 else "M"},
                        "price_amount": catalog.price(s),
                        "currency": CURRENCY,
                        "weight_grams": None,
                        "position": (s - 1) % 2,
                        "is_active": True,
                    }
                    for s in range(1, skus + 1)
                ),
            )
            await insert(
                conn,
                "stocks",
                ({"sku_id": s, "on_hand": units(s), "reserved": 0} for s in range(1, skus + 1)),
            )
            await insert(
                conn,
                "stock_movements",
                (
                    {
                        "sku_id": s,
                        "kind": "initial",
                        "delta": units(s),
                        "on_hand_after": units(s),
                        "reason": "bench seed",
                        "actor_id": None,
                        "created_at": now,
                    }
                    for s in range(1, skus + 1)
                ),
            )
            await insert(
                conn,
                "api_tokens",
                (
                    {
                        "id": i + 1,
                        "user_id": uid,
                        "name": "bench",
                        "token_hash": hashlib.sha256(tokens[uid].encode()).hexdigest(),
                        "prefix": tokens[uid][:12],
                        "scopes": "read write",
                        "created_at": now,
                        # used just now: the token's "last used" is written at most every 5 minutes
                        "last_used_at": now,
                        "revoked_at": None,
                    }
                    for i, uid in enumerate(buyer_ids)
                ),
            )
            await insert(
                conn,
                "addresses",
                (
                    {
                        "id": i + 1,
                        "user_id": uid,
                        "full_name": f"Bench buyer {uid}",
                        "phone": "+1 555 0100",
                        "line1": f"{uid} Market Street",
                        "line2": "",
                        "city": "San Francisco",
                        "region": "CA",
                        "postal_code": "94103",
                        "country": "US",
                        "is_default": True,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i, uid in enumerate(buyer_ids)
                ),
            )
            if db.kind == "postgres":
                for table in (
                    "users",
                    "categories",
                    "stores",
                    "shipping_methods",
                    "products",
                    "skus",
                    "stock_movements",
                    "api_tokens",
                    "addresses",
                ):
                    await conn.execute(
                        text(
                            f"select setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(select max(id) from {table}))"
                        )
                    )
    finally:
        await engine.dispose()
    catalog.buyers = [Buyer(uid, i + 1, tokens[uid]) for i, uid in enumerate(buyer_ids)]
    timings["total"] = round(time.perf_counter() - started, 2)
    return catalog, timings


# --- the HTTP flow -------------------------------------------------------------------------------------


class BuyerPool:
    """Buyers with an empty cart. Souk empties a buyer's cart only when the order is paid (by the webhook job,
    later), so a buyer is used for one checkout (``reuse=False``); the bare app keeps nothing, so its buyers
    go back after each checkout."""

    def __init__(self, buyers: list[Buyer], *, reuse: bool) -> None:
        self.free: deque[Buyer] = deque(buyers)
        self.reuse = reuse

    def take(self) -> Buyer:
        if not self.free:
            raise Exhausted()
        return self.free.popleft()

    def give_back(self, buyer: Buyer) -> None:
        if self.reuse:
            self.free.append(buyer)


def checkout_flow(catalog: Catalog, pool: BuyerPool, *, souk: bool, placed: list[int] | None = None) -> Any:
    """One full checkout over HTTP. The answer is checked: 201, the order waiting for the payment's webhook
    (``pending_payment``, payment ``processing``), one seller order per store and, with ``souk``, the amounts
    from the catalog's prices (the bare app only answers the shape). The order ids go to ``placed``."""

    async def flow(client: httpx.AsyncClient, rng: Any) -> int:
        buyer = pool.take()
        auth = {"Authorization": f"Bearer {buyer.token}"}
        plan = catalog.plan(rng)
        requests = 0
        items_amount = 0
        for _store, lines in plan:
            for sku, qty in lines:
                response = await client.post(
                    "/api/v1/cart/items", json={"sku_id": sku, "quantity": qty}, headers=auth
                )
                requests += 1
                line = expect(response, 201, "add to cart")
                if (
                    line.get("sku_id") != sku
                    or line.get("quantity") != qty
                    or line.get("purchasable") is not True
                ):
                    raise FlowError(f"add to cart: unexpected line {str(line)[:300]}")
                items_amount += catalog.price(sku) * qty
        body = {
            "currency": CURRENCY,
            "address_id": buyer.address_id,
            "shipping": [{"store_id": store, "shipping_method_id": store} for store, _ in plan],
            "card": CARD,
        }
        response = await client.post(
            "/api/v1/checkouts", json=body, headers={**auth, "Idempotency-Key": uuid.uuid4().hex}
        )
        requests += 1
        order = expect(response, 201, "checkout")
        problems = []
        # usually still waiting for the provider's webhook; a worker quick enough may have paid it already
        state = (order.get("status"), (order.get("payment") or {}).get("status"))
        if state not in (("pending_payment", "processing"), ("paid", "succeeded")):
            problems.append(f"status {state[0]!r} with payment {order.get('payment')!r}")
        if len(order.get("seller_orders") or []) != len(plan):
            problems.append(f"{len(order.get('seller_orders') or [])} seller orders for {len(plan)} stores")
        if souk:
            shipping = SHIPPING_PRICE * len(plan)
            if order.get("items_amount") != items_amount or order.get("shipping_amount") != shipping:
                problems.append(
                    f"amounts {order.get('items_amount')}+{order.get('shipping_amount')}, "
                    f"expected {items_amount}+{shipping}"
                )
            if order.get("total_amount") != items_amount + shipping:
                problems.append(f"total {order.get('total_amount')}")
            if state[0] == "pending_payment" and (order.get("next_action") or {}).get("kind") != (
                "payment_processing"
            ):
                problems.append(f"next action {order.get('next_action')!r}")
        if problems:
            raise FlowError("checkout: " + "; ".join(problems))
        if placed is not None:
            placed.append(int(order["id"]))
        pool.give_back(buyer)
        return requests

    return flow


async def wait_until_paid(db: BenchDatabase, expected: int, timeout_s: float = 120.0) -> float:
    """Wait (servers and worker still running) until ``expected`` orders are paid or nothing moves for
    ``timeout_s``; returns the seconds waited."""
    engine = read_engine(db)
    started = time.perf_counter()
    try:
        last, last_change = -1, started
        while True:
            async with engine.connect() as conn:
                paid = int(
                    (await conn.execute(text("select count(*) from orders where status = 'paid'"))).scalar()
                    or 0
                )
            now = time.perf_counter()
            if paid >= expected:
                return now - started
            if paid != last:
                last, last_change = paid, now
            elif now - last_change > timeout_s:
                return now - started
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


async def paid_in_window(db: BenchDatabase, load: LoadResult) -> dict[str, Any]:
    """Orders **paid** (by the webhook job) inside the measured window, per second, and how long each order
    took from being placed to being paid."""
    orders = Base.metadata.tables["orders"]
    engine = read_engine(db)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(orders.c.created_at, orders.c.paid_at).where(orders.c.paid_at.is_not(None))
                )
            ).all()
    finally:
        await engine.dispose()
    start, end = load.window_start_utc, load.window_end_utc
    assert start is not None and end is not None
    inside = [(c, p) for c, p in rows if start <= p <= end]
    waits = sorted((p - c).total_seconds() * 1000 for c, p in rows)
    return {
        "paid_in_window": len(inside),
        "paid_per_s": round(len(inside) / load.measured_s, 2) if load.measured_s else 0.0,
        "placed_to_paid_ms": {
            "p50": round(percentile(waits, 50), 1),
            "p90": round(percentile(waits, 90), 1),
            "p99": round(percentile(waits, 99), 1),
            "max": round(waits[-1], 1),
        }
        if waits
        else None,
    }


# --- correctness ---------------------------------------------------------------------------------------


async def _counts(db: BenchDatabase) -> dict[str, Any]:
    engine = read_engine(db)
    try:
        async with engine.connect() as conn:

            async def one(sql: str) -> Any:
                return (await conn.execute(text(sql))).scalar()

            jobs = dict((await conn.execute(text("select status, count(*) from jobs group by status"))).all())
            return {
                "orders": await one("select count(*) from orders"),
                "orders_paid": await one("select count(*) from orders where status = 'paid'"),
                "seller_orders": await one("select count(*) from seller_orders"),
                "order_lines": await one("select count(*) from order_lines"),
                "units_ordered": await one("select coalesce(sum(quantity), 0) from order_lines"),
                "units_out_of_stock": await one(
                    f"select coalesce(sum({STOCK_PER_SKU} - on_hand + reserved), 0) from stocks"
                ),
                # SKUs whose stock does not account for exactly what was ordered of them
                "skus_not_adding_up": await one(
                    f"""select count(*) from stocks s left join (
                          select sku_id, sum(quantity) as q from order_lines group by sku_id) o
                        on o.sku_id = s.sku_id
                        where {STOCK_PER_SKU} - s.on_hand + s.reserved <> coalesce(o.q, 0)"""
                ),
                "skus_oversold": await one(
                    "select count(*) from stocks where on_hand < reserved or on_hand < 0"
                ),
                "jobs": {str(k): int(v) for k, v in jobs.items()},
            }
    finally:
        await engine.dispose()


def drain_worker(db: BenchDatabase, env: dict[str, str]) -> dict[str, Any]:
    """``souk worker --once``: the jobs still due once the servers stopped (webhook deliveries)."""
    child = run_child([*souk_command(), "worker", "--once"], env, timeout_s=600)
    return {
        "returncode": child.returncode,
        "wall_s": round(child.wall_s, 2),
        "output_tail": child.output[-600:],
    }


async def check_correctness(
    db: BenchDatabase, load: LoadResult, env: dict[str, str], secret_key: str
) -> dict[str, Any]:
    counts = await _counts(db)
    drained: dict[str, Any] = {"returncode": 0, "skipped": "every job was done"}
    if set(counts["jobs"]) - {"done"}:
        drained = drain_worker(db, env)
        counts = await _counts(db)
    audit = souk_audit(db, secret_key)
    problems = []
    if drained["returncode"] != 0:
        problems.append("souk worker --once failed")
    if not audit["passed"]:
        problems.append("souk audit failed")
    if not counts["orders"] == counts["orders_paid"] == load.completed_total:
        problems.append(
            f"{counts['orders']} orders, {counts['orders_paid']} paid, {load.completed_total} successful checkouts"
        )
    if counts["skus_not_adding_up"] or counts["skus_oversold"]:
        problems.append(
            f"stock: {counts['skus_not_adding_up']} SKUs do not add up, {counts['skus_oversold']} oversold"
        )
    if counts["units_ordered"] != counts["units_out_of_stock"]:
        problems.append(f"{counts['units_ordered']} units ordered, {counts['units_out_of_stock']} left stock")
    if set(counts["jobs"]) - {"done"}:
        problems.append(f"jobs not done: {counts['jobs']}")
    if load.errors:
        problems.append(f"{load.errors} failed checkouts")
    return {
        "passed": not problems,
        "problems": problems,
        "counts": counts,
        "worker_drain": drained,
        "audit": audit,
    }


# --- one run -------------------------------------------------------------------------------------------


async def one_run(args: argparse.Namespace, run: int, log_dir: Path) -> dict[str, Any]:
    record: dict[str, Any] = {"run": run, "loadavg_before": loadavg()}
    with fresh_database(args.db, args.postgres_url, run) as db:
        record["database"] = db.facts
        catalog, timings = await seed(db, args.skus, args.stores, args.buyers)
        postgres_analyze(db)
        record["seed_s"] = timings
        console.print(
            f"  run {run}: seeded {args.skus:,} SKUs, {args.stores} stores, {args.buyers:,} buyers "
            f"in {timings['total']:.1f} s"
        )
        secret_key = new_secret_key()
        in_process = args.worker == "in-process"
        env = souk_server_env(
            db,
            secret_key,
            {
                "SOUK_WORKER_IN_PROCESS": "true" if in_process else "false",
                "SOUK_WORKER_CONCURRENCY": str(args.worker_concurrency),
            },
        )
        group = ServerGroup(env, log_dir)
        group.add_uvicorn("souk.app:create_app", factory=True, count=args.processes)
        if not in_process:
            group.add("worker", [*souk_command(), "worker"], ready_text=" running ")
        placed: list[int] = []
        async with running(group):
            cpu_before = group.cpu_seconds()
            souk = await drive(
                group.urls,
                checkout_flow(catalog, BuyerPool(catalog.buyers, reuse=False), souk=True, placed=placed),
                concurrency=args.concurrency,
                duration_s=args.duration,
                warmup_s=args.warmup,
                max_operations=args.max_operations,
                seed=args.seed + run,
            )
            server_cpu = group.cpu_seconds() - cpu_before
            waited = await wait_until_paid(db, len(placed))
        paid = await paid_in_window(db, souk)
        record["souk"] = souk.as_dict() | {
            "accepted_per_s": round(souk.throughput, 2),
            "throughput_per_s": paid["paid_per_s"],
            **paid,
            "server_and_worker_cpu_s": round(server_cpu, 1),
            "waited_for_payments_s": round(waited, 1),
        }
        record["loadavg_souk"] = loadavg()
        lat = record["souk"]["latency_ms"] or {}
        console.print(
            f"    Souk:         {paid['paid_per_s']:7.1f} checkouts paid/s ({souk.throughput:.1f}/s answered), "
            f"{souk.errors} errors, HTTP p50 {lat.get('p50', '-')} ms, p99 {lat.get('p99', '-')} ms"
        )
        for sample in souk.error_samples[:3]:
            console.print(f"      [red]{sample}[/red]")
        record["correctness"] = await check_correctness(db, souk, env, secret_key)
        status = "[green]passed[/green]" if record["correctness"]["passed"] else "[red]FAILED[/red]"
        console.print(
            f"    correctness:  {status} ({record['correctness']['counts']['orders']} orders; audit "
            f"{'passed' if record['correctness']['audit']['passed'] else 'FAILED'})"
            + "".join(f"\n      [red]{p}[/red]" for p in record["correctness"]["problems"])
        )
        raw = await raw_checkouts(
            db,
            catalog,
            concurrency=args.concurrency,
            duration_s=args.duration,
            warmup_s=args.warmup,
            max_operations=args.max_operations,
            seed=args.seed + run,
        )
        record["raw_sql"] = raw.as_dict()
        record["loadavg_raw"] = loadavg()
        console.print(f"    raw SQL:      {raw.throughput:7.1f} checkouts/s, {raw.errors} errors")
        for sample in raw.error_samples[:3]:
            console.print(f"      [red]{sample}[/red]")
    bare_group = ServerGroup(bare_env(), log_dir)
    bare_group.add_uvicorn("bench.bare_app:app", factory=False, count=args.processes)
    async with running(bare_group):
        bare = await drive(
            bare_group.urls,
            checkout_flow(catalog, BuyerPool(catalog.buyers, reuse=True), souk=False),
            concurrency=args.concurrency,
            duration_s=args.duration,
            warmup_s=args.warmup,
            max_operations=args.max_operations,
            seed=args.seed + run,
        )
    record["bare_fastapi"] = bare.as_dict()
    console.print(f"    bare FastAPI: {bare.throughput:7.1f} checkouts/s, {bare.errors} errors")
    souk_rate = record["souk"]["throughput_per_s"]
    record["ratio_raw_sql"] = round(souk_rate / raw.throughput, 4) if raw.throughput else None
    record["ratio_bare_fastapi"] = round(souk_rate / bare.throughput, 4) if bare.throughput else None
    # checkouts answered (201, payment processing), whether or not the worker paid them in the window
    record["ratio_answered_raw_sql"] = (
        round(record["souk"]["accepted_per_s"] / raw.throughput, 4) if raw.throughput else None
    )
    record["loadavg_after"] = loadavg()
    return record


def bare_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOUK_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def values(path: tuple[str, ...]) -> list[float]:
        found = []
        for run in runs:
            value: Any = run
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if isinstance(value, int | float):
                found.append(float(value))
        return found

    ratio = spread(values(("ratio_raw_sql",)))
    return {
        "souk_per_s": spread(values(("souk", "throughput_per_s"))),
        "raw_sql_per_s": spread(values(("raw_sql", "throughput_per_s"))),
        "bare_fastapi_per_s": spread(values(("bare_fastapi", "throughput_per_s"))),
        "ratio_raw_sql": ratio,
        "ratio_bare_fastapi": spread(values(("ratio_bare_fastapi",))),
        "souk_answered_per_s": spread(values(("souk", "accepted_per_s"))),
        "ratio_answered_raw_sql": spread(values(("ratio_answered_raw_sql",))),
        "souk_placed_to_paid_p50_ms": spread(values(("souk", "placed_to_paid_ms", "p50"))),
        "souk_p50_ms": spread(values(("souk", "latency_ms", "p50"))),
        "souk_p99_ms": spread(values(("souk", "latency_ms", "p99"))),
        "target_ratio_raw_sql": TARGET_RATIO,
        "meets_target": ratio["median"] is not None and ratio["median"] >= TARGET_RATIO,
        "correct": all(run["correctness"]["passed"] for run in runs),
        "audit_passed": all(run["correctness"]["audit"]["passed"] for run in runs),
        "errors": int(sum(values(("souk", "errors"))) + sum(values(("raw_sql", "errors")))),
    }


def docs_row(label: str, args: argparse.Namespace, summary: dict[str, Any], info: dict[str, Any]) -> str:
    load = f"{info['loadavg_start'][0]:.1f} → {info['loadavg_end'][0]:.1f}"
    met = "yes" if summary["meets_target"] else "**no**"
    if not summary["correct"]:
        met += " (correctness FAILED)"
    return (
        f"| {NAME} | {label} | {now_iso()[:10]} | {args.concurrency} | "
        f"{fmt_spread(summary['souk_per_s'], 1)} | {fmt_spread(summary['raw_sql_per_s'], 1)} | "
        f"**{fmt_spread(summary['ratio_raw_sql'])}** | {fmt_spread(summary['bare_fastapi_per_s'], 1)} | "
        f"{fmt_spread(summary['ratio_bare_fastapi'])} | ≥ {TARGET_RATIO:.2f} of raw SQL | {met} | {load} |"
    )


def print_table(label: str, runs: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    table = Table(title=f"checkout on {label} (full checkouts per second)", title_justify="left")
    for name in (
        "run",
        "Souk /s",
        "errors",
        "p50 ms",
        "p99 ms",
        "raw SQL /s",
        "bare FastAPI /s",
        "Souk/raw",
        "Souk/bare",
        "correct",
    ):
        table.add_column(name, justify="right")
    for run in runs:
        lat = run["souk"]["latency_ms"] or {}
        table.add_row(
            str(run["run"]),
            f"{run['souk']['throughput_per_s']:.1f}",
            str(run["souk"]["errors"]),
            str(lat.get("p50", "-")),
            str(lat.get("p99", "-")),
            f"{run['raw_sql']['throughput_per_s']:.1f}",
            f"{run['bare_fastapi']['throughput_per_s']:.1f}",
            str(run["ratio_raw_sql"]),
            str(run["ratio_bare_fastapi"]),
            "yes" if run["correctness"]["passed"] else "NO",
        )
    console.print(table)
    console.print(
        f"Souk / raw SQL: median {fmt_spread(summary['ratio_raw_sql'])} (target ≥ {TARGET_RATIO}); "
        f"Souk / bare FastAPI: {fmt_spread(summary['ratio_bare_fastapi'])}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = base_parser(f"python -m bench {NAME}", __doc__ or "")
    parser.add_argument("--skus", type=int, default=100_000, help="SKUs to seed (2 per product)")
    parser.add_argument("--stores", type=int, default=200, help="stores to seed, one shipping method each")
    parser.add_argument(
        "--worker",
        choices=("in-process", "separate"),
        default="in-process",
        help="where the jobs run (the payment webhooks that mark orders paid): inside each server process "
        "(Souk's default) or in one `souk worker` process beside them",
    )
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=Settings.model_fields["worker_concurrency"].default,
        help="jobs each worker runs at a time (SOUK_WORKER_CONCURRENCY; default: Souk's default)",
    )
    parser.add_argument(
        "--buyers", type=int, default=20_000, help="buyers (address + API token); one checkout each on Souk"
    )
    return parser


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_args(parser, args)
    if args.stores < 1 or args.skus < 2 * args.stores:
        parser.error("--skus must be at least twice --stores")
    if args.buyers < 2 * args.concurrency:
        parser.error("--buyers must be at least twice --concurrency")
    info = machine()
    label = "SQLite" if args.db == "sqlite" else "PostgreSQL"
    if args.worker == "separate":
        label += " + souk worker"
    console.print(
        f"[bold]checkout[/bold] on {label}: {args.runs} runs x {args.duration:g} s at concurrency "
        f"{args.concurrency}, {args.processes} uvicorn processes; {info['cpus']} CPUs, load average "
        f"{info['loadavg_start']}"
    )
    runs = run_all(args, one_run)
    info["loadavg_end"] = loadavg()
    summary = summarise(runs)
    path = save_result(
        NAME,
        label,
        args,
        info,
        {
            "worker": (
                "inside each server process (SOUK_WORKER_IN_PROCESS=true, the default)"
                if args.worker == "in-process"
                else "one `souk worker` process beside the servers"
            )
            + f"; SOUK_WORKER_CONCURRENCY={args.worker_concurrency}, polling every 1 s",
            "skus": args.skus,
            "stores": args.stores,
            "buyers": args.buyers,
            "max_operations": args.max_operations,
            "durability": "PostgreSQL synchronous_commit=on"
            if args.db == "postgres"
            else "SQLite WAL, synchronous=FULL",
        },
        summary,
        runs,
    )
    print_table(label, runs, summary)
    console.print(f"Wrote {path}")
    if not args.no_docs:
        if update_docs_table((NAME, label), docs_row(label, args, summary, info)):
            console.print("Updated the load table in docs/performance.md")
        else:
            console.print("[yellow]docs/performance.md has no load table markers; not updated[/yellow]")
    return 0 if summary["correct"] else 1
