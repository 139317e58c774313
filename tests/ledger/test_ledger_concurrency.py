"""Money under real parallel transactions (PostgreSQL only: each attempt has its own connection, so the rows are
committed, in a database of each test's own that is dropped afterwards)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from fixtures.core import is_postgres
from fixtures.databases import fresh_database
from fixtures.factories import actor_of
from souk.audit import run_checks
from souk.auth.actor import Actor
from souk.db import create_engine
from souk.errors import SoukError
from souk.kit.clock import utcnow
from souk.kit.money import Money
from souk.ledger import accounts, postings
from souk.ledger.errors import AccountOverdrawn
from souk.ledger.service import ledger_service
from souk.models import Base, Job, LedgerEntry, Payment, Payout, Store, User
from souk.payment.schemas import CardIn
from souk.payment.service import payment_service
from souk.payment.simulated import CARD_SUCCEEDS
from souk.payment.tasks import deliver_webhook
from souk.payout.errors import PayoutAboveAvailable
from souk.payout.service import payout_service

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not is_postgres(), reason="needs real parallel PostgreSQL connections: set SOUK_TEST_DATABASE_URL"
    ),
]


@dataclass
class Committed:
    engine: AsyncEngine
    store_id: int
    actor: Actor
    tag: str


async def _in_own_transaction(engine: AsyncEngine, work) -> object:  # type: ignore[no-untyped-def]
    async with AsyncSession(engine, expire_on_commit=False) as s, s.begin():
        return await work(s)


@pytest.fixture
async def committed_store(tmp_path: Path) -> AsyncIterator[Committed]:
    """A market store whose owner can pay out, committed for every connection to see, in a database of its own
    (the ledger is append-only: what the test commits is dropped with that database, never deleted)."""
    tag = secrets.token_hex(4)
    with fresh_database(tmp_path, "ledger_race") as url:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            async with AsyncSession(engine, expire_on_commit=False) as s:
                user = User(email=f"money-{tag}@example.com", password_hash="x", display_name="Money")
                s.add(user)
                await s.flush()
                store = Store(
                    slug=f"money-{tag}",
                    name="Money store",
                    country="CN",
                    currency="USD",
                    trade_model="market",
                    status="active",
                    owner_user_id=user.id,
                )
                s.add(store)
                await s.commit()
            yield Committed(engine, store.id, actor_of(user), tag)
        finally:
            await engine.dispose()


async def _fund(c: Committed, amount: int, *, released: bool = True) -> int:
    so_id = int(secrets.randbelow(10**8)) + 1

    async def work(s: AsyncSession) -> None:
        money = Money(amount, "USD")
        await ledger_service.post(
            s,
            key=f"{c.tag}:so:{so_id}:captured",
            kind="payment_captured",
            postings=postings.payment_captured(so_id, c.store_id, money),
        )
        if released:
            await ledger_service.post(
                s,
                key=f"{c.tag}:so:{so_id}:released",
                kind="escrow_released",
                postings=postings.escrow_released(so_id, c.store_id, money, 0),
            )

    await _in_own_transaction(c.engine, work)
    return so_id


async def _balance(c: Committed, account: str) -> int:
    async with AsyncSession(c.engine) as s:
        return await ledger_service.balance(s, account, "USD")


async def _audit_ok(engine: AsyncEngine) -> list[str]:
    async with AsyncSession(engine) as s:
        return (await run_checks(s)).violations


async def test_two_payouts_of_the_whole_balance_at_once_make_one(committed_store: Committed) -> None:
    c = committed_store
    await _fund(c, 8_000)

    async def attempt(key: str) -> object:
        try:
            return await _in_own_transaction(
                c.engine, lambda s: payout_service.request(s, c.actor, c.store_id, "USD", idempotency_key=key)
            )
        except PayoutAboveAvailable as exc:
            return exc

    results = await asyncio.gather(*(attempt(f"{c.tag}-{n}") for n in range(2)))
    made = [r for r in results if isinstance(r, Payout)]
    refused = [r for r in results if isinstance(r, PayoutAboveAvailable)]
    assert len(made) == 1 and len(refused) == 1 and made[0].amount == 8_000
    assert await _balance(c, accounts.payable(c.store_id)) == 0
    async with AsyncSession(c.engine) as s:
        count = await s.scalar(select(func.count()).select_from(Payout).where(Payout.store_id == c.store_id))
    assert count == 1
    assert await _audit_ok(c.engine) == []


async def test_many_payouts_racing_never_overdraw(committed_store: Committed) -> None:
    c = committed_store
    await _fund(c, 10_000)

    async def attempt(n: int) -> bool:
        try:
            await _in_own_transaction(
                c.engine,
                lambda s: payout_service.request(
                    s, c.actor, c.store_id, "USD", 3_000, idempotency_key=f"k{n}"
                ),
            )
            return True
        except PayoutAboveAvailable:
            return False

    results = await asyncio.gather(*(attempt(n) for n in range(8)))
    assert results.count(True) == 3
    assert await _balance(c, accounts.payable(c.store_id)) == 1_000
    assert await _audit_ok(c.engine) == []


async def test_the_same_payout_key_twice_at_once_is_one_payout(committed_store: Committed) -> None:
    c = committed_store
    await _fund(c, 8_000)
    results = await asyncio.gather(
        *(
            _in_own_transaction(
                c.engine,
                lambda s: payout_service.request(
                    s, c.actor, c.store_id, "USD", 2_000, idempotency_key="double"
                ),
            )
            for _ in range(4)
        )
    )
    assert len({r.id for r in results}) == 1  # type: ignore[attr-defined]
    assert await _balance(c, accounts.payable(c.store_id)) == 6_000


async def test_refunds_racing_on_one_escrow_never_make_it_negative(committed_store: Committed) -> None:
    c = committed_store
    so_id = await _fund(c, 1_000, released=False)

    async def refund(n: int) -> bool:
        try:
            await _in_own_transaction(
                c.engine,
                lambda s: ledger_service.post(
                    s,
                    key=f"{c.tag}:refund:{n}",
                    kind="refund",
                    postings=postings.refund_before_release(so_id, c.store_id, Money(300, "USD")),
                ),
            )
            return True
        except AccountOverdrawn:
            return False

    results = await asyncio.gather(*(refund(n) for n in range(10)))
    assert results.count(True) == 3
    assert await _balance(c, accounts.escrow(c.store_id, so_id)) == 100
    assert await _audit_ok(c.engine) == []


async def test_release_and_refund_at_once_take_the_escrow_once(committed_store: Committed) -> None:
    c = committed_store
    so_id = await _fund(c, 1_000, released=False)
    money = Money(1_000, "USD")

    async def post(key: str, kind: str, lines: list[postings.Posting]) -> str:
        try:
            await _in_own_transaction(
                c.engine, lambda s: ledger_service.post(s, key=key, kind=kind, postings=lines)
            )
            return kind
        except AccountOverdrawn:
            return "refused"

    results = await asyncio.gather(
        post(f"{c.tag}:rel", "escrow_released", postings.escrow_released(so_id, c.store_id, money, 200)),
        post(f"{c.tag}:ref", "refund", postings.refund_before_release(so_id, c.store_id, money)),
    )
    assert results.count("refused") == 1
    assert await _balance(c, accounts.escrow(c.store_id, so_id)) == 0
    assert await _audit_ok(c.engine) == []


async def test_the_same_entry_key_at_once_is_one_entry(committed_store: Committed) -> None:
    c = committed_store
    so_id = 4242
    lines = postings.payment_captured(so_id, c.store_id, Money(500, "USD"))
    entries = await asyncio.gather(
        *(
            _in_own_transaction(
                c.engine,
                lambda s: ledger_service.post(
                    s, key=f"{c.tag}:same", kind="payment_captured", postings=lines
                ),
            )
            for _ in range(5)
        )
    )
    assert len({e.id for e in entries}) == 1  # type: ignore[attr-defined]
    assert await _balance(c, accounts.escrow(c.store_id, so_id)) == 500


async def test_a_webhook_delivered_twice_at_once_runs_the_callback_once(committed_store: Committed) -> None:
    c = committed_store
    seen: list[int] = []

    async def record(session: AsyncSession, payment: Payment) -> None:
        seen.append(payment.id)

    async def pay(s: AsyncSession) -> dict[str, object]:
        payment = await payment_service.create(
            s, amount=Money(900, "USD"), reference="race", idempotency_key=f"{c.tag}:pay"
        )
        card = CardIn(number=CARD_SUCCEEDS, exp_month=12, exp_year=utcnow().year + 1, cvc="123")
        await payment_service.confirm(s, payment.id, card)
        job = await s.scalar(
            select(Job).where(Job.kind == "payment.deliver_webhook").order_by(Job.id.desc()).limit(1)
        )
        assert job is not None
        return dict(job.payload)

    payload = await _in_own_transaction(c.engine, pay)
    payment_service.on_succeeded(record)
    try:

        async def deliver() -> bool:
            try:
                await _in_own_transaction(c.engine, lambda s: deliver_webhook(s, payload))  # type: ignore[arg-type]
                return True
            except SoukError:
                return False

        results = await asyncio.gather(*(deliver() for _ in range(4)))
    finally:
        payment_service.remove_callback(record)
    assert all(results)
    assert len(seen) == 1
    async with AsyncSession(c.engine) as s:
        status = await s.scalar(select(Payment.status).where(Payment.idempotency_key == f"{c.tag}:pay"))
    assert status == "succeeded"


async def test_two_reversals_of_one_entry_at_once_make_one(committed_store: Committed) -> None:
    c = committed_store
    so_id = await _fund(c, 6_000)

    async def release_entry(s: AsyncSession) -> int | None:
        key = f"{c.tag}:so:{so_id}:released"
        return await s.scalar(select(LedgerEntry.id).where(LedgerEntry.idempotency_key == key))

    async def reverse(n: int) -> object:
        try:
            return await _in_own_transaction(
                c.engine, lambda s: ledger_service.reverse(s, entry_id, key=f"{c.tag}:fix:{n}")
            )
        except SoukError as exc:
            return exc

    entry_id = await _in_own_transaction(c.engine, release_entry)
    assert isinstance(entry_id, int)
    results = await asyncio.gather(*(reverse(n) for n in range(6)))
    made = [r for r in results if isinstance(r, LedgerEntry)]
    refused = [r for r in results if isinstance(r, SoukError)]
    assert len(made) == 1 and len(refused) == 5
    assert {(e.status_code, e.code) for e in refused} == {(409, "entry_already_reversed")}
    assert await _balance(c, accounts.payable(c.store_id)) == 0
    assert await _balance(c, accounts.escrow(c.store_id, so_id)) == 6_000
    assert await _audit_ok(c.engine) == []
