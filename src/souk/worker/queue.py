"""Enqueue background work in the caller's transaction; register job handlers.

```python
from souk.worker.queue import enqueue, job

@job("payment.deliver_webhook")
async def deliver(session: AsyncSession, payload: dict) -> None: ...   # idempotent, one transaction

await enqueue(session, "payment.deliver_webhook", {"event_id": ...}, dedupe_key=f"pay-webhook:{event_id}")
```
The job row is written in the same transaction as the change that caused it: if that rolls back, the job
never existed; if it commits, the job will run (at least once — handlers must be idempotent).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from souk.db import dialect_of
from souk.kit.clock import utcnow
from souk.models.job import Job

JobHandler = Callable[[AsyncSession, dict[str, Any]], Awaitable[None]]
HANDLERS: dict[str, JobHandler] = {}


def job(kind: str) -> Callable[[JobHandler], JobHandler]:
    """Register ``fn`` as the handler of jobs of ``kind`` ("<domain>.<verb>")."""

    def register(fn: JobHandler) -> JobHandler:
        if kind in HANDLERS and HANDLERS[kind] is not fn:
            raise RuntimeError(f"two handlers for job {kind!r}")
        HANDLERS[kind] = fn
        return fn

    return register


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = 8,
) -> Job:
    """Add a job in the current transaction. With ``dedupe_key``, an existing job with that key is returned
    (also when another transaction adds the same key at the same moment: the unique key decides).

    A keyed job is one ``INSERT ... ON CONFLICT (dedupe_key) DO NOTHING RETURNING``, no savepoint; the existing
    job is read only when the insert found one (on PostgreSQL an insert meeting a key that a concurrent
    transaction has just written waits for it: nothing is inserted if it commits, ours is if it rolls back)."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    values: dict[str, Any] = {
        "kind": kind,
        "payload": payload or {},
        "run_at": run_at or utcnow(),
        "dedupe_key": dedupe_key,
        "max_attempts": max_attempts,
    }
    if dedupe_key is None:
        row = Job(**values)
        session.add(row)
        await session.flush()
        return row
    insert = sqlite_insert if dialect_of(session) == "sqlite" else pg_insert
    stmt = insert(Job).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(Job)
    for _ in range(2):
        added: Job | None = (
            await session.scalars(stmt, execution_options={"populate_existing": True})
        ).one_or_none()
        if added is not None:
            return added
        existing: Job | None = await session.scalar(select(Job).where(Job.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
        # the job with the key was deleted (pruned) between the two statements: the key is free again
    raise RuntimeError(f"job {dedupe_key!r} could be neither added nor read")
