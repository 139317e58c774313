"""The demo's buying activity: built with the small demo on the test's transaction, through the real services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.demo import OPERATOR, DemoSize, build_demo
from souk.demo.activity import build_activity
from souk.demo.parties import BUYER, MARKET_STORES
from souk.dispute.service import dispute_service
from souk.kit.clock import as_utc, utcnow
from souk.ledger import accounts
from souk.ledger.service import ledger_service
from souk.models import (
    Conversation,
    Dispute,
    Message,
    Order,
    Payment,
    Review,
    SellerOrder,
    Shipment,
    Store,
    User,
)


async def _user_id(session: AsyncSession, email: str) -> int:
    found = await session.scalar(select(User.id).where(User.email == email))
    assert found is not None
    return int(found)


async def test_demo_has_orders_in_every_state_reviews_disputes_and_an_inquiry(
    session: AsyncSession,
    tmp_path: Path,
    assert_ledger_balanced: Callable[[AsyncSession], Awaitable[None]],
) -> None:
    await build_demo(session, tmp_path, password_hash="not-a-real-hash", size=DemoSize.small)
    await session.flush()
    # the clock is back where it was
    assert abs(utcnow() - datetime.now(UTC)) < timedelta(minutes=1)

    buyer_id = await _user_id(session, BUYER.email)
    states = dict(
        (
            await session.execute(
                select(SellerOrder.status, func.count())
                .where(SellerOrder.buyer_id == buyer_id)
                .group_by(SellerOrder.status)
            )
        ).all()
    )
    # the shop orders, and the sourcing story's contract order (deposit paid, in production)
    assert states == {
        "pending_payment": 1,
        "paid": 2,
        "shipped": 4,
        "completed": 3,
        "cancelled": 1,
        "in_production": 1,
    }
    assert await session.scalar(select(func.count()).select_from(Order)) == 13

    # the order waiting for payment: its card was declined by the simulated provider
    waiting = (await session.execute(select(Order).where(Order.status == "pending_payment"))).scalar_one()
    payment = await session.get(Payment, waiting.payment_id)
    assert payment is not None and payment.status == "failed" and payment.failure_code == "card_declined"
    assert as_utc(waiting.pay_by) > utcnow()

    # shipped and completed orders have a tracking number; completed ones were confirmed days ago
    shipped = (
        await session.scalars(select(SellerOrder.id).where(SellerOrder.status.in_(("shipped", "completed"))))
    ).all()
    tracked = (await session.scalars(select(Shipment.seller_order_id))).all()
    assert set(shipped) == set(tracked) and len(shipped) == 8
    completed = (await session.scalars(select(SellerOrder).where(SellerOrder.status == "completed"))).all()
    for so in completed:
        assert so.completed_at is not None and so.shipped_at is not None and so.paid_at is not None
        assert (
            as_utc(so.paid_at)
            < as_utc(so.shipped_at)
            < as_utc(so.completed_at)
            < utcnow() - timedelta(days=5)
        )

    # escrow released: the market seller has an available balance
    store = (await session.execute(select(Store).where(Store.name == MARKET_STORES[0].name))).scalar_one()
    assert await ledger_service.balance(session, accounts.payable(store.id), store.currency) > 0
    cancelled = (
        await session.execute(select(SellerOrder).where(SellerOrder.status == "cancelled"))
    ).scalar_one()
    refunded = await session.get(Payment, (await session.get(Order, cancelled.order_id)).payment_id)  # type: ignore[union-attr]
    assert refunded is not None and refunded.status == "refunded"

    # reviews with store ratings, one answered by the seller
    reviews = (await session.scalars(select(Review))).all()
    assert len(reviews) == 3
    assert sum(1 for r in reviews if r.reply_text) == 1
    assert {r.rating for r in reviews} <= {4, 5}

    # a refund request waiting for the seller, and one dispute in the operators' queue
    disputes = dict(
        (await session.execute(select(Dispute.status, func.count()).group_by(Dispute.status))).all()
    )
    assert disputes == {"awaiting_seller": 1, "escalated": 1}
    operator = Actor(user_id=await _user_id(session, OPERATOR.email), is_operator=True)
    queue = await dispute_service.list_for_operator(session, operator)
    assert len(queue) == 1 and queue[0].status == "escalated" and queue[0].store_id == store.id

    # an inquiry about a product, answered by the seller
    conversation = (await session.execute(select(Conversation))).scalar_one()
    assert conversation.subject_type == "product" and conversation.buyer_user_id == buyer_id
    sides = (
        await session.scalars(
            select(Message.sender_side).where(Message.conversation_id == conversation.id).order_by(Message.id)
        )
    ).all()
    assert list(sides) == ["buyer", "seller"]

    await assert_ledger_balanced(session)

    # written once: a second run finds the buyer's orders and adds nothing
    assert await build_activity(session) is None
    assert await session.scalar(select(func.count()).select_from(Order)) == 13
