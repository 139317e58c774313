"""The ``mail.send`` job: deliver one outbox message through the configured sender."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.kit.clock import utcnow
from souk.mail.sender import build_message, mailer
from souk.mail.service import SEND_JOB
from souk.models import OutboundEmail
from souk.worker.queue import job
from souk.worker.tasks import PRUNE_BATCH
from souk.worker.timers import timer

WIPED = "(content removed after sending)"
# sent messages are kept this long for the record (what went to whom), then deleted; unsent ones stay
KEEP_SENT = timedelta(days=30)


@job(SEND_JOB)
async def send_email(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Idempotent: a message already sent is left alone. A sender error fails the job, which the worker
    retries with backoff (the message may then go out twice if the server accepted it before the error)."""
    email = await session.scalar(select(OutboundEmail).where(OutboundEmail.id == int(payload["email_id"])))
    if email is None or email.sent_at is not None:
        return
    message = build_message(mailer.settings.mail_from, email.to_address, email.subject, email.body)
    await mailer.sender.send(message, f"email-{email.id:08d}")
    email.sent_at = utcnow()
    if email.sensitive:
        email.body = WIPED
    await session.flush()


@timer("mail.prune", every_seconds=3600)
async def prune_sent_email(session: AsyncSession, now: datetime) -> int:
    """Delete messages sent more than ``KEEP_SENT`` ago (a batch per call)."""
    ids = list(
        (
            await session.scalars(
                select(OutboundEmail.id).where(OutboundEmail.sent_at < now - KEEP_SENT).limit(PRUNE_BATCH)
            )
        ).all()
    )
    if ids:
        await session.execute(delete(OutboundEmail).where(OutboundEmail.id.in_(ids)))
    return len(ids)
