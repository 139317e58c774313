"""The search load scenario runs end to end: ``python -m bench search`` on SQLite with a tiny catalog.

It proves the chain works (migrate, the bulk loader with its generated vocabulary, the raw index rebuild,
``souk search reindex`` and ``reindex_all``, Souk under uvicorn, the queries over HTTP and the check of every
answer against the documents) and that the result has its shape. No timing is asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from souk.migrate import ROOT


def test_search_scenario_runs_end_to_end(tmp_path: Path) -> None:
    output = tmp_path / "search.json"
    command = [
        sys.executable,
        "-m",
        "bench",
        "search",
        "--db",
        "sqlite",
        "--products",
        "1000",
        "--stores",
        "20",
    ]
    command += ["--queries", "50", "--warmup-queries", "5", "--processes", "1", "--reindex", "both"]
    done = subprocess.run(
        [*command, "--output", str(output), "--no-docs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]

    data = json.loads(output.read_text())
    assert data["scenario"] == "search"
    result = data["results"]["SQLite"]
    assert result["settings"]["products"] == 1000
    assert result["settings"]["queries"] == 50
    summary = result["summary"]
    assert set(summary) >= {
        "latency_ms",
        "p95_ms",
        "target_p95_ms",
        "index",
        "meets_latency_target",
        "meets_reindex_target",
        "correct",
        "answers_checked",
        "results_checked",
    }
    assert summary["correct"] is True
    assert summary["answers_checked"] == 50
    assert summary["results_checked"] > 0
    for kind in ("one word", "two words", "prefix", "common", "all", "html page"):
        assert summary["latency_ms"][kind]["n"] > 0, kind
        assert set(summary["latency_ms"][kind]) >= {"p50", "p95", "p99", "max"}
    assert {"raw_rebuild_s", "souk_search_reindex_s", "reindex_all_s", "ratio"} <= set(summary["index"])
    [run] = result["runs"]
    assert run["correctness"]["problems"] == 0
    assert run["correctness"]["answers"] == 50
