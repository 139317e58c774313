"""Helpers shared by the bench scripts: running ``souk`` as a child process, throwaway PostgreSQL
databases, machine facts, percentiles and result files.

Nothing here is imported by Souk itself; the scripts run from the repository root with
``python -m bench.<script>``.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy.engine import URL, make_url

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def make_console() -> Console:
    """A Rich console; 120 columns wide when the output is a file or a pipe (Rich's default is 80)."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else 120)


# --- the souk command ---------------------------------------------------------------------------------


def souk_command() -> list[str]:
    """The ``souk`` entry point of the running interpreter's environment (``pip install -e .``)."""
    beside = Path(sys.executable).with_name("souk")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("souk")
    if found:
        return [found]
    return [sys.executable, "-c", "from souk.cli import app; app()"]


def souk_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """The environment of a ``souk`` child: this one without other SOUK_ settings, plus the data dir
    and (for PostgreSQL) the database URL. A wide terminal keeps Rich from wrapping the summary line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOUK_")}
    env["SOUK_DATA_DIR"] = str(data_dir)
    if database_url:
        env["SOUK_DATABASE_URL"] = database_url
    env["COLUMNS"] = "200"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class ChildRun:
    """One finished child process: its exit code, wall time, CPU time, peak RSS and output."""

    returncode: int
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    output: str


def run_child(args: list[str], env: dict[str, str], *, timeout_s: float = 600.0) -> ChildRun:
    """Run ``args`` to completion with stdout and stderr in a temporary file.

    The child is reaped with ``os.wait4`` so its own ``ru_maxrss`` is read: ``getrusage(RUSAGE_CHILDREN)``
    only keeps the largest value of every child waited for so far, which hides a smaller later run."""
    with tempfile.TemporaryFile(mode="w+b") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)  # noqa: S603
        deadline = started + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait for it again
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return ChildRun(
        returncode=proc.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        max_rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
        output=text,
    )


# --- what `souk demo` prints ----------------------------------------------------------------------------

_SUMMARY = re.compile(
    r"(?P<stores>\d+) stores \((?P<models>[^;]*); (?P<pending>\d+) waiting for review\), "
    r"(?P<products>[\d,]+) products, (?P<skus>[\d,]+) SKUs \((?P<in_stock>[\d,]+) in stock\), "
    r"(?P<images>[\d,]+) product images, (?P<categories>[\d,]+) categories, "
    r"(?P<visible>[\d,]+) products in search"
)
_MODEL = re.compile(r"(\d+) (\w+)")
_BUILT = re.compile(r"Demo marketplace built in (?P<seconds>[\d.]+) s")
_STAGE = re.compile(
    r"^\s*\S?\s*(?P<name>[A-Z][^━\n]*?)\s+━+\s+(?P<done>\d+)/(?P<total>\d+)\s+(?P<elapsed>[\d:]+)",
    re.MULTILINE,
)


def parse_demo_output(output: str) -> dict[str, Any]:
    """The counts, the build time Souk reports and the progress-bar stages found in ``souk demo`` output."""
    flat = " ".join(output.split())
    found: dict[str, Any] = {
        "built": _BUILT.search(flat) is not None,
        "reused": "Reusing the demo marketplace" in flat,
    }
    built = _BUILT.search(flat)
    found["reported_s"] = float(built["seconds"]) if built else None
    summary = _SUMMARY.search(flat)
    if summary:
        counts: dict[str, Any] = {
            key: int(summary[key].replace(",", ""))
            for key in (
                "stores",
                "pending",
                "products",
                "skus",
                "in_stock",
                "images",
                "categories",
                "visible",
            )
        }
        counts["stores_by_model"] = {name: int(n) for n, name in _MODEL.findall(summary["models"])}
        found["counts"] = counts
    else:
        found["counts"] = None
    stages = []
    for match in _STAGE.finditer(output):
        h, m, s = (int(part) for part in match["elapsed"].split(":"))
        stages.append(
            {
                "stage": match["name"].strip(),
                "done": int(match["done"]),
                "total": int(match["total"]),
                "elapsed_s": h * 3600 + m * 60 + s,
            }
        )
    found["progress_stages"] = stages
    return found


# --- PostgreSQL ----------------------------------------------------------------------------------------


class Postgres:
    """Creates and drops databases on the server of an asyncpg URL with ``psql``."""

    def __init__(self, url: str) -> None:
        self.url: URL = make_url(url)
        if self.url.get_backend_name() != "postgresql" or not self.url.database:
            raise SystemExit(f"--postgres-url must be postgresql+asyncpg://USER@HOST:PORT/DBNAME, not {url}")
        self.name: str = self.url.database

    def url_for(self, database: str) -> str:
        return self.url.set(database=database).render_as_string(hide_password=False)

    def _psql(self, sql: str, database: str = "postgres") -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        if self.url.password:
            env["PGPASSWORD"] = str(self.url.password)
        args = [
            "psql",
            "-h",
            self.url.host or "127.0.0.1",
            "-p",
            str(self.url.port or 5432),
            "-U",
            self.url.username or "postgres",
            "-d",
            database,
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ]
        return subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603

    def query(self, sql: str, database: str = "postgres") -> str:
        done = self._psql(sql, database)
        if done.returncode != 0:
            raise SystemExit(f"psql failed: {sql}\n{done.stderr.strip()}")
        return done.stdout.strip()

    def exists(self, database: str) -> bool:
        return self.query(f"select 1 from pg_database where datname = {_literal(database)}") == "1"

    def create(self, database: str) -> None:
        self.query(f"create database {_ident(database)}")

    def drop(self, database: str) -> None:
        self.query(f"drop database if exists {_ident(database)} with (force)")

    def server_version(self) -> str:
        return self.query("show server_version")

    def setting(self, name: str) -> str:
        return self.query(f"show {name}")

    def table_tuples(self, database: str, table: str) -> dict[str, int]:
        """Live and dead tuples of ``table`` as the statistics collector counts them."""
        row = self.query(
            f"select n_live_tup, n_dead_tup from pg_stat_user_tables where relname = {_literal(table)}",
            database,
        )
        live, _, dead = row.partition("|")
        return {"live": int(live or 0), "dead": int(dead or 0)}

    def vacuum_analyze(self, database: str) -> None:
        self.query("vacuum analyze", database)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --- machine, numbers, files ----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the numbers were measured on, including the load other processes put on it."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": memory_gb,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass
class Latency:
    """Milliseconds of repeated calls."""

    samples_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float | int]:
        s = sorted(self.samples_ms)
        return {
            "n": len(s),
            "p50_ms": round(percentile(s, 50), 2),
            "p95_ms": round(percentile(s, 95), 2),
            "max_ms": round(s[-1], 2),
            "mean_ms": round(statistics.fmean(s), 2),
        }


def percentile(sorted_values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * pct / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / name
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path
