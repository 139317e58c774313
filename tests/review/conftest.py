"""Completed seller orders to review: a buyer who bought from one store, the order shipped and received."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.orders import Market, seller_orders, ship
from souk.auth.actor import Actor
from souk.cart.service import cart_service
from souk.models import OrderLine
from souk.order.service import order_service


@dataclass(frozen=True)
class Bought:
    """One completed seller order (plain ids)."""

    market: Market
    order_id: int
    seller_order_id: int
    line_id: int
    product_id: int
    store_id: int

    @property
    def buyer(self) -> Actor:
        return self.market.actor

    @property
    def seller(self) -> Actor:
        return self.market.seller_of(self.store_id)


@pytest.fixture
def bought(
    session: AsyncSession, market: Callable[..., Awaitable[Market]], buy: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Bought]]:
    """``await bought()``: a new buyer's completed order from a new store; ``await bought(m)`` buys the same SKU
    again from the store of ``m`` (same buyer, same store). ``complete=False`` leaves it shipped."""

    async def make(m: Market | None = None, *, complete: bool = True) -> Bought:
        if m is None:
            m = await market(prices=(2990,), qty=(1,), kinds=("express",), shipping=(490,), stock=50)
        else:
            await cart_service.add(session, m.actor, None, m.sku_ids[0], 1)
        order = await buy(m)
        so = (await seller_orders(session, order.id))[0]
        so_id, store_id = so.id, so.store_id
        await ship(session, m, so)
        if complete:
            await order_service.confirm_receipt(session, m.actor, order.id, so_id)
        line = await session.scalar(select(OrderLine).where(OrderLine.seller_order_id == so_id))
        assert line is not None
        return Bought(m, order.id, so_id, line.id, line.product_id, store_id)

    return make
