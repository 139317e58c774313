"""The worker's own housekeeping timers."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.kit.idempotency import delete_expired_keys
from souk.models.job import Job
from souk.worker.timers import timer

# finished jobs are kept this long for the record, then deleted; failed jobs stay until someone looks at them
KEEP_DONE_JOBS = timedelta(days=7)
PRUNE_BATCH = 500


@timer("worker.prune_jobs", every_seconds=3600)
async def prune_done_jobs(session: AsyncSession, now: datetime) -> int:
    """Delete jobs finished more than ``KEEP_DONE_JOBS`` ago (a batch per call)."""
    ids = list(
        (
            await session.scalars(
                select(Job.id)
                .where(Job.status == "done", Job.finished_at < now - KEEP_DONE_JOBS)
                .limit(PRUNE_BATCH)
            )
        ).all()
    )
    if ids:
        await session.execute(delete(Job).where(Job.id.in_(ids)))
    return len(ids)


@timer("idempotency.expire", every_seconds=600)
async def expire_idempotency_keys(session: AsyncSession, now: datetime) -> int:
    """Delete idempotency keys and used form tokens past their expiry (a batch per call)."""
    return await delete_expired_keys(session, now, limit=PRUNE_BATCH)
