"""Payouts: a store's available balance sent out through a payout provider, and the simulated provider's own
record of each transfer (the "provider's side")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from souk.models.base import Base, Timestamped, _now

PAYOUT_STATUSES = ("requested", "paid", "failed")


class Payout(Timestamped, Base):
    __tablename__ = "payouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10), default="requested")
    provider: Mapped[str] = mapped_column(String(20))
    provider_reference: Mapped[str | None] = mapped_column(String(80))
    failure_reason: Mapped[str | None] = mapped_column(String(300))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # the same key (per store) returns this payout; the request it was made with, to refuse another body
    idempotency_key: Mapped[str] = mapped_column(String(200))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    paid_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("store_id", "idempotency_key"),
        Index("ix_payouts_store_id_id", "store_id", "id"),
        Index("ix_payouts_status", "status"),
        CheckConstraint("status IN ('requested', 'paid', 'failed')", name="status"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )


class SimulatedTransfer(Base):
    """The simulated payout provider's record of a transfer; its idempotency key makes a retried send one
    transfer."""

    __tablename__ = "simulated_transfers"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    destination: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(10), default="paid")
    created_at: Mapped[datetime] = mapped_column(default=_now)
