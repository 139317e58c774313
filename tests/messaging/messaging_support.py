"""Helpers shared by the messaging tests (imported as `messaging_support`: tests/messaging is on sys.path)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.factories import actor_of
from souk.auth.actor import Actor
from souk.models import Conversation, Message, Product, Store, User


@dataclass
class Shop:
    """A market store with its owner, one published product, and a buyer."""

    owner: User
    store: Store
    product: Product
    buyer: User

    @property
    def seller(self) -> Actor:
        return actor_of(self.owner)

    @property
    def customer(self) -> Actor:
        return actor_of(self.buyer)


async def make_shop(
    user_factory: Callable[..., Awaitable[User]],
    store_factory: Callable[..., Awaitable[Store]],
    product_factory: Callable[..., Awaitable[Product]],
    **store_kw: Any,
) -> Shop:
    owner = await user_factory(display_name="Mei the potter")
    store = await store_factory(owner=owner, name="Clay Corner", **store_kw)
    product = await product_factory(store, title="Stoneware mug")
    buyer = await user_factory(display_name="Ali Buyer")
    return Shop(owner, store, product, buyer)


async def message_count(session: AsyncSession, conversation_id: int | None = None) -> int:
    stmt = select(func.count()).select_from(Message)
    if conversation_id is not None:
        stmt = stmt.where(Message.conversation_id == conversation_id)
    return int(await session.scalar(stmt) or 0)


async def conversation_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Conversation)) or 0)
