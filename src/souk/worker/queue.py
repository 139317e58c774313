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
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

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
    (also when another transaction adds the same key at the same moment: the unique key decides)."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if dedupe_key is not None:
        existing = await session.scalar(select(Job).where(Job.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    row = Job(
        kind=kind,
        payload=payload or {},
        run_at=run_at or utcnow(),
        dedupe_key=dedupe_key,
        max_attempts=max_attempts,
    )
    if dedupe_key is None:
        session.add(row)
        await session.flush()
        return row
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # a concurrent transaction committed a job with this key while we were writing ours
        existing = await session.scalar(select(Job).where(Job.dedupe_key == dedupe_key))
        if existing is None:
            raise
        return existing
    return row
