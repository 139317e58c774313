"""Inventory rules: stock per SKU, adjustments with a reason, reservations for orders, and the history every
number can be re-derived from. Flushes, never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import get_store_for, require_user
from souk.catalog.schemas import MAX_STOCK
from souk.db import dialect_of
from souk.errors import Invalid, invalid_field
from souk.inventory.errors import StockBelowReserved, StockNotFound
from souk.inventory.repository import MovementRow, StockInfo, StockRepository, StockRow
from souk.inventory.schemas import StockAdjust
from souk.kit.pagination import clamp_limit, decode_cursor, encode_cursor
from souk.models import Store
from souk.search.indexing import index_products


@dataclass
class MovementPage:
    items: list[MovementRow]
    next_cursor: str | None


@dataclass
class StoreStockPage:
    store: Store
    items: list[StockRow]
    next_cursor: str | None


def _bad_cursor() -> Invalid:
    return invalid_field("cursor", "is not a cursor this API issued")


def _movement_cursor(values: list[Any] | None) -> tuple[datetime, int] | None:
    if values is None:
        return None
    try:
        at, movement_id = values
        moment = datetime.fromisoformat(str(at))
    except (TypeError, ValueError) as exc:
        raise _bad_cursor() from exc
    if not isinstance(movement_id, int) or moment.tzinfo is None:
        raise _bad_cursor()
    return moment, movement_id


def _stock_cursor(values: list[Any] | None) -> tuple[int, int] | None:
    if values is None:
        return None
    if len(values) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise _bad_cursor()
    return values[0], values[1]


class InventoryService:
    # --- used by the catalog when a SKU is created ------------------------------------------------------

    async def initialize(
        self, session: AsyncSession, sku_id: int, on_hand: int, *, actor_id: int | None
    ) -> None:
        """The stock row of a new SKU, with an ``initial`` movement when it starts with units on hand."""
        repo = StockRepository(session)
        await repo.ensure(sku_id)
        if on_hand > 0:
            levels = await repo.adjust(sku_id, on_hand, MAX_STOCK)
            if levels is None:
                raise invalid_field("stock", f"must be at most {MAX_STOCK:,}")
            repo.add_movement(sku_id, "initial", on_hand, levels[0], "initial stock", actor_id)
        await session.flush()

    async def skus_with_history(self, session: AsyncSession, sku_ids: Sequence[int]) -> set[int]:
        """Which of these SKUs have stock movements (and so must be kept, deactivated, not deleted)."""
        return await StockRepository(session).skus_with_movements(sku_ids)

    # --- the seller's view ----------------------------------------------------------------------------

    async def get_stock(self, session: AsyncSession, actor: Actor, sku_id: int) -> StockInfo:
        """The SKU's stock; 404 unless the actor is one of its store's people."""
        require_user(actor)
        info = await StockRepository(session).readable(actor, sku_id)
        if info is None:
            raise StockNotFound()
        return info

    async def adjust(
        self, session: AsyncSession, actor: Actor, sku_id: int, payload: StockAdjust
    ) -> StockInfo:
        """Add or remove units by hand (a count, damage, a delivery), never below the reserved units."""
        info = await self.get_stock(session, actor, sku_id)
        await get_store_for(session, actor, info.product.store_id, "stock:write")
        repo = StockRepository(session)
        await repo.ensure(sku_id)
        levels = await repo.adjust(sku_id, payload.delta, MAX_STOCK)
        if levels is None:
            current = await repo.levels(sku_id) or (0, 0)
            on_hand, reserved = current
            if on_hand + payload.delta < reserved:
                raise StockBelowReserved(
                    code=info.sku.code, on_hand=on_hand, reserved=reserved, delta=payload.delta
                )
            raise invalid_field("delta", f"would leave more than {MAX_STOCK:,} units on hand")
        repo.add_movement(sku_id, "adjustment", payload.delta, levels[0], payload.reason, actor.user_id)
        await session.flush()
        await index_products(session, [info.product.id])
        info.on_hand, info.reserved = levels
        return info

    async def history(
        self,
        session: AsyncSession,
        actor: Actor,
        sku_id: int,
        *,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> MovementPage:
        """The SKU's stock movements, newest first, a page at a time."""
        await self.get_stock(session, actor, sku_id)
        size = clamp_limit(limit)
        before = _movement_cursor(decode_cursor(cursor))
        rows = await StockRepository(session).movements(sku_id, before, size + 1)
        next_cursor = None
        if len(rows) > size:
            rows = rows[:size]
            last = rows[-1].movement
            next_cursor = encode_cursor([last.created_at.isoformat(), last.id])
        return MovementPage(rows, next_cursor)

    async def store_stock(
        self,
        session: AsyncSession,
        actor: Actor,
        store_id: int,
        *,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> StoreStockPage:
        """The store's active SKUs with on hand, reserved and available units."""
        store = await get_store_for(session, actor, store_id, "store:read")
        size = clamp_limit(limit)
        after = _stock_cursor(decode_cursor(cursor))
        rows = await StockRepository(session).store_rows(store.id, after, size + 1)
        next_cursor = None
        if len(rows) > size:
            rows = rows[:size]
            next_cursor = encode_cursor([rows[-1].product_id, rows[-1].sku.id])
        return StoreStockPage(store, rows, next_cursor)

    # --- for checkout: reservations ---------------------------------------------------------------------

    async def reserve(
        self,
        session: AsyncSession,
        sku_id: int,
        qty: int,
        *,
        reason: str = "reserved for an order",
        actor_id: int | None = None,
    ) -> bool:
        """Hold ``qty`` units if that many are available (atomic; never oversells). False when not enough.
        Records a ``reservation`` movement. Callers that reserve several SKUs should go in SKU id order."""
        if qty <= 0:
            raise invalid_field("quantity", "must be at least 1")
        repo = StockRepository(session)
        if not await repo.reserve(sku_id, qty):
            return False
        levels = await repo.levels(sku_id)
        repo.add_movement(sku_id, "reservation", qty, levels[0] if levels else 0, reason, actor_id)
        await session.flush()
        return True

    async def reserve_all(
        self,
        session: AsyncSession,
        items: Sequence[tuple[int, int]],
        *,
        reason: str = "reserved for an order",
        actor_id: int | None = None,
    ) -> tuple[int, int] | None:
        """``reserve`` for several (sku_id, qty), each with its ``reservation`` movement. PostgreSQL: in SKU id
        order (the lock order), one statement per item that reserves and logs together, stopping at the first
        item short of stock. SQLite: the quantities of each SKU added up, all reserved by one conditional UPDATE
        and logged by one INSERT (a movement per SKU). Returns a (sku_id, qty) short of stock (the caller rolls
        back the transaction: whatever was reserved goes with it), None when all are held. Either way the
        number of statements does not grow with the checkout's other rows, and the stock rows are the last
        thing a checkout writes."""
        repo = StockRepository(session)
        if dialect_of(session) == "postgresql":
            # a reservation and its movement per statement: the stock row is locked by the last statement
            for sku_id, qty in sorted(items):
                if qty <= 0:
                    raise invalid_field("quantity", "must be at least 1")
                if not await repo.reserve_logged(sku_id, qty, reason, actor_id):
                    return sku_id, qty
            return None
        # SQLite: the transaction holds the database's write lock from its start (BEGIN IMMEDIATE), so every
        # SKU is reserved by one UPDATE, and the movements follow in one INSERT
        wanted: dict[int, int] = {}
        for sku_id, qty in sorted(items):
            if qty <= 0:
                raise invalid_field("quantity", "must be at least 1")
            wanted[sku_id] = wanted.get(sku_id, 0) + qty
        held = await repo.reserve_many(wanted)
        lacking = next(((sku_id, qty) for sku_id, qty in wanted.items() if sku_id not in held), None)
        if lacking is not None:
            return lacking
        await repo.insert_movements(
            [(sku_id, "reservation", qty, held[sku_id], reason, actor_id) for sku_id, qty in wanted.items()]
        )
        return None

    async def sell_reserved_all(
        self,
        session: AsyncSession,
        lines: Sequence[tuple[int, int, str]],
        *,
        actor_id: int | None = None,
    ) -> tuple[int, int] | None:
        """Turn reserved units into sales (an order paid) for several (sku_id, qty, reason) lines: on hand and
        reserved both go down, each line gets a ``sale`` movement. One conditional UPDATE per SKU (the lines of
        one SKU together), in SKU id order (the lock order, as ``reserve_all``), each reading back the on-hand
        level; the movements in one INSERT, in the lines' order, each showing the level after its line as if
        the lines were sold one by one. Stops at the first SKU with fewer units reserved than its lines and
        returns (sku_id, units); the caller fails the transaction. None when all were sold."""
        repo = StockRepository(session)
        totals: dict[int, int] = {}
        for sku_id, qty, _ in lines:
            if qty <= 0:
                raise invalid_field("quantity", "must be at least 1")
            totals[sku_id] = totals.get(sku_id, 0) + qty
        level: dict[int, int] = {}
        for sku_id in sorted(totals):
            on_hand = await repo.sell_reserved(sku_id, totals[sku_id])
            if on_hand is None:
                return sku_id, totals[sku_id]
            level[sku_id] = on_hand
        movements: list[tuple[int, str, int, int, str, int | None]] = []
        for sku_id, qty, reason in reversed(lines):  # the last line of a SKU leaves its final level
            movements.append((sku_id, "sale", -qty, level[sku_id], reason, actor_id))
            level[sku_id] += qty
        movements.reverse()
        await repo.insert_movements(movements)
        return None

    async def release(
        self,
        session: AsyncSession,
        sku_id: int,
        qty: int,
        *,
        reason: str = "reservation released",
        actor_id: int | None = None,
    ) -> bool:
        """Give back ``qty`` reserved units (an unpaid or cancelled order). False when fewer are reserved."""
        if qty <= 0:
            raise invalid_field("quantity", "must be at least 1")
        repo = StockRepository(session)
        if not await repo.release(sku_id, qty):
            return False
        levels = await repo.levels(sku_id)
        repo.add_movement(sku_id, "release", -qty, levels[0] if levels else 0, reason, actor_id)
        await session.flush()
        return True


inventory_service = InventoryService()
