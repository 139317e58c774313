"""All SQL of inventory. Stock changes are conditional atomic UPDATEs checked by their result, never a
read-modify-write, so they hold under concurrency on SQLite and PostgreSQL alike (ARCHITECTURE rule 4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import DateTime, Integer, Table, and_, case, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import store_ids
from souk.db import dialect_of
from souk.kit.clock import utcnow
from souk.models import Product, Sku, Stock, StockMovement, Store, User


@dataclass
class StockInfo:
    sku: Sku
    product: Product
    store: Store
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass
class StockRow:
    sku: Sku
    product_id: int
    product_title: str
    product_status: str
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass
class MovementRow:
    movement: StockMovement
    actor_name: str | None


class StockRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- atomic changes -------------------------------------------------------------------------------

    async def ensure(self, sku_id: int) -> None:
        """Create the SKU's stock row (0 on hand) unless it exists."""
        insert = sqlite_insert if dialect_of(self.session) == "sqlite" else pg_insert
        await self.session.execute(
            insert(Stock)
            .values(sku_id=sku_id, on_hand=0, reserved=0)
            .on_conflict_do_nothing(index_elements=["sku_id"])
        )

    async def adjust(self, sku_id: int, delta: int, max_on_hand: int) -> tuple[int, int] | None:
        """Add ``delta`` to on hand unless that would go below the reserved units or above ``max_on_hand``;
        returns (on_hand, reserved) after the change, or None when nothing changed."""
        row = (
            await self.session.execute(
                update(Stock)
                .where(
                    Stock.sku_id == sku_id,
                    Stock.on_hand + delta >= Stock.reserved,
                    Stock.on_hand + delta <= max_on_hand,
                )
                .values(on_hand=Stock.on_hand + delta)
                .returning(Stock.on_hand, Stock.reserved)
                .execution_options(synchronize_session="fetch")
            )
        ).first()
        return (row[0], row[1]) if row is not None else None

    async def reserve(self, sku_id: int, qty: int) -> bool:
        """Hold ``qty`` units for an order if that many are available; True when it did."""
        result = await self.session.execute(
            update(Stock)
            .where(Stock.sku_id == sku_id, Stock.on_hand - Stock.reserved >= qty)
            .values(reserved=Stock.reserved + qty)
            .execution_options(synchronize_session="evaluate")
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def reserve_logged(self, sku_id: int, qty: int, reason: str, actor_id: int | None) -> bool:
        """``reserve`` and its ``reservation`` movement in ONE statement (PostgreSQL: the movement is inserted
        from the UPDATE's ``RETURNING`` in a data-modifying CTE), so a checkout's last statement before its
        commit is the one that locks the stock row. True when the units were held."""
        held = (
            update(Stock)
            .where(Stock.sku_id == sku_id, Stock.on_hand - Stock.reserved >= qty)
            .values(reserved=Stock.reserved + qty)
            .returning(Stock.sku_id, Stock.on_hand)
            .cte("held")
        )
        movements = cast(Table, StockMovement.__table__)
        logged = (
            insert(movements)
            .from_select(
                ["sku_id", "kind", "delta", "on_hand_after", "reason", "actor_id", "created_at"],
                select(
                    held.c.sku_id,
                    literal("reservation"),
                    literal(qty),
                    held.c.on_hand,
                    literal(reason[:200]),
                    literal(actor_id, Integer),
                    literal(utcnow(), DateTime(timezone=True)),
                ),
            )
            .returning(movements.c.id)
        )
        return (await self.session.execute(logged)).first() is not None

    async def reserve_many(self, items: dict[int, int]) -> dict[int, int]:
        """``reserve`` of several SKUs ({sku_id: qty}) in ONE conditional UPDATE (for SQLite, where a write
        transaction holds the database's lock anyway, so lock order does not matter): {sku_id: on hand} of
        those that had enough available units and are now held; the others are left as they were."""
        wanted = case(items, value=Stock.sku_id)
        rows = await self.session.execute(
            update(Stock)
            .where(Stock.sku_id.in_(list(items)), Stock.on_hand - Stock.reserved >= wanted)
            .values(reserved=Stock.reserved + wanted)
            .returning(Stock.sku_id, Stock.on_hand)
            .execution_options(synchronize_session=False)
        )
        return {int(sku_id): int(on_hand) for sku_id, on_hand in rows.all()}

    async def sell_reserved(self, sku_id: int, qty: int) -> int | None:
        """Turn ``qty`` reserved units into a sale (on hand and reserved both go down), atomically, reading the
        on-hand level after it in the same statement (``RETURNING``); None when fewer than ``qty`` are
        reserved (or on hand)."""
        row = (
            await self.session.execute(
                update(Stock)
                .where(Stock.sku_id == sku_id, Stock.reserved >= qty, Stock.on_hand >= qty)
                .values(on_hand=Stock.on_hand - qty, reserved=Stock.reserved - qty)
                .returning(Stock.on_hand)
                .execution_options(synchronize_session=False)
            )
        ).first()
        return int(row[0]) if row is not None else None

    async def release(self, sku_id: int, qty: int) -> bool:
        """Give back ``qty`` reserved units; True when that many were reserved."""
        result = await self.session.execute(
            update(Stock)
            .where(Stock.sku_id == sku_id, Stock.reserved >= qty)
            .values(reserved=Stock.reserved - qty)
            .execution_options(synchronize_session="evaluate")
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def levels(self, sku_id: int) -> tuple[int, int] | None:
        row = (
            await self.session.execute(select(Stock.on_hand, Stock.reserved).where(Stock.sku_id == sku_id))
        ).first()
        return (row[0], row[1]) if row is not None else None

    def add_movement(
        self, sku_id: int, kind: str, delta: int, on_hand_after: int, reason: str, actor_id: int | None
    ) -> StockMovement:
        movement = StockMovement(
            sku_id=sku_id,
            kind=kind,
            delta=delta,
            on_hand_after=on_hand_after,
            reason=reason[:200],
            actor_id=actor_id,
        )
        self.session.add(movement)
        return movement

    async def insert_movements(self, rows: Sequence[tuple[int, str, int, int, str, int | None]]) -> None:
        """``add_movement`` for several (sku_id, kind, delta, on_hand_after, reason, actor_id) in one INSERT."""
        if not rows:
            return
        await self.session.execute(
            insert(cast(Table, StockMovement.__table__)).values(
                [
                    {
                        "sku_id": sku_id,
                        "kind": kind,
                        "delta": delta,
                        "on_hand_after": on_hand_after,
                        "reason": reason[:200],
                        "actor_id": actor_id,
                    }
                    for sku_id, kind, delta, on_hand_after, reason, actor_id in rows
                ]
            )
        )

    # --- reads ----------------------------------------------------------------------------------------

    async def readable(self, actor: Actor, sku_id: int) -> StockInfo | None:
        """The SKU with its stock if the actor is one of its store's people."""
        row = (
            await self.session.execute(
                select(Sku, Product, Store, Stock.on_hand, Stock.reserved)
                .join(Product, Product.id == Sku.product_id)
                .join(Store, Store.id == Product.store_id)
                .outerjoin(Stock, Stock.sku_id == Sku.id)
                .where(Sku.id == sku_id, Product.store_id.in_(store_ids(actor, "store:read")))
            )
        ).first()
        if row is None:
            return None
        return StockInfo(row[0], row[1], row[2], row[3] or 0, row[4] or 0)

    async def store_rows(self, store_id: int, after: tuple[int, int] | None, limit: int) -> list[StockRow]:
        """Active SKUs of a store, newest product first, variants in their order."""
        stmt = (
            select(Sku, Product.id, Product.title, Product.status, Stock.on_hand, Stock.reserved)
            .join(Product, Product.id == Sku.product_id)
            .outerjoin(Stock, Stock.sku_id == Sku.id)
            .where(Product.store_id == store_id, Sku.is_active)
        )
        if after is not None:
            product_id, sku_id = after
            stmt = stmt.where(or_(Product.id < product_id, and_(Product.id == product_id, Sku.id > sku_id)))
        rows = (await self.session.execute(stmt.order_by(Product.id.desc(), Sku.id).limit(limit))).all()
        return [StockRow(r[0], r[1], r[2], r[3], r[4] or 0, r[5] or 0) for r in rows]

    async def movements(
        self, sku_id: int, before: tuple[datetime, int] | None, limit: int
    ) -> list[MovementRow]:
        """The SKU's stock movements, newest first."""
        stmt = (
            select(StockMovement, User.display_name)
            .outerjoin(User, User.id == StockMovement.actor_id)
            .where(StockMovement.sku_id == sku_id)
        )
        if before is not None:
            at, movement_id = before
            stmt = stmt.where(
                or_(
                    StockMovement.created_at < at,
                    and_(StockMovement.created_at == at, StockMovement.id < movement_id),
                )
            )
        stmt = stmt.order_by(StockMovement.created_at.desc(), StockMovement.id.desc()).limit(limit)
        return [MovementRow(m, name) for m, name in (await self.session.execute(stmt)).all()]

    async def skus_with_movements(self, sku_ids: Sequence[int]) -> set[int]:
        if not sku_ids:
            return set()
        rows = await self.session.scalars(
            select(StockMovement.sku_id).where(StockMovement.sku_id.in_(sku_ids)).distinct()
        )
        return set(rows.all())
