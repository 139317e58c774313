"""The load harness behind ``python -m bench SCENARIO``: the pieces every load scenario uses.

A scenario (``bench/scenarios/<name>.py``) seeds a fresh database with a bulk loader, starts Souk with
production settings, drives it over real HTTP on 127.0.0.1 with a bounded asyncio driver that checks every
response, checks correctness afterwards (``souk audit`` and its own counts), then measures its **limits** on the
same machine and database kind: the same writes as raw SQL, and a bare FastAPI app behind the same uvicorn
settings. It reports Souk / limit ratios over several runs (median, min, max) and writes a JSON result plus a
line of the results table in ``docs/performance.md``.

What lives here:

- ``BenchDatabase`` / ``fresh_database``: a throwaway SQLite file (in a temporary dir) or PostgreSQL database
  (``bench.common.Postgres``, ``synchronous_commit=on``), migrated with ``souk migrate``;
- ``ServerGroup``: uvicorn processes (one per port, the client spreads its connections over them, as a load
  balancer would), Souk's app factory or any other ASGI app, plus ``souk worker`` beside them;
- ``drive``: the bounded asyncio driver (httpx, a keep-alive pool of ``concurrency`` connections);
- ``souk_audit``, ``spread``, ``update_docs_table`` and the argument parser shared by the scenarios.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx

from bench.common import Latency, Postgres, now_iso, percentile, run_child, souk_command, souk_env

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "performance.md"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/souk_bench_load"
READY_TIMEOUT_S = 90.0
TABLE_START = "<!-- bench:load-table:start -->"
TABLE_END = "<!-- bench:load-table:end -->"
TABLE_HEADER = (
    "| Scenario | Database | Date | Concurrency | Souk /s | Raw SQL /s | Souk / raw SQL: median (min-max) "
    "| Bare FastAPI /s | Souk / bare FastAPI | Target | Met | Load average |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


# --- arguments ----------------------------------------------------------------------------------------


def base_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The options every load scenario takes; a scenario adds its own."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite", help="database kind")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of measured load per phase")
    parser.add_argument("--concurrency", type=int, default=32, help="virtual users (HTTP connections)")
    parser.add_argument("--runs", type=int, default=3, help="runs, each on a fresh database (default 3)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before measuring")
    parser.add_argument(
        "--max-operations",
        type=int,
        default=1_000_000,
        help="bound on operations per phase (with --duration)",
    )
    parser.add_argument(
        "--processes", type=int, default=2, help="uvicorn processes (default 2, one per core)"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="server and database name for --db postgres (the database is created and dropped per run)",
    )
    parser.add_argument("--output", type=Path, help="JSON result file (default bench/results/SCENARIO.json)")
    parser.add_argument(
        "--no-docs", action="store_true", help="do not update the results table in docs/performance.md"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the load (SKU choices ...)")
    return parser


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.duration <= 0:
        parser.error("--duration must be positive")
    if args.processes < 1:
        parser.error("--processes must be at least 1")


# --- databases ----------------------------------------------------------------------------------------


@dataclass
class BenchDatabase:
    """A fresh database of one run: its kind, its URL, and the data dir the Souk processes share."""

    kind: str  # "sqlite" | "postgres"
    url: str
    data_dir: Path
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return "SQLite" if self.kind == "sqlite" else "PostgreSQL"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "souk.db"

    @property
    def asyncpg_dsn(self) -> str:
        """The URL without SQLAlchemy's ``+asyncpg`` (for asyncpg itself)."""
        return self.url.replace("postgresql+asyncpg://", "postgresql://", 1)


@contextmanager
def fresh_database(kind: str, postgres_url: str, run: int) -> Iterator[BenchDatabase]:
    """A new empty database (dropped or deleted afterwards), migrated with ``souk migrate``."""
    with tempfile.TemporaryDirectory(prefix="souk-bench-load-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        if kind == "sqlite":
            db = BenchDatabase(kind, f"sqlite+aiosqlite:///{data_dir / 'souk.db'}", data_dir)
            db.facts = {"journal_mode": "WAL", "synchronous": "FULL"}
            migrate(db)
            yield db
            return
        pg = Postgres(postgres_url)
        name = f"{pg.name}_{os.getpid()}_{run}"
        pg.drop(name)
        pg.create(name)
        # durable commits whatever the server's default is
        pg.query(f'alter database "{name}" set synchronous_commit = on')
        db = BenchDatabase(kind, pg.url_for(name), data_dir)
        db.facts = {
            "server_version": pg.server_version(),
            "synchronous_commit": pg.query("show synchronous_commit", name),
            "fsync": pg.setting("fsync"),
            "full_page_writes": pg.setting("full_page_writes"),
            "max_connections": pg.setting("max_connections"),
        }
        try:
            migrate(db)
            yield db
        finally:
            pg.drop(name)


def migrate(db: BenchDatabase) -> None:
    child = run_child([*souk_command(), "migrate"], souk_env(db.data_dir, db.url), timeout_s=300)
    if child.returncode != 0:
        raise SystemExit(f"souk migrate failed:\n{child.output[-3000:]}")


def postgres_analyze(db: BenchDatabase) -> None:
    """After the bulk load: fresh planner statistics (what autovacuum would do a minute later)."""
    if db.kind == "postgres":
        Postgres(db.url).query("vacuum analyze", Postgres(db.url).name)


def souk_audit(db: BenchDatabase, secret_key: str) -> dict[str, Any]:
    """``souk audit`` on the database, as an operator would run it."""
    env = souk_env(db.data_dir, db.url if db.kind == "postgres" else None)
    env["SOUK_SECRET_KEY"] = secret_key
    child = run_child([*souk_command(), "audit"], env, timeout_s=600)
    return {
        "passed": child.returncode == 0,
        "returncode": child.returncode,
        "wall_s": round(child.wall_s, 2),
        "output_tail": child.output[-2000:],
    }


# --- server processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def uvicorn_command(app: str, port: int, *, factory: bool) -> list[str]:
    """The uvicorn settings every measured server (Souk and the bare FastAPI ceiling) runs with: one process
    per port, uvloop and httptools when installed (uvicorn's "auto"), no access log, long keep-alive."""
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    if factory:
        command.append("--factory")
    return [
        *command,
        "--log-level",
        "warning",
        "--no-access-log",
        "--timeout-keep-alive",
        "300",
        "--backlog",
        "2048",
    ]


@dataclass
class _Process:
    name: str
    command: list[str]
    log_path: Path
    ready_text: str | None = None
    popen: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None


class ServerGroup:
    """uvicorn processes on their own ports (plus optional side processes such as ``souk worker``), stopped
    with SIGTERM (then SIGKILL) at the end. The client gives each virtual user one of the ports in turn."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.ports: list[int] = []
        self.processes: list[_Process] = []

    def add_uvicorn(self, app: str, *, factory: bool, count: int) -> None:
        for _ in range(count):
            port = free_port()
            self.ports.append(port)
            self.add(f"uvicorn-{port}", uvicorn_command(app, port, factory=factory))

    def add(self, name: str, command: list[str], *, ready_text: str | None = None) -> None:
        """A side process (``souk worker``); ``ready()`` waits until ``ready_text`` is in its output."""
        self.processes.append(_Process(name, command, self.log_dir / f"{name}.log", ready_text))

    def start(self) -> None:
        for proc in self.processes:
            proc.log = proc.log_path.open("ab")
            proc.popen = subprocess.Popen(  # noqa: S603
                proc.command,
                env=self.env,
                cwd=ROOT,
                stdout=proc.log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    async def ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2.0) as client:
            for url in self.urls:
                while True:
                    self.check_alive()
                    try:
                        if (await client.get(f"{url}/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{url} did not start:\n{self.tail()}")
                    await asyncio.sleep(0.1)
        for proc in self.processes:
            while proc.ready_text is not None:
                self.check_alive()
                if proc.ready_text in proc.log_path.read_text(errors="replace"):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{proc.name} did not start:\n{self.tail(proc)}")
                await asyncio.sleep(0.1)

    def check_alive(self) -> None:
        for proc in self.processes:
            if proc.popen is not None and proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{self.tail(proc)}")

    def tail(self, proc: _Process | None = None, lines: int = 30) -> str:
        chosen = [proc] if proc else self.processes
        parts = []
        for p in chosen:
            text = p.log_path.read_text(errors="replace") if p.log_path.exists() else ""
            parts.append(f"--- {p.name}\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(parts)

    def stop(self, name_prefix: str = "") -> None:
        """SIGTERM (running requests and jobs finish), SIGKILL after 20 s."""
        chosen = [p for p in self.processes if p.name.startswith(name_prefix)]
        for proc in chosen:
            if proc.popen is not None and proc.popen.poll() is None:
                os.killpg(proc.popen.pid, signal.SIGTERM)
        for proc in chosen:
            if proc.popen is None:
                continue
            try:
                proc.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(timeout=10)
            if proc.log is not None:
                proc.log.close()
                proc.log = None

    def cpu_seconds(self) -> float:
        """User + system CPU of the running processes so far (from /proc), for the record."""
        total = 0.0
        tick = os.sysconf("SC_CLK_TCK")
        for proc in self.processes:
            if proc.popen is None or proc.popen.poll() is not None:
                continue
            try:
                fields = Path(f"/proc/{proc.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
            except (OSError, IndexError, ValueError):
                pass
        return total


@asynccontextmanager
async def running(group: ServerGroup) -> AsyncIterator[ServerGroup]:
    group.start()
    try:
        await group.ready()
        yield group
    finally:
        group.stop()


def souk_server_env(
    db: BenchDatabase, secret_key: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """Production settings: the default password profile, no worker inside the web processes (``souk worker``
    runs beside them), durable SQLite commits."""
    env = souk_env(db.data_dir, db.url if db.kind == "postgres" else None)
    env.update(
        SOUK_SECRET_KEY=secret_key,
        SOUK_WORKER_IN_PROCESS="false",
        SOUK_SQLITE_SYNCHRONOUS="FULL",
    )
    env.update(extra or {})
    return env


def new_secret_key() -> str:
    return secrets.token_urlsafe(32)


# --- the driver ---------------------------------------------------------------------------------------


class FlowError(Exception):
    """A response that was not what the flow expected (status or body)."""


class Exhausted(Exception):
    """The flow has nothing left to do (e.g. no fresh buyer): the virtual user stops."""


def expect(response: httpx.Response, status: int, what: str) -> Any:
    """The JSON body of ``response``; ``FlowError`` when its status is not ``status`` or it is not JSON."""
    if response.status_code != status:
        raise FlowError(f"{what}: HTTP {response.status_code} {response.text[:300]}")
    if status == 204:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise FlowError(f"{what}: not JSON: {response.text[:200]}") from exc


@dataclass
class LoadResult:
    """What one phase of load did: operations (e.g. full checkouts) done within the measured window, all
    done, errors (with the first few messages), HTTP requests, latency of each operation."""

    measured_s: float
    window_start_utc: datetime | None = None
    window_end_utc: datetime | None = None
    completed: int = 0
    completed_total: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    requests: int = 0
    latency: Latency = field(default_factory=Latency)
    stopped_early: bool = False  # the flow ran out of work (e.g. fresh buyers) before the time was up

    @property
    def throughput(self) -> float:
        return self.completed / self.measured_s if self.measured_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        lat = sorted(self.latency.samples_ms)
        return {
            "measured_s": round(self.measured_s, 2),
            "completed": self.completed,
            "completed_total": self.completed_total,
            "throughput_per_s": round(self.throughput, 2),
            "errors": self.errors,
            "error_samples": self.error_samples,
            "requests": self.requests,
            "stopped_early": self.stopped_early,
            "latency_ms": (
                {
                    "n": len(lat),
                    "p50": round(percentile(lat, 50), 2),
                    "p90": round(percentile(lat, 90), 2),
                    "p99": round(percentile(lat, 99), 2),
                    "max": round(lat[-1], 2),
                    "mean": round(statistics.fmean(lat), 2),
                }
                if lat
                else None
            ),
        }


Flow = Callable[[httpx.AsyncClient, random.Random], Awaitable[int]]
"""One operation of a virtual user (e.g. a full checkout): returns the number of HTTP requests it made and
raises ``FlowError`` (or an httpx error) when a response is wrong, ``Exhausted`` when it has no more work."""


def measuring_window(warmup_s: float, duration_s: float) -> tuple[LoadResult, float, float]:
    """An empty result for a load that warms up for ``warmup_s`` and is then measured for ``duration_s``, with
    the start and the end of the measured window on ``time.perf_counter``'s clock."""
    window_start = time.perf_counter() + warmup_s
    wall = datetime.now(UTC)
    result = LoadResult(
        measured_s=duration_s,
        window_start_utc=wall + timedelta(seconds=warmup_s),
        window_end_utc=wall + timedelta(seconds=warmup_s + duration_s),
    )
    return result, window_start, window_start + duration_s


async def drive(
    urls: list[str],
    flow: Flow,
    *,
    concurrency: int,
    duration_s: float,
    warmup_s: float,
    max_operations: int,
    seed: int,
    timeout_s: float = 60.0,
) -> LoadResult:
    """Run ``flow`` with ``concurrency`` virtual users, each on its own keep-alive connection to one of
    ``urls`` (spread in turn), for ``warmup_s`` and then ``duration_s`` seconds or ``max_operations``
    operations, whichever comes first. Operations finishing in the measured window count for throughput and
    latency; every operation's outcome counts for ``completed_total`` and ``errors``."""
    per_url = -(-concurrency // len(urls))
    limits = httpx.Limits(max_connections=per_url, max_keepalive_connections=per_url, keepalive_expiry=600)
    clients = [httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout_s) for url in urls]
    counter = itertools.count()
    result, window_start, deadline = measuring_window(warmup_s, duration_s)
    last_done = [window_start]

    async def user(index: int) -> None:
        client = clients[index % len(clients)]
        rng = random.Random(seed * 100_003 + index)
        while time.perf_counter() < deadline and next(counter) < max_operations:
            t0 = time.perf_counter()
            try:
                made = await flow(client, rng)
            except Exhausted:
                result.stopped_early = True
                return
            except Exception as exc:
                result.errors += 1
                if len(result.error_samples) < 10:
                    result.error_samples.append(f"{type(exc).__name__}: {exc}"[:500])
                continue
            t1 = time.perf_counter()
            result.requests += made
            result.completed_total += 1
            if window_start <= t1 <= deadline:
                result.completed += 1
                result.latency.samples_ms.append((t1 - t0) * 1000)
                last_done[0] = max(last_done[0], t1)

    try:
        await asyncio.gather(*(user(i) for i in range(concurrency)))
    finally:
        for client in clients:
            await client.aclose()
    ended = time.perf_counter()
    if ended < deadline:  # stopped by --max-operations: the window is what was used of it
        result.measured_s = max(1e-6, last_done[0] - window_start)
        assert result.window_start_utc is not None
        result.window_end_utc = result.window_start_utc + timedelta(seconds=result.measured_s)
    return result


# --- numbers and reports -----------------------------------------------------------------------------


def spread(values: list[float]) -> dict[str, float | int | None]:
    """Median, min and max of runs (None when there are none)."""
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
        "n": len(values),
    }


def fmt_spread(s: dict[str, Any], digits: int = 2) -> str:
    if s["median"] is None:
        return "-"
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def update_docs_table(key: tuple[str, str], row: str, path: Path = DOCS) -> bool:
    """Replace the row of ``key`` (scenario, database label) in the load results table of
    ``docs/performance.md`` (between its markers), or add it. False when the markers are missing."""
    text = path.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        return False
    head, rest = text.split(TABLE_START, 1)
    table, tail = rest.split(TABLE_END, 1)
    prefix = f"| {key[0]} | {key[1]} |"
    rows = [
        line
        for line in table.strip().splitlines()
        if line.startswith("| ") and not line.startswith("| Scenario") and not line.startswith(prefix)
    ]
    rows.append(row)
    rows.sort()
    path.write_text(
        head + TABLE_START + "\n" + TABLE_HEADER + "\n" + "\n".join(rows) + "\n" + TABLE_END + tail
    )
    return True


def write_merged(path: Path, scenario: str, label: str, result: dict[str, Any]) -> None:
    """One result file per scenario: the newest result of each setup (database, ...) under ``results[label]``."""
    try:
        existing = json.loads(path.read_text())
    except (OSError, ValueError):
        existing = {}
    results = existing.get("results") if isinstance(existing.get("results"), dict) else {}
    results[label] = result
    data = {"scenario": scenario, "updated": now_iso(), "results": results}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@contextmanager
def kept_logs() -> Iterator[Path]:
    """A directory for the server logs of a whole invocation, kept (and named) when it fails."""
    path = Path(tempfile.mkdtemp(prefix="souk-bench-logs-"))
    try:
        yield path
    except BaseException:
        print(f"server logs kept in {path}", file=sys.stderr)
        raise
    shutil.rmtree(path, ignore_errors=True)


def run_all(
    args: argparse.Namespace, one_run: Callable[..., Awaitable[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """``one_run(args, run, log_dir)`` for runs 1..``args.runs``, each in its own event loop."""
    runs = []
    with kept_logs() as log_dir:
        for run in range(1, args.runs + 1):
            runs.append(asyncio.run(one_run(args, run, log_dir)))
    return runs


def save_result(
    scenario: str,
    label: str,
    args: argparse.Namespace,
    info: dict[str, Any],
    settings: dict[str, Any],
    summary: dict[str, Any],
    runs: list[dict[str, Any]],
) -> Path:
    """The scenario's JSON result (the common settings from ``args`` plus the scenario's own), merged into
    ``--output`` or ``bench/results/<scenario>.json``; returns the path."""
    from bench.common import RESULTS_DIR

    result = {
        "scenario": scenario,
        "date": now_iso(),
        "machine": info,
        "database": label,
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "concurrency": args.concurrency,
            "runs": args.runs,
            "processes": args.processes,
            **settings,
        },
        "summary": summary,
        "runs": runs,
    }
    path: Path = args.output or RESULTS_DIR / f"{scenario}.json"
    write_merged(path, scenario, label, result)
    return path


# --- the open-loop driver -----------------------------------------------------------------------------


class TimedClient(httpx.AsyncClient):
    """An httpx client that remembers how long each request took (sending it to reading its whole body), by
    path, since ``timings`` was last cleared: what one operation of the flow did."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timings: dict[str, list[float]] = {}

    async def send(self, *args: Any, **kwargs: Any) -> httpx.Response:
        request: httpx.Request = args[0] if args else kwargs["request"]
        t0 = time.perf_counter()
        try:
            return await super().send(*args, **kwargs)
        finally:
            self.timings.setdefault(request.url.path, []).append((time.perf_counter() - t0) * 1000)


def arrival_schedule(rate_per_s: float, span_s: float, *, kind: str, seed: int) -> list[float]:
    """Arrival times (seconds from the start) of an open-loop load at ``rate_per_s`` over ``span_s``, decided
    in advance: ``poisson`` (exponential gaps, as independent visitors arrive) or ``even`` (fixed gaps)."""
    if rate_per_s <= 0:
        return []
    if kind == "even":
        gap = 1.0 / rate_per_s
        return [i * gap for i in range(int(span_s * rate_per_s))]
    if kind != "poisson":
        raise ValueError(f"unknown arrival schedule {kind!r}")
    rng = random.Random(seed)
    times, t = [], rng.expovariate(rate_per_s)
    while t < span_s:
        times.append(t)
        t += rng.expovariate(rate_per_s)
    return times


@dataclass
class OpenLoopResult:
    """What an open-loop phase did. Latencies count from the **scheduled** arrival time, so time an arrival
    spent waiting in the client (a late start, no free user) is part of it (no coordinated omission). Only
    arrivals scheduled inside the measured window are measured; every arrival counts for ``completed_total``
    and ``errors``."""

    rate_per_s: float
    schedule: str
    measured_s: float
    window_start_utc: datetime | None = None
    window_end_utc: datetime | None = None
    arrivals: int = 0  # scheduled inside the measured window
    arrivals_total: int = 0
    completed: int = 0  # of the arrivals in the window, finished without error
    completed_total: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    requests: int = 0
    latency: Latency = field(default_factory=Latency)  # the whole operation, from its scheduled arrival
    path_latency: dict[str, Latency] = field(default_factory=dict)  # one request of the operation, by path
    start_lag: Latency = field(default_factory=Latency)  # scheduled arrival -> operation started
    users_created: int = 0
    users_busy_max: int = 0
    waited_for_user: int = 0
    last_arrival_started_s: float = 0.0  # after the phase started (the schedule's last time, when kept)
    span_s: float = 0.0
    stopped_early: bool = False
    max_lag_ms: float = 50.0

    @property
    def throughput(self) -> float:
        return self.completed / self.measured_s if self.measured_s > 0 else 0.0

    @property
    def rate_kept(self) -> bool:
        """The client kept the schedule: every arrival got a user at once and started within ``max_lag_ms``
        of its time (p99), and none was left unstarted."""
        lag = sorted(self.start_lag.samples_ms)
        return (
            not self.waited_for_user
            and not self.stopped_early
            and (not lag or percentile(lag, 99) <= self.max_lag_ms)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "offered_per_s": round(self.rate_per_s, 2),
            "schedule": self.schedule,
            "measured_s": round(self.measured_s, 2),
            "arrivals": self.arrivals,
            "arrivals_total": self.arrivals_total,
            "completed": self.completed,
            "completed_total": self.completed_total,
            "throughput_per_s": round(self.throughput, 2),
            "errors": self.errors,
            "error_samples": self.error_samples,
            "requests": self.requests,
            "latency_ms": latency_dict(self.latency),
            "path_latency_ms": {path: latency_dict(lat) for path, lat in self.path_latency.items()},
            "start_lag_ms": latency_dict(self.start_lag),
            "rate_kept": self.rate_kept,
            "max_start_lag_p99_ms": self.max_lag_ms,
            "users_created": self.users_created,
            "users_busy_max": self.users_busy_max,
            "waited_for_user": self.waited_for_user,
            "last_arrival_started_s": round(self.last_arrival_started_s, 3),
            "span_s": round(self.span_s, 3),
            "stopped_early": self.stopped_early,
        }


def latency_dict(latency: Latency) -> dict[str, float | int] | None:
    """n, p50, p90, p99, max and mean of ``latency`` in ms (None without samples)."""
    lat = sorted(latency.samples_ms)
    if not lat:
        return None
    return {
        "n": len(lat),
        "p50": round(percentile(lat, 50), 2),
        "p90": round(percentile(lat, 90), 2),
        "p99": round(percentile(lat, 99), 2),
        "max": round(lat[-1], 2),
        "mean": round(statistics.fmean(lat), 2),
    }


async def drive_open_loop(
    urls: list[str],
    flow: Flow,
    *,
    rate_per_s: float,
    duration_s: float,
    warmup_s: float,
    seed: int,
    schedule: str = "poisson",
    users: int = 64,
    max_users: int = 2000,
    timed_paths: tuple[str, ...] = (),
    timeout_s: float = 60.0,
    max_lag_ms: float = 50.0,
) -> OpenLoopResult:
    """Open-loop load: operations of ``flow`` **arrive** at ``rate_per_s`` (a ``schedule`` decided in advance)
    for ``warmup_s`` and then ``duration_s`` seconds, whatever the server's answers do. Each arrival takes a
    free virtual user (its own keep-alive connection to one of ``urls``, spread in turn) from a pool that
    starts with ``users`` connected users and grows on demand up to ``max_users``, so an arrival does not wait
    for another one to finish. The latency of an operation, and of each request to one of ``timed_paths``
    within it, is recorded for the arrivals scheduled in the measured window; the operation's latency counts
    from its scheduled time."""
    times = arrival_schedule(rate_per_s, warmup_s + duration_s, kind=schedule, seed=seed)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=600)
    result = OpenLoopResult(
        rate_per_s=rate_per_s, schedule=schedule, measured_s=duration_s, max_lag_ms=max_lag_ms
    )
    result.path_latency = {path: Latency() for path in timed_paths}
    created: list[TimedClient] = []
    idle: list[TimedClient] = []
    freed = asyncio.Condition()
    busy = [0]

    def new_user() -> TimedClient:
        # verify=False: plain HTTP, and no CA bundle loaded per client (about 100 ms of CPU each)
        client = TimedClient(
            base_url=urls[len(created) % len(urls)], limits=limits, timeout=timeout_s, verify=False
        )
        created.append(client)
        return client

    for _ in range(min(users, max_users)):
        idle.append(new_user())
    await asyncio.gather(*(client.get("/healthz") for client in idle))  # open the connections

    async def take_user() -> TimedClient:
        if idle:
            return idle.pop()
        if len(created) < max_users:
            return new_user()
        result.waited_for_user += 1
        async with freed:
            await freed.wait_for(lambda: bool(idle))
        return idle.pop()

    async def give_back(client: TimedClient) -> None:
        idle.append(client)
        async with freed:
            freed.notify()

    async def arrival(index: int, scheduled: float, measured: bool) -> None:
        client = await take_user()
        busy[0] += 1
        result.users_busy_max = max(result.users_busy_max, busy[0])
        started = time.perf_counter()
        if measured:
            result.start_lag.samples_ms.append((started - scheduled) * 1000)
        client.timings = {}
        rng = random.Random(seed * 100_003 + index)
        try:
            made = await flow(client, rng)
        except Exhausted:
            result.stopped_early = True
            return
        except Exception as exc:
            result.errors += 1
            if len(result.error_samples) < 10:
                result.error_samples.append(f"{type(exc).__name__}: {exc}"[:500])
            return
        finally:
            busy[0] -= 1
            await give_back(client)
        done = time.perf_counter()
        result.requests += made
        result.completed_total += 1
        if measured:
            result.completed += 1
            result.latency.samples_ms.append((done - scheduled) * 1000)
            for path in timed_paths:
                result.path_latency[path].samples_ms.extend(client.timings.get(path, []))

    tasks: list[asyncio.Task[None]] = []
    origin = time.perf_counter() + 0.05
    wall = datetime.now(UTC) + timedelta(seconds=0.05)
    result.window_start_utc = wall + timedelta(seconds=warmup_s)
    result.window_end_utc = result.window_start_utc + timedelta(seconds=duration_s)
    try:
        for index, offset in enumerate(times):
            scheduled = origin + offset
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            measured = warmup_s <= offset < warmup_s + duration_s
            result.arrivals += measured
            result.arrivals_total += 1
            result.last_arrival_started_s = time.perf_counter() - origin
            tasks.append(asyncio.create_task(arrival(index, scheduled, measured)))
        result.span_s = times[-1] if times else 0.0
        pending: set[asyncio.Task[None]] = set()
        if tasks:
            _finished, pending = await asyncio.wait(tasks, timeout=timeout_s + 30)
        for task in pending:
            task.cancel()
        if pending:
            result.errors += len(pending)
            result.error_samples.append(f"{len(pending)} operations still running {timeout_s + 30:g} s after")
            await asyncio.gather(*pending, return_exceptions=True)
    finally:
        await asyncio.gather(*(client.aclose() for client in created), return_exceptions=True)
    result.users_created = len(created)
    return result
