"""Housekeeping of the account tables: rows that only mattered for a while are deleted once they cannot matter
any more (a batch of each kind per call, like the other prune timers)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.config import get_settings
from souk.models import LoginFailure, PasswordResetRequest, PasswordResetToken, WebSession
from souk.worker.tasks import PRUNE_BATCH
from souk.worker.timers import timer

# failed logins and reset requests count within a window (minutes to an hour): kept a day, then deleted
KEEP_COUNTED_EVENTS = timedelta(days=1)


async def _delete_batch(session: AsyncSession, model: Any, condition: Any) -> int:
    ids = list((await session.scalars(select(model.id).where(condition).limit(PRUNE_BATCH))).all())
    if ids:
        await session.execute(delete(model).where(model.id.in_(ids)))
    return len(ids)


@timer("account.prune", every_seconds=3600)
async def prune_account_rows(session: AsyncSession, now: datetime) -> int:
    """Expired web sessions and password reset tokens, and failed logins and reset requests older than the
    limits look at."""
    window = timedelta(seconds=get_settings().login_failure_window_seconds)
    counted_before = now - max(KEEP_COUNTED_EVENTS, 2 * window)
    return (
        await _delete_batch(session, WebSession, WebSession.expires_at < now)
        + await _delete_batch(session, PasswordResetToken, PasswordResetToken.expires_at < now)
        + await _delete_batch(session, LoginFailure, LoginFailure.created_at < counted_before)
        + await _delete_batch(session, PasswordResetRequest, PasswordResetRequest.created_at < counted_before)
    )
