"""Reviews of order lines, the store ratings a buyer gives once per seller order, and seller credit points.

A ``Review`` belongs to one ``OrderLine`` (unique: one review per line). The store ratings (item as described,
communication, shipping speed) are one ``StoreRating`` row per seller order. A ``CreditPoint`` is the seller
credit one counted review gives (+1 / 0 / -1); at most one is counted per buyer, store and calendar month, which
the unique constraint enforces even when two reviews race.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from souk.models.base import Base, _now


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_order_id: Mapped[int] = mapped_column(ForeignKey("seller_orders.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), unique=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    buyer_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    rating: Mapped[int]
    text: Mapped[str] = mapped_column(Text, default="")
    reply_text: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=_now)

    __table_args__ = (
        Index("ix_reviews_product_id_id", "product_id", "id"),
        Index("ix_reviews_store_id_id", "store_id", "id"),
        CheckConstraint("rating >= 1 AND rating <= 5", name="rating"),
    )


class StoreRating(Base):
    """The buyer's ratings of the store for one seller order (given with its first review)."""

    __tablename__ = "store_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_order_id: Mapped[int] = mapped_column(ForeignKey("seller_orders.id"), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    buyer_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    item_as_described: Mapped[int]
    communication: Mapped[int]
    shipping_speed: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=_now)

    __table_args__ = (
        CheckConstraint(
            "item_as_described BETWEEN 1 AND 5 AND communication BETWEEN 1 AND 5 AND shipping_speed BETWEEN 1 AND 5",
            name="ratings",
        ),
    )


class CreditPoint(Base):
    """Seller credit from one counted review: +1 (4-5 stars), 0 (3), -1 (1-2); one per buyer, store and month."""

    __tablename__ = "credit_points"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    buyer_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # "2026-11": the calendar month (UTC) of the review
    month: Mapped[str] = mapped_column(String(7))
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), unique=True)
    points: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=_now)

    __table_args__ = (
        UniqueConstraint("store_id", "buyer_user_id", "month"),
        CheckConstraint("points IN (-1, 0, 1)", name="points"),
    )


class ReviewPhoto(Base):
    """A photo with a review (at most 3), stored by ``MediaStorage.save_image``."""

    __tablename__ = "review_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    position: Mapped[int]
    path: Mapped[str] = mapped_column(String(300))
    thumb_path: Mapped[str] = mapped_column(String(300))
    width: Mapped[int]
    height: Mapped[int]
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=_now)

    __table_args__ = (
        UniqueConstraint("review_id", "position"),
        CheckConstraint("position >= 0", name="position"),
    )
