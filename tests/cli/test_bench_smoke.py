"""The load harness runs: ``python -m bench checkout`` and ``python -m bench browse`` on SQLite with a tiny
catalog, one short run each.

They prove the whole chain works (migrate, bulk load, Souk under uvicorn with ``souk worker``, the checking
driver, the worker drain, ``souk audit``, the raw-SQL limit and the bare FastAPI ceiling; for browse the search
reindex, the page checks and ``wrk``) and that the result has its shape. No timing is asserted: speed is
measured by the bench itself, never by tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bench.scenarios.browse import PAGES, parse_wrk

from souk.migrate import ROOT


def test_checkout_scenario_runs_end_to_end(tmp_path: Path) -> None:
    output = tmp_path / "checkout.json"
    command = [
        sys.executable,
        "-m",
        "bench",
        "checkout",
        "--db",
        "sqlite",
        "--skus",
        "200",
        "--stores",
        "4",
        "--buyers",
        "300",
        "--duration",
        "3",
        "--warmup",
        "0.5",
        "--concurrency",
        "4",
        "--runs",
        "1",
        "--processes",
        "1",
        "--output",
        str(output),
        "--no-docs",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]

    data = json.loads(output.read_text())
    assert data["scenario"] == "checkout"
    result = data["results"]["SQLite"]
    assert result["settings"]["concurrency"] == 4
    assert result["settings"]["durability"] == "SQLite WAL, synchronous=FULL"
    assert set(result["summary"]) >= {
        "souk_per_s",
        "raw_sql_per_s",
        "bare_fastapi_per_s",
        "ratio_raw_sql",
        "ratio_bare_fastapi",
        "meets_target",
        "correct",
        "audit_passed",
    }
    assert result["summary"]["correct"] is True
    assert result["summary"]["audit_passed"] is True
    [run] = result["runs"]
    correctness = run["correctness"]
    assert correctness["problems"] == []
    counts = correctness["counts"]
    assert counts["orders"] == counts["orders_paid"] == run["souk"]["completed_total"] > 0
    assert counts["units_ordered"] == counts["units_out_of_stock"] > 0
    assert counts["skus_not_adding_up"] == 0
    assert run["souk"]["errors"] == 0
    assert run["raw_sql"]["completed_total"] > 0
    assert run["raw_sql"]["errors"] == 0
    assert run["bare_fastapi"]["completed_total"] > 0
    assert run["ratio_raw_sql"] is not None


WRK_REPORT = """Running 2s test @ http://127.0.0.1:8000
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   120.52ms   40.10ms 612.00ms   80.00%
    Req/Sec   130.10     20.00   170.00     70.00%
  Latency Distribution
     50%  110.31ms
     75%  140.00ms
     90%  180.25ms
     99%    1.20s
  262 requests in 2.01s, 5.10MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:    130.35
Transfer/sec:      2.54MB
"""


def test_a_wrk_report_is_read_with_its_errors() -> None:
    result = parse_wrk(WRK_REPORT)
    assert (result.requests, result.per_s, result.non_2xx, result.socket_errors) == (262, 130.35, 4, 3)
    assert result.latency_ms == {"p50": 110.31, "p75": 140.0, "p90": 180.25, "p99": 1200.0}


def test_browse_scenario_runs_end_to_end(tmp_path: Path) -> None:
    output = tmp_path / "browse.json"
    command = [sys.executable, "-m", "bench", "browse", "--db", "sqlite", "--skus", "200", "--stores", "4"]
    command += ["--duration", "1", "--warmup", "0", "--concurrency", "4", "--runs", "1", "--processes", "1"]
    done = subprocess.run(
        [*command, "--output", str(output), "--no-docs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]

    result = json.loads(output.read_text())["results"]["SQLite"]
    assert result["summary"]["correct"] is True
    [run] = result["runs"]
    for page in PAGES:
        assert run["pages"][page]["requests"] > 0 and run["pages"][page]["non_2xx"] == 0
    assert run["bare_fastapi"]["requests"] > 0
    assert run["page_bytes"]["/p/7/bench-product-7"] > 1000
    assert run["ratio_product_bare"] is not None


async def test_sqlite_synchronous_setting_reaches_every_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The harness measures durable commits: SOUK_SQLITE_SYNCHRONOUS (FULL by default) is the PRAGMA of the
    app's connections."""
    from souk.config import Settings
    from souk.db import Database

    monkeypatch.delenv("SOUK_DATABASE_URL", raising=False)
    monkeypatch.delenv("SOUK_SQLITE_SYNCHRONOUS", raising=False)
    assert Settings(data_dir=tmp_path).sqlite_synchronous == "FULL"
    monkeypatch.setenv("SOUK_SQLITE_SYNCHRONOUS", "normal")
    for settings, expected in (
        (Settings(data_dir=tmp_path), 1),
        (Settings(data_dir=tmp_path / "full", sqlite_synchronous="FULL"), 2),
    ):
        db = Database(settings)
        try:
            async with db.engine.connect() as conn:
                assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == expected
        finally:
            await db.dispose()


def test_flow_profile_counts_statements_per_route() -> None:
    command = [sys.executable, "-m", "bench.flow_profile", "--db", "sqlite", "--flows", "3", "--warmup", "1"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "3 flows: web" in done.stdout and "3 jobs" in done.stdout
    for route in ("POST /api/v1/cart/items", "POST /api/v1/checkouts", "worker (payment webhooks)", "in all"):
        assert route in done.stdout
