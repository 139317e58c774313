"""Idempotency keys of API requests and the one-time tokens of web forms (DOMAIN.md "Side effects").

An ``IdempotencyKey`` row remembers what a request with an ``Idempotency-Key`` header answered, so that the same
key and body get the same answer without doing the work twice. A ``FormTokenUse`` row records that a one-time form
token was submitted (the token itself is signed and never stored), and where its result is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from souk.models.base import Base, _now

IDEMPOTENCY_STATUSES = ("in_progress", "done")


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    # sha256 (hex) of the canonical request body
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), default="in_progress")
    # while in progress across several transactions: until when the request that claimed it owns it
    locked_until: Mapped[datetime | None]
    response_status: Mapped[int | None]
    response_body: Mapped[Any | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    completed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime] = mapped_column(index=True)

    __table_args__ = (
        UniqueConstraint("user_id", "key"),
        CheckConstraint("status IN ('in_progress', 'done')", name="status"),
    )


class FormTokenUse(Base):
    __tablename__ = "form_token_uses"

    id: Mapped[int] = mapped_column(primary_key=True)
    # the random part of the signed token; unique: a token is used once
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(64))
    # what the first submission made, e.g. the URL of the order it created
    result: Mapped[str | None] = mapped_column(String(500))
    used_at: Mapped[datetime] = mapped_column(default=_now)
    # when the token itself expires; the row is useless (and swept) after that
    expires_at: Mapped[datetime]

    __table_args__ = (Index("ix_form_token_uses_expires_at", "expires_at"),)
