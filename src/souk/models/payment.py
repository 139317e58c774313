"""Payments: our record of each payment intent, its refunds, the provider webhooks we processed, and the built-in
simulated provider's own state (the "provider's side"; a real provider keeps that on its servers).

No card data is stored: only the brand and the last four digits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from souk.models.base import Base, Timestamped, _now

PAYMENT_STATUSES = ("requires_payment", "processing", "succeeded", "failed", "refunded")


class Payment(Timestamped, Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    intent_id: Mapped[str] = mapped_column(String(80), unique=True)
    # the caller's key for creating it: a retried checkout gets the same payment
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(20), default="requires_payment")
    # what it pays for (free text shown to the provider, e.g. "order 12") and the order it belongs to
    reference: Mapped[str] = mapped_column(String(200), default="")
    order_id: Mapped[int | None] = mapped_column(index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    card_brand: Mapped[str | None] = mapped_column(String(20))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    failure_code: Mapped[str | None] = mapped_column(String(40))
    failure_message: Mapped[str | None] = mapped_column(String(300))
    succeeded_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(
            "status IN ('requires_payment', 'processing', 'succeeded', 'failed', 'refunded')", name="status"
        ),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= amount", name="refund_bounds"),
    )


class PaymentRefund(Base):
    __tablename__ = "payment_refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    provider_refund_id: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=_now)

    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)


class WebhookEvent(Base):
    """A provider event we processed; a replayed or re-delivered event is found here and ignored."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(60))
    intent_id: Mapped[str | None] = mapped_column(String(80))
    # applied | ignored (unknown intent, stale state, amount mismatch)
    outcome: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(default=_now)

    __table_args__ = (UniqueConstraint("provider", "event_id"),)


class SimulatedIntent(Timestamped, Base):
    """The simulated provider's own record of a payment intent."""

    __tablename__ = "simulated_payment_intents"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    client_secret: Mapped[str] = mapped_column(String(120))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(String(200), default="")
    # requires_payment_method (new, or the last attempt was declined) | succeeded
    status: Mapped[str] = mapped_column(String(30), default="requires_payment_method")
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    card_brand: Mapped[str | None] = mapped_column(String(20))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    last_failure_code: Mapped[str | None] = mapped_column(String(40))


class SimulatedRefund(Base):
    __tablename__ = "simulated_refunds"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    intent_id: Mapped[str] = mapped_column(ForeignKey("simulated_payment_intents.id"))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=_now)

    __table_args__ = (Index("ix_simulated_refunds_intent_id", "intent_id"),)
