"""Outgoing email (the outbox) and password reset tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from souk.models.base import Base, _now


class OutboundEmail(Base):
    """One message to send, written in the transaction that decided to send it; the ``mail.send`` job delivers
    it and sets ``sent_at``. A ``sensitive`` message (it carries a secret link) has its body wiped once sent."""

    __tablename__ = "outbound_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    sensitive: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=_now)
    sent_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_outbound_emails_sent_at", "sent_at"),)


class PasswordResetToken(Base):
    """A password reset link: only the SHA-256 of its random token is kept. Usable once (``used_at``), until
    ``expires_at``; a newer token or a password change deletes the user's other tokens."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class PasswordResetRequest(Base):
    """Every "forgot password" request (whether or not the account exists), counted by the rate limit."""

    __tablename__ = "password_reset_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(45))
    created_at: Mapped[datetime] = mapped_column(default=_now)

    __table_args__ = (
        Index("ix_password_reset_requests_email_created_at", "email", "created_at"),
        Index("ix_password_reset_requests_ip_created_at", "ip", "created_at"),
    )
