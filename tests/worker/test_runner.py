"""The worker on the test's transaction: jobs run once and are marked done, failures retry with backoff and
then fail, expired leases come back, rolled-back jobs never run, timers fire when the clock moves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from fixtures.worker import savepoint_sessionmaker
from souk.kit.clock import clock, utcnow
from souk.models import IdempotencyKey, Job, Notification
from souk.notification.service import notification_service
from souk.worker.queue import HANDLERS, enqueue, job
from souk.worker.runner import RETRY_BASE, Worker, WorkerStats, load_task_modules, retry_delay
from souk.worker.timers import TIMERS, Timer, claim_due, timer

RunWorker = Callable[..., Awaitable[WorkerStats]]


@job("test.notify")
async def notify_handler(session: AsyncSession, payload: dict[str, Any]) -> None:
    await notification_service.notify(session, payload["user_id"], "test.job", payload["title"])


@job("test.explode")
async def explode_handler(session: AsyncSession, payload: dict[str, Any]) -> None:
    # writes first, then fails: the write must not survive
    await notification_service.notify(session, payload["user_id"], "test.job", "half-done")
    raise RuntimeError(f"boom {payload['n']}")


@job("test.chain")
async def chain_handler(session: AsyncSession, payload: dict[str, Any]) -> None:
    await notification_service.notify(session, payload["user_id"], "test.job", f"chain {payload['left']}")
    if payload["left"] > 0:
        await enqueue(session, "test.chain", {"user_id": payload["user_id"], "left": payload["left"] - 1})


async def _notes(session: AsyncSession, user_id: int) -> list[str]:
    rows = await session.scalars(
        select(Notification.title).where(Notification.user_id == user_id).order_by(Notification.id)
    )
    return list(rows)


async def _job(session: AsyncSession, job_id: int) -> Job:
    row = await session.scalar(select(Job).where(Job.id == job_id).execution_options(populate_existing=True))
    assert row is not None
    return row


class TestJobs:
    async def test_a_job_runs_once_and_is_marked_done(
        self, session: AsyncSession, run_worker: RunWorker, user_factory
    ) -> None:
        user = await user_factory()
        user_id = user.id
        job_id = (await enqueue(session, "test.notify", {"user_id": user_id, "title": "Hello"})).id

        stats = await run_worker()

        assert (stats.jobs_done, stats.jobs_retried, stats.jobs_failed) == (1, 0, 0)
        row = await _job(session, job_id)
        assert row.status == "done" and row.attempts == 1
        assert row.locked_by is None and row.locked_until is None and row.last_error is None
        assert row.finished_at is not None
        assert await _notes(session, user_id) == ["Hello"]

        again = await run_worker()
        assert again.jobs_run == 0
        assert await _notes(session, user_id) == ["Hello"]

    async def test_a_claim_takes_at_most_its_limit_oldest_first(
        self, session: AsyncSession, test_worker: Worker, user_factory
    ) -> None:
        # the claim is one UPDATE over a sub-select of due ids; on PostgreSQL a plain IN (sub-select ... SKIP
        # LOCKED LIMIT n) may be run again per row and claim more than n
        user = await user_factory()
        ids = [
            (await enqueue(session, "test.notify", {"user_id": user.id, "title": f"n{i}"})).id
            for i in range(5)
        ]
        await session.flush()

        first = await test_worker.claim(2)
        second = await test_worker.claim(2)

        assert [j.id for j in first] == ids[:2] and [j.id for j in second] == ids[2:4]
        assert all(j.kind == "test.notify" and j.attempts == 1 for j in first + second)
        statuses = [(await _job(session, i)).status for i in ids]
        assert statuses == ["running"] * 4 + ["queued"]

    async def test_a_job_not_yet_due_waits_for_its_time(
        self, session: AsyncSession, run_worker: RunWorker, user_factory
    ) -> None:
        clock.freeze()
        user_id = (await user_factory()).id
        later = await enqueue(
            session,
            "test.notify",
            {"user_id": user_id, "title": "Later"},
            run_at=utcnow() + timedelta(hours=1),
        )
        job_id = later.id
        assert (await run_worker()).jobs_run == 0
        assert (await _job(session, job_id)).status == "queued"

        clock.advance(timedelta(hours=1))
        assert (await run_worker()).jobs_done == 1
        assert await _notes(session, user_id) == ["Later"]

    async def test_jobs_added_by_a_job_run_in_the_same_pass(
        self, session: AsyncSession, run_worker: RunWorker, user_factory
    ) -> None:
        clock.freeze()
        user_id = (await user_factory()).id
        await enqueue(session, "test.chain", {"user_id": user_id, "left": 2})
        stats = await run_worker()
        assert stats.jobs_done == 3
        assert await _notes(session, user_id) == ["chain 2", "chain 1", "chain 0"]

    async def test_a_failing_job_is_retried_with_backoff_then_failed(
        self, session: AsyncSession, run_worker: RunWorker, user_factory
    ) -> None:
        clock.freeze()
        start = utcnow()
        user_id = (await user_factory()).id
        job_id = (await enqueue(session, "test.explode", {"user_id": user_id, "n": 7}, max_attempts=3)).id

        first = await run_worker()
        assert first.jobs_retried == 1
        row = await _job(session, job_id)
        assert row.status == "queued" and row.attempts == 1
        assert row.run_at == start + RETRY_BASE  # 10 s
        assert row.locked_by is None
        assert row.last_error is not None and "RuntimeError: boom 7" in row.last_error
        assert await _notes(session, user_id) == []  # the handler's write was rolled back

        assert (await run_worker()).jobs_run == 0  # not due yet

        clock.advance(RETRY_BASE)
        assert (await run_worker()).jobs_retried == 1
        row = await _job(session, job_id)
        assert row.attempts == 2 and row.run_at == utcnow() + 2 * RETRY_BASE  # 20 s

        clock.advance(2 * RETRY_BASE)
        third = await run_worker()
        assert (third.jobs_failed, third.jobs_retried) == (1, 0)
        row = await _job(session, job_id)
        assert row.status == "failed" and row.attempts == 3 and row.finished_at == utcnow()
        assert "boom 7" in (row.last_error or "")
        assert await _notes(session, user_id) == []

        clock.advance(timedelta(days=1))
        assert (await run_worker()).jobs_run == 0  # failed jobs stay failed

    async def test_a_job_without_handler_fails_like_any_error(
        self, session: AsyncSession, run_worker: RunWorker
    ) -> None:
        job_id = (await enqueue(session, "test.nobody_handles_this", {}, max_attempts=1)).id
        assert (await run_worker()).jobs_failed == 1
        row = await _job(session, job_id)
        assert row.status == "failed"
        assert "no handler is registered for job kind 'test.nobody_handles_this'" in (row.last_error or "")

    async def test_a_job_enqueued_in_a_rolled_back_transaction_never_runs(
        self, session: AsyncSession, run_worker: RunWorker, user_factory
    ) -> None:
        user_id = (await user_factory()).id
        savepoint = await session.begin_nested()
        await enqueue(session, "test.notify", {"user_id": user_id, "title": "Ghost"})
        await savepoint.rollback()

        stats = await run_worker()

        assert stats.jobs_run == 0
        assert (
            await session.scalar(select(func.count()).select_from(Job).where(Job.kind == "test.notify")) == 0
        )
        assert await _notes(session, user_id) == []

    async def test_dedupe_key_makes_one_job(
        self, session: AsyncSession, run_worker: RunWorker, user_factory
    ) -> None:
        user_id = (await user_factory()).id
        first = await enqueue(
            session, "test.notify", {"user_id": user_id, "title": "Once"}, dedupe_key="once:1"
        )
        second = await enqueue(
            session, "test.notify", {"user_id": user_id, "title": "Once"}, dedupe_key="once:1"
        )
        assert first.id == second.id
        assert (await run_worker()).jobs_done == 1
        assert await _notes(session, user_id) == ["Once"]

    def test_backoff_doubles_up_to_an_hour(self) -> None:
        assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
        assert retry_delay(20) == timedelta(hours=1) == retry_delay(500)


class TestLeases:
    async def test_a_job_whose_lease_expired_runs_again(
        self, session: AsyncSession, run_worker: RunWorker, user_factory
    ) -> None:
        clock.freeze()
        user = await user_factory()
        # a worker claimed it and died: running, leased until a second ago
        dead = Job(
            kind="test.notify",
            payload={"user_id": user.id, "title": "Recovered"},
            status="running",
            attempts=1,
            locked_by="dead-host:1:abc",
            locked_until=utcnow() - timedelta(seconds=1),
            run_at=utcnow() - timedelta(minutes=10),
        )
        # another worker holds this one right now: left alone
        alive = Job(
            kind="test.notify",
            payload={"user_id": user.id, "title": "Still running elsewhere"},
            status="running",
            attempts=1,
            locked_by="live-host:2:def",
            locked_until=utcnow() + timedelta(minutes=4),
        )
        # out of attempts: failed
        spent = Job(
            kind="test.notify",
            payload={"user_id": user.id, "title": "Spent"},
            status="running",
            attempts=3,
            max_attempts=3,
            locked_by="dead-host:1:abc",
            locked_until=utcnow() - timedelta(seconds=1),
        )
        session.add_all([dead, alive, spent])
        await session.flush()
        user_id, dead_id, alive_id, spent_id = user.id, dead.id, alive.id, spent.id

        stats = await run_worker()

        assert stats.leases_recovered == 2 and stats.jobs_done == 1
        row = await _job(session, dead_id)
        assert row.status == "done" and row.attempts == 2
        assert row.last_error is None and row.locked_by is None
        running = await _job(session, alive_id)
        assert running.status == "running" and running.locked_by == "live-host:2:def"
        failed = await _job(session, spent_id)
        assert failed.status == "failed" and "no attempts left" in (failed.last_error or "")
        assert await _notes(session, user_id) == ["Recovered"]

    async def test_a_worker_that_lost_its_lease_does_not_commit_the_work(
        self, session: AsyncSession, connection: AsyncConnection, user_factory
    ) -> None:
        clock.freeze()
        user_id = (await user_factory()).id
        await enqueue(session, "test.notify", {"user_id": user_id, "title": "Only once"})
        await session.flush()
        maker = savepoint_sessionmaker(connection)
        slow = Worker(maker, name="slow", lease_seconds=60)
        claimed = await slow.claim(1)
        assert [c.kind for c in claimed] == ["test.notify"]

        # the slow worker's lease runs out; another worker takes the job back and runs it
        clock.advance(timedelta(seconds=61))
        other = Worker(maker, name="other")
        stats = await other.run_once()
        assert stats.leases_recovered == 1 and stats.jobs_done == 1

        # the slow worker finally gets to it: the job is not its any more, nothing is written twice
        assert await slow.execute(claimed[0]) == "lost"
        session.expire_all()
        assert await _notes(session, user_id) == ["Only once"]
        row = await _job(session, claimed[0].id)
        assert row.status == "done" and row.attempts == 2


class TestTimers:
    async def test_timers_fire_when_the_clock_moves(
        self, session: AsyncSession, run_worker: RunWorker, user_factory
    ) -> None:
        clock.freeze()
        user = await user_factory()
        key = IdempotencyKey(
            user_id=user.id,
            key="k-1",
            method="POST",
            path="/api/v1/x",
            request_hash="0" * 64,
            status="done",
            response_status=201,
            response_body={"ok": True},
            expires_at=utcnow() + timedelta(hours=24),
        )
        session.add(key)
        await session.flush()
        key_id = key.id

        stats = await run_worker()
        assert "idempotency.expire" in TIMERS and stats.timers_run >= 2
        assert await session.get(IdempotencyKey, key_id) is not None

        clock.advance(timedelta(hours=24, seconds=1))
        stats = await run_worker()
        assert stats.timer_rows >= 1 and stats.timer_errors == 0
        assert await session.scalar(select(IdempotencyKey).where(IdempotencyKey.id == key_id)) is None

    async def test_done_jobs_are_pruned_after_a_week_failed_ones_kept(
        self, session: AsyncSession, run_worker: RunWorker
    ) -> None:
        clock.freeze()
        old = utcnow() - timedelta(days=8)
        done_old = Job(kind="test.notify", status="done", finished_at=old, run_at=old)
        done_new = Job(
            kind="test.notify", status="done", finished_at=utcnow() - timedelta(days=6), run_at=old
        )
        failed_old = Job(kind="test.notify", status="failed", finished_at=old, run_at=old, last_error="x")
        session.add_all([done_old, done_new, failed_old])
        await session.flush()
        ids = (done_old.id, done_new.id, failed_old.id)

        await run_worker()

        left = set(await session.scalars(select(Job.id).where(Job.id.in_(ids))))
        assert left == {ids[1], ids[2]}

    async def test_interval_sweep_batches_and_errors(
        self, session: AsyncSession, connection: AsyncConnection, user_factory
    ) -> None:
        clock.freeze()
        user_id = (await user_factory()).id
        for n in range(5):
            await enqueue(session, "test.sweepable", {"n": n})
        await session.flush()
        calls: list[datetime] = []

        async def sweep(s: AsyncSession, now: datetime) -> int:
            # two rows per call: the worker keeps calling while it finds work
            calls.append(now)
            due = await claim_due(
                s,
                select(Job).where(Job.kind == "test.sweepable", Job.status == "queued").order_by(Job.id),
                limit=2,
            )
            for row in due:
                row.status = "done"
                row.finished_at = now
            await s.flush()
            return len(due)

        async def broken(s: AsyncSession, now: datetime) -> int:
            await notification_service.notify(s, user_id, "test.timer", "never committed")
            raise RuntimeError("sweep broke")

        timers = {
            "test.sweep": Timer("test.sweep", timedelta(seconds=30), sweep),
            "test.broken": Timer("test.broken", timedelta(seconds=30), broken),
        }
        worker = Worker(savepoint_sessionmaker(connection), timers=timers, handlers={})

        stats = await worker.run_timers(only_due=True)
        assert (stats.timers_run, stats.timer_rows, stats.timer_errors) == (2, 5, 1)
        assert len(calls) == 4  # 2 + 2 + 1 + 0
        session.expire_all()
        assert await _notes(session, user_id) == []  # the broken sweep's transaction rolled back

        clock.advance(timedelta(seconds=10))
        assert (await worker.run_timers(only_due=True)).timers_run == 0  # not due again yet
        clock.advance(timedelta(seconds=20))
        assert (await worker.run_timers(only_due=True)).timers_run == 2
        assert len(calls) == 5

    def test_timer_names_are_unique(self) -> None:
        async def one(s: AsyncSession, now: datetime) -> int:
            return 0

        with pytest.raises(RuntimeError, match=r"two sweeps for timer 'idempotency\.expire'"):
            timer("idempotency.expire", every_seconds=10)(one)
        with pytest.raises(ValueError, match="every_seconds must be positive"):
            timer("test.never", every_seconds=0)

    def test_every_tasks_module_is_loaded(self) -> None:
        names = load_task_modules()
        assert "souk.worker.tasks" in names
        assert "worker.prune_jobs" in TIMERS and "test.notify" in HANDLERS
