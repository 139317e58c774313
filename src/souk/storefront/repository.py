"""All SQL of the storefront's read models (the product page and the store page).

Lists of products come from ``souk.search``; this module reads one product or one store with what its page
shows, in a few statements (no per-row queries).
"""

from __future__ import annotations

from typing import Any, TypeAlias

from sqlalchemy import JSON, Integer, Row, Select, String, cast, func, literal, null, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from souk.auth.actor import Actor
from souk.authz import store_ids
from souk.models import Organization, PriceTier, Product, ProductImage, Sku, Stock, Store
from souk.review.repository import STARS, credit_points_query, star_counts_query

# a result row of any shape
AnyRow: TypeAlias = "Row[*tuple[Any, ...]]"


async def product_page(session: AsyncSession, product_id: int) -> AnyRow | None:
    """One product's row for its page, in one statement: (Product, Store, ``organization_status`` (None
    without an organisation), ``credit_points`` (the store's seller credit), ``product_stars_5`` ..
    ``product_stars_1`` and ``store_stars_5`` .. ``store_stars_1`` (the number of the product's and of the
    store's reviews with each number of stars)). The credit is a correlated subquery; the review counts are
    one-row aggregates joined to the product's row, so a product without reviews still has its row."""
    product_stars = star_counts_query(product_id=product_id).subquery("product_stars")
    store_of_product = select(Product.store_id).where(Product.id == product_id).correlate(None)
    store_stars = star_counts_query(store_id=store_of_product.scalar_subquery()).subquery("store_stars")
    row = (
        await session.execute(
            select(
                Product,
                Store,
                Organization.status.label("organization_status"),
                credit_points_query(Store.id).scalar_subquery().label("credit_points"),
                *(product_stars.c[f"stars_{n}"].label(f"product_stars_{n}") for n in STARS),
                *(store_stars.c[f"stars_{n}"].label(f"store_stars_{n}") for n in STARS),
            )
            .join(Store, Store.id == Product.store_id)
            .outerjoin(Organization, Organization.id == Store.organization_id)
            .join(product_stars, true())
            .join(store_stars, true())
            .where(Product.id == product_id)
        )
    ).first()
    return row


# the columns of ``product_parts``' rows besides ``part`` and their types: each part sets its own, the others
# are NULL of that type (PostgreSQL needs one type per column of a UNION)
_PART_COLUMNS: dict[str, TypeEngine[Any]] = {
    "id": Integer(),
    "code": String(),
    "option_values": JSON(),
    "price_amount": Integer(),
    "available": Integer(),
    "min_quantity": Integer(),
    "unit_price_amount": Integer(),
    "path": String(),
    "thumb_path": String(),
    "alt": String(),
    "width": Integer(),
    "height": Integer(),
}


def _part(name: str, order: tuple[Any, Any], **values: Any) -> Select[*tuple[Any, ...]]:
    """One part of ``product_parts``: its name, its two sort keys and its columns (NULL for the others)."""
    return select(
        literal(name, String()).label("part"),
        order[0].label("sort_1"),
        order[1].label("sort_2"),
        *(values.get(column, cast(null(), type_)).label(column) for column, type_ in _PART_COLUMNS.items()),
    )


async def product_parts(session: AsyncSession, product_id: int) -> list[AnyRow]:
    """What a product is made of, in one statement (a UNION ALL): its active SKUs (``part`` "sku": id,
    code, option_values, price_amount, and ``available``, the quantity available to sell), its price tiers
    ("tier": min_quantity, unit_price_amount) and its images ("image": path, thumb_path, alt, width,
    height). Each row sets only its part's columns; within a part the rows are in display order (SKUs and
    images by position then id, tiers by minimum quantity)."""
    skus = _part(
        "sku",
        (Sku.position, Sku.id),
        id=Sku.id,
        code=Sku.code,
        option_values=Sku.option_values,
        price_amount=Sku.price_amount,
        available=func.coalesce(Stock.on_hand - Stock.reserved, 0),
    )
    skus = skus.outerjoin(Stock, Stock.sku_id == Sku.id).where(
        Sku.product_id == product_id, Sku.is_active.is_(True)
    )
    tiers = _part(
        "tier",
        (PriceTier.min_quantity, PriceTier.id),
        min_quantity=PriceTier.min_quantity,
        unit_price_amount=PriceTier.unit_price_amount,
    ).where(PriceTier.product_id == product_id)
    images = _part(
        "image",
        (ProductImage.position, ProductImage.id),
        path=ProductImage.path,
        thumb_path=ProductImage.thumb_path,
        alt=ProductImage.alt,
        width=ProductImage.width,
        height=ProductImage.height,
    ).where(ProductImage.product_id == product_id)
    parts = union_all(skus, tiers, images)
    rows = await session.execute(
        parts.order_by(
            parts.selected_columns.part, parts.selected_columns.sort_1, parts.selected_columns.sort_2
        )
    )
    return list(rows.all())


async def store_by_slug(session: AsyncSession, slug: str) -> AnyRow | None:
    """(Store, organisation status or None) of one store."""
    return (
        await session.execute(
            select(Store, Organization.status.label("organization_status"))
            .outerjoin(Organization, Organization.id == Store.organization_id)
            .where(Store.slug == slug)
        )
    ).first()


async def is_store_person(session: AsyncSession, actor: Actor, store_id: int) -> bool:
    """Whether the actor works on this store (and may see what the public cannot)."""
    if actor.user_id is None:
        return False
    found = await session.scalar(
        select(Store.id).where(Store.id == store_id, Store.id.in_(store_ids(actor, "store:read")))
    )
    return found is not None
