"""Stock per SKU and the movements it can be re-derived from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from souk.models.base import Base, _now

MOVEMENT_KINDS = ("initial", "adjustment", "reservation", "release", "sale", "return")


class Stock(Base):
    __tablename__ = "stocks"

    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_non_negative"),
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="stock_bounds"),
    )


class StockMovement(Base):
    __tablename__ = "stock_movements"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))
    delta: Mapped[int]
    on_hand_after: Mapped[int]
    reason: Mapped[str] = mapped_column(String(200))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=_now)

    __table_args__ = (
        Index("ix_stock_movements_sku_id_created_at", "sku_id", "created_at"),
        CheckConstraint(
            "kind IN ('initial', 'adjustment', 'reservation', 'release', 'sale', 'return')", name="kind"
        ),
    )
