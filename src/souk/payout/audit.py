"""Payout invariants for ``souk audit``: each payout's ledger entries exist and match it."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.audit import capped, check
from souk.kit.money import Money
from souk.ledger import postings
from souk.ledger.postings import Posting
from souk.models import LedgerEntry, LedgerPosting, Payout
from souk.payout.service import entry_key


def _lines(items: list[Posting]) -> list[tuple[str, str, int]]:
    return sorted((p.account, p.currency, p.amount) for p in items)


@check("payout.ledger_entries_match")
async def ledger_entries_match(session: AsyncSession) -> list[str]:
    """Every payout has its ``payout`` entry (payable -> payout_clearing) for its amount; a paid payout also
    its ``payout_paid`` entry, a failed one its ``payout_failed`` entry, a requested one neither; and no
    payout entry is about a payout that does not exist."""
    entries: dict[int, dict[str, tuple[str, list[tuple[str, str, int]]]]] = defaultdict(dict)
    rows = await session.execute(
        select(
            LedgerEntry.reference_id,
            LedgerEntry.idempotency_key,
            LedgerEntry.kind,
            LedgerPosting.account,
            LedgerPosting.currency,
            LedgerPosting.amount,
        )
        .outerjoin(LedgerPosting, LedgerPosting.entry_id == LedgerEntry.id)
        .where(LedgerEntry.reference_type == "payout")
    )
    for payout_id, key, kind, account, currency, amount in rows:
        if payout_id is None:
            continue
        _, lines = entries[int(payout_id)].setdefault(key, (kind, []))
        if account is not None:
            lines.append((account, currency, int(amount)))
    found: list[str] = []
    # plain columns, not ORM objects: the database's values even in a session that holds stale objects
    payouts = await session.execute(
        select(Payout.id, Payout.store_id, Payout.amount, Payout.currency, Payout.status).order_by(Payout.id)
    )
    known = set()
    for payout_id, store_id, amount, currency, status in payouts:
        known.add(payout_id)
        mine = entries.get(payout_id, {})
        money = Money(int(amount), currency)
        expected: dict[str, tuple[str, list[Posting]]] = {
            entry_key(payout_id, "requested"): ("payout", postings.payout(store_id, money))
        }
        if status == "paid":
            expected[entry_key(payout_id, "paid")] = ("payout_paid", postings.payout_paid(money))
        if status == "failed":
            expected[entry_key(payout_id, "failed")] = (
                "payout_failed",
                postings.payout_failed(store_id, money),
            )
        for key, (kind, wanted) in expected.items():
            have = mine.get(key)
            if have is None:
                found.append(f"payout #{payout_id} ({status}) has no ledger entry {key}")
            elif have[0] != kind or sorted(have[1]) != _lines(wanted):
                found.append(f"payout #{payout_id}: ledger entry {key} does not match the payout")
        for key in sorted(set(mine) - set(expected)):
            found.append(f"payout #{payout_id} ({status}) has an unexpected ledger entry {key}")
    for payout_id in sorted(set(entries) - known):
        found.append(f"ledger entries refer to payout #{payout_id}, which does not exist")
    return capped(found)
