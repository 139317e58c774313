"""The tail latency scenario runs: ``python -m bench tail`` on SQLite with a tiny catalog, one short run.

It proves the chain works (the closed loop that finds the maximum, the open-loop driver at a fraction of it,
the worker drain, ``souk audit``, the stock check) and that the result has its shape. No timing is asserted:
speed is measured by the bench itself, never by tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.harness import arrival_schedule

from souk.migrate import ROOT


def test_tail_scenario_runs_end_to_end(tmp_path: Path) -> None:
    output = tmp_path / "tail.json"
    command = [sys.executable, "-m", "bench", "tail", "--db", "sqlite", "--skus", "200", "--stores", "4"]
    command += ["--buyers", "400", "--duration", "5", "--warmup", "1", "--concurrency", "4", "--runs", "1"]
    command += ["--processes", "1", "--users", "4", "--output", str(output), "--no-docs"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]

    data = json.loads(output.read_text())
    assert data["scenario"] == "tail"
    result = data["results"]["SQLite"]
    assert result["settings"]["fraction_of_max"] == 0.7
    assert result["settings"]["arrivals"] == "poisson"
    summary = result["summary"]
    assert set(summary) >= {
        "max_per_s",
        "offered_per_s",
        "checkout_ms",
        "flow_ms",
        "checkout_p99_over_p50",
        "meets_target",
        "rate_kept",
        "correct",
        "audit_passed",
    }
    assert set(summary["checkout_ms"]) == {"p50", "p90", "p99", "max"}
    assert summary["has_target"] is False and summary["meets_target"] is None  # the target is PostgreSQL's
    assert summary["correct"] is True and summary["audit_passed"] is True
    [run] = result["runs"]
    assert run["correctness"]["problems"] == []
    counts = run["correctness"]["counts"]
    opened = run["open_loop"]
    assert counts["orders"] == counts["orders_paid"]
    assert counts["orders"] == run["closed_loop"]["completed_total"] + opened["completed_total"]
    assert counts["skus_not_adding_up"] == 0
    assert run["max_per_s"] > 0
    assert abs(opened["offered_per_s"] - 0.7 * run["max_per_s"]) < 0.02
    assert opened["completed_total"] > 0 and opened["errors"] == 0
    checkout = opened["path_latency_ms"]["/api/v1/checkouts"]
    assert checkout["n"] == opened["completed"]
    assert opened["latency_ms"]["n"] == opened["completed"]
    assert opened["start_lag_ms"]["n"] == opened["arrivals"]


def test_arrival_schedules_are_decided_in_advance() -> None:
    even = arrival_schedule(10.0, 2.0, kind="even", seed=1)
    assert len(even) == 20 and even[1] - even[0] == 0.1
    poisson = arrival_schedule(50.0, 20.0, kind="poisson", seed=3)
    assert poisson == arrival_schedule(50.0, 20.0, kind="poisson", seed=3)
    assert poisson == sorted(poisson) and poisson[0] > 0 and poisson[-1] < 20.0
    assert 800 < len(poisson) < 1200  # about rate x span
