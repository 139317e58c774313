"""Ledger invariants for ``souk audit``: entries balance, accounts that may not go negative are not, and the
cached balances equal the sums of their postings."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.audit import MAX_REPORTED, capped, check
from souk.kit.money import format_money, is_currency
from souk.ledger import accounts
from souk.models import AccountBalance, LedgerEntry, LedgerPosting


def _money(amount: int, currency: str) -> str:
    return format_money(amount, currency, "en_001") if is_currency(currency) else f"{amount} {currency}"


@check("ledger.entries_balance")
async def entries_balance(session: AsyncSession) -> list[str]:
    """Every entry's postings sum to zero in each currency, and every entry has postings."""
    total = func.sum(LedgerPosting.amount)
    rows = (
        await session.execute(
            select(LedgerPosting.entry_id, LedgerPosting.currency, total)
            .group_by(LedgerPosting.entry_id, LedgerPosting.currency)
            .having(total != 0)
            .order_by(LedgerPosting.entry_id)
            .limit(MAX_REPORTED + 1)
        )
    ).all()
    found = [
        f"entry #{entry_id} does not balance: its {currency} postings sum to {int(amount):+d}"
        for entry_id, currency, amount in rows
    ]
    empty = (
        await session.scalars(
            select(LedgerEntry.id)
            .outerjoin(LedgerPosting, LedgerPosting.entry_id == LedgerEntry.id)
            .where(LedgerPosting.id.is_(None))
            .order_by(LedgerEntry.id)
            .limit(MAX_REPORTED + 1)
        )
    ).all()
    found += [f"entry #{entry_id} has no postings" for entry_id in empty]
    return capped(found)


async def _posted_sums(session: AsyncSession) -> list[tuple[str, str, int]]:
    rows = await session.execute(
        select(LedgerPosting.account, LedgerPosting.currency, func.sum(LedgerPosting.amount)).group_by(
            LedgerPosting.account, LedgerPosting.currency
        )
    )
    return [(r[0], r[1], int(r[2] or 0)) for r in rows]


@check("ledger.accounts_not_negative")
async def accounts_not_negative(session: AsyncSession) -> list[str]:
    """No account that may not go negative is negative: escrows, the platform's commission, payouts on their
    way, and the provider's balance (``psp_clearing``, which may not hold less than nothing). Only a store's
    payable balance may go negative (a claw-back)."""
    found = []
    for name, currency, total in await _posted_sums(session):
        try:
            account = accounts.parse(name)
        except ValueError:
            found.append(f"postings on {name!r}, which is not a ledger account")
            continue
        natural = account.natural_balance(total)
        if natural < 0 and not account.may_go_negative:
            found.append(f"{name} is negative: {_money(natural, currency)}")
    negative_rows = await session.execute(
        select(AccountBalance.account, AccountBalance.currency, AccountBalance.balance).where(
            AccountBalance.kind == "escrow", AccountBalance.balance < 0
        )
    )
    found += [
        f"cached balance of {account} is negative: {_money(int(balance), currency)}"
        for account, currency, balance in negative_rows
    ]
    return capped(found)


@check("ledger.cached_balances_match")
async def cached_balances_match(session: AsyncSession) -> list[str]:
    """Each per-store and per-seller-order account's cached balance equals the sum of its postings."""
    posted: dict[tuple[str, str], int] = {}
    for name, currency, total in await _posted_sums(session):
        try:
            if accounts.parse(name).cached:
                posted[(name, currency)] = total
        except ValueError:
            continue  # reported by ledger.accounts_not_negative
    found = []
    rows = await session.execute(
        select(
            AccountBalance.account, AccountBalance.currency, AccountBalance.balance, AccountBalance.store_id
        )
    )
    cached: set[tuple[str, str]] = set()
    for name, currency, balance, store_id in rows:
        cached.add((name, currency))
        expected = posted.get((name, currency), 0)
        if int(balance) != expected:
            found.append(
                f"{name} caches {_money(int(balance), currency)} but its postings sum to "
                f"{_money(expected, currency)}"
            )
        try:
            owner = accounts.parse(name).store_id
        except ValueError:
            owner = None
        if owner != store_id:
            found.append(f"{name} is cached as store #{store_id}'s")
    for (name, currency), total in sorted(posted.items()):
        if (name, currency) not in cached and total != 0:
            found.append(f"{name} has postings summing to {_money(total, currency)} but no cached balance")
    return capped(found)
