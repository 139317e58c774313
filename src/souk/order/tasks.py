"""The order timers (DOMAIN.md "Timers"), swept by the worker. Each finds the rows whose deadline has passed,
claims a batch (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and applies the transition through the order service,
which re-checks the state: a row handled twice changes once.

- ``order.close_unpaid``: an order not paid by ``pay_by`` closes and its reserved stock is released (an order
  whose payment the provider is still confirming gets ``PROCESSING_GRACE`` more);
- ``order.seller_late``: a paid seller order (a sourcing contract's: from its deposit on) not shipped by
  ``ship_by`` is marked late; the buyer may cancel it for a full refund of what was paid at once;
- ``order.auto_confirm``: a shipped seller order whose ``auto_confirm_at`` passed completes and its escrow is
  released (a paused timer has no ``auto_confirm_at``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.models import Order, Payment, SellerOrder
from souk.order.service import UNSHIPPED_PAID, order_service
from souk.worker.timers import claim_due, timer

# an order whose payment is being confirmed is not closed until this long after its pay_by
PROCESSING_GRACE = timedelta(hours=1)


@timer("order.close_unpaid", every_seconds=30)
async def close_unpaid(session: AsyncSession, now: datetime) -> int:
    due = await claim_due(
        session,
        select(Order)
        .outerjoin(Payment, Payment.id == Order.payment_id)
        .where(
            Order.status == "pending_payment",
            Order.pay_by <= now,
            # a sourcing contract's order has no order payment (its milestones are paid one by one)
            Order.payment_id.is_not(None),
            or_(
                Payment.id.is_(None),
                Payment.status != "processing",
                Order.pay_by <= now - PROCESSING_GRACE,
            ),
        )
        .order_by(Order.pay_by, Order.id),
        of=Order,
    )
    closed = 0
    for order in due:
        if await order_service.close_unpaid(session, order.id, now=now):
            closed += 1
    return closed


@timer("order.seller_late", every_seconds=60)
async def mark_seller_late(session: AsyncSession, now: datetime) -> int:
    due = await claim_due(
        session,
        select(SellerOrder)
        .where(
            SellerOrder.status.in_(UNSHIPPED_PAID),
            SellerOrder.shipped_at.is_(None),
            SellerOrder.ship_by <= now,
            SellerOrder.seller_late_at.is_(None),
        )
        .order_by(SellerOrder.ship_by, SellerOrder.id),
    )
    marked = 0
    for so in due:
        if await order_service.mark_seller_late(session, so.id, now=now):
            marked += 1
    return marked


@timer("order.auto_confirm", every_seconds=60)
async def auto_confirm(session: AsyncSession, now: datetime) -> int:
    due = await claim_due(
        session,
        select(SellerOrder)
        .where(
            and_(
                SellerOrder.status == "shipped",
                SellerOrder.auto_confirm_at.is_not(None),
                SellerOrder.auto_confirm_at <= now,
            )
        )
        .order_by(SellerOrder.auto_confirm_at, SellerOrder.id),
    )
    confirmed = 0
    for so in due:
        if await order_service.auto_confirm(session, so.id, now=now):
            confirmed += 1
    return confirmed
