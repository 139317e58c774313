"""Scenario 6, **tail**: checkout latency at 70 % of the measured maximum checkout throughput, open loop.

Each run, on a fresh database:

1. ``souk migrate`` and the checkout scenario's bulk loader (``--skus`` SKUs over ``--stores`` stores,
   ``--buyers`` buyers with an address and an API token);
2. ``--processes`` uvicorn processes of Souk with production settings (the default password profile, durable
   commits, the worker inside the web processes with its default concurrency);
3. **the maximum**: the checkout scenario's closed loop, ``--concurrency`` virtual users each doing one full
   checkout after the other (1-3 cart lines from 1-2 stores, then ``POST /api/v1/checkouts``), every answer
   checked, for ``--warmup`` + ``--duration`` seconds. The maximum is the checkouts **answered** (201) per
   second in the measured window. Then the harness waits until the worker has paid every order, so the second
   phase starts without a backlog of webhook jobs;
4. **the open loop**: full checkouts **arrive** at ``--fraction`` (0.7) x the maximum, on a schedule decided in
   advance (``--arrivals poisson``, the default, or ``even``), for ``--warmup`` + ``--duration`` seconds,
   whatever the answers do. Each arrival takes a free virtual user (its own keep-alive connection) from a pool
   that grows when every user is busy, so no arrival waits for another to finish. The latency of the whole
   flow counts from the **scheduled** arrival time (time spent waiting in the client counts: no coordinated
   omission); the checkout request itself (``POST /api/v1/checkouts``) and each cart request are timed too.
   When the client could not keep the schedule (an arrival started more than 50 ms late at p99, or waited
   for a user) the result says so;
5. correctness afterwards, as in the checkout scenario: every answered order paid, ``souk audit`` passes,
   orders == paid orders == successful checkouts of both phases, stock adds up for every SKU.

Target (issue 6, scenario 6), on PostgreSQL: the checkout request's p99 <= 250 ms and <= 4 x its p50 (SQLite
is reported, with no target). Figures are medians of ``--runs`` runs with min and max. Writes
``bench/results/tail.json``, the scenario's line of the table in ``docs/performance.md`` and
``docs/images/tail_latency.png``.

    python -m bench tail --db postgres
    python -m bench tail --db sqlite --runs 1 --duration 20
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.table import Table

from bench.common import loadavg, machine, make_console, now_iso
from bench.harness import (
    LoadResult,
    ServerGroup,
    base_parser,
    check_args,
    drive,
    drive_open_loop,
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
from bench.scenarios.checkout import (
    BuyerPool,
    check_correctness,
    checkout_flow,
    seed,
    wait_until_paid,
)

NAME = "tail"
SUMMARY = "checkout latency p50/p90/p99 at 70% of the measured maximum throughput (open-loop arrivals)"
DOCS_KEY = "tail (checkout at 0.7 of max)"
TARGET_P99_MS = 250.0
TARGET_P99_OVER_P50 = 4.0
TARGET_DB = "PostgreSQL"
CHECKOUT_PATH = "/api/v1/checkouts"
CART_PATH = "/api/v1/cart/items"
MAX_START_LAG_MS = 50.0

console = make_console()


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
        # production settings: the worker inside the web processes, at its default concurrency
        env = souk_server_env(db, secret_key, {"SOUK_WORKER_IN_PROCESS": "true"})
        group = ServerGroup(env, log_dir)
        group.add_uvicorn("souk.app:create_app", factory=True, count=args.processes)
        pool = BuyerPool(catalog.buyers, reuse=False)
        placed: list[int] = []
        async with running(group):
            closed = await drive(
                group.urls,
                checkout_flow(catalog, pool, souk=True, placed=placed),
                concurrency=args.concurrency,
                duration_s=args.duration,
                warmup_s=args.warmup,
                max_operations=args.max_operations,
                seed=args.seed + run,
            )
            drained_s = await wait_until_paid(db, len(placed))
            record["loadavg_closed_loop"] = loadavg()
            maximum = closed.throughput
            record["closed_loop"] = closed.as_dict() | {"waited_for_payments_s": round(drained_s, 1)}
            record["max_per_s"] = round(maximum, 2)
            lat = record["closed_loop"]["latency_ms"] or {}
            console.print(
                f"    maximum:   {maximum:7.1f} checkouts answered/s at concurrency {args.concurrency}, "
                f"{closed.errors} errors, flow p50 {lat.get('p50', '-')} ms, p99 {lat.get('p99', '-')} ms "
                f"(payments drained in {drained_s:.1f} s)"
            )
            rate = args.fraction * maximum
            needed = int(rate * (args.warmup + args.duration) * 1.3) + args.users
            if rate <= 0:
                raise SystemExit("the closed loop answered no checkout: no maximum to take a fraction of")
            if len(pool.free) < needed:
                raise SystemExit(
                    f"{len(pool.free)} fresh buyers left, the open loop needs about {needed}: raise --buyers"
                )
            cpu_before = group.cpu_seconds()
            opened = await drive_open_loop(
                group.urls,
                checkout_flow(catalog, pool, souk=True, placed=placed),
                rate_per_s=rate,
                duration_s=args.duration,
                warmup_s=args.warmup,
                seed=(args.seed + run) * 7919,
                schedule=args.arrivals,
                users=args.users,
                max_users=args.max_users,
                timed_paths=(CHECKOUT_PATH, CART_PATH),
                max_lag_ms=MAX_START_LAG_MS,
            )
            server_cpu = group.cpu_seconds() - cpu_before
            paid_wait_s = await wait_until_paid(db, len(placed))
        record["open_loop"] = opened.as_dict() | {
            "fraction_of_max": args.fraction,
            "server_and_worker_cpu_s": round(server_cpu, 1),
            "waited_for_payments_s": round(paid_wait_s, 1),
        }
        record["loadavg_open_loop"] = loadavg()
        record |= verdict(record["open_loop"])
        checkout = record["open_loop"]["path_latency_ms"].get(CHECKOUT_PATH) or {}
        flow = record["open_loop"]["latency_ms"] or {}
        lag = record["open_loop"]["start_lag_ms"] or {}
        console.print(
            f"    open loop: {rate:7.1f} arrivals/s offered ({args.arrivals}), {opened.throughput:.1f}/s done, "
            f"{opened.errors} errors; checkout p50/p90/p99 {checkout.get('p50', '-')} / "
            f"{checkout.get('p90', '-')} / {checkout.get('p99', '-')} ms; flow p50/p99 {flow.get('p50', '-')} / "
            f"{flow.get('p99', '-')} ms; start lag p99 {lag.get('p99', '-')} ms, "
            f"{opened.users_created} users (at most {opened.users_busy_max} busy)"
            + ("" if opened.rate_kept else " [red]the client did not keep the arrival rate[/red]")
        )
        for sample in [*closed.error_samples[:3], *opened.error_samples[:3]]:
            console.print(f"      [red]{sample}[/red]")
        both = LoadResult(
            measured_s=args.duration,
            completed_total=closed.completed_total + opened.completed_total,
            errors=closed.errors + opened.errors,
        )
        record["correctness"] = await check_correctness(db, both, env, secret_key)
        status = "[green]passed[/green]" if record["correctness"]["passed"] else "[red]FAILED[/red]"
        console.print(
            f"    correctness: {status} ({record['correctness']['counts']['orders']} orders; audit "
            f"{'passed' if record['correctness']['audit']['passed'] else 'FAILED'})"
            + "".join(f"\n      [red]{p}[/red]" for p in record["correctness"]["problems"])
        )
    record["loadavg_after"] = loadavg()
    return record


def verdict(open_loop: dict[str, Any]) -> dict[str, Any]:
    """The checkout request's p99, its ratio to p50 and whether both meet the target, for one run."""
    checkout = open_loop["path_latency_ms"].get(CHECKOUT_PATH)
    if not checkout:
        return {"checkout_p99_ms": None, "p99_over_p50": None, "meets_target": False}
    ratio = checkout["p99"] / checkout["p50"] if checkout["p50"] else None
    return {
        "checkout_p99_ms": checkout["p99"],
        "p99_over_p50": round(ratio, 2) if ratio is not None else None,
        "meets_target": checkout["p99"] <= TARGET_P99_MS
        and ratio is not None
        and ratio <= TARGET_P99_OVER_P50,
    }


# --- summary and reports -------------------------------------------------------------------------------


def summarise(runs: list[dict[str, Any]], label: str) -> dict[str, Any]:
    def values(path: tuple[str, ...]) -> list[float]:
        found = []
        for run in runs:
            value: Any = run
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                found.append(float(value))
        return found

    checkout = ("open_loop", "path_latency_ms", CHECKOUT_PATH)
    cart = ("open_loop", "path_latency_ms", CART_PATH)
    p99 = spread(values((*checkout, "p99")))
    ratio = spread(values(("p99_over_p50",)))
    has_target = label.startswith(TARGET_DB)
    met = (
        p99["median"] is not None
        and ratio["median"] is not None
        and p99["median"] <= TARGET_P99_MS
        and ratio["median"] <= TARGET_P99_OVER_P50
    )
    return {
        "max_per_s": spread(values(("max_per_s",))),
        "offered_per_s": spread(values(("open_loop", "offered_per_s"))),
        "open_loop_done_per_s": spread(values(("open_loop", "throughput_per_s"))),
        "checkout_ms": {p: spread(values((*checkout, p))) for p in ("p50", "p90", "p99", "max")},
        "cart_line_ms": {p: spread(values((*cart, p))) for p in ("p50", "p90", "p99", "max")},
        "flow_ms": {p: spread(values(("open_loop", "latency_ms", p))) for p in ("p50", "p90", "p99", "max")},
        "start_lag_ms": {p: spread(values(("open_loop", "start_lag_ms", p))) for p in ("p50", "p99", "max")},
        "closed_loop_flow_ms": {
            p: spread(values(("closed_loop", "latency_ms", p))) for p in ("p50", "p90", "p99")
        },
        "checkout_p99_over_p50": ratio,
        "target": f"checkout p99 <= {TARGET_P99_MS:g} ms and <= {TARGET_P99_OVER_P50:g} x p50 on {TARGET_DB}",
        "has_target": has_target,
        "meets_target": met if has_target else None,
        "runs_meeting_target": sum(1 for run in runs if run["meets_target"]),
        "rate_kept": all(run["open_loop"]["rate_kept"] for run in runs),
        "correct": all(run["correctness"]["passed"] for run in runs),
        "audit_passed": all(run["correctness"]["audit"]["passed"] for run in runs),
        "errors": int(sum(values(("closed_loop", "errors"))) + sum(values(("open_loop", "errors")))),
    }


def docs_row(label: str, args: argparse.Namespace, summary: dict[str, Any], info: dict[str, Any]) -> str:
    load = f"{info['loadavg_start'][0]:.1f} → {info['loadavg_end'][0]:.1f}"
    checkout = summary["checkout_ms"]
    figures = (
        f"checkout p50 / p99 **{checkout['p50']['median']:,.0f} / {checkout['p99']['median']:,.0f} ms** "
        f"({summary['checkout_p99_over_p50']['median']:.1f}x p50)"
        if checkout["p99"]["median"] is not None and summary["checkout_p99_over_p50"]["median"] is not None
        else "no checkout measured"
    )
    if summary["has_target"]:
        target = f"p99 ≤ {TARGET_P99_MS:g} ms and ≤ {TARGET_P99_OVER_P50:g}x p50: {figures}"
        met = "yes" if summary["meets_target"] else "**no**"
    else:
        target = f"none (reported): {figures}"
        met = "-"
    if not summary["rate_kept"]:
        met += " (client fell behind)"
    if not summary["correct"]:
        met += " (correctness FAILED)"
    return (
        f"| {DOCS_KEY} | {label} | {now_iso()[:10]} | {args.concurrency}, then open loop | "
        f"max {fmt_spread(summary['max_per_s'], 1)}; offered {fmt_spread(summary['offered_per_s'], 1)} | "
        f"- | - | - | - | {target} | {met} | {load} |"
    )


def draw_plots(output: Path) -> list[Path]:
    """Bars of the checkout request's p50/p90/p99 (medians of the runs) with the 250 ms target line: every
    database of ``output`` in ``docs/images/tail_latency.png``, and each alone in
    ``tail_latency_<database>.png`` (on its own scale)."""
    from bench.plots import DOCS_IMAGES, bar_plot

    try:
        results = json.loads(output.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return []
    labels = sorted(results, key=lambda label: (not label.startswith(TARGET_DB), label))
    drawn = []
    for name, groups in [("tail_latency", labels)] + [
        (f"tail_latency_{label.lower().replace(' ', '_')}", [label]) for label in labels
    ]:
        bars: dict[str, list[float]] = {"p50": [], "p90": [], "p99": []}
        for label in groups:
            checkout = results[label]["summary"]["checkout_ms"]
            for pct, values in bars.items():
                values.append(checkout[pct]["median"] or 0.0)
        drawn.append(
            bar_plot(
                DOCS_IMAGES / f"{name}.png",
                title="POST /api/v1/checkouts at 0.7 of the maximum throughput",
                ylabel="ms (median of the runs)",
                groups=groups,
                bars=bars,
                target=TARGET_P99_MS,
            )
        )
    return drawn


def print_table(label: str, runs: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    table = Table(
        title=f"tail on {label}: checkouts/s; checkout request and whole flow latency, ms",
        title_justify="left",
    )
    # checkout: the POST /api/v1/checkouts request; flow: cart lines + checkout, from the scheduled arrival
    for name in (
        "run",
        "max/s",
        "rate/s",
        "done/s",
        "p50",
        "p90",
        "p99",
        "max",
        "p99/p50",
        "flow p50",
        "flow p99",
        "lag p99",
        "kept",
        "ok",
    ):
        table.add_column(name, justify="right")
    for run in runs:
        ol = run["open_loop"]
        checkout = ol["path_latency_ms"].get(CHECKOUT_PATH) or {}
        flow = ol["latency_ms"] or {}
        lag = ol["start_lag_ms"] or {}
        table.add_row(
            str(run["run"]),
            f"{run['max_per_s']:.1f}",
            f"{ol['offered_per_s']:.1f}",
            f"{ol['throughput_per_s']:.1f}",
            str(checkout.get("p50", "-")),
            str(checkout.get("p90", "-")),
            str(checkout.get("p99", "-")),
            str(checkout.get("max", "-")),
            str(run["p99_over_p50"]),
            str(flow.get("p50", "-")),
            str(flow.get("p99", "-")),
            str(lag.get("p99", "-")),
            "yes" if ol["rate_kept"] else "NO",
            "yes" if run["correctness"]["passed"] else "NO",
        )
    console.print(table)
    checkout_ms = summary["checkout_ms"]
    met = {True: "met", False: "missed", None: "no target on this database"}[summary["meets_target"]]
    console.print(
        f"checkout p50 {fmt_spread(checkout_ms['p50'], 0)} ms, p99 {fmt_spread(checkout_ms['p99'], 0)} ms, "
        f"p99/p50 {fmt_spread(summary['checkout_p99_over_p50'])} (target: {summary['target']}): {met}"
        + ("" if summary["rate_kept"] else "; the client did not keep the arrival rate in every run")
    )


def build_parser() -> argparse.ArgumentParser:
    parser = base_parser(f"python -m bench {NAME}", __doc__ or "")
    parser.add_argument("--skus", type=int, default=100_000, help="SKUs to seed (2 per product)")
    parser.add_argument("--stores", type=int, default=200, help="stores to seed, one shipping method each")
    parser.add_argument(
        "--buyers", type=int, default=20_000, help="buyers (address + API token); one checkout each"
    )
    parser.add_argument(
        "--fraction", type=float, default=0.7, help="arrival rate as a fraction of the maximum (0.7)"
    )
    parser.add_argument(
        "--arrivals",
        choices=("poisson", "even"),
        default="poisson",
        help="arrival schedule of the open loop: Poisson (random gaps) or evenly spaced",
    )
    parser.add_argument(
        "--users", type=int, default=64, help="virtual users connected before the open loop starts"
    )
    parser.add_argument(
        "--max-users",
        type=int,
        default=2000,
        help="bound of the open loop's user pool (it grows when every user is busy)",
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
    if not 0 < args.fraction <= 1:
        parser.error("--fraction must be in (0, 1]")
    if args.users < 1 or args.max_users < args.users:
        parser.error("--users must be at least 1 and at most --max-users")
    info = machine()
    label = "SQLite" if args.db == "sqlite" else "PostgreSQL"
    console.print(
        f"[bold]tail[/bold] on {label}: {args.runs} runs; the maximum at concurrency {args.concurrency}, then "
        f"{args.arrivals} arrivals at {args.fraction:g} of it, {args.duration:g} s each after "
        f"{args.warmup:g} s of warm-up; {args.processes} uvicorn processes; {info['cpus']} CPUs, load average "
        f"{info['loadavg_start']}"
    )
    runs = run_all(args, one_run)
    info["loadavg_end"] = loadavg()
    summary = summarise(runs, label)
    path = save_result(
        NAME,
        label,
        args,
        info,
        {
            "worker": "inside each server process (SOUK_WORKER_IN_PROCESS=true, the default), default "
            "SOUK_WORKER_CONCURRENCY",
            "skus": args.skus,
            "stores": args.stores,
            "buyers": args.buyers,
            "fraction_of_max": args.fraction,
            "arrivals": args.arrivals,
            "users": args.users,
            "max_users": args.max_users,
            "max_start_lag_p99_ms": MAX_START_LAG_MS,
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
        if update_docs_table((DOCS_KEY, label), docs_row(label, args, summary, info)):
            console.print("Updated the load table in docs/performance.md")
        else:
            console.print("[yellow]docs/performance.md has no load table markers; not updated[/yellow]")
        for plot in draw_plots(path):
            console.print(f"Drew {plot}")
    return 0 if summary["correct"] else 1
