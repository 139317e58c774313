"""Categories, products, SKUs, volume price tiers and product images."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from souk.models.base import Base, Timestamped, _now

PRODUCT_STATUSES = ("draft", "active", "archived")


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    position: Mapped[int] = mapped_column(default=0)


class Product(Timestamped, Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    # [{"name": "Material", "value": "Cotton"}, ...]
    attributes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # option names in display order, e.g. ["Colour", "Size"]
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    currency: Mapped[str] = mapped_column(String(3))
    # denormalised from the active SKUs, kept by the catalog service
    min_price_amount: Mapped[int | None]
    max_price_amount: Mapped[int | None]
    # sourcing listings
    moq: Mapped[int | None]
    lead_time_days: Mapped[int | None]
    sample_price_amount: Mapped[int | None]

    __table_args__ = (
        Index("ix_products_store_id_status", "store_id", "status"),
        CheckConstraint("status IN ('draft', 'active', 'archived')", name="status"),
        CheckConstraint("moq IS NULL OR moq >= 1", name="moq_positive"),
        CheckConstraint("lead_time_days IS NULL OR lead_time_days >= 0", name="lead_time"),
        CheckConstraint("sample_price_amount IS NULL OR sample_price_amount > 0", name="sample_price"),
        # ids are never reused on SQLite either: orders and history keep pointing at the right product
        {"sqlite_autoincrement": True},
    )


class Sku(Base):
    __tablename__ = "skus"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    # {"Colour": "Red", "Size": "M"}
    option_values: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    price_amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    weight_grams: Mapped[int | None]
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (
        UniqueConstraint("product_id", "code"),
        CheckConstraint("price_amount > 0", name="price_positive"),
        CheckConstraint("weight_grams IS NULL OR weight_grams >= 0", name="weight"),
        {"sqlite_autoincrement": True},
    )


class PriceTier(Base):
    __tablename__ = "price_tiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    min_quantity: Mapped[int]
    unit_price_amount: Mapped[int]

    __table_args__ = (
        UniqueConstraint("product_id", "min_quantity"),
        CheckConstraint("min_quantity >= 1", name="min_quantity"),
        CheckConstraint("unit_price_amount > 0", name="unit_price"),
    )


class ProductImage(Base):
    __tablename__ = "product_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    path: Mapped[str] = mapped_column(String(300))
    thumb_path: Mapped[str] = mapped_column(String(300))
    width: Mapped[int]
    height: Mapped[int]
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int]
    alt: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=_now)
