"""The checkout's own SQL. The writes of placing an order that go in batches: every seller order of the checkout
in one INSERT (numbered by the database), all their lines in one INSERT and their "placed" events in one INSERT,
however many stores and lines the cart has. No rules, no commit.

The batches are executed as ``session.execute(insert(table), rows)``, not ``insert(table).values(rows)``:
SQLAlchemy sends the same single multi-row INSERT either way ("insertmanyvalues"), but only the first form is
compiled once and cached; a statement built with ``values(list)`` is compiled again on every call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from typing import cast as typed

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.models import Order, OrderEvent, OrderLine, Payment, SellerOrder


def _table(model: type[Any]) -> Table:
    return typed(Table, model.__table__)


async def order_with_payment(session: AsyncSession, order_id: int) -> tuple[Order, Payment | None] | None:
    """The order and its payment, read fresh (not from the session's identity map), in one statement."""
    row = (
        await session.execute(
            select(Order, Payment)
            .outerjoin(Payment, Payment.id == Order.payment_id)
            .where(Order.id == order_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


class PlacingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_seller_orders(self, rows: Sequence[dict[str, Any]]) -> dict[int, int]:
        """Insert the seller orders of an order (one per store) in one statement (the database numbers them
        ``SO-<id + offset>``: ``souk.models.order.SELLER_ORDER_NUMBER_*``); {store_id: seller order id}."""
        table = _table(SellerOrder)
        result = await self.session.execute(insert(table).returning(table.c.id, table.c.store_id), list(rows))
        return {int(store_id): int(so_id) for so_id, store_id in result.all()}

    async def insert_lines(self, rows: Sequence[dict[str, Any]]) -> list[OrderLine]:
        """The lines in one INSERT, given back as loaded objects (``RETURNING``) in the order a read gives
        them (seller order, id): the checkout's answer is built from them instead of reading them again.
        (``sort_by_parameter_order`` is not asked for: on SQLite it sends one INSERT per row.)"""
        if not rows:
            return []
        lines = (await self.session.scalars(insert(OrderLine).returning(OrderLine), list(rows))).all()
        return sorted(lines, key=lambda line: (line.seller_order_id, line.id))

    async def insert_events(self, rows: Sequence[dict[str, Any]]) -> list[OrderEvent]:
        """The events in one INSERT, given back as loaded objects in timeline order, like ``insert_lines``."""
        if not rows:
            return []
        events = (await self.session.scalars(insert(OrderEvent).returning(OrderEvent), list(rows))).all()
        return sorted(events, key=lambda e: (e.seller_order_id, e.created_at, e.id))
