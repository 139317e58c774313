"""The worker: runs queued jobs and timers (ARCHITECTURE rule 6, DOMAIN.md "Timers").

Jobs
    A job is claimed in a short transaction: ``status='queued' AND run_at <= now`` becomes ``running`` with
    ``locked_by`` (this worker) and ``locked_until`` (a lease) and one more attempt. On PostgreSQL the candidates
    are selected ``FOR UPDATE SKIP LOCKED``, so workers side by side take different jobs; on SQLite each claim is a
    conditional ``UPDATE ... WHERE id = :id AND status = 'queued'`` whose row count says who won.

    The handler then runs in ONE transaction together with marking the job ``done``: either both commit or
    neither does. That transaction first locks the job row (PostgreSQL) and checks this worker still holds it;
    the final ``UPDATE`` checks it again. A crash leaves the job ``running`` until its lease expires, then it is
    queued again (handlers are idempotent, but a handler's effects are never committed twice because they commit
    only with the ``done`` mark). A failing handler is retried with exponential backoff; after ``max_attempts``
    the job is ``failed`` with ``last_error``. A handler running longer than the lease is stopped and retried.

Timers
    Every registered sweep (``souk.worker.timers``) runs every ``every_seconds``, each call in its own
    transaction.

Entry points: ``Worker.run_forever()`` (``souk worker``, and inside ``souk serve`` in embedded mode),
``Worker.run_once()`` / ``run_once(sessionmaker)`` (``souk worker --once`` and tests). Handlers and sweeps are
registered by importing every ``souk/**/tasks.py`` module (``load_task_modules``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import logging
import os
import secrets
import socket
import time
import traceback
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from souk.kit.clock import utcnow
from souk.models.job import Job
from souk.worker.queue import HANDLERS, JobHandler
from souk.worker.timers import MAX_ROUNDS, TIMERS, Timer, claim_due, skip_locked

log = logging.getLogger("souk.worker")

# backoff of a failed job: 10 s, 20 s, 40 s ... at most an hour
RETRY_BASE = timedelta(seconds=10)
RETRY_CAP = timedelta(hours=1)
LAST_ERROR_CHARS = 4000


def retry_delay(attempts: int) -> timedelta:
    """How long a job waits before its next attempt after failing ``attempts`` times."""
    exponent = max(attempts - 1, 0)
    if exponent >= 20:
        return RETRY_CAP
    return min(RETRY_BASE * (2**exponent), RETRY_CAP)


def worker_name() -> str:
    """``host:pid:random``: who holds a job's lease."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


@functools.cache
def _task_module_names() -> tuple[str, ...]:
    import souk

    root = Path(souk.__file__).resolve().parent
    return tuple(
        sorted(
            ".".join(("souk", *path.relative_to(root).with_suffix("").parts))
            for path in root.rglob("tasks.py")
        )
    )


def load_task_modules() -> list[str]:
    """Import every ``souk/**/tasks.py`` so that its ``@job`` handlers and ``@timer`` sweeps are registered."""
    names = list(_task_module_names())
    for name in names:
        importlib.import_module(name)
    return names


@dataclass
class WorkerStats:
    """What a run did."""

    jobs_done: int = 0
    jobs_retried: int = 0
    jobs_failed: int = 0
    # claimed but taken back (its lease expired) before it finished: another worker runs it
    jobs_lost: int = 0
    leases_recovered: int = 0
    timers_run: int = 0
    timer_rows: int = 0
    timer_errors: int = 0

    @property
    def jobs_run(self) -> int:
        return self.jobs_done + self.jobs_retried + self.jobs_failed

    def add(self, other: WorkerStats) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def count(self, outcome: str) -> None:
        name = f"jobs_{outcome}"
        setattr(self, name, getattr(self, name) + 1)

    def summary(self) -> str:
        return (
            f"{self.jobs_done} jobs done, {self.jobs_retried} to retry, {self.jobs_failed} failed; "
            f"{self.timers_run} timers swept {self.timer_rows} rows ({self.timer_errors} errors); "
            f"{self.leases_recovered} expired leases recovered"
        )


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


class _StopRequested(Exception):
    """Raised inside a claim to roll it back when the worker is stopping."""


class _LeaseLost(Exception):
    """This worker no longer holds the job (its lease expired and it was taken back)."""


class Worker:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        name: str | None = None,
        concurrency: int = 1,
        poll_seconds: float = 1.0,
        lease_seconds: float = 300,
        grace_seconds: float = 30,
        handlers: dict[str, JobHandler] | None = None,
        timers: dict[str, Timer] | None = None,
        load_tasks: bool = True,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if load_tasks:
            load_task_modules()
        self.sessionmaker = sessionmaker
        self.name = name or worker_name()
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.lease = timedelta(seconds=lease_seconds)
        self.grace_seconds = grace_seconds
        self.handlers = HANDLERS if handlers is None else handlers
        self.timers = TIMERS if timers is None else timers
        self.stats = WorkerStats()
        self._timer_last: dict[str, datetime] = {}
        self._stopping: asyncio.Event | None = None

    # --- jobs -------------------------------------------------------------------------------------------

    async def claim(self, limit: int, now: datetime | None = None) -> list[ClaimedJob]:
        """Take up to ``limit`` due jobs for this worker (status ``running``, leased, one more attempt)."""
        if limit <= 0:
            return []
        now = now or utcnow()
        values = {
            "status": "running",
            "locked_by": self.name,
            "locked_until": now + self.lease,
            "attempts": Job.attempts + 1,
        }
        try:
            return await self._claim(limit, now, values)
        except _StopRequested:
            return []  # the claim rolled back: a stopping worker takes nothing new

    async def _claim(self, limit: int, now: datetime, values: dict[str, Any]) -> list[ClaimedJob]:
        """One statement: ``WITH due AS (<due ids>) UPDATE jobs SET <claimed> WHERE id IN due RETURNING ...``. On
        PostgreSQL the due ids are selected ``FOR UPDATE SKIP LOCKED`` (workers side by side take different jobs; the UPDATE
        keeps ``status = 'queued'`` in its own condition too); on SQLite writers take turns, so the due ids cannot
        change between the sub-select and the UPDATE."""
        async with self.sessionmaker() as session, session.begin():
            due = (
                select(Job.id)
                .where(Job.status == "queued", Job.run_at <= now)
                .order_by(Job.run_at, Job.id)
                .limit(limit)
            )
            # a MATERIALIZED CTE: PostgreSQL runs it once; as a plain IN (sub-select) the planner may run it again
            # for each row of a nested loop, and each run skips the rows the last one locked: more than `limit` jobs
            chosen = skip_locked(session, due).cte("due").prefix_with("MATERIALIZED", dialect="postgresql")
            rows = (
                await session.execute(
                    update(Job)
                    .where(Job.id.in_(select(chosen.c.id)), Job.status == "queued")
                    .values(**values)
                    .returning(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts, Job.run_at),
                    execution_options={"synchronize_session": False},
                )
            ).all()
            if not rows:
                return []
            if self.stopping:
                # stop() came while this claim waited for the database: whatever it found (even a job enqueued
                # after the stop) is left for the next worker
                raise _StopRequested
            return [
                ClaimedJob(
                    id=r.id,
                    kind=r.kind,
                    payload=dict(r.payload or {}),
                    attempts=r.attempts,
                    max_attempts=r.max_attempts,
                )
                for r in sorted(rows, key=lambda r: (r.run_at, r.id))
            ]

    def _mine(self, job_id: int) -> Any:
        return (Job.id == job_id, Job.status == "running", Job.locked_by == self.name)

    async def execute(self, job: ClaimedJob) -> str:
        """Run one claimed job; "done", "retried", "failed" or "lost"."""
        handler = self.handlers.get(job.kind)
        started = time.perf_counter()
        limit = asyncio.timeout(self.lease.total_seconds())
        try:
            if handler is None:
                raise LookupError(f"no handler is registered for job kind {job.kind!r}")
            async with self.sessionmaker() as session, session.begin():
                # the job is marked done first, in the transaction of its handler: the conditional UPDATE both
                # checks that this worker still holds the job and locks its row until the handler's work
                # commits with it (or rolls back with it). It waits, not skips, when another worker's claim
                # query holds the row for a moment while it rechecks it (it is running, so that worker passes
                # over it); a row another worker took back no longer matches.
                finished = await session.execute(
                    update(Job)
                    .where(*self._mine(job.id))
                    .values(
                        status="done",
                        finished_at=utcnow(),
                        locked_by=None,
                        locked_until=None,
                        last_error=None,
                    ),
                    execution_options={"synchronize_session": False},
                )
                if finished.rowcount != 1:  # type: ignore[attr-defined]
                    raise _LeaseLost()
                async with limit:
                    await handler(session, dict(job.payload))
        except _LeaseLost:
            log.warning("job %s #%d: lease lost, left to the worker that took it back", job.kind, job.id)
            return "lost"
        except Exception as error:
            timed_out = isinstance(error, TimeoutError) and limit.expired()
            return await self._record_failure(job, error, time.perf_counter() - started, timed_out=timed_out)
        log.info(
            "job %s #%d done in %.0f ms (attempt %d)",
            job.kind,
            job.id,
            (time.perf_counter() - started) * 1000,
            job.attempts,
        )
        return "done"

    async def _record_failure(
        self, job: ClaimedJob, error: BaseException, seconds: float, *, timed_out: bool = False
    ) -> str:
        if timed_out:
            text = f"TimeoutError: the handler ran longer than {self.lease.total_seconds():.0f} s"
        else:
            text = "".join(traceback.format_exception(error))
            headline = f"{type(error).__name__}: {error}"
            if len(text) > LAST_ERROR_CHARS:
                text = headline[:500] + "\n...\n" + text[-(LAST_ERROR_CHARS - 520) :]
        now = utcnow()
        final = job.attempts >= job.max_attempts
        values: dict[str, Any] = (
            {"status": "failed", "finished_at": now}
            if final
            else {"status": "queued", "run_at": now + retry_delay(job.attempts)}
        )
        async with self.sessionmaker() as session, session.begin():
            result = await session.execute(
                update(Job)
                .where(*self._mine(job.id))
                .values(locked_by=None, locked_until=None, last_error=text[:LAST_ERROR_CHARS], **values),
                execution_options={"synchronize_session": False},
            )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return "lost"
        summary = text.strip().splitlines()[-1] if text.strip() else type(error).__name__
        if final:
            log.error(
                "job %s #%d failed for good after %d attempts (%.0f ms): %s",
                job.kind,
                job.id,
                job.attempts,
                seconds * 1000,
                summary,
            )
            return "failed"
        log.warning(
            "job %s #%d failed (attempt %d of %d), retrying in %s: %s",
            job.kind,
            job.id,
            job.attempts,
            job.max_attempts,
            retry_delay(job.attempts),
            summary,
        )
        return "retried"

    async def recover_expired(self, now: datetime | None = None) -> int:
        """Queue again the jobs whose lease expired (their worker stopped); fail those out of attempts."""
        now = now or utcnow()
        async with self.sessionmaker() as session, session.begin():
            expired = await claim_due(
                session,
                select(Job)
                .where(Job.status == "running", Job.locked_until < now)
                .order_by(Job.locked_until, Job.id),
            )
            for row in expired:
                note = (
                    f"the lease of worker {row.locked_by} expired at {row.locked_until:%Y-%m-%d %H:%M:%S} UTC"
                )
                if row.attempts >= row.max_attempts:
                    row.status = "failed"
                    row.finished_at = now
                    row.last_error = f"{note}; no attempts left"
                else:
                    row.status = "queued"
                    row.run_at = now
                    row.last_error = note
                row.locked_by = None
                row.locked_until = None
                log.warning("job %s #%d: %s; now %s", row.kind, row.id, note, row.status)
            await session.flush()
            return len(expired)

    async def run_jobs(self, now: datetime | None = None) -> WorkerStats:
        """Run every due job (also those the jobs add that are due at once), ``concurrency`` at a time."""
        stats = WorkerStats()
        while True:
            claimed = await self.claim(self.concurrency, now or utcnow())
            if not claimed:
                return stats
            for outcome in await asyncio.gather(*(self.execute(job) for job in claimed)):
                stats.count(outcome)

    # --- timers -----------------------------------------------------------------------------------------

    async def run_timer(self, entry: Timer, now: datetime | None = None) -> WorkerStats:
        """Call one sweep until it has nothing left (each call its own transaction)."""
        now = now or utcnow()
        stats = WorkerStats(timers_run=1)
        self._timer_last[entry.name] = now
        for _ in range(MAX_ROUNDS):
            try:
                async with self.sessionmaker() as session, session.begin():
                    handled = await entry.sweep(session, now)
            except Exception:
                log.exception("timer %s failed", entry.name)
                stats.timer_errors += 1
                break
            stats.timer_rows += max(handled, 0)
            if handled <= 0:
                break
        if stats.timer_rows:
            log.info("timer %s handled %d rows", entry.name, stats.timer_rows)
        return stats

    async def run_timers(self, now: datetime | None = None, *, only_due: bool = False) -> WorkerStats:
        """Run every timer (``only_due``: those whose interval has passed since their last run here)."""
        now = now or utcnow()
        stats = WorkerStats()
        for entry in list(self.timers.values()):
            last = self._timer_last.get(entry.name)
            if only_due and last is not None and now - last < entry.every and now >= last:
                continue
            stats.add(await self.run_timer(entry, now))
        return stats

    # --- running ------------------------------------------------------------------------------------

    async def run_once(self, now: datetime | None = None) -> WorkerStats:
        """Recover expired leases, run every timer once, then every due job. For ``souk worker --once`` and
        tests (time from ``souk.kit.clock``)."""
        stats = WorkerStats(leases_recovered=await self.recover_expired(now))
        stats.add(await self.run_timers(now))
        stats.add(await self.run_jobs(now))
        self.stats.add(stats)
        return stats

    def stop(self) -> None:
        """Ask ``run_forever`` to finish: no new jobs are claimed, running ones may finish."""
        if self._stopping is not None:
            self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping is not None and self._stopping.is_set()

    async def run_forever(self) -> None:
        """Run jobs and timers until ``stop()``; then wait for running jobs (up to ``grace_seconds``)."""
        self._stopping = asyncio.Event()
        log.info(
            "worker %s started: %d at a time, polling every %.1f s, %d job kinds, %d timers",
            self.name,
            self.concurrency,
            self.poll_seconds,
            len(self.handlers),
            len(self.timers),
        )
        timers = asyncio.create_task(self._timer_loop(), name=f"souk-worker-timers {self.name}")
        try:
            await self._job_loop()
        finally:
            self._stopping.set()
            await timers
            log.info("worker %s stopped: %s", self.name, self.stats.summary())

    async def _sleep(self, seconds: float) -> None:
        assert self._stopping is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _timer_loop(self) -> None:
        next_recovery = 0.0
        recovery_every = max(min(self.lease.total_seconds() / 4, 60.0), 1.0)
        while not self.stopping:
            try:
                if time.monotonic() >= next_recovery:
                    self.stats.leases_recovered += await self.recover_expired()
                    next_recovery = time.monotonic() + recovery_every
                self.stats.add(await self.run_timers(only_due=True))
            except Exception:
                log.exception("worker %s: sweeping timers failed", self.name)
            await self._sleep(1.0)

    async def _job_loop(self) -> None:
        assert self._stopping is not None
        running: set[asyncio.Task[str]] = set()
        stop_wait = asyncio.create_task(self._stopping.wait())
        failures = 0
        try:
            while not self.stopping:
                try:
                    claimed = await self.claim(self.concurrency - len(running))
                    failures = 0
                except Exception:
                    failures += 1
                    log.exception("worker %s: claiming jobs failed", self.name)
                    await self._sleep(min(self.poll_seconds * 2**failures, 60.0))
                    continue
                for job in claimed:
                    task = asyncio.create_task(
                        self._execute_counted(job), name=f"souk-job {job.kind} #{job.id}"
                    )
                    running.add(task)
                    task.add_done_callback(running.discard)
                if claimed and len(running) < self.concurrency:
                    continue  # there may be more due right now
                await asyncio.wait(
                    {stop_wait, *running}, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED
                )
        finally:
            stop_wait.cancel()
            if running:
                log.info("worker %s: waiting for %d running jobs", self.name, len(running))
                _, pending = await asyncio.wait(running, timeout=self.grace_seconds)
                for task in pending:
                    task.cancel()
                if pending:
                    await asyncio.wait(pending)

    async def _execute_counted(self, job: ClaimedJob) -> str:
        try:
            outcome = await self.execute(job)
        except Exception:
            # recording the outcome failed (database gone?): the lease brings the job back later
            log.exception("worker %s: job %s #%d", self.name, job.kind, job.id)
            return "lost"
        self.stats.count(outcome)
        return outcome


async def run_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    now: datetime | None = None,
    concurrency: int = 1,
    name: str | None = None,
    lease_seconds: float = 300,
) -> WorkerStats:
    """Run every due job and every timer once (tests, ``souk worker --once``)."""
    worker = Worker(sessionmaker, name=name, concurrency=concurrency, lease_seconds=lease_seconds)
    return await worker.run_once(now)
