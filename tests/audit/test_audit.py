"""``souk audit``: the checks pass on data written through the services and find violations planted behind their
back; the command lists them and exits 1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from fixtures.core import is_postgres
from fixtures.databases import fresh_database, run_async
from fixtures.factories import actor_of
from fixtures.ledger import audit_violations, fund_store
from souk import audit, cli
from souk.audit import CHECKS, check, load_checks, run_checks
from souk.db import create_engine, create_sessionmaker
from souk.kit.money import Money
from souk.ledger import accounts, postings
from souk.ledger.service import ledger_service
from souk.migrate import head_revision
from souk.models import Base, LedgerEntry, LedgerPosting, Payment, Payout, Store, User
from souk.payout.service import payout_service

MY_CHECKS = {
    "ledger.entries_balance",
    "ledger.accounts_not_negative",
    "ledger.cached_balances_match",
    "payout.ledger_entries_match",
    "payment.refunds_match",
}


async def _store_with_history(session: AsyncSession, store_factory, user_factory) -> Store:
    """A store with paid, released, refunded and paid-out money, all through the services."""
    store = await store_factory()
    owner = await session.get(User, store.owner_user_id)
    await fund_store(session, store.id, 10_000, commission_bps=200)
    so_id = await fund_store(session, store.id, 4_000, released=False)
    await ledger_service.post(
        session,
        key="audit:refund",
        kind="refund",
        postings=postings.refund_before_release(so_id, store.id, Money(1_500, "USD")),
    )
    payout = await payout_service.request(
        session, actor_of(owner), store.id, "USD", 5_000, idempotency_key="audit-payout"
    )
    await payout_service.settle(session, payout.id)
    return store


class TestChecks:
    async def test_every_check_is_registered(self) -> None:
        assert set(load_checks()) >= MY_CHECKS

    async def test_good_data_passes(self, session: AsyncSession, store_factory, user_factory) -> None:
        await _store_with_history(session, store_factory, user_factory)
        report = await run_checks(session)
        assert report.ok, report.violations
        assert {r.name for r in report.results} >= MY_CHECKS

    async def test_a_planted_posting_unbalances_its_entry_and_the_cached_balance(
        self, session: AsyncSession, store_factory, user_factory, assert_ledger_balanced
    ) -> None:
        store = await _store_with_history(session, store_factory, user_factory)
        target = await session.scalar(
            select(LedgerEntry.id).where(LedgerEntry.kind == "escrow_released").order_by(LedgerEntry.id)
        )
        assert target is not None
        session.add(
            LedgerPosting(
                entry_id=target,
                account=accounts.payable(store.id),
                amount=5,
                currency="USD",
                store_id=store.id,
            )
        )
        violations = await audit_violations(session)
        assert (
            f"ledger.entries_balance: entry #{target} does not balance: its USD postings sum to +5"
            in violations
        )
        assert any(
            v.startswith(f"ledger.cached_balances_match: {accounts.payable(store.id)} caches")
            for v in violations
        )
        with pytest.raises(pytest.fail.Exception) as caught:
            await assert_ledger_balanced(session)
        assert "does not balance" in str(caught.value)

    async def test_a_negative_escrow_and_an_uncached_account_are_found(
        self, session: AsyncSession, store_factory
    ) -> None:
        store = await store_factory()
        entry = LedgerEntry(idempotency_key="planted", kind="refund")
        session.add(entry)
        await session.flush()
        escrow = accounts.escrow(store.id, 31337)
        session.add_all(
            [
                LedgerPosting(
                    entry_id=entry.id, account=escrow, amount=-500, currency="USD", store_id=store.id
                ),
                LedgerPosting(entry_id=entry.id, account=accounts.PSP_CLEARING, amount=500, currency="USD"),
            ]
        )
        violations = await audit_violations(session)
        assert f"ledger.accounts_not_negative: {escrow} is negative: -US$5.00" in violations
        assert "ledger.accounts_not_negative: psp_clearing is negative: -US$5.00" in violations
        assert (
            f"ledger.cached_balances_match: {escrow} has postings summing to -US$5.00 but no cached balance"
            in violations
        )
        assert not any(v.startswith("ledger.entries_balance") for v in violations)

    async def test_an_entry_without_postings_and_a_stray_account(self, session: AsyncSession) -> None:
        empty = LedgerEntry(idempotency_key="empty", kind="test")
        stray = LedgerEntry(idempotency_key="stray", kind="test")
        session.add_all([empty, stray])
        await session.flush()
        session.add_all(
            [
                LedgerPosting(entry_id=stray.id, account="cash", amount=-1, currency="USD"),
                LedgerPosting(entry_id=stray.id, account=accounts.PAYOUT_CLEARING, amount=1, currency="USD"),
            ]
        )
        violations = await audit_violations(session)
        assert f"ledger.entries_balance: entry #{empty.id} has no postings" in violations
        assert "ledger.accounts_not_negative: postings on 'cash', which is not a ledger account" in violations

    async def test_a_payout_without_its_ledger_entry(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        payout = Payout(
            store_id=store.id,
            amount=2_000,
            currency="USD",
            status="paid",
            provider="simulated",
            idempotency_key="planted",
            request_fingerprint="x",
        )
        session.add(payout)
        await session.flush()
        violations = await audit_violations(session)
        assert (
            f"payout.ledger_entries_match: payout #{payout.id} (paid) has no ledger entry payout:{payout.id}:requested"
            in violations
        )
        assert (
            f"payout.ledger_entries_match: payout #{payout.id} (paid) has no ledger entry payout:{payout.id}:paid"
            in violations
        )

    async def test_a_payout_whose_entry_does_not_match(
        self, session: AsyncSession, store_factory, user_factory
    ) -> None:
        store = await store_factory()
        owner = await session.get(User, store.owner_user_id)
        await fund_store(session, store.id, 5_000)
        payout = await payout_service.request(session, actor_of(owner), store.id, "USD", idempotency_key="k")
        await session.execute(text("UPDATE payouts SET amount = 4000 WHERE id = :id"), {"id": payout.id})
        violations = await audit_violations(session)
        assert (
            f"payout.ledger_entries_match: payout #{payout.id}: ledger entry payout:{payout.id}:requested "
            "does not match the payout"
        ) in violations

    async def test_payment_refunds_that_do_not_add_up(self, session: AsyncSession) -> None:
        payment = Payment(
            provider="simulated",
            intent_id="pi_planted",
            idempotency_key="planted",
            amount=1000,
            currency="USD",
            refunded_amount=300,
            status="succeeded",
        )
        session.add(payment)
        await session.flush()
        violations = await audit_violations(session)
        assert (
            f"payment.refunds_match: payment #{payment.id} says 300 refunded but its refunds sum to 0"
            in violations
        )

    async def test_checks_report_at_most_fifty_violations(self, session: AsyncSession) -> None:
        entry = LedgerEntry(idempotency_key="many", kind="test")
        session.add(entry)
        await session.flush()
        for n in range(60):
            extra = LedgerEntry(idempotency_key=f"many-{n}", kind="test")
            session.add(extra)
            await session.flush()
            session.add(LedgerPosting(entry_id=extra.id, account="payout_clearing", amount=1, currency="USD"))
        report = await run_checks(session, ["ledger.entries_balance"])
        lines = report.results[0].violations
        assert len(lines) == 51 and lines[-1].startswith("... and ")

    async def test_a_new_check_registers_itself(self, session: AsyncSession) -> None:
        @check("test.always_finds_one")
        async def always(session: AsyncSession) -> list[str]:
            return ["the moon is made of cheese"]

        try:
            report = await run_checks(session, ["test.always_finds_one"])
            assert report.violations == ["test.always_finds_one: the moon is made of cheese"]
            with pytest.raises(RuntimeError):
                check("test.always_finds_one")(audit.capped)  # type: ignore[arg-type]
            with pytest.raises(KeyError):
                await run_checks(session, ["no.such.check"])
        finally:
            CHECKS.pop("test.always_finds_one", None)


# --- the command -------------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def audited_db(tmp_path: Path) -> Iterator[tuple[dict[str, str | None], str]]:
    """A fresh database with every table (created from the models and marked as migrated)."""
    data_dir = tmp_path / "data"
    with fresh_database(tmp_path, "audit") as url:
        if not is_postgres():
            url = f"sqlite+aiosqlite:///{(data_dir / 'souk.db').resolve()}"
            data_dir.mkdir(parents=True)

        async def create() -> None:
            engine = create_engine(url)
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
                await conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
                await conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": head_revision()})
            await engine.dispose()

        run_async(create())
        env = {
            "SOUK_DATA_DIR": str(data_dir),
            "SOUK_DATABASE_URL": url if is_postgres() else None,
            "SOUK_SECRET_KEY": "audit-test",
            "COLUMNS": "200",
        }
        yield env, url


def _plant_unbalanced_entry(url: str) -> None:
    async def plant() -> None:
        engine = create_engine(url)
        async with create_sessionmaker(engine)() as s, s.begin():
            entry = LedgerEntry(idempotency_key="planted", kind="refund")
            s.add(entry)
            await s.flush()
            s.add(LedgerPosting(entry_id=entry.id, account="psp_clearing", amount=-250, currency="EUR"))
        await engine.dispose()

    run_async(plant())


def test_souk_audit_passes_then_lists_a_violation(audited_db: tuple[dict[str, str | None], str]) -> None:
    env, url = audited_db
    result = runner.invoke(cli.app, ["audit"], env=env)
    assert result.exit_code == 0, result.output
    assert "✓ ledger.entries_balance" in result.output
    assert "checks passed" in result.output

    _plant_unbalanced_entry(url)
    result = runner.invoke(cli.app, ["audit"], env=env)
    assert result.exit_code == 1
    assert "✗ ledger.entries_balance" in result.output
    assert "entry #1 does not balance: its EUR postings sum to -250" in result.output
    assert "✓ payout.ledger_entries_match" in result.output

    only = runner.invoke(cli.app, ["audit", "--check", "payout.ledger_entries_match"], env=env)
    assert only.exit_code == 0 and "entries_balance" not in only.output

    unknown = runner.invoke(cli.app, ["audit", "--check", "no.such"], env=env)
    assert unknown.exit_code == 1
