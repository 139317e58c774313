"""Payment invariants for ``souk audit``: refunds add up and statuses agree with them."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.audit import capped, check
from souk.models import Payment, PaymentRefund


@check("payment.refunds_match")
async def refunds_match(session: AsyncSession) -> list[str]:
    """Each payment's refunded amount is the sum of its refunds and never more than was paid; a payment is
    ``refunded`` exactly when all of it was refunded; refunds only exist on payments that succeeded."""
    refunded = (
        select(PaymentRefund.payment_id, func.sum(PaymentRefund.amount).label("total"))
        .group_by(PaymentRefund.payment_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            Payment.id, Payment.status, Payment.amount, Payment.refunded_amount, refunded.c.total
        ).outerjoin(refunded, refunded.c.payment_id == Payment.id)
    )
    found = []
    for payment_id, status, amount, refunded_amount, total in rows:
        total = int(total or 0)
        if total != refunded_amount:
            found.append(
                f"payment #{payment_id} says {refunded_amount} refunded but its refunds sum to {total}"
            )
        if refunded_amount > amount:
            found.append(f"payment #{payment_id} refunded {refunded_amount}, more than its {amount}")
        if (status == "refunded") != (refunded_amount == amount and amount > 0):
            found.append(f"payment #{payment_id} is {status} with {refunded_amount} of {amount} refunded")
        if total and status not in ("succeeded", "refunded"):
            found.append(f"payment #{payment_id} is {status} but has refunds")
    return capped(found)
