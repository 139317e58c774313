"""Scenario 5, **browse**: the pages a visitor reads, under ``wrk``, against a bare FastAPI GET.

Each run, on a fresh database:

1. ``souk migrate``, the checkout scenario's bulk loader (``--skus`` SKUs, 2 per product, over ``--stores``
   market stores in one category), then ``souk search reindex`` (the loader writes rows, not the index);
2. ``--processes`` uvicorn processes of Souk with production settings (the full middleware stack: security
   headers, sessions, CSRF cookie, the web actor; the worker runs beside them as ``souk worker``, idle here);
3. each page is checked once with httpx (status 200, the text a visitor expects), then loaded by ``wrk``
   (one ``wrk`` per server port, ``--concurrency`` connections in all, ``--duration`` seconds after a
   ``--warmup``) as an anonymous visitor: the home page ``/``, the category page ``/c/bench``, product pages
   ``/p/{id}/{slug}`` (a random product of the catalog per request, from a Lua script) and search pages
   ``/search?q=...`` (a few queries in turn). Any answer that is not 2xx (``wrk``'s "Non-2xx or 3xx") or a
   socket error makes the run incorrect;
4. the ceiling: a bare FastAPI GET (``bench.bare_app``: an HTML page of the same size as Souk's product page,
   no database, no middleware) under the same uvicorn settings, process count and ``wrk`` load.

The target (issue 6): the product page serves at least 0.6 of the bare GET's requests per second. The result is
the median of ``--runs`` runs with min and max, written to ``bench/results/browse.json`` and to the table in
``docs/performance.md``; every page's requests per second and latency percentiles are in the JSON.

    python -m bench browse --db sqlite
    python -m bench browse --db postgres --duration 15 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

from bench.common import (
    loadavg,
    machine,
    make_console,
    now_iso,
    run_child,
    souk_command,
    souk_env,
)
from bench.harness import (
    BenchDatabase,
    ServerGroup,
    base_parser,
    check_args,
    fmt_spread,
    fresh_database,
    new_secret_key,
    postgres_analyze,
    run_all,
    running,
    save_result,
    souk_server_env,
    spread,
    update_docs_table,
)
from bench.scenarios.checkout import bare_env, seed

NAME = "browse"
SUMMARY = "home, category, product and search pages under wrk, against a bare FastAPI GET"
TARGET_RATIO = 0.6
QUERIES = ("bench", "product 17", "prod", "bench product 4242", "size")
# "product": a product drawn uniformly from the whole catalog per request (the target's page: few repeats, so the
# anonymous page cache rarely helps); "popular": products drawn log-uniformly (product k viewed about 1/k as often
# as product 1, as shop traffic goes), where a page viewed twice within SOUK_PAGE_CACHE_SECONDS is served cached
PAGES = ("home", "category", "product", "popular", "search")
console = make_console()


@dataclass
class WrkResult:
    """What ``wrk`` reported for one page, summed over the ports."""

    requests: int
    per_s: float
    non_2xx: int
    socket_errors: int
    latency_ms: dict[str, float]  # p50, p75, p90, p99 (the worst port's)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "per_s": round(self.per_s, 1),
            "non_2xx": self.non_2xx,
            "socket_errors": self.socket_errors,
            "latency_ms": self.latency_ms,
        }


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip())
    if match is None:
        raise ValueError(f"not a wrk duration: {value!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Requests, requests/s, non-2xx answers, socket errors and the latency distribution of a ``wrk
    --latency`` report."""
    total = re.search(r"(\d+) requests in", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if total is None or rate is None:
        raise RuntimeError(f"wrk gave no result:\n{output[-2000:]}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    latency = {
        f"p{pct}": round(_ms(value), 2)
        for pct, value in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, flags=re.MULTILINE)
    }
    return WrkResult(
        requests=int(total.group(1)),
        per_s=float(rate.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
        latency_ms=latency,
    )


def lua_script(page: str, products: int, seed: int) -> str:
    """The ``wrk`` script of a page: a request per call, a random product or the next query."""
    if page == "product":
        return (
            f"math.randomseed({seed})\n"
            "request = function()\n"
            f"  local p = math.random(1, {products})\n"
            '  return wrk.format("GET", "/p/" .. p .. "/bench-product-" .. p)\n'
            "end\n"
        )
    if page == "popular":
        return (
            f"math.randomseed({seed})\n"
            f"local logn = math.log({products})\n"
            "request = function()\n"
            "  local p = math.floor(math.exp(math.random() * logn))\n"
            '  return wrk.format("GET", "/p/" .. p .. "/bench-product-" .. p)\n'
            "end\n"
        )
    if page == "search":
        paths = ", ".join(f'"/search?q={q.replace(" ", "+")}"' for q in QUERIES)
        return f"local paths = {{{paths}}}\nlocal i = 0\nrequest = function()\n  i = i % #paths + 1\n" + (
            '  return wrk.format("GET", paths[i])\nend\n'
        )
    path = {"home": "/", "category": "/c/bench", "bare": "/bare/page"}[page]
    return f'request = function()\n  return wrk.format("GET", "{path}")\nend\n'


async def wrk(
    urls: list[str], script: str, *, connections: int, duration_s: float, workdir: Path
) -> WrkResult:
    """One ``wrk`` per server (as a load balancer would spread the connections), run side by side."""
    path = workdir / "page.lua"
    path.write_text(script)
    per_port = max(1, connections // len(urls))
    procs = [
        await asyncio.create_subprocess_exec(
            "wrk",
            "-t1",
            f"-c{per_port}",
            f"-d{max(1, round(duration_s))}s",
            "--latency",
            "--timeout",
            "30s",
            "-s",
            str(path),
            url,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for url in urls
    ]
    outputs = [(await p.communicate())[0].decode(errors="replace") for p in procs]
    parts = [parse_wrk(o) for o in outputs]
    worst: dict[str, float] = {}
    for part in parts:
        for key, value in part.latency_ms.items():
            worst[key] = max(worst.get(key, 0.0), value)
    return WrkResult(
        requests=sum(p.requests for p in parts),
        per_s=sum(p.per_s for p in parts),
        non_2xx=sum(p.non_2xx for p in parts),
        socket_errors=sum(p.socket_errors for p in parts),
        latency_ms=worst,
    )


def reindex(db: BenchDatabase) -> float:
    child = run_child(
        [*souk_command(), "search", "reindex"],
        souk_env(db.data_dir, db.url if db.kind == "postgres" else None),
        timeout_s=1800,
    )
    if child.returncode != 0:
        raise SystemExit(f"souk search reindex failed:\n{child.output[-3000:]}")
    return child.wall_s


async def check_pages(url: str) -> dict[str, int]:
    """Each page once: 200 and the text a visitor expects; the size of each (bytes)."""
    expected = {
        "/": "Bench",
        "/c/bench": "Bench product",
        "/p/7/bench-product-7": "Bench product 7",
        "/search?q=bench+product+42": "Bench product 42",
    }
    sizes = {}
    async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
        for path, text in expected.items():
            response = await client.get(path)
            if response.status_code != 200 or text not in response.text:
                raise RuntimeError(f"GET {path}: {response.status_code}, {text!r} not found")
            sizes[path] = len(response.content)
    return sizes


async def load_pages(
    args: argparse.Namespace, urls: list[str], products: int, run: int, workdir: Path
) -> dict[str, WrkResult]:
    results = {}
    for page in PAGES:
        script = lua_script(page, products, args.seed + run)
        if args.warmup > 0:
            await wrk(urls, script, connections=args.concurrency, duration_s=args.warmup, workdir=workdir)
        results[page] = await wrk(
            urls, script, connections=args.concurrency, duration_s=args.duration, workdir=workdir
        )
        r = results[page]
        console.print(
            f"    {page:9} {r.per_s:8.1f} req/s, p50 {r.latency_ms.get('p50', '-')} ms, "
            f"p99 {r.latency_ms.get('p99', '-')} ms, {r.non_2xx} non-2xx, {r.socket_errors} socket errors"
        )
    return results


async def one_run(args: argparse.Namespace, run: int, log_dir: Path) -> dict[str, Any]:
    record: dict[str, Any] = {"run": run, "loadavg_before": loadavg()}
    workdir = Path(tempfile.mkdtemp(prefix="souk-bench-wrk-"))
    try:
        with fresh_database(args.db, args.postgres_url, run) as db:
            record["database"] = db.facts
            catalog, timings = await seed(db, args.skus, args.stores, buyers=1)
            record["seed_s"] = timings
            record["reindex_s"] = round(reindex(db), 1)
            postgres_analyze(db)
            console.print(
                f"  run {run}: seeded {args.skus:,} SKUs ({catalog.products:,} products) in "
                f"{timings['total']:.1f} s, search index built in {record['reindex_s']:.1f} s"
            )
            env = souk_server_env(db, new_secret_key())
            group = ServerGroup(env, log_dir)
            group.add_uvicorn("souk.app:create_app", factory=True, count=args.processes)
            async with running(group):
                record["page_bytes"] = await check_pages(group.urls[0])
                pages = await load_pages(args, group.urls, catalog.products, run, workdir)
        product_bytes = record["page_bytes"]["/p/7/bench-product-7"]
        bare_group = ServerGroup(bare_env() | {"BENCH_PAGE_BYTES": str(product_bytes)}, log_dir)
        bare_group.add_uvicorn("bench.bare_app:app", factory=False, count=args.processes)
        async with running(bare_group):
            script = lua_script("bare", 0, 0)
            await wrk(
                bare_group.urls, script, connections=args.concurrency, duration_s=args.warmup, workdir=workdir
            )
            bare = await wrk(
                bare_group.urls,
                script,
                connections=args.concurrency,
                duration_s=args.duration,
                workdir=workdir,
            )
        console.print(f"    bare GET  {bare.per_s:8.1f} req/s, p50 {bare.latency_ms.get('p50', '-')} ms")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    record["pages"] = {page: result.as_dict() for page, result in pages.items()}
    record["bare_fastapi"] = bare.as_dict()
    record["ratio_product_bare"] = round(pages["product"].per_s / bare.per_s, 4) if bare.per_s else None
    record["ratio_popular_bare"] = round(pages["popular"].per_s / bare.per_s, 4) if bare.per_s else None
    record["correct"] = all(r.non_2xx == 0 and r.socket_errors == 0 for r in [*pages.values(), bare])
    record["loadavg_after"] = loadavg()
    return record


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ratio = spread([r["ratio_product_bare"] for r in runs if r["ratio_product_bare"] is not None])
    summary: dict[str, Any] = {
        page: {
            "per_s": spread([r["pages"][page]["per_s"] for r in runs]),
            "p50_ms": spread([r["pages"][page]["latency_ms"].get("p50", 0.0) for r in runs]),
            "p99_ms": spread([r["pages"][page]["latency_ms"].get("p99", 0.0) for r in runs]),
        }
        for page in PAGES
    }
    summary |= {
        "bare_fastapi_per_s": spread([r["bare_fastapi"]["per_s"] for r in runs]),
        "ratio_product_bare": ratio,
        "ratio_popular_bare": spread([r["ratio_popular_bare"] for r in runs if r.get("ratio_popular_bare")]),
        "target_ratio_product_bare": TARGET_RATIO,
        "meets_target": ratio["median"] is not None and ratio["median"] >= TARGET_RATIO,
        "correct": all(r["correct"] for r in runs),
    }
    return summary


def docs_row(label: str, args: argparse.Namespace, summary: dict[str, Any], info: dict[str, Any]) -> str:
    load = f"{info['loadavg_start'][0]:.1f} → {info['loadavg_end'][0]:.1f}"
    met = "yes" if summary["meets_target"] else "**no**"
    if not summary["correct"]:
        met += " (errors)"
    return (
        f"| {NAME} (product page) | {label} | {now_iso()[:10]} | {args.concurrency} | "
        f"{fmt_spread(summary['product']['per_s'], 1)} | - | - | "
        f"{fmt_spread(summary['bare_fastapi_per_s'], 1)} | **{fmt_spread(summary['ratio_product_bare'])}** | "
        f"≥ {TARGET_RATIO:.2f} of a bare FastAPI GET | {met} | {load} |"
    )


def popular_row(label: str, args: argparse.Namespace, summary: dict[str, Any], info: dict[str, Any]) -> str:
    load = f"{info['loadavg_start'][0]:.1f} → {info['loadavg_end'][0]:.1f}"
    return (
        f"| {NAME} (popular product pages) | {label} | {now_iso()[:10]} | {args.concurrency} | "
        f"{fmt_spread(summary['popular']['per_s'], 1)} | - | - | "
        f"{fmt_spread(summary['bare_fastapi_per_s'], 1)} | {fmt_spread(summary['ratio_popular_bare'])} | "
        f"reported (log-uniform popularity; the target is the row above) | - | {load} |"
    )


def print_table(label: str, runs: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    table = Table(title=f"browse on {label} (requests per second, p99 ms)", title_justify="left")
    for name in ("run", *PAGES, "bare GET", "product/bare", "correct"):
        table.add_column(name, justify="right")
    for run in runs:
        cells = [
            f"{run['pages'][p]['per_s']:.0f} ({run['pages'][p]['latency_ms'].get('p99', '-')})" for p in PAGES
        ]
        table.add_row(
            str(run["run"]),
            *cells,
            f"{run['bare_fastapi']['per_s']:.0f}",
            str(run["ratio_product_bare"]),
            "yes" if run["correct"] else "NO",
        )
    console.print(table)
    console.print(
        f"product page / bare FastAPI GET: median {fmt_spread(summary['ratio_product_bare'])} "
        f"(target ≥ {TARGET_RATIO}); popular product pages: {fmt_spread(summary['ratio_popular_bare'])}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = base_parser(f"python -m bench {NAME}", __doc__ or "")
    parser.set_defaults(duration=15.0, warmup=3.0)
    parser.add_argument("--skus", type=int, default=20_000, help="SKUs to seed (2 per product)")
    parser.add_argument("--stores", type=int, default=200, help="stores to seed")
    return parser


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_args(parser, args)
    if args.stores < 1 or args.skus < 2 * args.stores:
        parser.error("--skus must be at least twice --stores")
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install -y wrk)")
    info = machine()
    label = "SQLite" if args.db == "sqlite" else "PostgreSQL"
    console.print(
        f"[bold]browse[/bold] on {label}: {args.runs} runs x {len(PAGES)} pages x {args.duration:g} s at "
        f"{args.concurrency} connections, {args.processes} uvicorn processes; {info['cpus']} CPUs, "
        f"load average {info['loadavg_start']}"
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
            "skus": args.skus,
            "stores": args.stores,
            "load_tool": "wrk 4 (one per server port, 1 thread each)",
            "visitor": "anonymous, full middleware stack",
        },
        summary,
        runs,
    )
    print_table(label, runs, summary)
    console.print(f"Wrote {path}")
    if not args.no_docs and update_docs_table(
        (f"{NAME} (product page)", label), docs_row(label, args, summary, info)
    ):
        update_docs_table((f"{NAME} (popular product pages)", label), popular_row(label, args, summary, info))
        console.print("Updated the load table in docs/performance.md")
    return 0 if summary["correct"] else 1
