"""POST /api/v1/webhooks/payments: signed, replay-protected, idempotent."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.config import Settings
from souk.kit.clock import utcnow
from souk.kit.money import Money
from souk.models import Payment, WebhookEvent
from souk.payment.schemas import CardIn
from souk.payment.service import payment_service
from souk.payment.simulated import CARD_DECLINED, CARD_SUCCEEDS
from souk.payment.webhooks import WebhookRejected, encode_event, sign, verify

URL = "/api/v1/webhooks/payments"


@pytest.fixture
def calls() -> Iterator[list[int]]:
    seen: list[int] = []

    async def record(session: AsyncSession, payment: Payment) -> None:
        seen.append(payment.id)

    payment_service.on_succeeded(record)
    yield seen
    payment_service.remove_callback(record)


async def _processing_payment(session: AsyncSession) -> tuple[int, str]:
    payment = await payment_service.create(
        session, amount=Money(4200, "EUR"), reference="order 7", idempotency_key="wh-1"
    )
    card = CardIn(number=CARD_SUCCEEDS, exp_month=12, exp_year=utcnow().year + 1, cvc="123")
    await payment_service.confirm(session, payment.id, card)
    ids = (payment.id, payment.intent_id)
    await session.commit()
    return ids


def _event(intent_id: str, event_id: str = "evt_1", **changes: object) -> dict[str, object]:
    event: dict[str, object] = {
        "id": event_id,
        "type": "payment_intent.succeeded",
        "intent_id": intent_id,
        "amount": 4200,
        "currency": "EUR",
        "created": int(utcnow().timestamp()),
    }
    event.update(changes)
    return event


def _signed(settings: Settings, body: bytes, *, age: int = 0, secret: str | None = None) -> dict[str, str]:
    timestamp = int(utcnow().timestamp()) - age
    return {
        "Souk-Signature": sign(secret or settings.resolved_payment_webhook_secret, timestamp, body),
        "Content-Type": "application/json",
    }


async def _status(session: AsyncSession, payment_id: int) -> str:
    status = await session.scalar(select(Payment.status).where(Payment.id == payment_id))
    return str(status)


async def _events(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(WebhookEvent)) or 0)


class TestSignature:
    def test_round_trip_and_tampering(self) -> None:
        body = b'{"id":"evt"}'
        header = sign("s3cret", 1_700_000_000, body)
        assert header.startswith("t=1700000000,v1=")
        assert verify("s3cret", header, body, 1_700_000_100) == 1_700_000_000
        # a rotated secret: any of several v1 signatures may match
        assert verify("s3cret", f"t=1700000000,v1={'0' * 64},{header.split(',')[1]}", body, 1_700_000_000)
        for secret, hdr, data, now, code in [
            ("other", header, body, 1_700_000_000, "signature_invalid"),
            ("s3cret", header, body + b" ", 1_700_000_000, "signature_invalid"),
            ("s3cret", header, body, 1_700_000_301, "signature_expired"),
            ("s3cret", header, body, 1_699_999_699, "signature_expired"),
            ("s3cret", None, body, 1_700_000_000, "signature_missing"),
            ("s3cret", "v1=abc", body, 1_700_000_000, "signature_malformed"),
            ("s3cret", "t=abc,v1=abc", body, 1_700_000_000, "signature_malformed"),
        ]:
            with pytest.raises(WebhookRejected) as caught:
                verify(secret, hdr, data, now)
            assert caught.value.code == code and caught.value.status_code == 400


class TestEndpoint:
    async def test_a_signed_event_marks_the_payment_paid_once(
        self, client: httpx.AsyncClient, session: AsyncSession, settings: Settings, calls: list[int]
    ) -> None:
        payment_id, intent_id = await _processing_payment(session)
        body = encode_event(_event(intent_id))
        headers = _signed(settings, body)

        response = await client.post(URL, content=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "received": True,
            "event_id": "evt_1",
            "duplicate": False,
            "outcome": "applied",
        }
        assert await _status(session, payment_id) == "succeeded"
        assert calls == [payment_id]

        # the same delivery again (a provider retry, or a replay within five minutes): acknowledged, no effect
        again = await client.post(URL, content=body, headers=headers)
        assert again.status_code == 200 and again.json()["duplicate"] is True
        # another event saying the same: recorded, ignored, the callback does not run again
        other = encode_event(_event(intent_id, "evt_2"))
        response = await client.post(URL, content=other, headers=_signed(settings, other))
        assert response.json()["outcome"] == "ignored"
        assert calls == [payment_id]
        assert await _events(session) == 2

    @pytest.mark.parametrize(
        ("make_headers", "code"),
        [
            (lambda s, b: _signed(s, b, secret="not-the-secret"), "signature_invalid"),
            (lambda s, b: _signed(s, b, age=301), "signature_expired"),
            (lambda s, b: {"Content-Type": "application/json"}, "signature_missing"),
            (lambda s, b: {"Souk-Signature": "t=1,v2=abc"}, "signature_malformed"),
            (lambda s, b: _signed(s, b + b"\n"), "signature_invalid"),
        ],
    )
    async def test_unauthentic_or_old_events_are_refused(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        settings: Settings,
        calls: list[int],
        make_headers,
        code: str,
    ) -> None:
        payment_id, intent_id = await _processing_payment(session)
        body = encode_event(_event(intent_id))
        response = await client.post(URL, content=body, headers=make_headers(settings, body))
        assert response.status_code == 400
        assert response.json()["error"] == code
        assert await _status(session, payment_id) == "processing"
        assert calls == [] and await _events(session) == 0

    @pytest.mark.parametrize(
        "body",
        [b"not json", b"[1, 2]", json.dumps({"id": "evt", "type": "x"}).encode(), encode_event({"id": 5})],
    )
    async def test_malformed_events_are_refused(
        self, client: httpx.AsyncClient, settings: Settings, body: bytes
    ) -> None:
        response = await client.post(URL, content=body, headers=_signed(settings, body))
        assert response.status_code == 400 and response.json()["error"] == "event_malformed"

    async def test_unknown_intents_and_mismatched_amounts_are_ignored(
        self, client: httpx.AsyncClient, session: AsyncSession, settings: Settings, calls: list[int]
    ) -> None:
        payment_id, intent_id = await _processing_payment(session)
        for event in (_event("pi_nobody", "evt_a"), _event(intent_id, "evt_b", amount=1)):
            body = encode_event(event)
            response = await client.post(URL, content=body, headers=_signed(settings, body))
            assert response.status_code == 200 and response.json()["outcome"] == "ignored"
        assert await _status(session, payment_id) == "processing" and calls == []

    async def test_a_failure_event(
        self, client: httpx.AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        payment_id, intent_id = await _processing_payment(session)
        # a failure for an attempt older than the one in flight does not override it
        body = encode_event(
            _event(intent_id, "evt_f", type="payment_intent.payment_failed", failure_code="card_declined")
        )
        response = await client.post(URL, content=body, headers=_signed(settings, body))
        assert response.json()["outcome"] == "ignored"
        assert await _status(session, payment_id) == "processing"

    async def test_a_success_after_a_decline_is_applied(
        self, client: httpx.AsyncClient, session: AsyncSession, settings: Settings, calls: list[int]
    ) -> None:
        """The provider's signed word on captured money is authoritative: an intent that was declined and then
        succeeded (the buyer retried with the provider, e.g. after authenticating the card) is recorded as
        paid, once. (A payment arriving for an order already closed unpaid is refunded: see
        ``order.paying.mark_paid``.)"""
        payment = await payment_service.create(
            session, amount=Money(4200, "EUR"), reference="order 8", idempotency_key="wh-declined"
        )
        card = CardIn(number=CARD_DECLINED, exp_month=12, exp_year=utcnow().year + 1, cvc="123")
        await payment_service.confirm(session, payment.id, card)
        payment_id, intent_id = payment.id, payment.intent_id
        await session.commit()
        assert await _status(session, payment_id) == "failed"
        body = encode_event(_event(intent_id, "evt_late_success"))
        response = await client.post(URL, content=body, headers=_signed(settings, body))
        assert response.status_code == 200 and response.json()["outcome"] == "applied"
        assert await _status(session, payment_id) == "succeeded"
        assert calls == [payment_id]
