"""The flash-sale load scenario runs end to end: ``python -m bench flash-sale`` on SQLite with a tiny catalog, one
short run.

It proves the chain works (the bulk loader with a hot SKU, Souk under uvicorn, the hot-SKU driver that accepts
only orders and clear ``insufficient_stock`` refusals, the per-level stock checks, the spread-SKU comparison,
``souk audit``, the JSON result and the plot) and that exactly the hot SKU's units were sold. No timing is
asserted: speed is measured by the bench itself, never by tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from souk.migrate import ROOT

UNITS = 20
BUYERS = 60


def test_flash_sale_scenario_sells_exactly_the_stock(tmp_path: Path) -> None:
    output = tmp_path / "flash_sale.json"
    command = [sys.executable, "-m", "bench", "flash-sale", "--db", "sqlite", "--units", str(UNITS)]
    command += ["--buyers", str(BUYERS), "--levels", "4", "--skus", "200", "--stores", "4"]
    command += ["--spread-buyers", "200", "--runs", "1", "--duration", "3", "--warmup", "0"]
    command += ["--processes", "1", "--refusals", "10", "--no-docs", "--output", str(output)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]

    data = json.loads(output.read_text())
    assert data["scenario"] == "flash-sale"
    result = data["results"]["SQLite"]
    assert result["settings"]["levels"] == [4]
    assert result["settings"]["units"] == UNITS
    assert result["settings"]["durability"] == "SQLite WAL, synchronous=FULL"
    summary = result["summary"]
    assert set(summary) >= {
        "hot_per_s_by_concurrency",
        "hot_per_s",
        "spread_per_s",
        "ratio_hot_spread",
        "meets_target",
        "orders_per_level_exact",
        "correct",
        "audit_passed",
        "errors",
    }
    assert summary["correct"] is True
    assert summary["audit_passed"] is True
    assert summary["orders_per_level_exact"] is True
    assert summary["errors"] == 0
    assert summary["concurrency_compared"] == 4

    [run] = result["runs"]
    assert run["correctness"]["problems"] == []
    [level] = run["levels"]
    assert level["problems"] == []
    assert level["orders"] == UNITS
    assert level["refused_at_cart"] + level["refused_at_checkout"] > 0
    assert level["orders"] + level["refused_at_cart"] + level["refused_at_checkout"] <= BUYERS
    for counts in (level["counts_right_after"], level["counts_once_paid"]):
        assert counts["lines"] == counts["units_ordered"] == UNITS
        assert counts["on_hand"] + counts["units_paid"] == UNITS
        assert counts["reserved"] == counts["units_unpaid"]
    paid = level["counts_once_paid"]
    assert (paid["on_hand"], paid["reserved"], paid["units_paid"], paid["units_unpaid"]) == (0, 0, UNITS, 0)
    assert run["spread"]["completed_total"] > 0
    assert run["ratio_hot_spread"] is not None
    counts = run["correctness"]["counts"]
    assert counts["orders"] == counts["orders_paid"] == UNITS + run["spread"]["completed_total"]
    assert counts["skus_not_adding_up"] == 0 and counts["skus_oversold"] == 0
    assert output.with_suffix(".png").stat().st_size > 1000
