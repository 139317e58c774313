"""All SQL of the storefront's read models (the product page and the store page).

Lists of products come from ``souk.search``; this module reads one product or one store with what its page
shows, in a few statements (no per-row queries).
"""

from __future__ import annotations

from typing import Any, TypeAlias

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import store_ids
from souk.models import Organization, PriceTier, Product, ProductImage, Sku, Stock, Store

# a result row of any shape
AnyRow: TypeAlias = "Row[*tuple[Any, ...]]"


async def product_with_store(session: AsyncSession, product_id: int) -> AnyRow | None:
    """(Product, Store, organisation status or None) of one product."""
    row = (
        await session.execute(
            select(Product, Store, Organization.status.label("organization_status"))
            .join(Store, Store.id == Product.store_id)
            .outerjoin(Organization, Organization.id == Store.organization_id)
            .where(Product.id == product_id)
        )
    ).first()
    return row


async def store_by_slug(session: AsyncSession, slug: str) -> AnyRow | None:
    """(Store, organisation status or None) of one store."""
    return (
        await session.execute(
            select(Store, Organization.status.label("organization_status"))
            .outerjoin(Organization, Organization.id == Store.organization_id)
            .where(Store.slug == slug)
        )
    ).first()


async def active_skus(session: AsyncSession, product_id: int) -> list[AnyRow]:
    """The product's active SKUs in display order, each with the quantity available to sell."""
    available = func.coalesce(Stock.on_hand - Stock.reserved, 0).label("available")
    rows = await session.execute(
        select(Sku.id, Sku.code, Sku.option_values, Sku.price_amount, Sku.currency, available)
        .outerjoin(Stock, Stock.sku_id == Sku.id)
        .where(Sku.product_id == product_id, Sku.is_active.is_(True))
        .order_by(Sku.position, Sku.id)
    )
    return list(rows.all())


async def images(session: AsyncSession, product_id: int) -> list[ProductImage]:
    rows = await session.scalars(
        select(ProductImage)
        .where(ProductImage.product_id == product_id)
        .order_by(ProductImage.position, ProductImage.id)
    )
    return list(rows.all())


async def price_tiers(session: AsyncSession, product_id: int) -> list[AnyRow]:
    rows = await session.execute(
        select(PriceTier.min_quantity, PriceTier.unit_price_amount)
        .where(PriceTier.product_id == product_id)
        .order_by(PriceTier.min_quantity)
    )
    return list(rows.all())


async def is_store_person(session: AsyncSession, actor: Actor, store_id: int) -> bool:
    """Whether the actor works on this store (and may see what the public cannot)."""
    if actor.user_id is None:
        return False
    found = await session.scalar(
        select(Store.id).where(Store.id == store_id, Store.id.in_(store_ids(actor, "store:read")))
    )
    return found is not None
