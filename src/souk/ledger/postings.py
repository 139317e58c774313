"""The postings of each business event (DOMAIN.md "Money: ledger postings per business event").

Amounts are credit-positive (see ``souk.ledger``). Each function returns balanced postings for
``ledger_service.post``; the caller picks the idempotency key (one per event, e.g. ``f"so:{id}:captured"``) and
the reference::

    await ledger_service.post(
        session, key=f"so:{so.id}:captured", kind="payment_captured",
        postings=payment_captured(so.id, so.store_id, Money(so.total_amount, so.currency)),
        reference=("seller_order", so.id), memo=f"Order SO-{so.id} paid",
    )
"""

from __future__ import annotations

from dataclasses import dataclass

from souk.kit.money import Money, allocate
from souk.ledger import accounts

BPS_WHOLE = 10_000


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    amount: int  # minor units; credit positive, debit negative
    currency: str


def commission_split(amount: int, commission_bps: int) -> tuple[int, int]:
    """(fee, payable) of ``amount`` at ``commission_bps`` basis points, split by largest remainder so that
    fee + payable == amount exactly."""
    _positive(amount)
    if isinstance(commission_bps, bool) or not isinstance(commission_bps, int):
        raise TypeError("commission_bps must be an int")
    if not 0 <= commission_bps <= BPS_WHOLE:
        raise ValueError(f"commission_bps must be between 0 and {BPS_WHOLE}")
    fee, rest = allocate(amount, [commission_bps, BPS_WHOLE - commission_bps])
    return fee, rest


def payment_captured(seller_order_id: int, store_id: int, amount: Money) -> list[Posting]:
    """A seller order's share of a captured payment goes into its escrow."""
    _positive(amount.amount)
    return [
        Posting(accounts.PSP_CLEARING, -amount.amount, amount.currency),
        Posting(accounts.escrow(store_id, seller_order_id), amount.amount, amount.currency),
    ]


def escrow_released(seller_order_id: int, store_id: int, amount: Money, commission_bps: int) -> list[Posting]:
    """Receipt confirmed: ``amount`` leaves escrow, the platform keeps its commission, the rest becomes the
    store's available balance."""
    fee, net = commission_split(amount.amount, commission_bps)
    postings = [Posting(accounts.escrow(store_id, seller_order_id), -amount.amount, amount.currency)]
    if net:
        postings.append(Posting(accounts.payable(store_id), net, amount.currency))
    if fee:
        postings.append(Posting(accounts.COMMISSION, fee, amount.currency))
    return postings


def refund_before_release(seller_order_id: int, store_id: int, amount: Money) -> list[Posting]:
    """A refund paid from the seller order's escrow back through the payment provider."""
    _positive(amount.amount)
    return [
        Posting(accounts.escrow(store_id, seller_order_id), -amount.amount, amount.currency),
        Posting(accounts.PSP_CLEARING, amount.amount, amount.currency),
    ]


def refund_after_release(store_id: int, amount: Money) -> list[Posting]:
    """A refund after escrow was released, clawed back from the store's payable balance (which may go
    negative)."""
    _positive(amount.amount)
    return [
        Posting(accounts.payable(store_id), -amount.amount, amount.currency),
        Posting(accounts.PSP_CLEARING, amount.amount, amount.currency),
    ]


def payout(store_id: int, amount: Money) -> list[Posting]:
    """A payout requested: the store's available balance moves to payouts on their way."""
    _positive(amount.amount)
    return [
        Posting(accounts.payable(store_id), -amount.amount, amount.currency),
        Posting(accounts.PAYOUT_CLEARING, amount.amount, amount.currency),
    ]


def payout_paid(amount: Money) -> list[Posting]:
    """The payout provider sent the money: it leaves the provider's balance."""
    _positive(amount.amount)
    return [
        Posting(accounts.PAYOUT_CLEARING, -amount.amount, amount.currency),
        Posting(accounts.PSP_CLEARING, amount.amount, amount.currency),
    ]


def payout_failed(store_id: int, amount: Money) -> list[Posting]:
    """The payout provider could not pay: the amount returns to the store's available balance."""
    _positive(amount.amount)
    return [
        Posting(accounts.PAYOUT_CLEARING, -amount.amount, amount.currency),
        Posting(accounts.payable(store_id), amount.amount, amount.currency),
    ]


def _positive(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("amounts are ints of minor units")
    if amount <= 0:
        raise ValueError(f"amount must be positive, not {amount}")
