"""Two workers side by side on PostgreSQL, each on its own connections: every job runs exactly once to effect.
The rows are committed (other connections cannot see the test's transaction) and removed afterwards."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from fixtures.core import is_postgres
from souk.db import create_sessionmaker
from souk.models import Job
from souk.worker.queue import enqueue, job
from souk.worker.runner import Worker

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not is_postgres(), reason="needs real parallel PostgreSQL connections: set SOUK_TEST_DATABASE_URL"
    ),
]

TABLE_NAME = re.compile(r"^worker_effects_[0-9a-f]{8}$")


@job("test.concurrent_effect")
async def concurrent_effect(session: AsyncSession, payload: dict[str, Any]) -> None:
    table = payload["table"]
    assert TABLE_NAME.match(table)
    await session.execute(
        text(f'INSERT INTO "{table}" (job_n, worker) VALUES (:n, :w)'), {"n": payload["n"], "w": payload["w"]}
    )
    await asyncio.sleep(0.005)  # hold the transaction a little so the workers overlap


@pytest.fixture
async def effects(engine: AsyncEngine) -> AsyncIterator[Table]:
    table = Table(
        f"worker_effects_{secrets.token_hex(4)}",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("job_n", Integer, nullable=False),
        Column("worker", String(100)),
    )
    async with engine.begin() as conn:
        await conn.run_sync(table.create)
    try:
        yield table
    finally:
        async with engine.begin() as conn:
            await conn.run_sync(table.drop)
            await conn.execute(delete(Job).where(Job.kind == "test.concurrent_effect"))


async def test_two_workers_run_fifty_jobs_each_exactly_once(engine: AsyncEngine, effects: Table) -> None:
    async with AsyncSession(engine, expire_on_commit=False) as s, s.begin():
        for n in range(50):
            await enqueue(s, "test.concurrent_effect", {"table": effects.name, "n": n, "w": ""})
    maker = create_sessionmaker(engine)
    first = Worker(maker, name="worker-a", concurrency=3)
    second = Worker(maker, name="worker-b", concurrency=3)

    stats = await asyncio.gather(first.run_once(), second.run_once())

    assert stats[0].timer_errors == stats[1].timer_errors == 0
    async with AsyncSession(engine) as s:
        per_job = dict(
            (await s.execute(select(effects.c.job_n, func.count()).group_by(effects.c.job_n))).all()
        )
        assert per_job == {n: 1 for n in range(50)}
        rows = (
            await s.execute(
                select(Job.status, Job.attempts, Job.locked_by, func.count())
                .where(Job.kind == "test.concurrent_effect")
                .group_by(Job.status, Job.attempts, Job.locked_by)
            )
        ).all()
        assert [tuple(r) for r in rows] == [("done", 1, None, 50)]


async def test_claims_of_two_workers_never_overlap(engine: AsyncEngine, effects: Table) -> None:
    async with AsyncSession(engine, expire_on_commit=False) as s, s.begin():
        for n in range(40):
            await enqueue(s, "test.concurrent_effect", {"table": effects.name, "n": n, "w": ""})
    maker = create_sessionmaker(engine)
    workers = [Worker(maker, name=f"claimer-{i}") for i in range(4)]

    claims = await asyncio.gather(*(w.claim(15) for w in workers))

    ids = [c.id for claimed in claims for c in claimed]
    async with AsyncSession(engine) as s:
        mine = set((await s.scalars(select(Job.id).where(Job.kind == "test.concurrent_effect"))).all())
    claimed_mine = [i for i in ids if i in mine]
    assert len(claimed_mine) == len(set(claimed_mine)) == 40


async def test_a_row_locked_for_a_moment_by_another_claim_is_not_a_lost_lease(
    engine: AsyncEngine, effects: Table
) -> None:
    """Another worker's claim query may lock a running job's row for a moment while it rechecks it. The
    worker that holds the lease waits for that moment to pass instead of taking its job for lost (which left
    the job undone until its lease ran out, 5 minutes)."""
    async with AsyncSession(engine, expire_on_commit=False) as s, s.begin():
        await enqueue(s, "test.concurrent_effect", {"table": effects.name, "n": 1, "w": ""})
    worker = Worker(create_sessionmaker(engine), name="lease-holder")
    [job_claimed] = await worker.claim(1)
    async with AsyncSession(engine) as other, other.begin():
        await other.execute(select(Job.id).where(Job.id == job_claimed.id).with_for_update())
        running = asyncio.create_task(worker.execute(job_claimed))
        await asyncio.sleep(0.3)  # the lease holder is waiting for the row now
        assert not running.done()
    assert await running == "done"
    async with AsyncSession(engine) as s:
        assert await s.scalar(select(func.count()).select_from(effects)) == 1
        assert await s.scalar(select(Job.status).where(Job.id == job_claimed.id)) == "done"
