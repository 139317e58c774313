"""All SQL of the catalog: scoped statements and batch loads. No rules, no commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import store_ids, visible_store_condition
from souk.models import Category, PriceTier, Product, ProductImage, SearchDocument, Sku, Stock, Store


@dataclass
class SkuView:
    sku: Sku
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass
class ProductView:
    """A product with everything its pages and read models show, loaded in a few batch queries."""

    product: Product
    store: Store
    skus: list[SkuView]
    tiers: list[PriceTier]
    images: list[ProductImage]

    @property
    def active_skus(self) -> list[SkuView]:
        return [s for s in self.skus if s.sku.is_active]

    @property
    def primary_image(self) -> ProductImage | None:
        return self.images[0] if self.images else None

    @property
    def total_on_hand(self) -> int:
        return sum(s.on_hand for s in self.active_skus)


@dataclass
class CategoryNodeData:
    id: int
    name: str
    slug: str
    parent_id: int | None
    position: int
    depth: int = 0
    children: list[CategoryNodeData] = field(default_factory=list)


class CategoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> list[Category]:
        return list(
            (await self.session.scalars(select(Category).order_by(Category.position, Category.name))).all()
        )

    async def get(self, category_id: int) -> Category | None:
        return await self.session.get(Category, category_id)

    async def exists(self, category_id: int) -> bool:
        return bool(await self.session.scalar(select(exists().where(Category.id == category_id))))

    async def slug_taken(self, slug: str, except_id: int | None = None) -> bool:
        stmt = select(exists().where(Category.slug == slug))
        if except_id is not None:
            stmt = select(exists().where(Category.slug == slug, Category.id != except_id))
        return bool(await self.session.scalar(stmt))

    async def product_ids_in(self, category_ids: Sequence[int]) -> list[int]:
        if not category_ids:
            return []
        rows = await self.session.scalars(select(Product.id).where(Product.category_id.in_(category_ids)))
        return list(rows.all())


class ProductRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- single products ------------------------------------------------------------------------------

    def _scoped(self, actor: Actor) -> Select[Product]:
        return select(Product).where(Product.store_id.in_(store_ids(actor, "store:read")))

    async def scoped(self, actor: Actor, product_id: int) -> Product | None:
        """The product if the actor is one of its store's people (drafts included)."""
        return await self.session.scalar(self._scoped(actor).where(Product.id == product_id))

    def _readable(self, actor: Actor, product_id: int) -> Any:
        buyer_visible = and_(
            Product.status == "active",
            Product.store_id.in_(select(Store.id).where(visible_store_condition())),
            exists().where(Sku.product_id == Product.id, Sku.is_active),
        )
        return and_(
            Product.id == product_id,
            or_(buyer_visible, Product.store_id.in_(store_ids(actor, "store:read"))),
        )

    async def readable(self, actor: Actor, product_id: int) -> Product | None:
        """The product if buyers can see it, or if the actor is one of its store's people."""
        return await self.session.scalar(select(Product).where(self._readable(actor, product_id)))

    async def readable_with_store(self, actor: Actor, product_id: int) -> tuple[Product, Store] | None:
        """``readable`` with the product's store, in the same statement."""
        row = (
            await self.session.execute(
                select(Product, Store)
                .join(Store, Store.id == Product.store_id)
                .where(self._readable(actor, product_id))
            )
        ).first()
        return (row[0], row[1]) if row is not None else None

    async def store(self, store_id: int) -> Store:
        store = await self.session.get(Store, store_id)
        assert store is not None  # products reference an existing store (foreign key)
        return store

    # --- lists ----------------------------------------------------------------------------------------

    async def store_page(
        self, store_id: int, status: str | None, before_id: int | None, limit: int
    ) -> list[Product]:
        stmt = select(Product).where(Product.store_id == store_id)
        if status:
            stmt = stmt.where(Product.status == status)
        if before_id is not None:
            stmt = stmt.where(Product.id < before_id)
        return list((await self.session.scalars(stmt.order_by(Product.id.desc()).limit(limit))).all())

    async def visible_page(
        self, store_id: int | None, category_id: int | None, before_id: int | None, limit: int
    ) -> list[tuple[Product, Store]]:
        """Products buyers can see, newest first, each with its store."""
        stmt = (
            select(Product, Store)
            .join(SearchDocument, SearchDocument.product_id == Product.id)
            .join(Store, Store.id == Product.store_id)
            .where(SearchDocument.visible.is_(True))
        )
        if store_id is not None:
            stmt = stmt.where(SearchDocument.store_id == store_id)
        if category_id is not None:
            stmt = stmt.where(SearchDocument.category_path.like(f"%/{int(category_id)}/%"))
        if before_id is not None:
            stmt = stmt.where(Product.id < before_id)
        rows = await self.session.execute(stmt.order_by(Product.id.desc()).limit(limit))
        return [(product, store) for product, store in rows.all()]

    async def status_counts(self, store_id: int) -> dict[str, int]:
        rows = await self.session.execute(
            select(Product.status, func.count()).where(Product.store_id == store_id).group_by(Product.status)
        )
        return {status: int(count) for status, count in rows.all()}

    # --- batch details ----------------------------------------------------------------------------------

    async def details(self, products: Sequence[Product], stores: Sequence[Store] = ()) -> list[ProductView]:
        """Each product with its store (read unless given in ``stores``), SKUs with stock, tiers and
        images: one statement for each kind, whatever the number of products."""
        if not products:
            return []
        ids = [p.id for p in products]
        store_ids_ = sorted({p.store_id for p in products})
        known = {s.id: s for s in stores}
        if set(store_ids_) <= known.keys():
            stores_by_id = known
        else:
            stores_by_id = {
                s.id: s
                for s in (await self.session.scalars(select(Store).where(Store.id.in_(store_ids_)))).all()
            }
        skus: dict[int, list[SkuView]] = {i: [] for i in ids}
        for sku, on_hand, reserved in (
            await self.session.execute(
                select(Sku, Stock.on_hand, Stock.reserved)
                .outerjoin(Stock, Stock.sku_id == Sku.id)
                .where(Sku.product_id.in_(ids))
                .order_by(Sku.position, Sku.id)
            )
        ).all():
            skus[sku.product_id].append(SkuView(sku, on_hand or 0, reserved or 0))
        tiers: dict[int, list[PriceTier]] = {i: [] for i in ids}
        for tier in (
            await self.session.scalars(
                select(PriceTier).where(PriceTier.product_id.in_(ids)).order_by(PriceTier.min_quantity)
            )
        ).all():
            tiers[tier.product_id].append(tier)
        images: dict[int, list[ProductImage]] = {i: [] for i in ids}
        for image in (
            await self.session.scalars(
                select(ProductImage)
                .where(ProductImage.product_id.in_(ids))
                .order_by(ProductImage.position, ProductImage.id)
            )
        ).all():
            images[image.product_id].append(image)
        return [
            ProductView(p, stores_by_id[p.store_id], skus[p.id], tiers[p.id], images[p.id]) for p in products
        ]

    # --- variants, tiers, images ------------------------------------------------------------------------

    async def skus(self, product_id: int) -> list[Sku]:
        stmt = select(Sku).where(Sku.product_id == product_id).order_by(Sku.position, Sku.id)
        return list((await self.session.scalars(stmt)).all())

    async def sku_view(self, product_id: int, sku_id: int) -> SkuView | None:
        row = (
            await self.session.execute(
                select(Sku, Stock.on_hand, Stock.reserved)
                .outerjoin(Stock, Stock.sku_id == Sku.id)
                .where(Sku.id == sku_id, Sku.product_id == product_id)
            )
        ).first()
        if row is None:
            return None
        return SkuView(row[0], row[1] or 0, row[2] or 0)

    async def active_price_range(self, product_id: int) -> tuple[int | None, int | None]:
        row = (
            await self.session.execute(
                select(func.min(Sku.price_amount), func.max(Sku.price_amount)).where(
                    Sku.product_id == product_id, Sku.is_active
                )
            )
        ).one()
        return row[0], row[1]

    async def replace_tiers(self, product_id: int, tiers: Sequence[tuple[int, int]]) -> None:
        await self.session.execute(delete(PriceTier).where(PriceTier.product_id == product_id))
        for min_quantity, unit_price in tiers:
            self.session.add(
                PriceTier(product_id=product_id, min_quantity=min_quantity, unit_price_amount=unit_price)
            )

    async def tiers(self, product_id: int) -> list[PriceTier]:
        stmt = select(PriceTier).where(PriceTier.product_id == product_id).order_by(PriceTier.min_quantity)
        return list((await self.session.scalars(stmt)).all())

    async def images(self, product_id: int) -> list[ProductImage]:
        stmt = (
            select(ProductImage)
            .where(ProductImage.product_id == product_id)
            .order_by(ProductImage.position, ProductImage.id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def delete_sku(self, sku: Sku) -> None:
        await self.session.execute(delete(Stock).where(Stock.sku_id == sku.id))
        await self.session.delete(sku)


def as_int(value: Any) -> int | None:
    """A cursor value back to an int (cursors are client-supplied)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None
