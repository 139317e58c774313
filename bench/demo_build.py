"""How long ``souk demo`` takes to build the demo marketplace, and to reuse it.

Runs the real command, ``souk demo --no-serve``, as a child process in a fresh temporary data dir (embedded
SQLite) ``--runs`` times, then once more in the same dir to time the reuse path. With ``--postgres-url`` it
does the same on PostgreSQL, in a database it creates (and drops afterwards) with ``psql``.

For every run it records the wall time, the CPU time and the peak RSS of the child and the counts the
command printed, writes ``bench/results/demo_build.json`` and prints a table. It exits 1 when the median
full build takes ``--target`` seconds (30) or more, when the demo is smaller than the issue asks
(40 stores, 2,000 products with variants), or when a run fails.

    python -m bench.demo_build
    python -m bench.demo_build --runs 5 \\
        --postgres-url postgresql+asyncpg://postgres@127.0.0.1:5432/souk_bench_demo
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from rich.table import Table

from bench.common import (
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

MIN_STORES = 40
MIN_PRODUCTS = 2000

console = make_console()


def _size_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1024 / 1024, 1)


def _one(kind: str, data_dir: Path, database_url: str | None, size: str) -> dict[str, Any]:
    """One ``souk demo --no-serve`` run; ``kind`` is "full" (an empty database) or "reuse"."""
    args = [*souk_command(), "demo", "--no-serve", "--size", size]
    load_before = loadavg()
    child = run_child(args, souk_env(data_dir, database_url))
    parsed = parse_demo_output(child.output)
    record: dict[str, Any] = {
        "kind": kind,
        "returncode": child.returncode,
        "wall_s": round(child.wall_s, 2),
        "cpu_s": round(child.cpu_s, 2),
        "max_rss_mb": round(child.max_rss_mb, 1),
        "reported_s": parsed["reported_s"],
        "built": parsed["built"],
        "reused": parsed["reused"],
        "counts": parsed["counts"],
        "progress_stages": parsed["progress_stages"],
        "data_dir_mb": _size_mb(data_dir),
        "loadavg_before": load_before,
    }
    problems = []
    if child.returncode != 0:
        problems.append(f"exit code {child.returncode}")
    if kind == "full" and not parsed["built"]:
        problems.append("did not build the demo")
    if kind == "reuse" and not parsed["reused"]:
        problems.append("did not reuse the demo")
    counts = parsed["counts"]
    if counts is None:
        problems.append("no summary line in the output")
    elif size == "full":
        if counts["stores"] < MIN_STORES:
            problems.append(f"{counts['stores']} stores < {MIN_STORES}")
        if counts["products"] < MIN_PRODUCTS:
            problems.append(f"{counts['products']} products < {MIN_PRODUCTS}")
        if counts["skus"] <= counts["products"]:
            problems.append("no variants (SKUs <= products)")
    if kind == "full" and not parsed["progress_stages"]:
        problems.append("no progress bar in the output")
    record["problems"] = problems
    if problems:
        record["output_tail"] = child.output[-3000:]
    status = "[red]" + "; ".join(problems) + "[/red]" if problems else "ok"
    console.print(
        f"  {kind:<5} {child.wall_s:6.2f} s wall, {child.cpu_s:6.2f} s CPU, "
        f"{child.max_rss_mb:6.1f} MB peak RSS  {status}"
    )
    return record


def bench_sqlite(runs: int, size: str) -> dict[str, Any]:
    console.print("[bold]SQLite[/bold] (embedded default, a fresh temporary SOUK_DATA_DIR per build)")
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="souk-bench-demo-") as tmp:
        last: Path | None = None
        for i in range(runs):
            if last is not None:
                shutil.rmtree(last)
            last = Path(tmp) / f"run{i + 1}"
            records.append(_one("full", last, None, size))
        assert last is not None
        records.append(_one("reuse", last, None, size))
    return {"database": "sqlite", "runs": records}


def bench_postgres(url: str, runs: int, size: str) -> dict[str, Any]:
    pg = Postgres(url)
    version = pg.server_version()
    console.print(f"[bold]PostgreSQL {version}[/bold] (database {pg.name}, created fresh for every build)")
    if pg.exists(pg.name):
        raise SystemExit(
            f"the database {pg.name} already exists; name one that does not (this script creates and drops it)"
        )
    records: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="souk-bench-demo-pg-") as tmp:
            data_dir = Path(tmp)
            for _ in range(runs):
                pg.drop(pg.name)
                pg.create(pg.name)
                shutil.rmtree(data_dir / "uploads", ignore_errors=True)
                records.append(_one("full", data_dir, pg.url_for(pg.name), size))
            records.append(_one("reuse", data_dir, pg.url_for(pg.name), size))
    finally:
        pg.drop(pg.name)
    return {"database": "postgresql", "server_version": version, "runs": records}


def summarise(result: dict[str, Any], target_s: float) -> dict[str, Any]:
    full = [r for r in result["runs"] if r["kind"] == "full"]
    reuse = [r for r in result["runs"] if r["kind"] == "reuse"]
    walls = [r["wall_s"] for r in full]
    median = statistics.median(walls)
    return {
        "full_builds": len(full),
        "full_median_s": round(median, 2),
        "full_min_s": min(walls),
        "full_max_s": max(walls),
        "full_median_cpu_s": round(statistics.median(r["cpu_s"] for r in full), 2),
        "full_max_rss_mb": max(r["max_rss_mb"] for r in full),
        "reuse_s": reuse[0]["wall_s"] if reuse else None,
        "reuse_max_rss_mb": reuse[0]["max_rss_mb"] if reuse else None,
        "counts": full[0]["counts"],
        "target_s": target_s,
        "meets_target": median < target_s and not any(r["problems"] for r in result["runs"]),
    }


def print_table(results: list[dict[str, Any]]) -> None:
    table = Table(title="souk demo --no-serve", title_justify="left")
    for column in ("db", "run", "wall s", "CPU s", "RSS MB", "souk s", "stores", "products", "SKUs"):
        table.add_column(column, justify="left" if column in ("db", "run") else "right", no_wrap=True)
    for result in results:
        db = "pg" if result["database"] == "postgresql" else result["database"]
        for i, r in enumerate(result["runs"], start=1):
            counts = r["counts"] or {}
            table.add_row(
                db,
                "reuse" if r["kind"] == "reuse" else f"build {i}",
                f"{r['wall_s']:.2f}",
                f"{r['cpu_s']:.2f}",
                f"{r['max_rss_mb']:.0f}",
                f"{r['reported_s']:.1f}" if r["reported_s"] is not None else "-",
                str(counts.get("stores", "-")),
                f"{counts.get('products', 0):,}",
                f"{counts.get('skus', 0):,}",
                end_section=r["kind"] == "reuse",
            )
    console.print(table)
    for result in results:
        s = result["summary"]
        verdict = "[green]meets the target[/green]" if s["meets_target"] else "[red]misses the target[/red]"
        console.print(
            f"{result['database']}: median full build [bold]{s['full_median_s']:.2f} s[/bold] "
            f"(min {s['full_min_s']:.2f}, max {s['full_max_s']:.2f}) < {s['target_s']:.0f} s: {verdict}; "
            f"reuse {s['reuse_s']:.2f} s; peak RSS {s['full_max_rss_mb']:.0f} MB"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="full builds per database (default 3)")
    parser.add_argument(
        "--postgres-url",
        help="also on PostgreSQL: postgresql+asyncpg://USER@HOST:PORT/DBNAME (DBNAME must not exist yet)",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite runs")
    parser.add_argument("--size", choices=("full", "small"), default="full", help="demo size (default full)")
    parser.add_argument("--target", type=float, default=30.0, help="seconds the median build must stay under")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    info = machine()
    console.print(
        f"{info['cpus']} CPUs ({info['cpu']}), load average {info['loadavg_start']}, command: "
        f"{' '.join(souk_command())} demo --no-serve --size {args.size}"
    )
    results = []
    if not args.no_sqlite:
        results.append(bench_sqlite(args.runs, args.size))
    if args.postgres_url:
        results.append(bench_postgres(args.postgres_url, args.runs, args.size))
    if not results:
        parser.error("nothing to measure: --no-sqlite without --postgres-url")
    for result in results:
        result["summary"] = summarise(result, args.target)
    info["loadavg_end"] = loadavg()
    path = write_results(
        "demo_build.json",
        {
            "date": now_iso(),
            "machine": info,
            "command": "souk demo --no-serve --size " + args.size,
            "results": results,
        },
    )
    print_table(results)
    console.print(f"Wrote {path}")
    return 0 if all(r["summary"]["meets_target"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
