"""How fast product search answers on the demo marketplace, in-process and over HTTP.

1. Makes sure there is a demo database: ``souk demo --no-serve`` in ``--data-dir`` (a temporary dir when
   not given; it builds the demo or reuses it) and, with ``--postgres-url``, in that PostgreSQL database
   (created when missing and then dropped afterwards; an existing one must hold the demo or be empty).
2. In-process: runs a fixed set of realistic searches through ``souk.search.service.search_service``
   ``--repeat`` times each (round robin, after a warm-up), every call in its own session as a request would
   be, and reports p50/p95/max in milliseconds per query and database.
3. Over HTTP: starts ``souk serve`` on a free port and times ``--requests`` sequential requests of
   ``GET /search?q=mug`` (the HTML page) and ``GET /api/v1/search?q=mug`` (JSON) with httpx.
4. On PostgreSQL, measures twice: as ``souk demo`` left the database, then again after ``VACUUM ANALYZE``
   (what autovacuum does a minute later on a server where it is on; ``--no-vacuum-pass`` skips it).

Writes ``bench/results/search_latency.json`` and prints tables.

    python -m bench.search_latency
    python -m bench.search_latency --postgres-url postgresql+asyncpg://postgres@127.0.0.1:5432/souk_bench_search
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import tempfile
import time
from collections.abc import Awaitable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.common import (
    Latency,
    Postgres,
    loadavg,
    machine,
    make_console,
    now_iso,
    parse_demo_output,
    run_child,
    souk_command,
    souk_env,
    write_results,
)
from souk.auth.actor import ANONYMOUS
from souk.db import create_engine, create_sessionmaker
from souk.kit.pagination import DEFAULT_LIMIT
from souk.search.schemas import SearchFilters
from souk.search.service import PER_PAGE, search_service

console = make_console()

WARMUP = 3
HTTP_WARMUP = 20
HTTP_PATHS = ("/search?q=mug", "/api/v1/search?q=mug")


@dataclass
class Query:
    """One search the bench repeats: through ``search`` (the API: cursor pages) or ``search_page`` (the
    web: numbered pages)."""

    name: str
    description: str
    filters: SearchFilters
    call: str = "search"  # or "search_page"
    cursor: str | None = None
    page: int = 1

    def run(self, session: AsyncSession) -> Awaitable[Any]:
        if self.call == "search_page":
            return search_service.search_page(session, ANONYMOUS, self.filters, page=self.page)
        return search_service.search(
            session, ANONYMOUS, self.filters, limit=DEFAULT_LIMIT, cursor=self.cursor
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "call": self.call,
            "filters": self.filters.model_dump(exclude_defaults=True),
            "page": self.page if self.call == "search_page" else (5 if self.cursor else 1),
        }


async def _queries(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Query]:
    """The fixed set; the category is the demo's largest top-level one, the cursor that of page 5."""
    async with sessionmaker() as session:
        browse = await search_service.search(session, ANONYMOUS, SearchFilters(), limit=1)
        top = max(browse.facets.category, key=lambda value: value.count)
        cursor: str | None = None
        for _ in range(4):
            page = await search_service.search(
                session, ANONYMOUS, SearchFilters(), limit=DEFAULT_LIMIT, cursor=cursor
            )
            cursor = page.next_cursor
    return [
        Query("browse", "no words, newest first (the API's default listing)", SearchFilters()),
        Query("one word", "q=mug", SearchFilters(q="mug")),
        Query(
            "prefix",
            "q=stonew (the last word matches as a prefix: stoneware, stonewashed)",
            SearchFilters(q="stonew"),
        ),
        Query("no accent", "q=creme (finds Crème)", SearchFilters(q="creme")),
        Query("three words", "q=non stick pan", SearchFilters(q="non stick pan")),
        Query(
            "category",
            f"category={top.id} ({top.name}, the largest top-level category, with its subcategories)",
            SearchFilters(category=int(top.id)),
        ),
        Query(
            "model+price+sort",
            "trade_model=sourcing, USD 5.00-50.00, sort=price_asc",
            SearchFilters(trade_model="sourcing", min_price=500, max_price=5000, sort="price_asc"),
        ),
        Query("page 5 (cursor)", "browse, the 5th API page via next_cursor", SearchFilters(), cursor=cursor),
        Query(
            "page 5 (web)",
            f"browse, search_page(page=5): offset {4 * PER_PAGE}, with facets",
            SearchFilters(),
            call="search_page",
            page=5,
        ),
        Query(
            "one word (web)",
            "q=mug through search_page (what GET /search?q=mug runs)",
            SearchFilters(q="mug"),
            call="search_page",
        ),
    ]


async def _timed(sessionmaker: async_sessionmaker[AsyncSession], query: Query) -> tuple[float, Any]:
    started = time.perf_counter()
    async with sessionmaker() as session:
        result = await query.run(session)
    return (time.perf_counter() - started) * 1000, result


async def measure_in_process(url: str, repeat: int) -> list[dict[str, Any]]:
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    try:
        queries = await _queries(sessionmaker)
        latencies = {q.name: Latency() for q in queries}
        found: dict[str, tuple[int, int]] = {}
        for q in queries:
            for _ in range(WARMUP):
                _, result = await _timed(sessionmaker, q)
            found[q.name] = (result.total, len(result.items))
        for _ in range(repeat):
            for q in queries:
                ms, _ = await _timed(sessionmaker, q)
                latencies[q.name].samples_ms.append(ms)
    finally:
        await engine.dispose()
    return [
        {
            **q.as_dict(),
            "total": found[q.name][0],
            "returned": found[q.name][1],
            **latencies[q.name].summary(),
        }
        for q in queries
    ]


# --- HTTP -----------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``souk serve`` on a free port, its output in a temporary file."""

    def __init__(self, env: dict[str, str], log: IO[bytes]) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc = subprocess.Popen(  # noqa: S603
            [*souk_command(), "serve", "--port", str(self.port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"souk serve exited with {self.proc.returncode}:\n{self._tail()}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"souk serve did not answer within {timeout_s:.0f} s:\n{self._tail()}")

    def _tail(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def measure_http(env: dict[str, str], requests: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryFile() as log:
        server = Server(env, log)
        try:
            server.wait_ready()
            out = []
            with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
                for path in HTTP_PATHS:
                    for _ in range(HTTP_WARMUP):
                        client.get(path).raise_for_status()
                    latency = Latency()
                    size = 0
                    for _ in range(requests):
                        started = time.perf_counter()
                        response = client.get(path)
                        latency.samples_ms.append((time.perf_counter() - started) * 1000)
                        response.raise_for_status()
                        size = len(response.content)
                    out.append({"request": f"GET {path}", "bytes": size, **latency.summary()})
            return out
        finally:
            server.stop()


# --- databases ------------------------------------------------------------------------------------------


@dataclass
class Target:
    database: str
    url: str
    data_dir: Path
    env: dict[str, str]
    info: dict[str, Any]
    pg: Postgres | None = None


def _ensure_demo(database: str, data_dir: Path, database_url: str | None) -> Target:
    env = souk_env(data_dir, database_url)
    child = run_child([*souk_command(), "demo", "--no-serve"], env)
    parsed = parse_demo_output(child.output)
    if child.returncode != 0 or parsed["counts"] is None:
        raise SystemExit(f"souk demo --no-serve failed in {data_dir}:\n{child.output[-3000:]}")
    action = "built" if parsed["built"] else "reused"
    console.print(
        f"{database}: demo {action} in {child.wall_s:.1f} s ({parsed['counts']['visible']:,} products in search)"
    )
    url = database_url or f"sqlite+aiosqlite:///{(data_dir / 'souk.db').resolve()}"
    info = {"demo": action, "demo_wall_s": round(child.wall_s, 2), "counts": parsed["counts"]}
    return Target(database, url, data_dir, env, info)


def print_tables(results: list[dict[str, Any]]) -> None:
    table = Table(title="search_service in-process (ms per call)", title_justify="left")
    for column in ("query", "call", "db", "results", "p50", "p95", "max"):
        table.add_column(
            column, justify="left" if column in ("query", "call", "db") else "right", no_wrap=True
        )
    names = [q["name"] for q in results[0]["queries"]]
    for name in names:
        for i, result in enumerate(results):
            q = next(q for q in result["queries"] if q["name"] == name)
            table.add_row(
                name if i == 0 else "",
                q["call"] if i == 0 else "",
                result["database"],
                f"{q['total']:,}",
                f"{q['p50_ms']:.1f}",
                f"{q['p95_ms']:.1f}",
                f"{q['max_ms']:.1f}",
                end_section=i == len(results) - 1,
            )
    console.print(table)
    if any(r.get("http") for r in results):
        http = Table(title="HTTP round trip, sequential, one uvicorn worker (ms)", title_justify="left")
        for column in ("request", "db", "bytes", "p50", "p95", "max"):
            http.add_column(column, justify="left" if column in ("request", "db") else "right", no_wrap=True)
        for result in results:
            for h in result.get("http", []):
                http.add_row(
                    h["request"],
                    result["database"],
                    f"{h['bytes']:,}",
                    f"{h['p50_ms']:.1f}",
                    f"{h['p95_ms']:.1f}",
                    f"{h['max_ms']:.1f}",
                )
        console.print(http)


def measure(target: Target, label: str, args: argparse.Namespace) -> dict[str, Any]:
    console.print(f"{label}: {args.repeat} calls of each query ...")
    result: dict[str, Any] = {"database": label, **target.info}
    if target.pg is not None:
        result["search_documents_tuples"] = target.pg.table_tuples(target.pg.name, "search_documents")
    result["loadavg_before"] = loadavg()
    result["queries"] = asyncio.run(measure_in_process(target.url, args.repeat))
    if not args.no_http:
        console.print(f"{label}: {args.requests} HTTP requests per path ...")
        result["http"] = measure_http(target.env, args.requests)
    result["loadavg_after"] = loadavg()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, help="a SOUK_DATA_DIR holding (or to hold) the demo")
    parser.add_argument(
        "--postgres-url", help="also on PostgreSQL: postgresql+asyncpg://USER@HOST:PORT/DBNAME"
    )
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite")
    parser.add_argument("--repeat", type=int, default=50, help="timed calls per query (default 50)")
    parser.add_argument(
        "--requests", type=int, default=200, help="timed HTTP requests per path (default 200)"
    )
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP round trips")
    parser.add_argument(
        "--no-vacuum-pass",
        action="store_true",
        help="on PostgreSQL, skip the second pass after VACUUM ANALYZE",
    )
    args = parser.parse_args()
    if args.no_sqlite and not args.postgres_url:
        parser.error("nothing to measure: --no-sqlite without --postgres-url")

    info = machine()
    console.print(f"{info['cpus']} CPUs ({info['cpu']}), load average {info['loadavg_start']}")
    results: list[dict[str, Any]] = []
    with ExitStack() as stack:
        targets: list[Target] = []
        if not args.no_sqlite:
            data_dir = args.data_dir or Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="souk-bench-"))
            )
            targets.append(_ensure_demo("sqlite", data_dir, None))
        if args.postgres_url:
            pg = Postgres(args.postgres_url)
            if not pg.exists(pg.name):
                pg.create(pg.name)
                stack.callback(pg.drop, pg.name)  # only a database this script created
            pg_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="souk-bench-pg-")))
            target = _ensure_demo("postgresql", pg_dir, pg.url_for(pg.name))
            target.info["server_version"] = pg.server_version()
            target.info["autovacuum"] = pg.setting("autovacuum")
            target.pg = pg
            targets.append(target)
        for target in targets:
            results.append(measure(target, target.database, args))
            if target.pg is not None and not args.no_vacuum_pass:
                console.print(f"{target.database}: VACUUM ANALYZE, then again ...")
                target.pg.vacuum_analyze(target.pg.name)
                results.append(measure(target, f"{target.database} vacuumed", args))
    info["loadavg_end"] = loadavg()
    path = write_results(
        "search_latency.json",
        {
            "date": now_iso(),
            "machine": info,
            "repeat": args.repeat,
            "http_requests": 0 if args.no_http else args.requests,
            "api_limit": DEFAULT_LIMIT,
            "web_per_page": PER_PAGE,
            "results": results,
        },
    )
    print_tables(results)
    console.print(f"Wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
