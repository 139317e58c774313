"""Payments through the simulated provider: intents, test cards, the asynchronous signed confirmation, callbacks
and refunds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.errors import Invalid
from souk.kit.clock import utcnow
from souk.kit.money import Money
from souk.models import Job, Payment, PaymentRefund, SimulatedIntent, SimulatedRefund, WebhookEvent
from souk.payment.errors import (
    PaymentDeclined,
    PaymentKeyReused,
    PaymentNotPayable,
    PaymentNotRefundable,
    RefundTooLarge,
)
from souk.payment.provider import card_brand, luhn_valid
from souk.payment.schemas import CardIn
from souk.payment.service import payment_service
from souk.payment.simulated import (
    CARD_DECLINED,
    CARD_EXPIRED,
    CARD_INSUFFICIENT_FUNDS,
    CARD_SUCCEEDS,
    DELIVER_WEBHOOK,
)


def card(number: str = CARD_SUCCEEDS, **kw: object) -> CardIn:
    values: dict[str, object] = {
        "number": number,
        "exp_month": 12,
        "exp_year": utcnow().year + 2,
        "cvc": "123",
    }
    values.update(kw)
    return CardIn.model_validate(values)


class Recorder:
    def __init__(self) -> None:
        self.succeeded: list[tuple[int, str]] = []
        self.failed: list[tuple[int, str | None]] = []

    async def on_succeeded(self, session: AsyncSession, payment: Payment) -> None:
        self.succeeded.append((payment.id, payment.status))

    async def on_failed(self, session: AsyncSession, payment: Payment) -> None:
        self.failed.append((payment.id, payment.failure_code))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    payment_service.on_succeeded(rec.on_succeeded)
    payment_service.on_failed(rec.on_failed)
    yield rec
    payment_service.remove_callback(rec.on_succeeded)
    payment_service.remove_callback(rec.on_failed)


async def new_payment(
    session: AsyncSession, amount: int = 2500, key: str = "checkout-1", **kw: object
) -> Payment:
    return await payment_service.create(
        session,
        amount=Money(amount, kw.pop("currency", "USD")),
        reference="order 1",
        idempotency_key=key,
        **kw,  # type: ignore[arg-type]
    )


async def _webhook_jobs(session: AsyncSession) -> list[Job]:
    rows = await session.scalars(select(Job).where(Job.kind == DELIVER_WEBHOOK).order_by(Job.id))
    return list(rows.all())


class TestCards:
    def test_luhn_and_brands(self) -> None:
        assert luhn_valid(CARD_SUCCEEDS) and luhn_valid(CARD_DECLINED) and luhn_valid(CARD_INSUFFICIENT_FUNDS)
        assert not luhn_valid("4242424242424241") and not luhn_valid("42x2")
        assert card_brand("4242424242424242") == "visa"
        assert card_brand("5555555555554444") == "mastercard"
        assert card_brand("2223003122003222") == "mastercard"
        assert card_brand("378282246310005") == "amex"
        assert card_brand("6200000000000005") == "unionpay"
        assert card_brand("9999999999999995") == "card"

    def test_the_number_is_cleaned_and_checked(self) -> None:
        assert card("4242 4242-4242 4242").number == CARD_SUCCEEDS
        assert card(exp_year=31).exp_year == 2031
        for number in ("4242424242424241", "1234", "4242 abcd 4242 4242"):
            with pytest.raises(ValidationError):
                card(number)
        with pytest.raises(ValidationError):
            card(cvc="12")
        with pytest.raises(ValidationError):
            card(exp_month=13)


class TestCreate:
    async def test_a_payment_and_its_intent(self, session: AsyncSession) -> None:
        payment = await new_payment(session, 2500, order_id=None)
        assert (payment.status, payment.amount, payment.currency, payment.provider) == (
            "requires_payment",
            2500,
            "USD",
            "simulated",
        )
        intent = await session.get(SimulatedIntent, payment.intent_id)
        assert intent is not None
        assert (intent.amount, intent.currency, intent.status) == (2500, "USD", "requires_payment_method")
        assert intent.client_secret.startswith(f"{intent.id}_secret_")

    async def test_the_same_key_is_the_same_payment(self, session: AsyncSession) -> None:
        first = await new_payment(session, 2500, key="k1")
        assert (await new_payment(session, 2500, key="k1")).id == first.id
        with pytest.raises(PaymentKeyReused) as caught:
            await new_payment(session, 2600, key="k1")
        assert caught.value.code == "idempotency_key_reused" and caught.value.status_code == 409
        count = len((await session.scalars(select(Payment).where(Payment.idempotency_key == "k1"))).all())
        assert count == 1

    @pytest.mark.parametrize(
        ("amount", "currency", "field"), [(0, "USD", "amount"), (100, "XXX", "currency")]
    )
    async def test_bad_amounts_are_refused(
        self, session: AsyncSession, amount: int, currency: str, field: str
    ) -> None:
        with pytest.raises(Invalid) as caught:
            await new_payment(session, amount, currency=currency)
        assert field in caught.value.fields


class TestConfirm:
    async def test_the_test_card_succeeds_asynchronously(
        self, session: AsyncSession, recorder: Recorder, run_worker
    ) -> None:
        payment = await new_payment(session)
        confirmed = await payment_service.confirm(session, payment.id, card())
        assert (confirmed.status, confirmed.card_brand, confirmed.card_last4) == (
            "processing",
            "visa",
            "4242",
        )
        assert recorder.succeeded == []
        jobs = await _webhook_jobs(session)
        assert len(jobs) == 1
        event = jobs[0].payload["event"]
        assert (event["type"], event["intent_id"], event["amount"], event["currency"]) == (
            "payment_intent.succeeded",
            payment.intent_id,
            2500,
            "USD",
        )

        payment_id = payment.id
        await run_worker()
        payment = await session.get(Payment, payment_id)
        assert payment is not None and payment.status == "succeeded" and payment.succeeded_at is not None
        assert recorder.succeeded == [(payment_id, "succeeded")]
        events = (await session.scalars(select(WebhookEvent))).all()
        assert [(e.event_id, e.outcome) for e in events] == [(event["id"], "applied")]

        await run_worker()  # nothing left to deliver; the callback ran once
        assert recorder.succeeded == [(payment_id, "succeeded")]

    async def test_no_card_number_is_stored(self, session: AsyncSession, run_worker) -> None:
        payment = await new_payment(session)
        await payment_service.confirm(session, payment.id, card())
        await run_worker()
        for model in (Payment, SimulatedIntent, Job, WebhookEvent):
            for row in (await session.scalars(select(model))).all():
                values = [str(getattr(row, c.key)) for c in model.__mapper__.column_attrs]
                assert not any(CARD_SUCCEEDS in v for v in values), model

    @pytest.mark.parametrize(
        ("number", "code"),
        [
            (CARD_DECLINED, "card_declined"),
            (CARD_INSUFFICIENT_FUNDS, "insufficient_funds"),
            (CARD_EXPIRED, "expired_card"),
        ],
    )
    async def test_declined_cards(
        self, session: AsyncSession, recorder: Recorder, run_worker, number: str, code: str
    ) -> None:
        payment = await new_payment(session)
        result = await payment_service.confirm(session, payment.id, card(number))
        assert (result.status, result.failure_code, result.card_last4) == ("failed", code, number[-4:])
        declined = PaymentDeclined(result)
        assert (declined.status_code, declined.code) == (402, code)
        assert "Try another card" in declined.fields["card_number"]

        payment_id = payment.id
        await run_worker()
        payment = await session.get(Payment, payment_id)
        assert payment is not None and payment.status == "failed" and payment.failure_code == code
        assert recorder.failed == [(payment_id, code)] and recorder.succeeded == []

    async def test_after_a_decline_another_card_pays(
        self, session: AsyncSession, recorder: Recorder, run_worker
    ) -> None:
        payment = await new_payment(session)
        await payment_service.confirm(session, payment.id, card(CARD_INSUFFICIENT_FUNDS))
        again = await payment_service.confirm(session, payment.id, card())
        assert (again.status, again.failure_code) == ("processing", None)
        payment_id = payment.id
        await run_worker()  # delivers the failure (ignored: a newer attempt is in flight), then the success
        payment = await session.get(Payment, payment_id)
        assert payment is not None and payment.status == "succeeded"
        assert recorder.succeeded == [(payment_id, "succeeded")] and recorder.failed == []
        outcomes = sorted(e.outcome for e in (await session.scalars(select(WebhookEvent))).all())
        assert outcomes == ["applied", "ignored"]

    async def test_a_payment_is_not_charged_twice(self, session: AsyncSession, run_worker) -> None:
        payment_id = (await new_payment(session)).id
        await payment_service.confirm(session, payment_id, card())
        with pytest.raises(PaymentNotPayable) as caught:
            await payment_service.confirm(session, payment_id, card())
        assert caught.value.status_code == 409 and caught.value.payment_status == "processing"
        await run_worker()
        with pytest.raises(PaymentNotPayable) as caught:
            await payment_service.confirm(session, payment_id, card())
        assert caught.value.payment_status == "succeeded"
        assert len(await _webhook_jobs(session)) == 1

    async def test_an_expired_card_is_refused_before_the_provider(self, session: AsyncSession) -> None:
        payment = await new_payment(session)
        with pytest.raises(Invalid) as caught:
            await payment_service.confirm(session, payment.id, card(exp_month=1, exp_year=2001))
        assert caught.value.fields == {"exp_month": "the card has expired"}
        assert (await session.get(Payment, payment.id)).status == "requires_payment"  # type: ignore[union-attr]


class TestRefund:
    async def _paid(self, session: AsyncSession, run_worker, amount: int = 5000) -> int:
        payment_id = (await new_payment(session, amount, key=f"paid-{amount}")).id
        await payment_service.confirm(session, payment_id, card())
        await run_worker()
        return payment_id

    async def test_partial_then_full(self, session: AsyncSession, run_worker, assert_ledger_balanced) -> None:
        payment_id = await self._paid(session, run_worker)
        first = await payment_service.refund(session, payment_id, 2000, "refund-1")
        payment = await session.get(Payment, payment_id)
        assert payment is not None and (payment.status, payment.refunded_amount) == ("succeeded", 2000)
        assert (await payment_service.refund(session, payment_id, 2000, "refund-1")).id == first.id
        with pytest.raises(PaymentKeyReused):
            await payment_service.refund(session, payment_id, 1000, "refund-1")
        with pytest.raises(RefundTooLarge) as caught:
            await payment_service.refund(session, payment_id, 3001, "refund-2")
        assert caught.value.status_code == 422
        assert caught.value.fields["amount"] == "must be at most US$30.00, what is left to refund"
        await payment_service.refund(session, payment_id, 3000, "refund-2")
        await session.refresh(payment)
        assert (payment.status, payment.refunded_amount) == ("refunded", 5000)
        provider_side = (
            await session.scalars(select(SimulatedRefund).order_by(SimulatedRefund.created_at))
        ).all()
        assert [r.amount for r in provider_side] == [2000, 3000]
        assert len((await session.scalars(select(PaymentRefund))).all()) == 2
        with pytest.raises(PaymentNotRefundable):
            await payment_service.refund(session, payment_id, 1, "refund-3")
        await assert_ledger_balanced(session)

    async def test_an_unpaid_payment_cannot_be_refunded(self, session: AsyncSession) -> None:
        payment = await new_payment(session)
        with pytest.raises(PaymentNotRefundable) as caught:
            await payment_service.refund(session, payment.id, 100, "r")
        assert caught.value.status_code == 409
        with pytest.raises(Invalid):
            await payment_service.refund(session, payment.id, 0, "r0")
