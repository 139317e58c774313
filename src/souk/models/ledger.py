"""The double-entry ledger: entries, their postings, and cached balances of per-store accounts.

Written only by ``souk.ledger.service.LedgerService.post`` (ARCHITECTURE rule 3). Sign convention and account
names: see ``souk.ledger`` and docs/adr/0006-ledger.md. Entries and postings are append-only: database triggers
refuse to UPDATE or DELETE them (``souk.ledger.append_only``; attached here for ``create_all``, added to migrated
databases by their migration).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, BigInteger, CheckConstraint, ForeignKey, Index, String, Table, event, text
from sqlalchemy.orm import Mapped, mapped_column

from souk.ledger import append_only
from souk.models.base import Base, _now

CACHED_ACCOUNT_KINDS = ("escrow", "payable")


class LedgerEntry(Base):
    """One business event's money movement; its postings sum to zero per currency."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    # the same business event posted twice (a retried job, a double click) is one entry
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))  # payment_captured, escrow_released, refund, payout ...
    memo: Mapped[str] = mapped_column(String(300), default="")
    reference_type: Mapped[str | None] = mapped_column(String(40))  # seller_order, payout, payment ...
    reference_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=_now)

    __table_args__ = (
        Index("ix_ledger_entries_reference", "reference_type", "reference_id"),
        Index("ix_ledger_entries_kind", "kind"),
        # a reversal references the entry it reverses as ("ledger_entry", id): an entry is reversed once at most
        Index(
            "uq_ledger_entries_reversal_of",
            "reference_id",
            unique=True,
            sqlite_where=text("kind = 'reversal'"),
            postgresql_where=text("kind = 'reversal'"),
        ),
    )


class LedgerPosting(Base):
    """One line of an entry: a signed amount (minor units; credit positive) on one account."""

    __tablename__ = "ledger_postings"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    account: Mapped[str] = mapped_column(String(120))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # the store whose account this is (escrow and payable accounts), for the store's movements list
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    created_at: Mapped[datetime] = mapped_column(default=_now)

    __table_args__ = (
        Index("ix_ledger_postings_entry_id", "entry_id"),
        Index("ix_ledger_postings_account", "account", "currency"),
        Index("ix_ledger_postings_store_id", "store_id", "id"),
        CheckConstraint("amount <> 0", name="amount_not_zero"),
    )


class AccountBalance(Base):
    """The running balance of one per-store or per-seller-order account in one currency, updated in the same
    transaction as its postings with an atomic ``balance = balance + :delta``. Platform-wide accounts have no
    row: their balance is the sum of their postings (one hot row would serialise every checkout)."""

    __tablename__ = "ledger_account_balances"

    account: Mapped[str] = mapped_column(String(120), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # escrow | payable
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=_now, onupdate=_now)

    __table_args__ = (
        Index("ix_ledger_account_balances_store_id", "store_id", "kind"),
        CheckConstraint("kind IN ('escrow', 'payable')", name="kind"),
        # escrow never goes negative; payable may (claw-backs after release)
        CheckConstraint("kind <> 'escrow' OR balance >= 0", name="escrow_not_negative"),
    )


def _append_only(table: Table) -> None:
    """Attach the append-only triggers of ``table`` to ``create_all`` (and PostgreSQL's function to the first
    table's creation, dropped with it)."""
    name = table.name
    if name == append_only.APPEND_ONLY_TABLES[0]:
        event.listen(
            table, "after_create", DDL(append_only.PG_CREATE_FUNCTION).execute_if(dialect="postgresql")
        )
        event.listen(table, "after_drop", DDL(append_only.PG_DROP_FUNCTION).execute_if(dialect="postgresql"))
    for statement in append_only.SQLITE_CREATE[name]:
        event.listen(table, "after_create", DDL(statement).execute_if(dialect="sqlite"))
    for statement in append_only.PG_CREATE[name]:
        event.listen(table, "after_create", DDL(statement).execute_if(dialect="postgresql"))


_append_only(LedgerEntry.__table__)  # type: ignore[arg-type]
_append_only(LedgerPosting.__table__)  # type: ignore[arg-type]
