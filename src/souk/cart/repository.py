"""All SQL of carts: carts by user or guest token hash, their lines, and the catalog facts a cart shows
(visibility, stock, tiers, thumbnails) in batch queries. No rules, no commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.authz import visible_store_condition
from souk.models import Cart, CartLine, PriceTier, Product, ProductImage, Sku, Stock, Store


@dataclass
class SkuFacts:
    """A SKU with its product, store, what is available to sell, and whether buyers can see it."""

    sku: Sku
    product: Product
    store: Store
    available: int
    visible: bool
    thumb: str | None = None  # the thumbnail of the product's first image


def line_count_query(*, user_id: int | None = None, token_hash: str | None = None) -> Select[Any]:
    """The number of lines in the cart of a user or of a guest token hash, as a statement (the header reads
    it as a scalar subquery of its own statement)."""
    owner = Cart.user_id == user_id if user_id is not None else Cart.guest_token_hash == token_hash
    return select(func.count()).select_from(CartLine).join(Cart, Cart.id == CartLine.cart_id).where(owner)


class CartRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- carts --------------------------------------------------------------------------------------------

    async def of_user(self, user_id: int) -> Cart | None:
        return await self.session.scalar(select(Cart).where(Cart.user_id == user_id))

    async def of_guest(self, token_hash: str) -> Cart | None:
        return await self.session.scalar(select(Cart).where(Cart.guest_token_hash == token_hash))

    async def create(self, *, user_id: int | None = None, token_hash: str | None = None) -> Cart:
        """A new cart; when another request created the same one at the same moment, that one."""
        cart = Cart(user_id=user_id, guest_token_hash=token_hash)
        try:
            async with self.session.begin_nested():
                self.session.add(cart)
                await self.session.flush()
        except IntegrityError:
            found = await (self.of_user(user_id) if user_id is not None else self.of_guest(token_hash or ""))
            if found is None:
                raise
            return found
        return cart

    async def delete(self, cart: Cart) -> None:
        await self.session.execute(delete(CartLine).where(CartLine.cart_id == cart.id))
        await self.session.delete(cart)

    # --- lines --------------------------------------------------------------------------------------------

    async def lines(self, cart_id: int) -> list[CartLine]:
        """Newest first."""
        rows = await self.session.scalars(
            select(CartLine).where(CartLine.cart_id == cart_id).order_by(CartLine.id.desc())
        )
        return list(rows.all())

    async def line(
        self, cart_id: int, sku_id: int, *, sample: bool = False, for_update: bool = False
    ) -> CartLine | None:
        """The bulk (or with ``sample``, the sample) line of a SKU."""
        stmt = select(CartLine).where(
            CartLine.cart_id == cart_id, CartLine.sku_id == sku_id, CartLine.is_sample.is_(sample)
        )
        if for_update:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def insert_line(self, line: CartLine) -> bool:
        """Insert a line; False when the cart already has this SKU's line of that kind (a concurrent add won
        the race)."""
        try:
            async with self.session.begin_nested():
                self.session.add(line)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def delete_lines(self, cart_id: int, sku_ids: Sequence[int]) -> int:
        """Every line (bulk and sample) of these SKUs."""
        if not sku_ids:
            return 0
        result = await self.session.execute(
            delete(CartLine)
            .where(CartLine.cart_id == cart_id, CartLine.sku_id.in_(list(sku_ids)))
            .execution_options(synchronize_session="fetch")
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def delete_line(self, cart_id: int, sku_id: int, *, sample: bool) -> int:
        """The bulk (or with ``sample``, the sample) line of a SKU."""
        result = await self.session.execute(
            delete(CartLine)
            .where(CartLine.cart_id == cart_id, CartLine.sku_id == sku_id, CartLine.is_sample.is_(sample))
            .execution_options(synchronize_session="fetch")
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def line_count(self, *, user_id: int | None = None, token_hash: str | None = None) -> int:
        """Lines in the cart of a user or of a guest token hash."""
        return int(await self.session.scalar(line_count_query(user_id=user_id, token_hash=token_hash)) or 0)

    async def delete_stale_guest_carts(self, before: datetime, limit: int) -> int:
        ids = list(
            (
                await self.session.scalars(
                    select(Cart.id)
                    .where(Cart.user_id.is_(None), Cart.updated_at < before)
                    .order_by(Cart.updated_at)
                    .limit(limit)
                )
            ).all()
        )
        if ids:
            await self.session.execute(delete(CartLine).where(CartLine.cart_id.in_(ids)))
            await self.session.execute(delete(Cart).where(Cart.id.in_(ids)))
        return len(ids)

    # --- what the cart shows --------------------------------------------------------------------------------

    @staticmethod
    def _facts_query() -> Select[Any]:
        """SKU, product, store, available, visible and the product's thumbnail, joined from ``Sku``."""
        visible = and_(Sku.is_active.is_(True), Product.status == "active", visible_store_condition())
        thumb = (
            select(ProductImage.thumb_path)
            .where(ProductImage.product_id == Product.id)
            .order_by(ProductImage.position, ProductImage.id)
            .limit(1)
            .scalar_subquery()
        )
        return (
            select(
                Sku,
                Product,
                Store,
                func.coalesce(Stock.on_hand - Stock.reserved, 0).label("available"),
                visible.label("visible"),
                thumb.label("thumb"),
            )
            .join(Product, Product.id == Sku.product_id)
            .join(Store, Store.id == Product.store_id)
            .outerjoin(Stock, Stock.sku_id == Sku.id)
        )

    @staticmethod
    def _facts(row: Any) -> SkuFacts:
        sku, product, store, available, is_visible, thumb = row[-6:]
        return SkuFacts(sku, product, store, max(0, int(available)), bool(is_visible), thumb)

    async def sku_facts(self, sku_ids: Sequence[int]) -> dict[int, SkuFacts]:
        if not sku_ids:
            return {}
        rows = await self.session.execute(self._facts_query().where(Sku.id.in_(sorted(set(sku_ids)))))
        return {row[0].id: self._facts(row) for row in rows.all()}

    async def lines_with_facts(
        self, *, user_id: int | None = None, token_hash: str | None = None
    ) -> list[tuple[CartLine, SkuFacts]]:
        """The lines of the cart of a user or of a guest token hash, newest first, each with its SKU's facts,
        in one statement."""
        owner = Cart.user_id == user_id if user_id is not None else Cart.guest_token_hash == token_hash
        stmt = (
            self._facts_query()
            .add_columns(CartLine)
            .join(CartLine, CartLine.sku_id == Sku.id)
            .join(Cart, Cart.id == CartLine.cart_id)
            .where(owner)
            .order_by(CartLine.id.desc())
        )
        # the line is the last column; the facts are the six before it
        return [(row[-1], self._facts(row[:-1])) for row in (await self.session.execute(stmt)).all()]

    async def tiers(self, product_ids: Sequence[int]) -> dict[int, list[tuple[int, int]]]:
        """{product_id: [(min_quantity, unit_price_amount), ...]} in ascending quantity."""
        found: dict[int, list[tuple[int, int]]] = {}
        if not product_ids:
            return found
        rows = await self.session.execute(
            select(PriceTier.product_id, PriceTier.min_quantity, PriceTier.unit_price_amount)
            .where(PriceTier.product_id.in_(sorted(set(product_ids))))
            .order_by(PriceTier.product_id, PriceTier.min_quantity)
        )
        for product_id, min_quantity, unit_price in rows.all():
            found.setdefault(product_id, []).append((min_quantity, unit_price))
        return found
