"""Scenario 2, **flash-sale**: one hot SKU sold out by many buyers at once, against Souk's own spread checkout.

Each run, on a fresh database:

1. ``souk migrate``, then the checkout scenario's bulk loader seeds a spread catalog of ``--skus`` SKUs (1,000
   units each, over ``--stores`` market stores) plus one **hot SKU** of ``--units`` units (default 2,000) per
   concurrency level (each level sells a fresh one), and ``--buyers`` buyers per level (default 20,000) plus
   ``--spread-buyers`` for the spread-SKU checkouts;
2. ``--processes`` uvicorn processes of Souk with production settings (durable commits; the worker inside them,
   Souk's default, or ``--worker separate``); ``--warmup`` seconds of spread-SKU checkouts warm them up;
3. for each concurrency of ``--levels`` (default 8, 32, 64): that many virtual users, each taking a new buyer
   who adds 1 unit of the level's hot SKU to the cart (``POST /api/v1/cart/items``) and checks out
   (``POST /api/v1/checkouts``, an Idempotency-Key, the test card that succeeds). A ``201`` is an order (checked
   like the checkout scenario checks it: pending payment, one seller order, the amounts); once the stock is
   gone the only other answer allowed is a ``409 insufficient_stock`` (from the cart, or from the checkout when
   the last units went while the buyer was on the way); anything else (5xx, transport error, another body) is
   an error and fails the run. A level ends when its buyers are used up, or when all units are sold and
   ``--refusals`` further refusals came back, or after ``--level-timeout`` seconds. Its throughput is
   **orders / seconds from the first request to the answer of the last order**. Right after the level and again
   once the worker has paid its orders, the database must hold exactly ``--units`` order lines of the hot SKU
   (one unit each, as many as ``201`` answers), none beyond stock, ``reserved`` equal to the units of unpaid
   orders and ``on_hand`` + units paid equal to the initial stock;
4. on the same servers and database, the checkout scenario's full checkouts (1-3 lines from 1-2 stores over the
   spread catalog) at ``--concurrency`` (default: the highest level) for ``--duration`` seconds after a warm-up:
   checkouts answered ``201`` per second, the same kind of figure. **The result is hot / spread at that
   concurrency** (target >= 1.0);
5. correctness at the end: every order paid, no job left or failed, ``souk audit`` passes, and for every SKU the
   units ordered equal what left its stock (``initial - on_hand + reserved``), none oversold;
6. with ``--raw``, the raw-SQL limit on one hot row: ``bench.scenarios.checkout_raw``'s writes of a full
   checkout with every checkout buying 1 unit of one SKU (stock enough never to sell out), against the same
   writes over the spread catalog, both at ``--concurrency`` for ``--duration`` seconds.

Medians of ``--runs`` runs with min and max go to ``bench/results/flash_sale.json``, two rows of the load
table in ``docs/performance.md`` and a plot ``docs/images/flash_sale_<db>.png`` (successful orders per
second against concurrency, with the spread-SKU figure beside it).

    python -m bench flash-sale --db postgres
    python -m bench flash-sale --db sqlite --levels 8,32,64 --units 2000 --buyers 20000 --runs 3
    python -m bench flash-sale --db sqlite --units 20 --buyers 60 --levels 4 --skus 200 --runs 1 --no-docs
"""

from __future__ import annotations

import argparse
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table
from sqlalchemy import text

from bench.common import (
    RESULTS_DIR,
    Latency,
    loadavg,
    machine,
    make_console,
    now_iso,
    percentile,
    souk_command,
)
from bench.harness import (
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
from bench.plots import DOCS_IMAGES, Series, line_plot
from bench.scenarios.checkout import (
    CARD,
    CURRENCY,
    SHIPPING_PRICE,
    STOCK_PER_SKU,
    Buyer,
    BuyerPool,
    Catalog,
    checkout_flow,
    drain_worker,
    read_engine,
    seed,
    wait_until_paid,
)
from bench.scenarios.checkout_raw import raw_checkouts
from souk.config import Settings

NAME = "flash-sale"
SUMMARY = "one hot SKU (2,000 units) sold out by 20,000 buyers at concurrency 8/32/64, vs spread checkouts"
TARGET_RATIO = 1.0
RAW_HOT_UNITS = 1_000_000_000  # the raw-SQL hot row never sells out within a phase
REFUSED = "insufficient_stock"

console = make_console()


# --- the catalog ---------------------------------------------------------------------------------------


@dataclass
class Layout:
    """Which SKUs are what: the spread catalog is SKUs 1..``spread_skus`` (an even number, so its products
    hold no hot SKU); the hot SKUs come after it, one per level, then the raw-SQL hot SKU."""

    spread_skus: int
    levels: list[int]
    units: int
    raw: bool

    @property
    def hot_skus(self) -> list[int]:
        return [self.spread_skus + 1 + i for i in range(len(self.levels))]

    @property
    def raw_hot_sku(self) -> int:
        return self.spread_skus + len(self.levels) + 1

    @property
    def total_skus(self) -> int:
        return self.spread_skus + len(self.levels) + (1 if self.raw else 0)

    def stock(self, sku_id: int) -> int:
        if sku_id <= self.spread_skus:
            return STOCK_PER_SKU
        if self.raw and sku_id == self.raw_hot_sku:
            return RAW_HOT_UNITS
        return self.units


class HotCatalog(Catalog):
    """The spread catalog's shape, but every cart is 1 unit of one SKU (for the raw-SQL hot-row limit)."""

    def __init__(self, skus: int, stores: int, hot_sku: int, buyers: list[Buyer]) -> None:
        super().__init__(skus=skus, stores=stores, buyers=buyers)
        self.hot_sku = hot_sku

    def plan(self, rng: Any) -> list[tuple[int, list[tuple[int, int]]]]:
        return [(self.store_of_sku(self.hot_sku), [(self.hot_sku, 1)])]


# --- the hot flow --------------------------------------------------------------------------------------


@dataclass
class HotLevel:
    """What the virtual users of one level share: the counts, and when to stop."""

    concurrency: int
    sku: int
    units: int
    refusals_to_stop: int
    orders: int = 0
    refused_at_cart: int = 0
    refused_at_checkout: int = 0
    refusals_after_sold_out: int = 0
    first_request: float | None = None
    last_order: float | None = None
    order_ids: list[int] = field(default_factory=list)
    order_latency: Latency = field(default_factory=Latency)
    refusal_latency: Latency = field(default_factory=Latency)
    done: bool = False

    @property
    def seconds(self) -> float:
        if self.first_request is None or self.last_order is None:
            return 0.0
        return max(1e-6, self.last_order - self.first_request)

    @property
    def throughput(self) -> float:
        return self.orders / self.seconds if self.orders else 0.0

    def refused(self, started: float) -> None:
        self.refusal_latency.samples_ms.append((time.perf_counter() - started) * 1000)
        if self.orders >= self.units:
            self.refusals_after_sold_out += 1
            if self.refusals_after_sold_out >= self.refusals_to_stop:
                self.done = True

    def as_dict(self) -> dict[str, Any]:
        def lat(samples: list[float]) -> dict[str, float] | None:
            s = sorted(samples)
            if not s:
                return None
            return {
                "p50": round(percentile(s, 50), 1),
                "p90": round(percentile(s, 90), 1),
                "p99": round(percentile(s, 99), 1),
                "max": round(s[-1], 1),
            }

        return {
            "concurrency": self.concurrency,
            "sku_id": self.sku,
            "units": self.units,
            "orders": self.orders,
            "throughput_per_s": round(self.throughput, 2),
            "seconds_first_request_to_last_order": round(self.seconds, 2),
            "refused_at_cart": self.refused_at_cart,
            "refused_at_checkout": self.refused_at_checkout,
            "refusals_after_sold_out": self.refusals_after_sold_out,
            "sold_out_seen": self.orders >= self.units,
            "order_latency_ms": lat(self.order_latency.samples_ms),
            "refusal_latency_ms": lat(self.refusal_latency.samples_ms),
        }


def _refusal(response: httpx.Response, what: str) -> None:
    """A clear refusal: 409 ``insufficient_stock``; anything else is a ``FlowError``."""
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        code = None
    if code != REFUSED:
        raise FlowError(f"{what}: HTTP 409 that is not {REFUSED}: {response.text[:300]}")


def hot_flow(catalog: Catalog, state: HotLevel, pool: BuyerPool) -> Any:
    """A new buyer adds 1 unit of the hot SKU and checks out; an order (201) or a clear refusal (409
    ``insufficient_stock``) is expected, and every answer is checked."""
    sku = state.sku
    store = catalog.store_of_sku(sku)
    price = catalog.price(sku)

    async def flow(client: httpx.AsyncClient, rng: Any) -> int:
        if state.done:
            raise Exhausted()
        buyer = pool.take()
        auth = {"Authorization": f"Bearer {buyer.token}"}
        started = time.perf_counter()
        if state.first_request is None:
            state.first_request = started
        response = await client.post("/api/v1/cart/items", json={"sku_id": sku, "quantity": 1}, headers=auth)
        if response.status_code == 409:
            _refusal(response, "add to cart")
            state.refused_at_cart += 1
            state.refused(started)
            return 1
        line = expect(response, 201, "add to cart")
        if line.get("sku_id") != sku or line.get("quantity") != 1 or line.get("purchasable") is not True:
            raise FlowError(f"add to cart: unexpected line {str(line)[:300]}")
        body = {
            "currency": CURRENCY,
            "address_id": buyer.address_id,
            "shipping": [{"store_id": store, "shipping_method_id": store}],
            "card": CARD,
        }
        response = await client.post(
            "/api/v1/checkouts", json=body, headers={**auth, "Idempotency-Key": uuid.uuid4().hex}
        )
        if response.status_code == 409:
            _refusal(response, "checkout")
            state.refused_at_checkout += 1
            state.refused(started)
            return 2
        order = expect(response, 201, "checkout")
        finished = time.perf_counter()
        problems = []
        status = (order.get("status"), (order.get("payment") or {}).get("status"))
        if status not in (("pending_payment", "processing"), ("paid", "succeeded")):
            problems.append(f"status {status[0]!r} with payment {order.get('payment')!r}")
        seller_orders = order.get("seller_orders") or []
        lines = [ln for so in seller_orders for ln in so.get("lines") or []]
        if len(seller_orders) != 1 or [(ln.get("sku_id"), ln.get("quantity")) for ln in lines] != [(sku, 1)]:
            problems.append(f"{len(seller_orders)} seller orders, lines {str(lines)[:200]}")
        if (order.get("items_amount"), order.get("shipping_amount"), order.get("total_amount")) != (
            price,
            SHIPPING_PRICE,
            price + SHIPPING_PRICE,
        ):
            problems.append(
                f"amounts {order.get('items_amount')}+{order.get('shipping_amount')}="
                f"{order.get('total_amount')}, expected {price}+{SHIPPING_PRICE}"
            )
        if problems:
            raise FlowError("checkout: " + "; ".join(problems))
        state.orders += 1
        state.order_ids.append(int(order["id"]))
        state.last_order = finished
        state.order_latency.samples_ms.append((finished - started) * 1000)
        if state.orders > state.units:
            raise FlowError(f"checkout: order {state.orders} of a SKU with {state.units} units (oversold)")
        return 2

    return flow


# --- correctness ---------------------------------------------------------------------------------------


async def hot_counts(db: BenchDatabase, sku: int) -> dict[str, Any]:
    """The hot SKU's stock and order lines, read in one statement (one consistent snapshot while the worker
    pays orders)."""
    lines = (
        "from order_lines ol join seller_orders so on so.id = ol.seller_order_id "
        "join orders o on o.id = so.order_id where ol.sku_id = :sku"
    )
    sql = f"""select
        (select on_hand from stocks where sku_id = :sku) as on_hand,
        (select reserved from stocks where sku_id = :sku) as reserved,
        (select count(*) from order_lines where sku_id = :sku) as lines,
        (select count(distinct seller_order_id) from order_lines where sku_id = :sku) as orders,
        (select coalesce(sum(quantity), 0) from order_lines where sku_id = :sku) as units_ordered,
        (select coalesce(sum(ol.quantity), 0) {lines} and o.status = 'pending_payment') as units_unpaid,
        (select coalesce(sum(ol.quantity), 0) {lines} and o.status = 'paid') as units_paid,
        (select coalesce(sum(ol.quantity), 0) {lines}
           and o.status not in ('pending_payment', 'paid')) as units_other"""
    engine = read_engine(db)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text(sql), {"sku": sku})).mappings().one()
    finally:
        await engine.dispose()
    return {key: int(value) if value is not None else None for key, value in row.items()}


def hot_problems(counts: dict[str, Any], state: HotLevel, *, paid: bool) -> list[str]:
    """What is wrong with the hot SKU's numbers (``paid``: once the worker paid every order)."""
    initial = state.units
    problems = []
    if counts["on_hand"] is None:
        return ["the hot SKU has no stock row"]
    if counts["units_ordered"] > initial or counts["on_hand"] < counts["reserved"] or counts["on_hand"] < 0:
        problems.append(f"oversold: {counts}")
    if counts["lines"] != initial:
        problems.append(f"{counts['lines']} order lines of the hot SKU, expected exactly {initial}")
    if counts["lines"] != state.orders or counts["units_ordered"] != counts["lines"]:
        problems.append(
            f"{counts['lines']} lines ({counts['units_ordered']} units) for {state.orders} orders answered"
        )
    if counts["reserved"] != counts["units_unpaid"]:
        problems.append(f"reserved {counts['reserved']} != {counts['units_unpaid']} units in unpaid orders")
    if counts["on_hand"] + counts["units_paid"] != initial:
        problems.append(f"on hand {counts['on_hand']} + {counts['units_paid']} paid != {initial} initial")
    if counts["units_other"]:
        problems.append(f"{counts['units_other']} units in orders neither pending nor paid")
    if paid and counts["units_unpaid"]:
        problems.append(f"{counts['units_unpaid']} units still unpaid after the wait")
    return problems


async def global_counts(db: BenchDatabase) -> dict[str, Any]:
    """Every SKU: its initial stock (its ``initial`` movement) minus on hand plus reserved == units ordered."""
    engine = read_engine(db)
    try:
        async with engine.connect() as conn:

            async def one(sql: str) -> Any:
                return (await conn.execute(text(sql))).scalar()

            jobs = dict((await conn.execute(text("select status, count(*) from jobs group by status"))).all())
            return {
                "orders": await one("select count(*) from orders"),
                "orders_paid": await one("select count(*) from orders where status = 'paid'"),
                "units_ordered": await one("select coalesce(sum(quantity), 0) from order_lines"),
                "skus_not_adding_up": await one(
                    """select count(*) from stocks s
                       join (select sku_id, sum(delta) as initial from stock_movements
                             where kind = 'initial' group by sku_id) i on i.sku_id = s.sku_id
                       left join (select sku_id, sum(quantity) as q from order_lines group by sku_id) o
                         on o.sku_id = s.sku_id
                       where i.initial - s.on_hand + s.reserved <> coalesce(o.q, 0)"""
                ),
                "skus_oversold": await one(
                    "select count(*) from stocks where on_hand < reserved or on_hand < 0 or reserved < 0"
                ),
                "jobs": {str(k): int(v) for k, v in jobs.items()},
            }
    finally:
        await engine.dispose()


async def final_correctness(
    db: BenchDatabase, answered: int, errors: int, env: dict[str, str], secret_key: str
) -> dict[str, Any]:
    counts = await global_counts(db)
    drained: dict[str, Any] = {"returncode": 0, "skipped": "every job was done"}
    if set(counts["jobs"]) - {"done"}:
        drained = drain_worker(db, env)
        counts = await global_counts(db)
    audit = souk_audit(db, secret_key)
    problems = []
    if drained["returncode"] != 0:
        problems.append("souk worker --once failed")
    if not audit["passed"]:
        problems.append("souk audit failed")
    if not counts["orders"] == counts["orders_paid"] == answered:
        problems.append(f"{counts['orders']} orders, {counts['orders_paid']} paid, {answered} answered 201")
    if counts["skus_not_adding_up"] or counts["skus_oversold"]:
        problems.append(
            f"stock: {counts['skus_not_adding_up']} SKUs do not add up, {counts['skus_oversold']} oversold"
        )
    if set(counts["jobs"]) - {"done"}:
        problems.append(f"jobs not done: {counts['jobs']}")
    if errors:
        problems.append(f"{errors} errors (wrong answers or transport errors)")
    return {
        "passed": not problems,
        "problems": problems,
        "counts": counts,
        "worker_drain": drained,
        "audit": audit,
    }


# --- one run -------------------------------------------------------------------------------------------


def _print_samples(load: LoadResult) -> None:
    for sample in load.error_samples[:3]:
        console.print(f"      [red]{sample}[/red]")


async def one_run(args: argparse.Namespace, run: int, log_dir: Path) -> dict[str, Any]:
    record: dict[str, Any] = {"run": run, "loadavg_before": loadavg()}
    layout = Layout(args.skus, args.levels, args.units, args.raw)
    n_levels = len(args.levels)
    with fresh_database(args.db, args.postgres_url, run) as db:
        record["database"] = db.facts
        seeded, timings = await seed(
            db,
            layout.total_skus,
            args.stores,
            n_levels * args.buyers + args.spread_buyers,
            stock=layout.stock,
        )
        postgres_analyze(db)
        record["seed_s"] = timings
        console.print(
            f"  run {run}: seeded {args.skus:,} spread SKUs + {n_levels} hot SKUs of {args.units:,} units, "
            f"{n_levels * args.buyers + args.spread_buyers:,} buyers in {timings['total']:.1f} s"
        )
        buyers = seeded.buyers
        spread_catalog = Catalog(skus=args.skus, stores=args.stores, buyers=buyers[n_levels * args.buyers :])
        spread_pool = BuyerPool(spread_catalog.buyers, reuse=False)
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
        answered = 0
        errors = 0
        levels: list[dict[str, Any]] = []
        async with running(group):
            if args.warmup > 0:
                warm = await drive(
                    group.urls,
                    checkout_flow(spread_catalog, spread_pool, souk=True),
                    concurrency=min(args.levels),
                    duration_s=args.warmup,
                    warmup_s=0,
                    max_operations=args.max_operations,
                    seed=args.seed + run + 7,
                )
                answered += warm.completed_total
                errors += warm.errors
                record["warmup"] = {"checkouts": warm.completed_total, "errors": warm.errors}
                _print_samples(warm)
            for index, concurrency in enumerate(args.levels):
                state = HotLevel(concurrency, layout.hot_skus[index], args.units, args.refusals)
                pool = BuyerPool(buyers[index * args.buyers : (index + 1) * args.buyers], reuse=False)
                cpu_before = group.cpu_seconds()
                load = await drive(
                    group.urls,
                    hot_flow(seeded, state, pool),
                    concurrency=concurrency,
                    duration_s=args.level_timeout,
                    warmup_s=0,
                    max_operations=args.max_operations,
                    seed=args.seed + run * 1000 + index,
                )
                cpu = group.cpu_seconds() - cpu_before
                answered += state.orders
                errors += load.errors
                right_after = await hot_counts(db, state.sku)
                waited = await wait_until_paid(db, answered)
                once_paid = await hot_counts(db, state.sku)
                problems = hot_problems(right_after, state, paid=False)
                problems += [p for p in hot_problems(once_paid, state, paid=True) if p not in problems]
                if load.errors:
                    problems.append(f"{load.errors} errors")
                if not state.done and state.orders < state.units:
                    problems.append(
                        f"ended before selling out ({'no buyers left' if load.stopped_early else 'time bound'})"
                    )
                level = state.as_dict() | {
                    "errors": load.errors,
                    "error_samples": load.error_samples,
                    "requests": load.requests,
                    "buyers_used": args.buyers - len(pool.free),
                    "ended_by": "refusals after sold out"
                    if state.done
                    else ("buyers used up" if load.stopped_early else "time bound"),
                    "server_cpu_s": round(cpu, 1),
                    "waited_for_payments_s": round(waited, 1),
                    "counts_right_after": right_after,
                    "counts_once_paid": once_paid,
                    "correct": not problems,
                    "problems": problems,
                    "loadavg": loadavg(),
                }
                levels.append(level)
                lat = level["order_latency_ms"] or {}
                ok = "[green]correct[/green]" if not problems else "[red]FAILED[/red]"
                console.print(
                    f"    hot SKU at {concurrency:>3}: {state.orders:,} orders in {state.seconds:.1f} s = "
                    f"{state.throughput:7.1f} orders/s; refused {state.refused_at_cart} at the cart, "
                    f"{state.refused_at_checkout} at checkout; {load.errors} errors; order p50 "
                    f"{lat.get('p50', '-')} ms, p99 {lat.get('p99', '-')} ms; {ok}"
                    + "".join(f"\n      [red]{p}[/red]" for p in problems)
                )
                _print_samples(load)
            record["levels"] = levels
            placed: list[int] = []
            cpu_before = group.cpu_seconds()
            spread_load = await drive(
                group.urls,
                checkout_flow(spread_catalog, spread_pool, souk=True, placed=placed),
                concurrency=args.concurrency,
                duration_s=args.duration,
                warmup_s=args.warmup,
                max_operations=args.max_operations,
                seed=args.seed + run,
            )
            cpu = group.cpu_seconds() - cpu_before
            answered += spread_load.completed_total
            errors += spread_load.errors
            waited = await wait_until_paid(db, answered)
        record["spread"] = spread_load.as_dict() | {
            "server_cpu_s": round(cpu, 1),
            "waited_for_payments_s": round(waited, 1),
        }
        console.print(
            f"    spread SKUs at {args.concurrency}: {spread_load.throughput:7.1f} checkouts/s answered, "
            f"{spread_load.errors} errors"
        )
        _print_samples(spread_load)
        hot = next(lv for lv in levels if lv["concurrency"] == args.concurrency)
        record["hot_per_s"] = hot["throughput_per_s"]
        record["spread_per_s"] = round(spread_load.throughput, 2)
        record["ratio_hot_spread"] = (
            round(hot["throughput_per_s"] / spread_load.throughput, 4) if spread_load.throughput else None
        )
        record["correctness"] = await final_correctness(db, answered, errors, env, secret_key)
        if not all(lv["correct"] for lv in levels):
            record["correctness"]["passed"] = False
            record["correctness"]["problems"].append("a hot-SKU level failed its checks")
        status = "[green]passed[/green]" if record["correctness"]["passed"] else "[red]FAILED[/red]"
        console.print(
            f"    correctness:  {status} ({record['correctness']['counts']['orders']:,} orders; audit "
            f"{'passed' if record['correctness']['audit']['passed'] else 'FAILED'})"
            + "".join(f"\n      [red]{p}[/red]" for p in record["correctness"]["problems"])
        )
        console.print(f"    hot / spread at {args.concurrency}: {record['ratio_hot_spread']}")
        if args.raw:
            record["raw_sql"] = await raw_limits(db, seeded, layout, args, run)
        record["loadavg_after"] = loadavg()
    return record


async def raw_limits(
    db: BenchDatabase, seeded: Catalog, layout: Layout, args: argparse.Namespace, run: int
) -> dict[str, Any]:
    """The raw-SQL writes of a full checkout with every checkout on one SKU, then over the spread catalog."""
    results: dict[str, Any] = {}
    catalogs: dict[str, Catalog] = {
        "hot": HotCatalog(args.skus, args.stores, layout.raw_hot_sku, seeded.buyers),
        "spread": Catalog(skus=args.skus, stores=args.stores, buyers=seeded.buyers),
    }
    for name, catalog in catalogs.items():
        load = await raw_checkouts(
            db,
            catalog,
            concurrency=args.concurrency,
            duration_s=args.duration,
            warmup_s=args.warmup,
            max_operations=args.max_operations,
            seed=args.seed + run,
        )
        results[name] = load.as_dict()
        console.print(f"    raw SQL, {name:<6} {load.throughput:7.1f} checkouts/s, {load.errors} errors")
        _print_samples(load)
    hot, cold = results["hot"]["throughput_per_s"], results["spread"]["throughput_per_s"]
    results["ratio_hot_spread"] = round(hot / cold, 4) if cold else None
    console.print(f"    raw SQL hot / spread: {results['ratio_hot_spread']}")
    return results


# --- summary and reports --------------------------------------------------------------------------------


def _values(runs: list[dict[str, Any]], path: tuple[str, ...]) -> list[float]:
    found = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            found.append(float(value))
    return found


def summarise(args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
    by_level = {
        str(c): spread(
            [lv["throughput_per_s"] for run in runs for lv in run["levels"] if lv["concurrency"] == c]
        )
        for c in args.levels
    }
    ratio = spread(_values(runs, ("ratio_hot_spread",)))
    errors = sum(lv["errors"] for run in runs for lv in run["levels"]) + sum(
        _values(runs, ("spread", "errors"))
    )
    summary: dict[str, Any] = {
        "hot_per_s_by_concurrency": by_level,
        "hot_per_s": spread(_values(runs, ("hot_per_s",))),
        "spread_per_s": spread(_values(runs, ("spread_per_s",))),
        "ratio_hot_spread": ratio,
        "concurrency_compared": args.concurrency,
        "target_ratio_hot_spread": TARGET_RATIO,
        "meets_target": ratio["median"] is not None and ratio["median"] >= TARGET_RATIO,
        "orders_per_level_exact": all(
            lv["counts_once_paid"]["lines"] == args.units for run in runs for lv in run["levels"]
        ),
        "correct": all(run["correctness"]["passed"] for run in runs),
        "audit_passed": all(run["correctness"]["audit"]["passed"] for run in runs),
        "errors": int(errors),
    }
    if args.raw:
        summary["raw_hot_per_s"] = spread(_values(runs, ("raw_sql", "hot", "throughput_per_s")))
        summary["raw_spread_per_s"] = spread(_values(runs, ("raw_sql", "spread", "throughput_per_s")))
        summary["raw_ratio_hot_spread"] = spread(_values(runs, ("raw_sql", "ratio_hot_spread")))
    return summary


def docs_rows(
    label: str, args: argparse.Namespace, summary: dict[str, Any], info: dict[str, Any]
) -> list[tuple[tuple[str, str], str]]:
    """Two rows of the load table: hot against spread at the compared concurrency, and the hot SKU by level."""
    load = f"{info['loadavg_start'][0]:.1f} → {info['loadavg_end'][0]:.1f}"
    date = now_iso()[:10]
    correct = "" if summary["correct"] else " (correctness FAILED)"
    met = ("yes" if summary["meets_target"] else "**no**") + correct
    c = args.concurrency
    raw_rate = raw_ratio = "-"
    if args.raw:
        raw_rate = f"hot {fmt_spread(summary['raw_hot_per_s'], 1)}; spread {fmt_spread(summary['raw_spread_per_s'], 1)}"
        raw_ratio = f"raw hot / spread {fmt_spread(summary['raw_ratio_hot_spread'])}"
    name = f"{NAME} (hot / spread SKUs)"
    compared = (
        f"| {name} | {label} | {date} | {c} | hot {fmt_spread(summary['hot_per_s'], 1)}; "
        f"spread {fmt_spread(summary['spread_per_s'], 1)} | {raw_rate} | {raw_ratio} | - | - | "
        f"hot / spread **{fmt_spread(summary['ratio_hot_spread'])}** ≥ {TARGET_RATIO:.2f} | {met} | {load} |"
    )
    levels_name = f"{NAME} (hot SKU by concurrency)"
    rates = " / ".join(fmt_spread(summary["hot_per_s_by_concurrency"][str(x)], 1) for x in args.levels)
    exact = "yes" if summary["correct"] else "**no**"
    by_level = (
        f"| {levels_name} | {label} | {date} | {' / '.join(str(x) for x in args.levels)} | {rates} | - | - | "
        f"- | - | exactly {args.units:,} orders, none beyond stock, audit clean | {exact} | {load} |"
    )
    return [((name, label), compared), ((levels_name, label), by_level)]


def plot(path: Path, label: str, args: argparse.Namespace, summary: dict[str, Any]) -> Path:
    levels = args.levels
    hot = [summary["hot_per_s_by_concurrency"][str(c)] for c in levels]
    spread_fig = summary["spread_per_s"]
    series = [
        Series(
            f"one hot SKU ({args.units:,} units)",
            [float(c) for c in levels],
            [h["median"] or 0.0 for h in hot],
            low=[h["min"] or 0.0 for h in hot],
            high=[h["max"] or 0.0 for h in hot],
        ),
        Series(
            f"spread SKUs (full checkouts) at {args.concurrency}",
            [float(args.concurrency)],
            [spread_fig["median"] or 0.0],
            low=[spread_fig["min"] or 0.0],
            high=[spread_fig["max"] or 0.0],
        ),
    ]
    return line_plot(
        path,
        title=f"Flash sale on {label}: successful orders per second",
        xlabel="concurrency (virtual users)",
        ylabel="orders/s (median, min-max band)",
        series=series,
        log_x=True,
    )


def print_table(
    label: str, args: argparse.Namespace, runs: list[dict[str, Any]], summary: dict[str, Any]
) -> None:
    table = Table(title=f"flash-sale on {label} (successful orders per second)", title_justify="left")
    for name in ("run", *(f"hot @{c}" for c in args.levels), f"spread @{args.concurrency}", "hot/spread"):
        table.add_column(name, justify="right")
    table.add_column("errors", justify="right")
    table.add_column("correct", justify="right")
    for run in runs:
        errors = sum(lv["errors"] for lv in run["levels"]) + run["spread"]["errors"]
        table.add_row(
            str(run["run"]),
            *(f"{lv['throughput_per_s']:.1f}" for lv in run["levels"]),
            f"{run['spread_per_s']:.1f}",
            str(run["ratio_hot_spread"]),
            str(errors),
            "yes" if run["correctness"]["passed"] else "NO",
        )
    console.print(table)
    console.print(
        f"hot / spread at {args.concurrency}: median {fmt_spread(summary['ratio_hot_spread'])} "
        f"(target ≥ {TARGET_RATIO})"
    )


def _levels(value: str) -> list[int]:
    try:
        levels = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of concurrencies, e.g. 8,32,64") from None
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("concurrencies must be at least 1")
    return levels


def build_parser() -> argparse.ArgumentParser:
    parser = base_parser(f"python -m bench {NAME}", __doc__ or "")
    parser.set_defaults(concurrency=-1)
    parser.add_argument(
        "--levels",
        type=_levels,
        default=[8, 32, 64],
        help="concurrencies of the hot-SKU load (default 8,32,64)",
    )
    parser.add_argument("--units", type=int, default=2000, help="units of the hot SKU, fresh for each level")
    parser.add_argument(
        "--buyers", type=int, default=20_000, help="fresh buyers for each level (default 20,000)"
    )
    parser.add_argument(
        "--refusals",
        type=int,
        default=200,
        help="a level ends once every unit is sold and this many further refusals came back (default 200)",
    )
    parser.add_argument(
        "--level-timeout",
        type=float,
        default=600.0,
        help="seconds after which a hot-SKU level ends even if it has not sold out (it then fails)",
    )
    parser.add_argument("--skus", type=int, default=100_000, help="SKUs of the spread catalog (even number)")
    parser.add_argument("--stores", type=int, default=200, help="stores to seed, one shipping method each")
    parser.add_argument(
        "--spread-buyers",
        type=int,
        default=10_000,
        help="buyers for the warm-up and the spread-SKU checkouts (one checkout each)",
    )
    parser.add_argument(
        "--worker",
        choices=("in-process", "separate"),
        default="in-process",
        help="where the payment webhooks run: inside each server process (Souk's default) or one `souk worker`",
    )
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=Settings.model_fields["worker_concurrency"].default,
        help="jobs each worker runs at a time (SOUK_WORKER_CONCURRENCY; default: Souk's default)",
    )
    parser.add_argument(
        "--raw",
        action="store_true",
        help="also measure the raw-SQL writes of a checkout on one hot row against the spread catalog",
    )
    return parser


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.concurrency == -1:
        args.concurrency = max(args.levels)
    check_args(parser, args)
    if args.concurrency not in args.levels:
        parser.error("--concurrency (the spread-SKU comparison) must be one of --levels")
    if args.skus % 2:
        args.skus += 1
    if args.stores < 1 or args.skus < 2 * args.stores:
        parser.error("--skus must be at least twice --stores")
    if args.units < 1 or args.buyers < 1 or args.refusals < 1:
        parser.error("--units, --buyers and --refusals must be at least 1")
    if args.spread_buyers < 2 * args.concurrency:
        parser.error("--spread-buyers must be at least twice --concurrency")
    info = machine()
    label = "SQLite" if args.db == "sqlite" else "PostgreSQL"
    if args.worker == "separate":
        label += " + souk worker"
    console.print(
        f"[bold]flash-sale[/bold] on {label}: {args.runs} runs; one hot SKU of {args.units:,} units at "
        f"concurrency {', '.join(map(str, args.levels))} ({args.buyers:,} buyers each), then spread checkouts "
        f"at {args.concurrency} for {args.duration:g} s; {args.processes} uvicorn processes; {info['cpus']} CPUs, "
        f"load average {info['loadavg_start']}"
    )
    own_output = args.output is not None
    if not own_output:
        args.output = RESULTS_DIR / "flash_sale.json"
    runs = run_all(args, one_run)
    info["loadavg_end"] = loadavg()
    summary = summarise(args, runs)
    path = save_result(
        NAME,
        label,
        args,
        info,
        {
            "levels": args.levels,
            "units": args.units,
            "buyers_per_level": args.buyers,
            "refusals_after_sold_out": args.refusals,
            "level_timeout_s": args.level_timeout,
            "spread_skus": args.skus,
            "stores": args.stores,
            "spread_buyers": args.spread_buyers,
            "raw": args.raw,
            "worker": (
                "inside each server process (SOUK_WORKER_IN_PROCESS=true, the default)"
                if args.worker == "in-process"
                else "one `souk worker` process beside the servers"
            )
            + f"; SOUK_WORKER_CONCURRENCY={args.worker_concurrency}",
            "max_operations": args.max_operations,
            "durability": "PostgreSQL synchronous_commit=on"
            if args.db == "postgres"
            else "SQLite WAL, synchronous=FULL",
            "throughput": "hot: orders (201) / seconds from the first request to the last order's answer; "
            "spread: checkouts answered 201 within the measured window / its seconds",
        },
        summary,
        runs,
    )
    print_table(label, args, runs, summary)
    console.print(f"Wrote {path}")
    # the plot goes to docs/images, or beside a JSON result written elsewhere (--output)
    suffix = "_worker" if args.worker == "separate" else ""
    image_path = (
        args.output.with_suffix(".png") if own_output else DOCS_IMAGES / f"flash_sale_{args.db}{suffix}.png"
    )
    console.print(f"Wrote {plot(image_path, label, args, summary)}")
    if not args.no_docs:
        for key, row in docs_rows(label, args, summary, info):
            if not update_docs_table(key, row):
                console.print("[yellow]docs/performance.md has no load table markers; not updated[/yellow]")
                break
        else:
            console.print("Updated the load table in docs/performance.md")
    return 0 if summary["correct"] else 1
