"""Carts: a user's cart, or a guest's identified by a random token (only its hash is stored)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from souk.models.base import Base, Timestamped, _now

# a sourcing line may order thousands of pieces; retail lines stop at 999 (see souk.cart.service)
MAX_LINE_QUANTITY = 1_000_000


class Cart(Timestamped, Base):
    __tablename__ = "carts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # one cart per user; a guest cart has no user and is found by the SHA-256 of its cookie token
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    guest_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)

    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (guest_token_hash IS NULL)", name="one_owner"),
        # stale guest carts are found by age
        Index("ix_carts_updated_at", "updated_at"),
    )


class CartLine(Base):
    __tablename__ = "cart_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[int]
    # the unit price the buyer saw when they last added or changed the line (warns when it changes)
    unit_price_amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    added_at: Mapped[datetime] = mapped_column(default=_now)
    # a sourcing sample: quantity 1 at the product's sample price, whatever its MOQ
    is_sample: Mapped[bool] = mapped_column(default=False, server_default=false())

    __table_args__ = (
        UniqueConstraint("cart_id", "sku_id", "is_sample"),
        CheckConstraint(f"quantity > 0 AND quantity <= {MAX_LINE_QUANTITY}", name="quantity"),
        CheckConstraint("unit_price_amount > 0", name="unit_price"),
    )
