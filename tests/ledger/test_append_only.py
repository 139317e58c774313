"""Money is append-only: the database refuses to UPDATE or DELETE ledger entries and postings, whoever asks
(raw SQL or the ORM); a correction is a reversing entry (``ledger_service.reverse``)."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import is_postgres
from fixtures.ledger import entry_count, fund_store
from souk.errors import Conflict, NotFound
from souk.ledger import accounts, append_only
from souk.ledger.errors import AccountOverdrawn, IdempotencyKeyReused
from souk.ledger.service import ledger_service
from souk.migrate import ROOT
from souk.models import LedgerEntry, LedgerPosting


async def _released_entry(session: AsyncSession, store_id: int) -> LedgerEntry:
    """A store paid 10 000 and released with 2 % commission; returns the release entry."""
    so_id = await fund_store(session, store_id, 10_000, commission_bps=200)
    entries = await ledger_service.entries_for(session, ("seller_order", so_id))
    assert [e.kind for e in entries] == ["payment_captured", "escrow_released"]
    return entries[1]


async def _postings(session: AsyncSession, entry_id: int) -> list[tuple[str, int, str]]:
    return [(p.account, p.amount, p.currency) for p in await ledger_service.postings_of(session, entry_id)]


STATEMENTS = [
    ("ledger_entries", "UPDATE", "UPDATE ledger_entries SET memo = 'changed' WHERE id = :id"),
    ("ledger_entries", "UPDATE", "UPDATE ledger_entries SET kind = 'refund' WHERE id = :id"),
    ("ledger_entries", "DELETE", "DELETE FROM ledger_entries WHERE id = :id"),
    ("ledger_postings", "UPDATE", "UPDATE ledger_postings SET amount = amount * 2 WHERE entry_id = :id"),
    ("ledger_postings", "DELETE", "DELETE FROM ledger_postings WHERE entry_id = :id"),
]


class TestTriggers:
    @pytest.mark.parametrize(("table", "op", "sql"), STATEMENTS)
    async def test_raw_update_and_delete_are_refused(
        self, session: AsyncSession, store_factory, table: str, op: str, sql: str, assert_ledger_balanced
    ) -> None:
        store = await store_factory()
        entry = await _released_entry(session, store.id)
        before = await _postings(session, entry.id)
        with pytest.raises(DBAPIError) as caught:
            async with session.begin_nested():
                await session.execute(text(sql), {"id": entry.id})
        assert f"{table} is append-only; {op} is not allowed" in str(caught.value)
        assert append_only.refusal(table, op) in str(caught.value)
        # nothing changed
        row = (
            await session.execute(
                text("SELECT kind, memo FROM ledger_entries WHERE id = :id"), {"id": entry.id}
            )
        ).one()
        assert tuple(row) == ("escrow_released", entry.memo)
        assert await _postings(session, entry.id) == before
        assert len(before) == 3
        await assert_ledger_balanced(session)

    async def test_a_delete_of_every_row_is_refused(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        await _released_entry(session, store.id)
        count = await entry_count(session)
        for table in append_only.APPEND_ONLY_TABLES:
            with pytest.raises(DBAPIError, match=f"{table} is append-only; DELETE is not allowed"):
                async with session.begin_nested():
                    await session.execute(text(f"DELETE FROM {table}"))
        assert await entry_count(session) == count

    async def test_the_orm_cannot_change_an_entry_either(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        entry = await _released_entry(session, store.id)
        posting = (await ledger_service.postings_of(session, entry.id))[0]
        with pytest.raises(DBAPIError, match="ledger_postings is append-only; UPDATE is not allowed"):
            async with session.begin_nested():
                posting.amount = 1
                await session.flush()
        with pytest.raises(DBAPIError, match="ledger_entries is append-only; DELETE is not allowed"):
            async with session.begin_nested():
                await session.delete(entry)
                await session.flush()

    @pytest.mark.skipif(not is_postgres(), reason="TRUNCATE exists on PostgreSQL only")
    async def test_truncate_is_refused_on_postgresql(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        await _released_entry(session, store.id)
        count = await entry_count(session)
        with pytest.raises(DBAPIError, match="ledger_postings is append-only; TRUNCATE is not allowed"):
            async with session.begin_nested():
                await session.execute(text("TRUNCATE ledger_postings"))
        assert await entry_count(session) == count

    async def test_inserts_still_work(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        before = await entry_count(session)
        await fund_store(session, store.id, 2_500)
        assert await entry_count(session) == before + 2
        assert await ledger_service.balance(session, accounts.payable(store.id), "USD") == 2_500

    async def test_the_cached_balances_are_still_updated_in_place(
        self, session: AsyncSession, store_factory
    ) -> None:
        store = await store_factory()
        await fund_store(session, store.id, 1_000)
        await fund_store(session, store.id, 500)
        assert await ledger_service.balance(session, accounts.payable(store.id), "USD") == 1_500


def _migration() -> ModuleType:
    (path,) = (ROOT / "migrations" / "versions").glob("*_ledger_append_only.py")
    spec = importlib.util.spec_from_file_location("ledger_append_only_migration", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_and_the_models_use_the_same_sql() -> None:
    migration = _migration()
    for name in (
        "APPEND_ONLY_TABLES",
        "MESSAGE",
        "SQLITE_CREATE",
        "SQLITE_DROP",
        "PG_FUNCTION",
        "PG_CREATE_FUNCTION",
        "PG_DROP_FUNCTION",
        "PG_CREATE",
        "PG_DROP",
    ):
        assert getattr(migration, name) == getattr(append_only, name), name
    assert append_only.SQLITE_CREATE["ledger_postings"] == (
        "CREATE TRIGGER ledger_postings_no_update BEFORE UPDATE ON ledger_postings "
        "BEGIN SELECT RAISE(ABORT, 'ledger_postings is append-only; UPDATE is not allowed'); END",
        "CREATE TRIGGER ledger_postings_no_delete BEFORE DELETE ON ledger_postings "
        "BEGIN SELECT RAISE(ABORT, 'ledger_postings is append-only; DELETE is not allowed'); END",
    )


class TestReverse:
    async def test_a_release_is_reversed_by_its_negated_postings(
        self, session: AsyncSession, store_factory, assert_ledger_balanced
    ) -> None:
        store = await store_factory()
        original = await _released_entry(session, store.id)
        payable = accounts.payable(store.id)
        assert await ledger_service.balance(session, payable, "USD") == 9_800
        before = await entry_count(session)

        reversal = await ledger_service.reverse(session, original.id, key="fix:1", memo="released by mistake")

        assert reversal.id != original.id
        assert (reversal.kind, reversal.reference_type, reversal.reference_id) == (
            "reversal",
            "ledger_entry",
            original.id,
        )
        assert (reversal.idempotency_key, reversal.memo) == ("fix:1", "released by mistake")
        assert await entry_count(session) == before + 1
        negated = sorted((a, -amount, c) for a, amount, c in await _postings(session, original.id))
        assert sorted(await _postings(session, reversal.id)) == negated
        escrow = next(a for a, _, _ in negated if a.startswith("escrow:"))
        assert sorted(negated) == sorted(
            [(escrow, 10_000, "USD"), (payable, -9_800, "USD"), (accounts.COMMISSION, -200, "USD")]
        )
        # the money is back in the escrow; the store's balance and the platform's fee are gone
        assert await ledger_service.balance(session, escrow, "USD") == 10_000
        assert await ledger_service.balance(session, payable, "USD") == 0
        assert await ledger_service.balance(session, accounts.COMMISSION, "USD") == 0
        # the original is untouched
        assert (await session.get(LedgerEntry, original.id)).kind == "escrow_released"  # type: ignore[union-attr]
        await assert_ledger_balanced(session)

    async def test_the_default_memo_names_the_original(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        so_id = await fund_store(session, store.id, 700, released=False)
        (captured,) = await ledger_service.entries_for(session, ("seller_order", so_id))
        reversal = await ledger_service.reverse(session, captured.id, key="fix:capture")
        assert reversal.memo == f"Reversal of entry #{captured.id}"
        assert await ledger_service.balance(session, accounts.escrow(store.id, so_id), "USD") == 0

    async def test_the_same_key_returns_the_same_reversal(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        original = await _released_entry(session, store.id)
        first = await ledger_service.reverse(session, original.id, key="fix:twice")
        count = await entry_count(session)
        again = await ledger_service.reverse(session, original.id, key="fix:twice")
        assert again.id == first.id
        assert await entry_count(session) == count
        assert await ledger_service.balance(session, accounts.payable(store.id), "USD") == 0

    async def test_reversing_twice_is_refused(
        self, session: AsyncSession, store_factory, assert_ledger_balanced
    ) -> None:
        store = await store_factory()
        original = await _released_entry(session, store.id)
        first = await ledger_service.reverse(session, original.id, key="fix:a")
        count = await entry_count(session)
        with pytest.raises(Conflict) as caught:
            await ledger_service.reverse(session, original.id, key="fix:b")
        assert (caught.value.status_code, caught.value.code) == (409, "entry_already_reversed")
        assert (
            caught.value.message == f"Ledger entry #{original.id} was reversed already by entry #{first.id}."
        )
        assert await entry_count(session) == count
        assert await ledger_service.balance(session, accounts.payable(store.id), "USD") == 0
        await assert_ledger_balanced(session)

    async def test_a_reversal_cannot_be_reversed(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        original = await _released_entry(session, store.id)
        reversal = await ledger_service.reverse(session, original.id, key="fix:r")
        count = await entry_count(session)
        with pytest.raises(Conflict) as caught:
            await ledger_service.reverse(session, reversal.id, key="fix:rr")
        assert (caught.value.status_code, caught.value.code) == (409, "reversal_not_reversible")
        assert f"#{reversal.id} is a reversal" in caught.value.message
        assert await entry_count(session) == count

    async def test_the_database_holds_one_reversal_per_entry(
        self, session: AsyncSession, store_factory
    ) -> None:
        """Two reversals of one entry that both passed the service's check (concurrent transactions): the
        unique index refuses the second."""
        store = await store_factory()
        original = await _released_entry(session, store.id)
        with pytest.raises(DBAPIError, match=r"(?i)unique"):
            async with session.begin_nested():
                for n in (1, 2):
                    session.add(
                        LedgerEntry(
                            idempotency_key=f"planted-reversal-{n}",
                            kind="reversal",
                            reference_type="ledger_entry",
                            reference_id=original.id,
                        )
                    )
                    await session.flush()

    async def test_an_unknown_entry_is_404(self, session: AsyncSession) -> None:
        with pytest.raises(NotFound) as caught:
            await ledger_service.reverse(session, 987_654_321, key="fix:none")
        assert (caught.value.status_code, caught.value.code) == (404, "ledger_entry_not_found")

    async def test_a_key_of_another_entry_is_refused(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        original = await _released_entry(session, store.id)
        with pytest.raises(IdempotencyKeyReused) as caught:
            await ledger_service.reverse(session, original.id, key=original.idempotency_key)
        assert caught.value.status_code == 409
        other = await _released_entry(session, store.id)
        await ledger_service.reverse(session, original.id, key="fix:shared")
        with pytest.raises(IdempotencyKeyReused):
            await ledger_service.reverse(session, other.id, key="fix:shared")
        assert await ledger_service.balance(session, accounts.payable(store.id), "USD") == 9_800

    async def test_money_already_gone_cannot_be_reversed_back(
        self, session: AsyncSession, store_factory, assert_ledger_balanced
    ) -> None:
        store = await store_factory()
        so_id = await fund_store(session, store.id, 1_000)
        captured, _released = await ledger_service.entries_for(session, ("seller_order", so_id))
        count = await entry_count(session)
        # the capture's money has left the escrow (released): taking it out again would overdraw it
        with pytest.raises(AccountOverdrawn) as caught:
            await ledger_service.reverse(session, captured.id, key="fix:gone")
        assert caught.value.status_code == 409
        assert await entry_count(session) == count
        total = await session.scalar(
            select(func.count()).select_from(LedgerPosting).where(LedgerPosting.entry_id == captured.id)
        )
        assert total == 2
        await assert_ledger_balanced(session)
