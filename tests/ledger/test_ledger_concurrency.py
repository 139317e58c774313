"""Money under real parallel transactions (PostgreSQL only: each attempt has its own connection, so the rows are
committed here and removed afterwards)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from fixtures.core import is_postgres
from fixtures.factories import actor_of
from souk.audit import run_checks
from souk.auth.actor import Actor
from souk.errors import SoukError
from souk.kit.clock import utcnow
from souk.kit.money import Money
from souk.ledger import accounts, postings
from souk.ledger.errors import AccountOverdrawn
from souk.ledger.service import ledger_service
from souk.models import (
    AccountBalance,
    Job,
    LedgerEntry,
    LedgerPosting,
    Payment,
    Payout,
    SimulatedIntent,
    Store,
    User,
    WebhookEvent,
)
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
async def committed_store(engine: AsyncEngine) -> AsyncIterator[Committed]:
    """A market store whose owner can pay out, committed for every connection to see; removed afterwards with
    everything the test wrote about it."""
    tag = secrets.token_hex(4)
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
        ids = (user.id, store.id)
    try:
        yield Committed(engine, store.id, actor_of(user), tag)
    finally:
        user_id, store_id = ids
        async with AsyncSession(engine) as s:
            payout_ids = list((await s.scalars(select(Payout.id).where(Payout.store_id == store_id))).all())
            intents = list(
                (
                    await s.scalars(select(Payment.intent_id).where(Payment.idempotency_key.like(f"{tag}:%")))
                ).all()
            )
            entry_ids = select(LedgerEntry.id).where(
                or_(
                    LedgerEntry.idempotency_key.like(f"{tag}:%"),
                    (LedgerEntry.reference_type == "payout") & LedgerEntry.reference_id.in_(payout_ids),
                )
            )
            await s.execute(delete(LedgerPosting).where(LedgerPosting.entry_id.in_(entry_ids)))
            await s.execute(delete(LedgerEntry).where(LedgerEntry.id.in_(entry_ids)))
            await s.execute(delete(AccountBalance).where(AccountBalance.store_id == store_id))
            jobs = (await s.scalars(select(Job))).all()
            mine = [
                j.id
                for j in jobs
                if j.dedupe_key in {f"payout-send:{p}" for p in payout_ids}
                or (j.payload.get("event") or {}).get("intent_id") in intents
            ]
            await s.execute(delete(Job).where(Job.id.in_(mine)))
            await s.execute(delete(Payout).where(Payout.store_id == store_id))
            await s.execute(delete(WebhookEvent).where(WebhookEvent.intent_id.in_(intents)))
            await s.execute(delete(Payment).where(Payment.intent_id.in_(intents)))
            await s.execute(delete(SimulatedIntent).where(SimulatedIntent.id.in_(intents)))
            await s.execute(delete(Store).where(Store.id == store_id))
            await s.execute(delete(User).where(User.id == user_id))
            await s.commit()


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
