"""Queue an email in the caller's transaction (the transactional outbox, ARCHITECTURE rule 6)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from souk.kit.clock import utcnow
from souk.models import OutboundEmail
from souk.worker.queue import enqueue

SEND_JOB = "mail.send"


async def queue_email(
    session: AsyncSession, to: str, subject: str, body: str, *, sensitive: bool = False
) -> OutboundEmail:
    """Write the message and its ``mail.send`` job; both exist only if the caller's transaction commits.
    ``sensitive``: the body carries a secret (a reset link) and is wiped once the message is sent."""
    email = OutboundEmail(
        to_address=to, subject=subject[:200], body=body, sensitive=sensitive, created_at=utcnow()
    )
    session.add(email)
    await session.flush()
    await enqueue(session, SEND_JOB, {"email_id": email.id}, dedupe_key=f"mail:{email.id}")
    return email
