"""Shipping methods: each store's ways of sending an order, with a price and an optional free-over threshold.

The kind (express or surface mail) sets the receipt timer of the orders shipped with it (the trade policy)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from souk.models.base import Base, Timestamped

SHIPPING_KINDS = ("express", "surface")


class ShippingMethod(Timestamped, Base):
    __tablename__ = "shipping_methods"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(10))
    # in the store's currency
    price_amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    # shipping is free when the store's subtotal reaches this amount
    free_over_amount: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        Index("ix_shipping_methods_store_id_position", "store_id", "position"),
        CheckConstraint("kind IN ('express', 'surface')", name="kind"),
        CheckConstraint("price_amount >= 0", name="price_non_negative"),
        CheckConstraint("free_over_amount IS NULL OR free_over_amount > 0", name="free_over_positive"),
    )
