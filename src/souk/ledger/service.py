"""The ledger's rules: ``post`` is the only writer of ledger entries and balances; the reads give a store its
balances and movements. Flushes, never commits. Sign convention: see ``souk.ledger`` (credit positive).

```python
from souk.kit.money import Money
from souk.ledger.postings import payment_captured
from souk.ledger.service import ledger_service

entry = await ledger_service.post(
    session, key=f"so:{so_id}:captured", kind="payment_captured",
    postings=payment_captured(so_id, store_id, Money(2500, "USD")), reference=("seller_order", so_id),
)
```
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import get_store_for
from souk.errors import Conflict, NotFound, invalid_field
from souk.kit.clock import utcnow
from souk.kit.money import is_currency
from souk.kit.pagination import clamp_limit, decode_cursor, encode_cursor
from souk.ledger import accounts
from souk.ledger.accounts import Account
from souk.ledger.errors import AccountOverdrawn, IdempotencyKeyReused, InvalidPosting, UnbalancedEntry
from souk.ledger.postings import Posting
from souk.ledger.repository import LedgerRepository
from souk.models import LedgerEntry, LedgerPosting, Store

MAX_KEY = 200
MAX_KIND = 40
MAX_MEMO = 300
REVERSAL = "reversal"
REVERSED_ENTRY = "ledger_entry"  # a reversal's reference: ("ledger_entry", id of the entry it reverses)


@dataclass(frozen=True)
class StoreBalance:
    """A store's money in one currency (minor units)."""

    currency: str
    escrow_pending: int  # paid by buyers, held until they confirm receipt
    available: int  # released to the store, not yet paid out (negative after a claw-back)
    paid_out: int  # taken out by payouts (requested or paid; failed ones returned)


@dataclass(frozen=True)
class Movement:
    """One posting on one of a store's accounts."""

    id: int  # the posting's id
    entry_id: int
    kind: str
    memo: str
    account: str
    account_kind: str  # escrow | payable
    seller_order_id: int | None
    amount: int  # credit positive: money added to the store's account
    currency: str
    reference_type: str | None
    reference_id: int | None
    created_at: datetime


@dataclass
class MovementPage:
    items: list[Movement]
    next_cursor: str | None


@dataclass(frozen=True)
class DayChange:
    day: date
    amount: int


class _KeyTaken(Exception):
    """The entry's key was taken, yet no entry with it can be read (cannot happen: a conflicting row that
    rolled back would have let the INSERT through)."""


def _normalized(postings: Sequence[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    return sorted(postings)


def _validate(
    key: str, kind: str, postings: Sequence[Posting], reference: tuple[str, int] | None
) -> list[Account]:
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY:
        raise InvalidPosting(f"The idempotency key must be 1 to {MAX_KEY} characters.")
    if not isinstance(kind, str) or not 1 <= len(kind) <= MAX_KIND:
        raise InvalidPosting(f"The kind must be 1 to {MAX_KIND} characters.")
    if reference is not None and (
        not isinstance(reference[0], str)
        or not 1 <= len(reference[0]) <= 40
        or isinstance(reference[1], bool)
        or not isinstance(reference[1], int)
    ):
        raise InvalidPosting("A reference is (type, id), e.g. ('seller_order', 12).")
    if not postings:
        raise InvalidPosting("A ledger entry needs postings.")
    parsed: list[Account] = []
    sums: dict[str, int] = {}
    for posting in postings:
        try:
            parsed.append(accounts.parse(posting.account))
        except ValueError as exc:
            raise InvalidPosting(str(exc)) from exc
        if isinstance(posting.amount, bool) or not isinstance(posting.amount, int) or posting.amount == 0:
            raise InvalidPosting(f"Posting on {posting.account}: the amount must be a non-zero int.")
        if not is_currency(posting.currency):
            raise InvalidPosting(f"Posting on {posting.account}: unknown currency {posting.currency!r}.")
        sums[posting.currency] = sums.get(posting.currency, 0) + posting.amount
    if any(total != 0 for total in sums.values()):
        raise UnbalancedEntry({c: t for c, t in sums.items() if t != 0})
    return parsed


@dataclass(frozen=True)
class _BalanceChange:
    """The net change an entry makes to one cached account (escrow or payable) in one currency."""

    account: str
    currency: str
    kind: str
    store_id: int
    delta: int
    guarded: bool  # a debit that must not take the balance below zero


def _balance_changes(
    postings: Sequence[Posting], parsed: list[Account], no_overdraft: Collection[str]
) -> list[_BalanceChange]:
    """The entry's net change per cached account and currency, in (account, currency) order: every entry
    touches the rows in that one order, so concurrent entries never deadlock. Changes netting to zero are
    left out. A debit is guarded when the account may not go negative (escrow) or is named in
    ``no_overdraft``."""
    deltas: dict[tuple[str, str], int] = {}
    by_name: dict[str, Account] = {}
    for posting, account in zip(postings, parsed, strict=True):
        if account.cached:
            deltas[(posting.account, posting.currency)] = (
                deltas.get((posting.account, posting.currency), 0) + posting.amount
            )
            by_name[posting.account] = account
    changes = []
    for name, currency in sorted(deltas):
        delta = deltas[(name, currency)]
        if delta == 0:
            continue
        account = by_name[name]
        assert account.store_id is not None
        guarded = delta < 0 and (not account.may_go_negative or name in no_overdraft)
        changes.append(_BalanceChange(name, currency, account.kind, account.store_id, delta, guarded))
    return changes


class LedgerService:
    # --- the only writer --------------------------------------------------------------------------------

    async def post(
        self,
        session: AsyncSession,
        *,
        key: str,
        kind: str,
        postings: Sequence[Posting],
        reference: tuple[str, int] | None = None,
        memo: str = "",
        no_overdraft: Collection[str] = (),
    ) -> LedgerEntry:
        """Write one balanced entry and update the cached balances of its per-store accounts, atomically.

        - refuses postings that do not sum to zero per currency (``UnbalancedEntry``, 422) and malformed ones
          (``InvalidPosting``, 422);
        - refuses to take an escrow account below zero, or any account named in ``no_overdraft`` (a payout
          guards the store's payable balance): ``AccountOverdrawn`` (409), checked by the conditional UPDATE
          itself so that concurrent transactions cannot both pass;
        - is idempotent: the same ``key`` with the same kind and postings returns the existing entry; with
          other postings it raises ``IdempotencyKeyReused`` (409).
        Nothing is written when it raises.

        Statements: the entry's INSERT (``ON CONFLICT DO NOTHING RETURNING`` the entry), one statement per
        cached account, one INSERT of the postings; an existing key reads that entry and its postings instead.
        How "nothing is written when it raises" holds: validation runs before any statement, and a key taken
        already is seen by the INSERT that writes nothing then. After the entry's INSERT only two things can
        refuse: a guarded debit (``AccountOverdrawn``) and, for a reversal, the unique index that lets an entry
        be reversed once (``IntegrityError``, which ``reverse`` turns into ``entry_already_reversed``). Only
        an entry with one of those runs in a savepoint, which undoes its entry row when they refuse; any other
        entry (a credit to an escrow when an order is paid, ...) has nothing left that can refuse and runs
        without one (the unguarded balance changes are upserts that cannot fail on a valid account).
        """
        parsed = _validate(key, kind, postings, reference)
        changes = _balance_changes(postings, parsed, no_overdraft)
        repo = LedgerRepository(session)
        now = utcnow()

        async def write() -> LedgerEntry | None:
            entry = await repo.insert_entry(
                key=key, kind=kind, memo=memo[:MAX_MEMO], reference=reference, at=now
            )
            if entry is None:
                return None  # the key is taken: nothing was written
            for change in changes:
                if not change.guarded:
                    await repo.add_to_balance(
                        change.account, change.currency, change.kind, change.store_id, change.delta, now
                    )
                elif (
                    await repo.apply_delta(change.account, change.currency, change.delta, guard=True, at=now)
                    is None
                ):
                    balance = await repo.cached_balance(change.account, change.currency) or 0
                    raise AccountOverdrawn(change.account, change.currency, balance, change.delta)
            await repo.insert_postings(
                entry.id,
                [
                    (p.account, p.amount, p.currency, a.store_id)
                    for p, a in zip(postings, parsed, strict=True)
                ],
                now,
            )
            await session.flush()
            return entry

        if kind == REVERSAL or any(change.guarded for change in changes):
            async with session.begin_nested():
                written = await write()
        else:
            written = await write()
        if written is not None:
            return written
        taken = await repo.entry_by_key(key)
        if taken is None:  # pragma: no cover - the conflicting row vanished (its transaction rolled back)
            raise _KeyTaken(key)
        wanted = _normalized([(p.account, p.currency, p.amount) for p in postings])
        return await self._same_or_refuse(repo, taken, kind, wanted)

    async def reverse(self, session: AsyncSession, entry_id: int, *, key: str, memo: str = "") -> LedgerEntry:
        """Correct an entry the only way the append-only ledger allows: post its postings negated as a new entry
        of kind "reversal" referencing it (``("ledger_entry", entry_id)``). Balances move back as ``post`` moves
        them (an escrow released or refunded since cannot give its money again: ``AccountOverdrawn``, 409).

        Idempotent by ``key``: the same key for the same entry returns the reversal already posted. Refused
        with 409: reversing a reversal (``reversal_not_reversible``), reversing an entry reversed already under
        another key (``entry_already_reversed``; a unique index holds it under concurrency too). An unknown
        entry is 404 ``ledger_entry_not_found``."""
        repo = LedgerRepository(session)
        original = await session.get(LedgerEntry, entry_id)
        if original is None:
            raise NotFound(f"Ledger entry #{entry_id} does not exist.", code="ledger_entry_not_found")
        if original.kind == REVERSAL:
            raise Conflict(
                f"Ledger entry #{entry_id} is a reversal; it cannot be reversed (post a new entry instead).",
                code="reversal_not_reversible",
            )
        existing = await repo.entry_by_key(key) if isinstance(key, str) else None
        if existing is not None:
            if _reverses(existing, entry_id):
                return existing
            raise IdempotencyKeyReused(key)
        earlier = await repo.reversal_of(entry_id)
        if earlier is not None:
            raise _already_reversed(entry_id, earlier)
        lines = [Posting(p.account, -p.amount, p.currency) for p in await repo.postings_of(entry_id)]
        try:
            return await self.post(
                session,
                key=key,
                kind=REVERSAL,
                postings=lines,
                reference=(REVERSED_ENTRY, entry_id),
                memo=memo or f"Reversal of entry #{entry_id}",
            )
        except IntegrityError:
            # a concurrent transaction reversed it first under another key (the unique index refused ours)
            earlier = await repo.reversal_of(entry_id)
            if earlier is None:  # pragma: no cover - some other constraint failed
                raise
            if earlier.idempotency_key == key:  # pragma: no cover - the same reversal, committed first
                return earlier
            raise _already_reversed(entry_id, earlier) from None

    async def _same_or_refuse(
        self, repo: LedgerRepository, entry: LedgerEntry, kind: str, wanted: list[tuple[str, str, int]]
    ) -> LedgerEntry:
        have = _normalized([(p.account, p.currency, p.amount) for p in await repo.postings_of(entry.id)])
        if entry.kind != kind or have != wanted:
            raise IdempotencyKeyReused(entry.idempotency_key)
        return entry

    # --- reads --------------------------------------------------------------------------------------------

    async def balance(self, session: AsyncSession, account: str, currency: str) -> int:
        """An account's balance (credit positive): the cached row of a per-store account, the sum of the
        postings of a platform-wide one."""
        parsed = accounts.parse(account)
        repo = LedgerRepository(session)
        if parsed.cached:
            return await repo.cached_balance(account, currency) or 0
        return await repo.posted_sum(account, currency)

    async def entries_for(self, session: AsyncSession, reference: tuple[str, int]) -> list[LedgerEntry]:
        """The entries posted about one thing (``("seller_order", 12)``), oldest first."""
        rows = await session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.reference_type == reference[0], LedgerEntry.reference_id == reference[1])
            .order_by(LedgerEntry.id)
        )
        return list(rows.all())

    async def postings_of(self, session: AsyncSession, entry_id: int) -> list[LedgerPosting]:
        return await LedgerRepository(session).postings_of(entry_id)

    async def balances_of_store(self, session: AsyncSession, store_id: int) -> dict[str, StoreBalance]:
        """The store's balances per currency, for callers that already authorised the actor."""
        repo = LedgerRepository(session)
        escrow: dict[str, int] = {}
        available: dict[str, int] = {}
        for kind, currency, total in await repo.store_balance_sums(store_id):
            (escrow if kind == "escrow" else available)[currency] = total
        paid_out = await repo.store_payout_sums(store_id, accounts.payable(store_id))
        currencies = sorted(set(escrow) | set(available) | set(paid_out))
        return {
            c: StoreBalance(c, escrow.get(c, 0), available.get(c, 0), paid_out.get(c, 0)) for c in currencies
        }

    async def store_balances(
        self, session: AsyncSession, actor: Actor, store_id: int
    ) -> tuple[Store, dict[str, StoreBalance]]:
        """The store (for its people with ``store:read``; else 404/403) and its balances per currency: escrow
        pending (the sum over its seller orders' escrows), available, paid out."""
        store = await get_store_for(session, actor, store_id, "store:read")
        return store, await self.balances_of_store(session, store.id)

    async def movements(
        self,
        session: AsyncSession,
        actor: Actor,
        store_id: int,
        *,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> MovementPage:
        """Every posting on the store's accounts (its escrows and its payable balance), newest first."""
        store = await get_store_for(session, actor, store_id, "store:read")
        size = clamp_limit(limit)
        before = _id_cursor(decode_cursor(cursor))
        rows = await LedgerRepository(session).store_movements(store.id, before, size + 1)
        next_cursor = None
        if len(rows) > size:
            rows = rows[:size]
            next_cursor = encode_cursor([rows[-1].posting.id])
        items = []
        for row in rows:
            p = row.posting
            account = accounts.parse(p.account)
            items.append(
                Movement(
                    id=p.id,
                    entry_id=p.entry_id,
                    kind=row.kind,
                    memo=row.memo,
                    account=p.account,
                    account_kind=account.kind,
                    seller_order_id=account.seller_order_id,
                    amount=p.amount,
                    currency=p.currency,
                    reference_type=row.reference_type,
                    reference_id=row.reference_id,
                    created_at=p.created_at,
                )
            )
        return MovementPage(items, next_cursor)

    async def daily_changes(
        self, session: AsyncSession, actor: Actor, store_id: int, *, days: int = 30
    ) -> dict[str, list[DayChange]]:
        """Per currency, the net change of the store's available balance on each of the last ``days`` days
        (UTC, oldest first, days without movement as 0); currencies without movement in that time are left
        out."""
        store = await get_store_for(session, actor, store_id, "store:read")
        today = utcnow().date()
        first = today - timedelta(days=days - 1)
        since = datetime.combine(first, time.min, tzinfo=UTC)
        rows = await LedgerRepository(session).daily_sums(store.id, accounts.payable(store.id), since)
        by_currency: dict[str, dict[str, int]] = {}
        for day, currency, total in rows:
            by_currency.setdefault(currency, {})[day] = total
        result: dict[str, list[DayChange]] = {}
        for currency in sorted(by_currency):
            sums = by_currency[currency]
            result[currency] = [
                DayChange(d, sums.get(d.isoformat(), 0))
                for d in (first + timedelta(days=n) for n in range(days))
            ]
        return result


def _reverses(entry: LedgerEntry, entry_id: int) -> bool:
    return entry.kind == REVERSAL and (entry.reference_type, entry.reference_id) == (REVERSED_ENTRY, entry_id)


def _already_reversed(entry_id: int, reversal: LedgerEntry) -> Conflict:
    return Conflict(
        f"Ledger entry #{entry_id} was reversed already by entry #{reversal.id}.",
        code="entry_already_reversed",
    )


def _id_cursor(values: list[object] | None) -> int | None:
    if values is None:
        return None
    if len(values) != 1 or isinstance(values[0], bool) or not isinstance(values[0], int):
        raise invalid_field("cursor", "is not a cursor this API issued")
    return values[0]


ledger_service = LedgerService()
