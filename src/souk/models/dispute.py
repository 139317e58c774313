"""Disputes: a buyer's refund request on a seller order (``Dispute``) and its own log (``DisputeEvent``).

A dispute lives while its seller order is in escrow (paid or shipped, before receipt was confirmed). It is
``awaiting_seller`` (deadline ``respond_by``), ``awaiting_buyer`` after the seller rejected it (deadline
``escalate_by``), ``escalated`` to an operator, ``awaiting_return`` (the seller accepted a request that asks to
send the item back and gave a return address; the refund is paid when the seller confirms the return arrived, or
automatically ``RETURN_REFUND_DAYS`` after the buyer gave the return tracking number: deadline ``respond_by``;
before that the buyer gives the tracking number by ``return_by``, else the request closes without a refund), or
``resolved`` with an ``outcome``. At most one dispute per seller
order is open at a time (a partial unique index on the open statuses).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from souk.models.base import Base, Timestamped, _now

DISPUTE_REASONS = (
    "not_received",
    "not_as_described",
    "damaged",
    "other",
    # trade-assurance claims on a sourcing contract
    "quality_mismatch",
    "late_shipment",
)
# a refund request (before receipt) or a claim (after receipt, within the policy's claim window)
DISPUTE_KINDS = ("refund", "claim")
DISPUTE_STATUSES = ("awaiting_seller", "awaiting_buyer", "escalated", "awaiting_return", "resolved")
DISPUTE_OUTCOMES = ("refund_full", "refund_partial", "released")
OPEN_DISPUTE_STATUSES = ("awaiting_seller", "awaiting_buyer", "escalated", "awaiting_return")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Dispute(Timestamped, Base):
    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_order_id: Mapped[int] = mapped_column(ForeignKey("seller_orders.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="refund", server_default="refund")
    reason: Mapped[str] = mapped_column(String(20))
    requested_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), default="awaiting_seller")
    # the buyer sends the item back before the refund
    wants_return: Mapped[bool] = mapped_column(default=False)
    return_address: Mapped[str | None] = mapped_column(Text)
    return_tracking_number: Mapped[str | None] = mapped_column(String(60))
    return_shipped_at: Mapped[datetime | None]
    return_received_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))
    resolved_amount: Mapped[int | None] = mapped_column(BigInteger)
    # the seller's reason for rejecting, the ruling's reason
    reject_reason: Mapped[str | None] = mapped_column(Text)
    resolution_note: Mapped[str | None] = mapped_column(Text)
    # deadlines swept by the worker
    respond_by: Mapped[datetime | None] = mapped_column(index=True)
    escalate_by: Mapped[datetime | None] = mapped_column(index=True)
    # an accepted return: the buyer gives the return tracking number by then, else the request closes
    return_by: Mapped[datetime | None] = mapped_column(index=True)
    escalated_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]

    __table_args__ = (
        Index(
            "uq_disputes_open_per_seller_order",
            "seller_order_id",
            unique=True,
            sqlite_where=text(f"status IN ({_in(OPEN_DISPUTE_STATUSES)})"),
            postgresql_where=text(f"status IN ({_in(OPEN_DISPUTE_STATUSES)})"),
        ),
        Index("ix_disputes_status_id", "status", "id"),
        CheckConstraint(f"reason IN ({_in(DISPUTE_REASONS)})", name="reason"),
        CheckConstraint(f"kind IN ({_in(DISPUTE_KINDS)})", name="kind"),
        CheckConstraint(f"status IN ({_in(DISPUTE_STATUSES)})", name="status"),
        CheckConstraint(f"outcome IS NULL OR outcome IN ({_in(DISPUTE_OUTCOMES)})", name="outcome"),
        CheckConstraint("requested_amount > 0", name="requested_amount"),
        CheckConstraint("resolved_amount IS NULL OR resolved_amount >= 0", name="resolved_amount"),
        {"sqlite_autoincrement": True},
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_DISPUTE_STATUSES


class DisputeEvent(Base):
    """One step of a dispute: opened, message, accepted, rejected, escalated, ruled, auto_refunded, closed."""

    __tablename__ = "dispute_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id"))
    kind: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(10))  # buyer | seller | operator | system
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=_now)

    __table_args__ = (
        Index("ix_dispute_events_dispute_id_id", "dispute_id", "id"),
        CheckConstraint("actor_role IN ('buyer', 'seller', 'system', 'operator')", name="actor_role"),
    )
