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

    async def insert_lines(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(_table(OrderLine)), list(rows))

    async def insert_events(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(_table(OrderEvent)), list(rows))
