"""All SQL of the ledger. Balance changes are atomic ``balance = balance + :delta`` statements: a debit that must
not overdraw is an ``UPDATE`` guarded by its WHERE clause and checked by its result, any other change an upsert
(``INSERT ... ON CONFLICT DO UPDATE``) that creates the row on first use; so they hold under concurrency on SQLite
and PostgreSQL alike, and two transactions creating the same row never fail half-way. Entries are inserted with
``ON CONFLICT (idempotency_key) DO NOTHING``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from souk.db import dialect_of
from souk.models import AccountBalance, LedgerEntry, LedgerPosting

PAYOUT_KINDS = ("payout", "payout_failed")


@dataclass
class MovementRow:
    posting: LedgerPosting
    kind: str
    memo: str
    reference_type: str | None
    reference_id: int | None


class LedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self) -> Any:
        return sqlite_insert if dialect_of(self.session) == "sqlite" else pg_insert

    # --- writing --------------------------------------------------------------------------------------

    async def entry_by_key(self, key: str) -> LedgerEntry | None:
        entry: LedgerEntry | None = await self.session.scalar(
            select(LedgerEntry).where(LedgerEntry.idempotency_key == key)
        )
        return entry

    async def reversal_of(self, entry_id: int) -> LedgerEntry | None:
        """The entry of kind "reversal" that reverses entry ``entry_id``, if any."""
        entry: LedgerEntry | None = await self.session.scalar(
            select(LedgerEntry).where(
                LedgerEntry.kind == "reversal",
                LedgerEntry.reference_type == "ledger_entry",
                LedgerEntry.reference_id == entry_id,
            )
        )
        return entry

    async def postings_of(self, entry_id: int) -> list[LedgerPosting]:
        rows = await self.session.scalars(
            select(LedgerPosting).where(LedgerPosting.entry_id == entry_id).order_by(LedgerPosting.id)
        )
        return list(rows.all())

    async def insert_entry(
        self,
        *,
        key: str,
        kind: str,
        memo: str,
        reference: tuple[str, int] | None,
        at: datetime,
    ) -> LedgerEntry | None:
        """Insert the entry and return it (read back by ``RETURNING``, so no second read); None when an entry
        with this key exists (also one a concurrent transaction has just committed: PostgreSQL waits for it,
        SQLite writers are serialised). Nothing is written then."""
        stmt = (
            self._insert()(LedgerEntry)
            .values(
                idempotency_key=key,
                kind=kind,
                memo=memo,
                reference_type=reference[0] if reference else None,
                reference_id=reference[1] if reference else None,
                created_at=at,
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(LedgerEntry)
        )
        entry: LedgerEntry | None = (await self.session.scalars(stmt)).first()
        return entry

    async def add_to_balance(
        self, account: str, currency: str, kind: str, store_id: int, delta: int, at: datetime
    ) -> None:
        """Add ``delta`` to the cached balance, creating the row (with ``delta`` as its balance) when the account
        has none yet: one atomic upsert (``INSERT ... ON CONFLICT DO UPDATE SET balance = balance + delta``).
        Unguarded: only for changes that may take the balance anywhere (credits, and debits of an account that
        may go negative); a guarded debit uses ``apply_delta``."""
        stmt = self._insert()(AccountBalance).values(
            account=account, currency=currency, kind=kind, store_id=store_id, balance=delta, updated_at=at
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["account", "currency"],
                set_={
                    "balance": AccountBalance.balance + stmt.excluded.balance,
                    "updated_at": stmt.excluded.updated_at,
                },
            )
        )

    async def apply_delta(
        self, account: str, currency: str, delta: int, *, guard: bool, at: datetime
    ) -> int | None:
        """Add ``delta`` to the cached balance; with ``guard`` only if the balance stays >= 0. Returns the new
        balance, or None when the guard refused it or the account has no row yet (a balance of 0: a guarded
        debit of it is refused too)."""
        conditions: list[ColumnElement[bool]] = [
            AccountBalance.account == account,
            AccountBalance.currency == currency,
        ]
        if guard:
            conditions.append(AccountBalance.balance + delta >= 0)
        row = (
            await self.session.execute(
                update(AccountBalance)
                .where(*conditions)
                .values(balance=AccountBalance.balance + delta, updated_at=at)
                .returning(AccountBalance.balance)
                .execution_options(synchronize_session="fetch")
            )
        ).first()
        return int(row[0]) if row is not None else None

    async def insert_postings(
        self, entry_id: int, rows: Sequence[tuple[str, int, str, int | None]], at: datetime
    ) -> None:
        """The entry's postings, (account, amount, currency, store_id) each, in one INSERT (an executemany
        that the driver sends as one statement)."""
        await self.session.execute(
            insert(cast(Table, LedgerPosting.__table__)),
            [
                {
                    "entry_id": entry_id,
                    "account": account,
                    "amount": amount,
                    "currency": currency,
                    "store_id": store_id,
                    "created_at": at,
                }
                for account, amount, currency, store_id in rows
            ],
        )

    # --- reading --------------------------------------------------------------------------------------

    async def cached_balance(self, account: str, currency: str) -> int | None:
        value = await self.session.scalar(
            select(AccountBalance.balance).where(
                AccountBalance.account == account, AccountBalance.currency == currency
            )
        )
        return int(value) if value is not None else None

    async def posted_sum(self, account: str, currency: str) -> int:
        value = await self.session.scalar(
            select(func.coalesce(func.sum(LedgerPosting.amount), 0)).where(
                LedgerPosting.account == account, LedgerPosting.currency == currency
            )
        )
        return int(value or 0)

    async def store_balance_sums(self, store_id: int) -> list[tuple[str, str, int]]:
        """(kind, currency, total) of the store's cached accounts: its escrows together, its payable."""
        rows = await self.session.execute(
            select(AccountBalance.kind, AccountBalance.currency, func.sum(AccountBalance.balance))
            .where(AccountBalance.store_id == store_id)
            .group_by(AccountBalance.kind, AccountBalance.currency)
        )
        return [(r[0], r[1], int(r[2] or 0)) for r in rows]

    async def store_payout_sums(self, store_id: int, payable_account: str) -> dict[str, int]:
        """Per currency, the net amount payouts took from the store's payable balance (failed ones returned)."""
        rows = await self.session.execute(
            select(LedgerPosting.currency, func.sum(LedgerPosting.amount))
            .join(LedgerEntry, LedgerEntry.id == LedgerPosting.entry_id)
            .where(
                LedgerPosting.store_id == store_id,
                LedgerPosting.account == payable_account,
                LedgerEntry.kind.in_(PAYOUT_KINDS),
            )
            .group_by(LedgerPosting.currency)
        )
        return {r[0]: -int(r[1] or 0) for r in rows}

    async def store_movements(self, store_id: int, before_id: int | None, limit: int) -> list[MovementRow]:
        """Postings on the store's accounts, newest first."""
        stmt = (
            select(
                LedgerPosting,
                LedgerEntry.kind,
                LedgerEntry.memo,
                LedgerEntry.reference_type,
                LedgerEntry.reference_id,
            )
            .join(LedgerEntry, LedgerEntry.id == LedgerPosting.entry_id)
            .where(LedgerPosting.store_id == store_id)
        )
        if before_id is not None:
            stmt = stmt.where(LedgerPosting.id < before_id)
        stmt = stmt.order_by(LedgerPosting.id.desc()).limit(limit)
        return [MovementRow(*row) for row in (await self.session.execute(stmt)).all()]

    async def daily_sums(
        self, store_id: int, account: str, since: datetime
    ) -> Sequence[tuple[str, str, int]]:
        """(day "YYYY-MM-DD" in UTC, currency, net change) of one of the store's accounts since ``since``."""
        if dialect_of(self.session) == "sqlite":
            day: Any = func.strftime("%Y-%m-%d", LedgerPosting.created_at)
        else:
            day = func.to_char(func.timezone("UTC", LedgerPosting.created_at), "YYYY-MM-DD")
        rows = await self.session.execute(
            select(day.label("day"), LedgerPosting.currency, func.sum(LedgerPosting.amount))
            .where(
                LedgerPosting.store_id == store_id,
                LedgerPosting.account == account,
                LedgerPosting.created_at >= since,
            )
            .group_by(day, LedgerPosting.currency)
        )
        return [(str(r[0]), r[1], int(r[2] or 0)) for r in rows]
