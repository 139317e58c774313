"""All SQL of carts: carts by user or guest token hash, their lines, and the catalog facts a cart shows
(visibility, stock, tiers, thumbnails) in batch queries. No rules, no commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import store_ids, visible_store_condition
from souk.db import dialect_of
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


@dataclass
class SkuInCart:
    """What adding a SKU to a cart starts from, read in one statement: the SKU's facts, its product's volume
    tiers, the id of the cart (None: there is no cart yet) and the id and quantity of the SKU's line of the
    kind asked (None and 0: not in the cart), as the database has them now."""

    facts: SkuFacts
    tiers: list[tuple[int, int]]
    cart_id: int | None
    line_id: int | None
    in_cart: int


def _owner(user_id: int | None, token_hash: str | None) -> ColumnElement[bool]:
    return Cart.user_id == user_id if user_id is not None else Cart.guest_token_hash == token_hash


def line_count_query(*, user_id: int | None = None, token_hash: str | None = None) -> Select[Any]:
    """The number of lines in the cart of a user or of a guest token hash, as a statement (the header reads
    it as a scalar subquery of its own statement)."""
    return (
        select(func.count())
        .select_from(CartLine)
        .join(Cart, Cart.id == CartLine.cart_id)
        .where(_owner(user_id, token_hash))
    )


class CartRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- carts --------------------------------------------------------------------------------------------

    async def of_user(self, user_id: int) -> Cart | None:
        return await self.session.scalar(select(Cart).where(Cart.user_id == user_id))

    async def of_guest(self, token_hash: str) -> Cart | None:
        return await self.session.scalar(select(Cart).where(Cart.guest_token_hash == token_hash))

    def _insert(self) -> Any:
        """The dialect's INSERT, which has ON CONFLICT (SQLite and PostgreSQL alike)."""
        return sqlite_insert if dialect_of(self.session) == "sqlite" else pg_insert

    async def insert_if_absent(
        self, *, user_id: int | None = None, token_hash: str | None = None
    ) -> Cart | None:
        """A new cart, or None when the user (or the guest token) has one already, for instance created by
        another request at the same moment: ``INSERT ... ON CONFLICT DO NOTHING RETURNING``, so the conflict
        is not an error and needs no savepoint (on PostgreSQL the insert waits for the other transaction and
        returns nothing once it commits)."""
        owner_column = "user_id" if user_id is not None else "guest_token_hash"
        stmt = (
            self._insert()(Cart)
            .values(user_id=user_id, guest_token_hash=token_hash)
            .on_conflict_do_nothing(index_elements=[owner_column])
            .returning(Cart)
        )
        return await self.session.scalar(stmt)

    async def create(self, *, user_id: int | None = None, token_hash: str | None = None) -> Cart:
        """A new cart; when another request created the same one at the same moment, that one."""
        cart = await self.insert_if_absent(user_id=user_id, token_hash=token_hash)
        if cart is None:
            cart = await (self.of_user(user_id) if user_id is not None else self.of_guest(token_hash or ""))
            if cart is None:
                raise RuntimeError("could not create the cart")
        return cart

    async def touch(self, cart_id: int, now: datetime) -> None:
        """The cart changed now (its ``updated_at``: a guest cart is purged some days after its last change)."""
        await self.session.execute(update(Cart).where(Cart.id == cart_id).values(updated_at=now))

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

    async def hold_line(self, line_id: int) -> int | None:
        """Lock a line until the transaction ends (``FOR UPDATE``; SQLite runs one writer at a time anyway)
        and return its quantity; None when it is gone."""
        return await self.session.scalar(
            select(CartLine.quantity).where(CartLine.id == line_id).with_for_update()
        )

    async def insert_line_if_absent(
        self,
        *,
        cart_id: int,
        sku_id: int,
        quantity: int,
        unit_price_amount: int,
        currency: str,
        added_at: datetime,
        sample: bool = False,
    ) -> CartLine | None:
        """A new line, or None when the cart has this SKU's line of that kind already (a concurrent add won
        the race): ``INSERT ... ON CONFLICT (cart_id, sku_id, is_sample) DO NOTHING RETURNING``, no savepoint."""
        stmt = (
            self._insert()(CartLine)
            .values(
                cart_id=cart_id,
                sku_id=sku_id,
                is_sample=sample,
                quantity=quantity,
                unit_price_amount=unit_price_amount,
                currency=currency,
                added_at=added_at,
            )
            .on_conflict_do_nothing(index_elements=["cart_id", "sku_id", "is_sample"])
            .returning(CartLine)
        )
        return await self.session.scalar(stmt)

    async def set_line_if_unchanged(
        self, line_id: int, quantity_read: int, *, quantity: int, unit_price_amount: int, currency: str
    ) -> CartLine | None:
        """Set a line's quantity and price unless it changed since it was read: ``UPDATE ... WHERE id = :id
        AND quantity = :quantity_read RETURNING``. None when another request changed or removed the line in
        between (the caller reads it again and decides anew): a compare-and-set, so a quantity checked
        against the line as read is the quantity written, without holding a lock from the read on. On
        PostgreSQL a concurrent writer's lock is waited for and the condition checked on the row it left.
        The session's copy of the line, if it holds one, is refreshed from the row written."""
        stmt = (
            update(CartLine)
            .where(CartLine.id == line_id, CartLine.quantity == quantity_read)
            .values(quantity=quantity, unit_price_amount=unit_price_amount, currency=currency)
            .returning(CartLine)
            .execution_options(populate_existing=True)
        )
        return await self.session.scalar(stmt)

    async def put_sample_line(
        self, *, cart_id: int, sku_id: int, unit_price_amount: int, currency: str, added_at: datetime
    ) -> CartLine:
        """The SKU's sample line (1 piece) at this price: inserted, or when the cart has it already, its
        price updated (it keeps its quantity and ``added_at``). One ``INSERT ... ON CONFLICT (cart_id,
        sku_id, is_sample) DO UPDATE ... RETURNING``: a concurrent add of the same sample updates the row the
        other inserted."""
        insert = self._insert()(CartLine).values(
            cart_id=cart_id,
            sku_id=sku_id,
            is_sample=True,
            quantity=1,
            unit_price_amount=unit_price_amount,
            currency=currency,
            added_at=added_at,
        )
        stmt = (
            insert.on_conflict_do_update(
                index_elements=["cart_id", "sku_id", "is_sample"],
                set_={
                    "unit_price_amount": insert.excluded.unit_price_amount,
                    "currency": insert.excluded.currency,
                },
            )
            .returning(CartLine)
            .execution_options(populate_existing=True)
        )
        line = await self.session.scalar(stmt)
        if line is None:  # an upsert always returns its row
            raise RuntimeError("could not add the sample line")
        return line

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

    async def delete_these(self, cart_id: int, lines: Sequence[tuple[int, bool]]) -> int:
        """These (sku_id, is_sample) lines of the cart, in one DELETE; how many went."""
        if not lines:
            return 0
        result = await self.session.execute(
            delete(CartLine)
            .where(
                CartLine.cart_id == cart_id,
                or_(
                    *(
                        and_(CartLine.sku_id == sku_id, CartLine.is_sample.is_(sample))
                        for sku_id, sample in sorted(set(lines))
                    )
                ),
            )
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
        sku, product, store, available, is_visible, thumb = row[:6]
        return SkuFacts(sku, product, store, max(0, int(available)), bool(is_visible), thumb)

    @staticmethod
    def _tiers_of(rows: Sequence[Any], at: int) -> list[tuple[int, int]]:
        """The (min_quantity, unit_price_amount) pairs in columns ``at`` and ``at + 1`` of rows that repeat one
        SKU once per tier of its product (outer joined: a product without tiers gives one row of NULLs)."""
        return [(row[at], row[at + 1]) for row in rows if row[at] is not None]

    def _with_tiers_query(self, sku_id: int) -> Select[Any]:
        """The facts of one SKU, one row per volume tier of its product in ascending quantity (one row when it
        has none): the tiers ride along with the facts instead of a statement of their own."""
        return (
            self._facts_query()
            .add_columns(PriceTier.min_quantity, PriceTier.unit_price_amount)
            .outerjoin(PriceTier, PriceTier.product_id == Product.id)
            .where(Sku.id == sku_id)
            .order_by(PriceTier.min_quantity)
        )

    async def sku_with_tiers(self, sku_id: int) -> tuple[SkuFacts, list[tuple[int, int]]] | None:
        """One SKU's facts and its product's volume tiers (ascending quantity), in one statement; None when
        there is no such SKU."""
        rows = (await self.session.execute(self._with_tiers_query(sku_id))).all()
        return (self._facts(rows[0]), self._tiers_of(rows, 6)) if rows else None

    async def sku_in_cart(
        self, sku_id: int, *, user_id: int | None = None, token_hash: str | None = None, sample: bool = False
    ) -> SkuInCart | None:
        """One SKU's facts and tiers with the cart of a user or of a guest token hash and the SKU's bulk (or
        with ``sample``, sample) line in it, in one statement; None when there is no such SKU.

        Nothing is locked: a caller that writes the line from what it read does so with
        ``set_line_if_unchanged`` or ``insert_line_if_absent``, which tell it when a concurrent request got
        there first. The line's id and quantity are plain columns, so they are the database's now even when
        the session holds an older copy of the line."""
        stmt = (
            self._with_tiers_query(sku_id)
            .add_columns(Cart.id, CartLine.id, CartLine.quantity)
            .outerjoin(Cart, _owner(user_id, token_hash))
            .outerjoin(
                CartLine,
                and_(CartLine.cart_id == Cart.id, CartLine.sku_id == Sku.id, CartLine.is_sample.is_(sample)),
            )
        )
        rows = (await self.session.execute(stmt)).all()
        if not rows:
            return None
        # columns: the six facts, the tier's two, the cart's id, the line's id and quantity
        cart_id, line_id, in_cart = rows[0][8:11]
        return SkuInCart(self._facts(rows[0]), self._tiers_of(rows, 6), cart_id, line_id, in_cart or 0)

    async def sku_facts(self, sku_ids: Sequence[int]) -> dict[int, SkuFacts]:
        if not sku_ids:
            return {}
        rows = await self.session.execute(self._facts_query().where(Sku.id.in_(sorted(set(sku_ids)))))
        return {row[0].id: self._facts(row) for row in rows.all()}

    async def lines_with_facts(
        self, *, user_id: int | None = None, token_hash: str | None = None, viewer: Actor | None = None
    ) -> list[tuple[CartLine, SkuFacts, bool]]:
        """The lines of the cart of a user or of a guest token hash, newest first, each with its SKU's facts
        and whether its store is one of ``viewer``'s own (they hold ``store:read`` on it), in one statement."""
        own = (
            Store.id.in_(store_ids(viewer, "store:read"))
            if viewer is not None and viewer.user_id is not None
            else literal(False)
        )
        stmt = (
            self._facts_query()
            .add_columns(CartLine, own.label("own_store"))
            .join(CartLine, CartLine.sku_id == Sku.id)
            .join(Cart, Cart.id == CartLine.cart_id)
            .where(_owner(user_id, token_hash))
            .order_by(CartLine.id.desc())
        )
        # the six facts, then the line and the viewer's own-store flag
        return [(row[6], self._facts(row), bool(row[7])) for row in (await self.session.execute(stmt)).all()]

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
