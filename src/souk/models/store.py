"""Stores: who sells. A market store belongs to a person; any store may belong to an organisation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from souk.models.base import Base, Timestamped

TRADE_MODELS = ("sourcing", "market", "mall", "crossborder")
STORE_STATUSES = ("pending_review", "active", "rejected", "suspended")


class Store(Timestamped, Base):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    logo_path: Mapped[str | None] = mapped_column(String(300))
    country: Mapped[str] = mapped_column(String(2))
    currency: Mapped[str] = mapped_column(String(3))
    trade_model: Mapped[str] = mapped_column(String(12), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending_review", index=True)
    review_reason: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # when an operator approved the store itself (its brand authorisation for mall); a store of an
    # organisation still under review waits in pending_review with this set until the organisation is approved
    approved_at: Mapped[datetime | None]
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    brand_name: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (
        CheckConstraint("(owner_user_id IS NULL) <> (organization_id IS NULL)", name="one_owner"),
        CheckConstraint("trade_model = 'market' OR organization_id IS NOT NULL", name="business_models"),
        CheckConstraint("trade_model IN ('sourcing', 'market', 'mall', 'crossborder')", name="trade_model"),
        CheckConstraint("status IN ('pending_review', 'active', 'rejected', 'suspended')", name="status"),
    )
