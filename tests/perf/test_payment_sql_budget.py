"""The SQL budget of the payment service on the checkout's path and the webhook job's path (issue 6): how many
statements ``PaymentService.create``, ``confirm`` and one webhook delivery send, and that none of them opens a
savepoint (``count_sql`` leaves SAVEPOINT / RELEASE out of the count and keeps them in ``sql.skipped``).

- ``create`` (a new key): the simulated provider's intent and the payment, each one
  ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` on its unique key (the existing row is read only on a
  conflict);
- ``confirm``: the payment read and locked (the claim: ``FOR UPDATE`` on PostgreSQL, one writer at a time on
  SQLite), the provider's intent updated, its webhook's delivery job inserted, the payment updated once;
- one webhook delivery (the ``payment.deliver_webhook`` job's handler): the event recorded with its expected
  outcome and the payment's conditional UPDATE (RETURNING the row the callbacks get); the callbacks' own
  statements (the order's) are not the payment service's and are left out here.

The guarantees the removed savepoints used to give are tested too: two confirmations at the same moment charge
once, and a provider error leaves the payment as it was.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.servers import OpenServers
from souk.kit.clock import utcnow
from souk.kit.money import Money
from souk.models import Job, Payment, SimulatedIntent, WebhookEvent
from souk.payment.errors import PaymentKeyReused, PaymentNotPayable
from souk.payment.provider import Intent, PaymentProvider, ProviderError
from souk.payment.schemas import CardIn
from souk.payment.service import payment_service
from souk.payment.simulated import CARD_DECLINED, CARD_SUCCEEDS, DELIVER_WEBHOOK, SimulatedPaymentProvider
from souk.payment.tasks import deliver_webhook

CREATE_BUDGET = 2
CONFIRM_BUDGET = 4
WEBHOOK_BUDGET = 2


def card(number: str = CARD_SUCCEEDS) -> CardIn:
    return CardIn.model_validate(
        {"number": number, "exp_month": 12, "exp_year": utcnow().year + 2, "cvc": "123"}
    )


@pytest.fixture
def no_callbacks() -> Iterator[None]:
    """The payment service's own statements only: the order's callbacks are set aside for the test."""
    succeeded, failed = payment_service._succeeded, payment_service._failed
    payment_service._succeeded, payment_service._failed = [], []
    yield
    payment_service._succeeded, payment_service._failed = succeeded, failed


async def create(session: AsyncSession, key: str = "budget-1", amount: int = 2500) -> Payment:
    return await payment_service.create(
        session, amount=Money(amount, "USD"), reference="order 1", idempotency_key=key
    )


async def webhook_job(session: AsyncSession, intent_id: str) -> Job:
    jobs = (
        await session.scalars(select(Job).where(Job.kind == DELIVER_WEBHOOK).order_by(Job.id.desc()))
    ).all()
    job = next(j for j in jobs if j.payload["event"]["intent_id"] == intent_id)
    return job


async def test_create_sends_two_statements_and_no_savepoint(
    session: AsyncSession, count_sql: Callable[[], Any]
) -> None:
    await session.execute(select(1))  # the test's session opens its savepoint (the harness's) first
    with count_sql() as sql:
        payment = await create(session)
    assert len(sql) == CREATE_BUDGET, sql.report()
    assert sql.skipped == [], sql.report()
    assert (payment.id is not None, payment.status, payment.amount, payment.currency) == (
        True,
        "requires_payment",
        2500,
        "USD",
    )
    intent = await session.get(SimulatedIntent, payment.intent_id)
    assert intent is not None and (intent.amount, intent.idempotency_key) == (2500, "payment:budget-1")

    # a repeat reads the existing rows (only then), and still no savepoint
    session.expunge_all()
    with count_sql() as sql:
        again = await create(session)
    assert again.id == payment.id and sql.skipped == [] and len(sql) == 4, sql.report()
    with pytest.raises(PaymentKeyReused):
        await create(session, amount=2600)
    assert await session.scalar(select(func.count()).select_from(Payment)) == 1
    assert await session.scalar(select(func.count()).select_from(SimulatedIntent)) == 1


@pytest.mark.parametrize(("number", "status"), [(CARD_SUCCEEDS, "processing"), (CARD_DECLINED, "failed")])
async def test_confirm_sends_four_statements_and_no_savepoint(
    session: AsyncSession, count_sql: Callable[[], Any], number: str, status: str
) -> None:
    payment_id = (await create(session)).id
    await session.flush()
    session.expunge_all()  # as in the checkout: the charge runs in a transaction of its own
    with count_sql() as sql:
        payment = await payment_service.confirm(session, payment_id, card(number))
    assert len(sql) == CONFIRM_BUDGET, sql.report()
    assert sql.skipped == [], sql.report()
    assert sum(s.lstrip().upper().startswith("UPDATE PAYMENTS") for s in sql.sql) == 1, sql.report()
    assert (payment.status, payment.card_brand, payment.card_last4) == (status, "visa", number[-4:])
    session.expunge_all()
    stored = await session.get(Payment, payment_id)
    assert stored is not None and (stored.status, stored.card_last4) == (status, number[-4:])
    assert (stored.failure_code is None) == (status == "processing")


@pytest.mark.usefixtures("no_callbacks")
async def test_one_webhook_delivery_sends_two_statements_and_no_savepoint(
    session: AsyncSession, count_sql: Callable[[], Any]
) -> None:
    payment = await create(session)
    await payment_service.confirm(session, payment.id, card())
    job = await webhook_job(session, payment.intent_id)
    await session.flush()
    session.expunge_all()
    with count_sql() as sql:
        await deliver_webhook(session, job.payload)
    assert len(sql) == WEBHOOK_BUDGET, sql.report()
    assert sql.skipped == [], sql.report()
    session.expunge_all()
    stored = await session.get(Payment, payment.id)
    assert stored is not None and stored.status == "succeeded" and stored.succeeded_at is not None
    events = (await session.scalars(select(WebhookEvent))).all()
    assert [(e.event_id, e.outcome) for e in events] == [(job.payload["event"]["id"], "applied")]

    # the same delivery again: one statement (the event's insert finds it), nothing changes
    with count_sql() as sql:
        await deliver_webhook(session, job.payload)
    assert len(sql) == 1 and sql.skipped == [], sql.report()


async def test_the_callbacks_get_the_updated_payment(session: AsyncSession) -> None:
    seen: list[tuple[int, str, bool]] = []

    async def record(_session: AsyncSession, payment: Payment) -> None:
        seen.append((payment.id, payment.status, payment.succeeded_at is not None))

    payment = await create(session)
    await payment_service.confirm(session, payment.id, card())
    job = await webhook_job(session, payment.intent_id)
    payment_service.on_succeeded(record)
    try:
        await deliver_webhook(session, job.payload)
    finally:
        payment_service.remove_callback(record)
    assert seen == [(payment.id, "succeeded", True)]
    # the session's own copy of the payment is the updated one
    assert (payment.status, payment.failure_code) == ("succeeded", None)


@pytest.mark.usefixtures("no_callbacks")
async def test_an_ignored_event_corrects_its_outcome_once_and_says_why(
    session: AsyncSession, count_sql: Callable[[], Any], caplog: pytest.LogCaptureFixture
) -> None:
    payment = await create(session)
    await payment_service.confirm(session, payment.id, card(CARD_DECLINED))
    await payment_service.confirm(session, payment.id, card())  # a newer attempt is in flight
    failure = next(
        j
        for j in (
            await session.scalars(select(Job).where(Job.kind == DELIVER_WEBHOOK).order_by(Job.id))
        ).all()
        if j.payload["event"]["type"] == "payment_intent.payment_failed"
    )
    with count_sql() as sql:
        await deliver_webhook(session, failure.payload)
    # the event, the payment's UPDATE (nothing to change), the payment read to say why, the outcome
    assert len(sql) == 4 and sql.skipped == [], sql.report()
    event = await session.scalar(
        select(WebhookEvent).where(WebhookEvent.event_id == failure.payload["event"]["id"])
    )
    assert event is not None and event.outcome == "ignored"
    assert (await session.get(Payment, payment.id)).status == "processing"  # type: ignore[union-attr]

    # an unknown intent and another amount are logged as before
    forged = {**failure.payload["event"], "id": "evt_forged_1", "intent_id": "pi_nobody"}
    other = {**failure.payload["event"], "id": "evt_forged_2", "amount": 1}
    huge = {
        **failure.payload["event"],
        "id": "evt_forged_3",
        "type": "payment_intent.succeeded",
        "amount": 10**30,
    }
    with caplog.at_level(logging.WARNING, logger="souk.payment"):
        for event in (forged, other, huge):
            await deliver_webhook(session, {"provider": "simulated", "event": event})
    messages = [r.getMessage() for r in caplog.records if r.name == "souk.payment"]
    assert any("unknown intent pi_nobody" in m for m in messages), messages
    assert sum("does not match payment" in m for m in messages) == 2, messages
    outcomes = (
        await session.scalars(
            select(WebhookEvent.outcome).where(
                WebhookEvent.event_id.in_(("evt_forged_1", "evt_forged_2", "evt_forged_3"))
            )
        )
    ).all()
    assert outcomes == ["ignored"] * 3
    assert (await session.get(Payment, payment.id)).status == "processing"  # type: ignore[union-attr]


class FailingProvider(SimulatedPaymentProvider):
    """The simulated provider, refusing every charge after its intent was looked at."""

    async def confirm(self, session: AsyncSession, intent_id: str, **card: Any) -> Intent:
        raise ProviderError("The provider is unavailable.", code="provider_unavailable")


async def test_a_provider_error_leaves_the_payment_as_it_was(session: AsyncSession) -> None:
    payment = await create(session)
    await payment_service.confirm(session, payment.id, card(CARD_DECLINED))
    payment_service.use_provider(FailingProvider())
    try:
        with pytest.raises(ProviderError):
            await payment_service.confirm(session, payment.id, card())
    finally:
        payment_service.use_provider(None)
    session.expunge_all()
    stored = await session.get(Payment, payment.id)
    assert stored is not None
    assert (stored.status, stored.failure_code, stored.card_last4) == ("failed", "card_declined", "0002")
    # and it can still be paid
    paid = await payment_service.confirm(session, payment.id, card())
    assert paid.status == "processing"


class CountingProvider(SimulatedPaymentProvider):
    def __init__(self) -> None:
        self.charges = 0

    async def confirm(self, session: AsyncSession, intent_id: str, **card: Any) -> Intent:
        self.charges += 1
        return await super().confirm(session, intent_id, **card)


async def test_two_confirmations_at_once_charge_once(souk_servers: OpenServers) -> None:
    """Without the claim's savepoint, the payment's row lock (PostgreSQL) or the single writer (SQLite) makes
    the second confirmation wait for the first and find it processing: one charge, one webhook job."""
    async with souk_servers("payment_confirm_once", processes=0) as servers:
        async with servers.maker() as s, s.begin():
            payment_id = (await create(s, key="race-1")).id
        provider: PaymentProvider = CountingProvider()
        payment_service.use_provider(provider)

        async def confirm(hold: float) -> str:
            try:
                async with servers.maker() as s, s.begin():
                    payment = await payment_service.confirm(s, payment_id, card())
                    await asyncio.sleep(hold)  # the first keeps its transaction open while the second tries
                    return payment.status
            except PaymentNotPayable as refused:
                return f"refused:{refused.payment_status}"

        try:
            results = await asyncio.gather(confirm(0.3), confirm(0.0))
        finally:
            payment_service.use_provider(None)
        assert sorted(results) == ["processing", "refused:processing"]
        assert isinstance(provider, CountingProvider) and provider.charges == 1
        async with servers.maker() as s:
            assert (
                await s.scalar(select(func.count()).select_from(Job).where(Job.kind == DELIVER_WEBHOOK)) == 1
            )
            status = await s.scalar(select(Payment.status).where(Payment.id == payment_id))
            assert status == "processing"
