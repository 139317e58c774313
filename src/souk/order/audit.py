"""Order and stock invariants for ``souk audit``:

- ``order.escrow_settled``: the escrow of every completed, cancelled or refunded seller order is zero, and the
  escrow of every paid or shipped one holds exactly its total less what partial refunds (disputes) paid back (a
  sourcing contract's order: the milestones paid so far, also while in production or awaiting the balance);
- ``order.milestones_have_payments_and_entries``: every paid or refunded milestone has its succeeded (or
  refunded) payment of its amount and its ``payment_captured`` entry; a refunded one its refund entry;
- ``order.paid_have_payment_and_entries``: every seller order that was paid has its order's succeeded payment
  (of the order's total) and its ``payment_captured`` entry; a completed one its ``escrow_released`` entry; a
  paid order that was cancelled its refund;
- ``inventory.stock_matches_movements``: each SKU's on-hand and reserved units equal what its stock movements add
  up to (on hand: initial, adjustments, sales, returns; reserved: reservations, releases, sales).
"""

from __future__ import annotations

from sqlalchemy import String, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.audit import MAX_REPORTED, capped, check
from souk.kit.money import format_money, is_currency
from souk.models import (
    Dispute,
    LedgerEntry,
    LedgerPosting,
    Order,
    Payment,
    PaymentMilestone,
    SellerOrder,
    Stock,
    StockMovement,
)

CLOSED = ("completed", "cancelled", "refunded")
# statuses whose escrow holds money (a sourcing contract's order: the milestones paid so far)
HOLDING = ("paid", "shipped", "in_production", "awaiting_balance", "awaiting_deposit")


def _has_milestones():  # type: ignore[no-untyped-def]
    return select(PaymentMilestone.id).where(PaymentMilestone.seller_order_id == SellerOrder.id).exists()


def _money(amount: int, currency: str) -> str:
    return format_money(amount, currency) if is_currency(currency) else f"{amount} {currency}"


def _escrow_account():  # type: ignore[no-untyped-def]
    return (
        literal("escrow:store:")
        + cast(SellerOrder.store_id, String)
        + literal(":so:")
        + cast(SellerOrder.id, String)
    )


def _key(suffix: str):  # type: ignore[no-untyped-def]
    return literal("so:") + cast(SellerOrder.id, String) + literal(suffix)


@check("order.escrow_settled")
async def escrow_settled(session: AsyncSession) -> list[str]:
    balance = func.coalesce(func.sum(LedgerPosting.amount), 0)
    partly_refunded = (
        select(func.coalesce(func.sum(Dispute.resolved_amount), 0))
        .where(Dispute.seller_order_id == SellerOrder.id, Dispute.outcome == "refund_partial")
        .scalar_subquery()
    )
    milestones_paid = (
        select(func.coalesce(func.sum(PaymentMilestone.amount), 0))
        .where(PaymentMilestone.seller_order_id == SellerOrder.id, PaymentMilestone.status == "paid")
        .scalar_subquery()
    )
    held_expected = (
        case((_has_milestones(), milestones_paid), else_=SellerOrder.total_amount) - partly_refunded
    )
    rows = (
        await session.execute(
            select(
                SellerOrder.number,
                SellerOrder.status,
                held_expected,
                SellerOrder.currency,
                balance,
            )
            .outerjoin(
                LedgerPosting,
                (LedgerPosting.account == _escrow_account())
                & (LedgerPosting.currency == SellerOrder.currency),
            )
            .where(SellerOrder.status.in_(CLOSED + HOLDING))
            .group_by(SellerOrder.id, SellerOrder.number, SellerOrder.status, SellerOrder.total_amount)
            .having(balance != case((SellerOrder.status.in_(HOLDING), held_expected), else_=literal(0)))
            .order_by(SellerOrder.id)
            .limit(MAX_REPORTED + 1)
        )
    ).all()
    found = []
    for number, status, total, currency, held in rows:
        expected = int(total) if status in HOLDING else 0
        found.append(
            f"{number} is {status} but its escrow holds {_money(int(held), currency)} "
            f"(expected {_money(expected, currency)})"
        )
    return capped(found)


async def _missing_entries(session: AsyncSession, suffix: str, condition, what: str) -> list[str]:  # type: ignore[no-untyped-def]
    rows = (
        await session.scalars(
            select(SellerOrder.number)
            .outerjoin(LedgerEntry, LedgerEntry.idempotency_key == _key(suffix))
            .where(condition, LedgerEntry.id.is_(None))
            .order_by(SellerOrder.id)
            .limit(MAX_REPORTED + 1)
        )
    ).all()
    return [f"{number} {what}" for number in rows]


@check("order.paid_have_payment_and_entries")
async def paid_have_payment_and_entries(session: AsyncSession) -> list[str]:
    # a sourcing contract's order is paid by milestones (``order.milestones_have_payments_and_entries``)
    was_paid = SellerOrder.paid_at.is_not(None) & ~_has_milestones()
    found = await _missing_entries(
        session, ":captured", was_paid, "was paid but has no payment_captured ledger entry"
    )
    found += await _missing_entries(
        session,
        ":released",
        SellerOrder.status == "completed",
        "is completed but its escrow was never released (no escrow_released entry)",
    )
    found += await _missing_entries(
        session,
        ":refund:cancel",
        was_paid & (SellerOrder.status == "cancelled"),
        "was paid and cancelled but has no refund entry",
    )
    payments = (
        await session.execute(
            select(Order.id, Order.total_amount, Order.currency, Payment.status, Payment.amount)
            .select_from(Order)
            .outerjoin(Payment, Payment.id == Order.payment_id)
            .where(Order.paid_at.is_not(None))
            .where(
                Order.payment_id.is_not(None)
                | ~select(SellerOrder.id)
                .join(PaymentMilestone, PaymentMilestone.seller_order_id == SellerOrder.id)
                .where(SellerOrder.order_id == Order.id)
                .exists()
            )
            .where(
                (Payment.id.is_(None))
                | Payment.status.not_in(("succeeded", "refunded"))
                | (Payment.amount != Order.total_amount)
            )
            .order_by(Order.id)
            .limit(MAX_REPORTED + 1)
        )
    ).all()
    for order_id, total, currency, status, amount in payments:
        if status is None:
            found.append(f"order #{order_id} is paid but has no payment")
        else:
            found.append(
                f"order #{order_id} is paid but its payment is {status} for {_money(int(amount), currency)} "
                f"(the order's total is {_money(int(total), currency)})"
            )
    return capped(found)


@check("order.milestones_have_payments_and_entries")
async def milestones_have_payments_and_entries(session: AsyncSession) -> list[str]:
    captured = (
        select(LedgerEntry.id)
        .where(
            LedgerEntry.idempotency_key
            == literal("so:")
            + cast(PaymentMilestone.seller_order_id, String)
            + literal(":captured:")
            + PaymentMilestone.kind
        )
        .exists()
    )
    refunded = (
        select(LedgerEntry.id)
        .where(
            LedgerEntry.idempotency_key
            == literal("so:")
            + cast(PaymentMilestone.seller_order_id, String)
            + literal(":refund:cancel:")
            + PaymentMilestone.kind
        )
        .exists()
    )
    rows = (
        await session.execute(
            select(
                SellerOrder.number,
                PaymentMilestone.kind,
                PaymentMilestone.status,
                PaymentMilestone.amount,
                PaymentMilestone.currency,
                Payment.status,
                Payment.amount,
                captured,
                refunded,
            )
            .join(SellerOrder, SellerOrder.id == PaymentMilestone.seller_order_id)
            .outerjoin(Payment, Payment.id == PaymentMilestone.payment_id)
            .where(PaymentMilestone.status.in_(("paid", "refunded")))
            .order_by(PaymentMilestone.id)
        )
    ).all()
    found = []
    for number, kind, status, amount, currency, paid_status, paid_amount, has_capture, has_refund in rows:
        if paid_status not in ("succeeded", "refunded") or paid_amount != amount:
            found.append(
                f"{number}'s {kind} is {status} but its payment is {paid_status or 'missing'} "
                f"(expected {_money(int(amount), currency)})"
            )
        if not has_capture:
            found.append(f"{number}'s {kind} is {status} but has no payment_captured ledger entry")
        if status == "refunded" and not has_refund:
            found.append(f"{number}'s {kind} is refunded but has no refund ledger entry")
    return capped(found)


ON_HAND_KINDS = ("initial", "adjustment", "sale", "return")
RESERVED_KINDS = ("reservation", "release", "sale")


@check("inventory.stock_matches_movements")
async def stock_matches_movements(session: AsyncSession) -> list[str]:
    on_hand = func.coalesce(
        func.sum(case((StockMovement.kind.in_(ON_HAND_KINDS), StockMovement.delta), else_=literal(0))), 0
    )
    reserved = func.coalesce(
        func.sum(case((StockMovement.kind.in_(RESERVED_KINDS), StockMovement.delta), else_=literal(0))), 0
    )
    rows = (
        await session.execute(
            select(Stock.sku_id, Stock.on_hand, Stock.reserved, on_hand, reserved)
            .outerjoin(StockMovement, StockMovement.sku_id == Stock.sku_id)
            .group_by(Stock.sku_id, Stock.on_hand, Stock.reserved)
            .having((on_hand != Stock.on_hand) | (reserved != Stock.reserved))
            .order_by(Stock.sku_id)
            .limit(MAX_REPORTED + 1)
        )
    ).all()
    return capped(
        f"SKU #{sku_id} has {have_on_hand} on hand and {have_reserved} reserved, but its movements add up to "
        f"{int(moved_on_hand)} on hand and {int(moved_reserved)} reserved"
        for sku_id, have_on_hand, have_reserved, moved_on_hand, moved_reserved in rows
    )
