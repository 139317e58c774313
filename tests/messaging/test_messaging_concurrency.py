"""Threads and unread counts under real parallel transactions (PostgreSQL only; the per-test transaction is
invisible to other connections, so the rows are committed and cleaned up here)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from fixtures.core import is_postgres
from fixtures.shops import market_store
from souk.auth.actor import Actor
from souk.messaging.service import messaging_service
from souk.models import Conversation, Message, Store, User
from souk.models.notification import Notification

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not is_postgres(), reason="needs real parallel PostgreSQL connections: set SOUK_TEST_DATABASE_URL"
    ),
]


@pytest.fixture
async def committed_pair(engine: AsyncEngine) -> AsyncIterator[tuple[int, int, int]]:
    """(store id, its owner's id, a buyer's id), committed so that every connection sees them."""
    tag = secrets.token_hex(4)
    async with AsyncSession(engine, expire_on_commit=False) as s:
        owner = User(email=f"owner-{tag}@example.com", password_hash="x", display_name="Owner")
        buyer = User(email=f"buyer-{tag}@example.com", password_hash="x", display_name="Buyer")
        s.add_all([owner, buyer])
        await s.flush()
        store = await market_store(s, owner.id, f"chat-{tag}", "Chat store")
        await s.commit()
        ids = (store.id, owner.id, buyer.id)
    try:
        yield ids
    finally:
        store_id, owner_id, buyer_id = ids
        async with AsyncSession(engine) as s:
            await s.execute(delete(Notification).where(Notification.user_id.in_([owner_id, buyer_id])))
            conversations = select(Conversation.id).where(Conversation.store_id == store_id)
            await s.execute(delete(Message).where(Message.conversation_id.in_(conversations)))
            await s.execute(delete(Conversation).where(Conversation.store_id == store_id))
            await s.execute(delete(Store).where(Store.id == store_id))
            await s.execute(delete(User).where(User.id.in_([owner_id, buyer_id])))
            await s.commit()


async def _open(engine: AsyncEngine, store_id: int, buyer_id: int, gate: asyncio.Event) -> int:
    async with AsyncSession(engine, expire_on_commit=False) as s, s.begin():
        await gate.wait()
        conversation = await messaging_service.open_thread(
            s,
            Actor(user_id=buyer_id),
            store_id=store_id,
            buyer_user_id=buyer_id,
            subject_type="seller_order",
            subject_id=7,
            title="Order SO-7",
        )
        return conversation.id


async def _post(engine: AsyncEngine, conversation_id: int, buyer_id: int, n: int) -> None:
    async with AsyncSession(engine, expire_on_commit=False) as s, s.begin():
        await messaging_service.post(
            s, Actor(user_id=buyer_id, display_name="Buyer"), conversation_id, f"m{n}"
        )


async def test_racing_open_thread_makes_one_conversation(
    engine: AsyncEngine, committed_pair: tuple[int, int, int]
) -> None:
    store_id, _, buyer_id = committed_pair
    gate = asyncio.Event()
    tasks = [asyncio.create_task(_open(engine, store_id, buyer_id, gate)) for _ in range(8)]
    await asyncio.sleep(0.05)
    gate.set()
    ids = await asyncio.gather(*tasks)
    assert len(set(ids)) == 1
    async with AsyncSession(engine) as s:
        count = await s.scalar(select(func.count()).where(Conversation.store_id == store_id))
    assert count == 1


async def test_parallel_messages_are_all_counted(
    engine: AsyncEngine, committed_pair: tuple[int, int, int]
) -> None:
    store_id, owner_id, buyer_id = committed_pair
    gate = asyncio.Event()
    gate.set()
    cid = await _open(engine, store_id, buyer_id, gate)
    await asyncio.gather(*(_post(engine, cid, buyer_id, n) for n in range(10)))
    async with AsyncSession(engine) as s:
        conversation = await s.get(Conversation, cid)
        assert conversation is not None
        assert (conversation.message_count, conversation.seller_unread_count) == (10, 10)
        notified = await s.scalar(select(func.count()).where(Notification.user_id == owner_id))
    assert notified == 1
