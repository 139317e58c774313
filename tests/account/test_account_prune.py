"""The housekeeping timers delete what cannot matter any more and nothing else: expired sessions and reset
tokens, failed logins and reset requests older than a day, messages sent more than 30 days ago (never unsent
ones)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.account.tasks import prune_account_rows
from souk.kit.clock import utcnow
from souk.mail.tasks import prune_sent_email
from souk.models import LoginFailure, OutboundEmail, PasswordResetRequest, PasswordResetToken, WebSession
from souk.worker.timers import TIMERS


async def _left(session: AsyncSession, model: Any, column: Any) -> set[Any]:
    return set((await session.scalars(select(column))).all())


async def test_expired_and_old_account_rows_are_deleted(session: AsyncSession, user_factory: Any) -> None:
    now = utcnow()
    user = await user_factory()
    hour, day = timedelta(hours=1), timedelta(days=1)
    session.add_all(
        [
            WebSession(token_hash="s-expired", user_id=user.id, expires_at=now - hour),
            WebSession(token_hash="s-live", user_id=user.id, expires_at=now + hour),
            PasswordResetToken(token_hash="t-expired", user_id=user.id, expires_at=now - hour),
            PasswordResetToken(token_hash="t-live", user_id=user.id, expires_at=now + hour),
            LoginFailure(email="old@example.com", ip="10.0.0.1", created_at=now - 2 * day),
            LoginFailure(email="recent@example.com", ip="10.0.0.1", created_at=now - hour),
            PasswordResetRequest(email="old@example.com", ip="10.0.0.1", created_at=now - 2 * day),
            PasswordResetRequest(email="recent@example.com", ip="10.0.0.1", created_at=now - hour),
        ]
    )
    await session.flush()
    assert await prune_account_rows(session, now) == 4
    assert await _left(session, WebSession, WebSession.token_hash) == {"s-live"}
    assert await _left(session, PasswordResetToken, PasswordResetToken.token_hash) == {"t-live"}
    assert await _left(session, LoginFailure, LoginFailure.email) == {"recent@example.com"}
    assert await _left(session, PasswordResetRequest, PasswordResetRequest.email) == {"recent@example.com"}
    assert await prune_account_rows(session, now) == 0
    assert "account.prune" in TIMERS and "mail.prune" in TIMERS


async def test_sent_email_is_kept_30_days_and_unsent_email_stays(session: AsyncSession) -> None:
    now = utcnow()
    old, recent = now - timedelta(days=31), now - timedelta(days=29)
    session.add_all(
        [
            OutboundEmail(
                to_address="a@example.com", subject="old sent", body="x", created_at=old, sent_at=old
            ),
            OutboundEmail(
                to_address="a@example.com", subject="recent", body="x", created_at=recent, sent_at=recent
            ),
            OutboundEmail(to_address="a@example.com", subject="old unsent", body="x", created_at=old),
        ]
    )
    await session.flush()
    assert await prune_sent_email(session, now) == 1
    assert await _left(session, OutboundEmail, OutboundEmail.subject) == {"recent", "old unsent"}
