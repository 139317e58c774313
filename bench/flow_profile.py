"""What one full checkout costs, in-process: SQL statements per route and CPU per flow, optionally profiled.

    python -m bench.flow_profile --db postgres --flows 150          # statements and CPU per flow
    python -m bench.flow_profile --db sqlite --show                 # every statement, per route
    python -m bench.flow_profile --db postgres --profile out.prof   # cProfile of the measured flows

It seeds a small catalog with the checkout scenario's bulk loader (``bench.scenarios.checkout.seed``), builds
Souk's app in this process (no worker inside it) and runs the scenario's own flow (1-3 ``POST
/api/v1/cart/items``, then ``POST /api/v1/checkouts``) ``--flows`` times, one after the other, through httpx's
ASGI transport: no network, no server, no load generator, so the figures are Souk's own work (plus the
database driver's). Warm-up flows run first (their payment webhooks drained by the worker). Then it runs the
worker (``Worker.run_jobs``) on the jobs the measured flows queued: the webhooks that mark the orders paid.

It prints, per flow: CPU ms and wall ms of the web part and of the worker part, and the statements sent, by
route and in all (SAVEPOINTs and SQLite's ``BEGIN IMMEDIATE`` included, which the SQL budget tests leave out).
Use it before and after an optimisation; ``python -m bench checkout`` measures throughput under load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import cProfile
import os
import random
import re
import time
from collections import Counter, defaultdict
from typing import Any

import httpx
from sqlalchemy import event

from bench.harness import DEFAULT_POSTGRES_URL, BenchDatabase, fresh_database
from bench.scenarios import checkout as scenario

_route: contextvars.ContextVar[str] = contextvars.ContextVar("route", default="-")


class _RouteTag:
    """ASGI middleware: remembers the request's route ("POST /api/v1/orders/N/payments") for the counter."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            _route.set(f"{scope['method']} {re.sub(r'/[0-9]+', '/N', scope['path'])}")
        await self.app(scope, receive, send)


async def measure(db: BenchDatabase, args: argparse.Namespace) -> dict[str, Any]:
    catalog, _ = await scenario.seed(db, 2000, 20, args.flows + args.warmup + 10)
    os.environ.update(
        SOUK_DATA_DIR=str(db.data_dir),
        SOUK_SECRET_KEY="flow-profile-" + "x" * 32,
        SOUK_WORKER_IN_PROCESS="false",
    )
    if db.kind == "postgres":
        os.environ["SOUK_DATABASE_URL"] = db.url
    from souk.app import create_app
    from souk.worker.runner import Worker

    app = create_app()
    app.add_middleware(_RouteTag)
    statements: defaultdict[str, Counter[str]] = defaultdict(Counter)
    counting = False

    @event.listens_for(app.state.db.engine.sync_engine, "after_cursor_execute")
    def _count(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        if counting:
            statements[_route.get()][" ".join(statement.split())[:120]] += 1

    flow = scenario.checkout_flow(catalog, scenario.BuyerPool(catalog.buyers, reuse=False), souk=True)
    rng = random.Random(args.seed)
    worker = Worker(app.state.db.sessionmaker, concurrency=4)
    profiler = cProfile.Profile()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://souk.test") as client:
            for _ in range(args.warmup):
                await flow(client, rng)
            await worker.run_jobs()
            counting = True
            if args.profile:
                profiler.enable()
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(args.flows):
                await flow(client, rng)
            web = (time.perf_counter() - wall, time.process_time() - cpu)
            _route.set("worker (payment webhooks)")
            wall, cpu = time.perf_counter(), time.process_time()
            stats = await worker.run_jobs()
            jobs = (time.perf_counter() - wall, time.process_time() - cpu)
            if args.profile:
                profiler.disable()
                profiler.dump_stats(args.profile)
    n = args.flows
    return {
        "flows": n,
        "web_ms": {"cpu": round(1000 * web[1] / n, 1), "wall": round(1000 * web[0] / n, 1)},
        "worker_ms": {"cpu": round(1000 * jobs[1] / n, 1), "wall": round(1000 * jobs[0] / n, 1)},
        "jobs_done": stats.jobs_done,
        "statements": {route: dict(c) for route, c in statements.items()},
    }


def report(result: dict[str, Any], *, show: bool) -> None:
    n = result["flows"]
    print(
        f"{n} flows: web {result['web_ms']['cpu']} ms CPU ({result['web_ms']['wall']} ms wall) per flow, "
        f"worker {result['worker_ms']['cpu']} ms CPU ({result['worker_ms']['wall']} ms wall) per flow, "
        f"{result['jobs_done']} jobs"
    )
    total = 0.0
    for route, counts in sorted(result["statements"].items()):
        per_flow = sum(counts.values()) / n
        total += per_flow
        print(f"  {per_flow:6.1f} statements per flow  {route}")
        if show:
            for statement, times in sorted(counts.items(), key=lambda kv: -kv[1]):
                print(f"      {times / n:5.2f}  {statement}")
    print(f"  {total:6.1f} statements per flow  in all")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.flow_profile", description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--flows", type=int, default=100, help="measured checkout flows (default 100)")
    parser.add_argument("--warmup", type=int, default=20, help="flows before measuring (default 20)")
    parser.add_argument("--show", action="store_true", help="list every statement per route")
    parser.add_argument("--profile", help="write a cProfile of the measured flows and worker to this file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL).replace("load", "flow"),
    )
    args = parser.parse_args(argv)
    if args.flows < 1 or args.warmup < 0:
        parser.error("--flows must be at least 1 and --warmup at least 0")
    with fresh_database(args.db, args.postgres_url, 1) as db:
        result = asyncio.run(measure(db, args))
    report(result, show=args.show)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
