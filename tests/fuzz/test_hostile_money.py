"""Hostile money requests: a price or total sent by the client, currency mismatches, confirming receipt of an
unpaid order, and payment and carrier webhooks that are replayed, forged or arrive out of order. After every
test the ledger and every other `souk audit` invariant must hold."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import api_token_for
from fixtures.orders import CARD_DECLINED, carrier_event, carrier_signature, seller_orders, ship
from souk.config import Settings
from souk.kit.clock import utcnow
from souk.models import LedgerEntry, Order, Payment, SellerOrder, Shipment, User
from souk.payment.webhooks import encode_event, sign

PAYMENTS = "/api/v1/webhooks/payments"
CARRIERS = "/api/v1/webhooks/carriers"


@pytest.fixture(autouse=True)
async def _audit_after_each_test(
    session: AsyncSession, assert_ledger_balanced: Callable[[AsyncSession], Awaitable[None]]
) -> AsyncIterator[None]:
    yield
    await assert_ledger_balanced(session)


async def _headers(session: AsyncSession, user_id: int) -> dict[str, str]:
    user = await session.get(User, user_id)
    assert user is not None
    headers = await api_token_for(session, user)
    headers["Idempotency-Key"] = f"fuzz-{secrets.token_hex(8)}"
    return headers


async def _fresh(session: AsyncSession, model: Any, row_id: int) -> Any:
    return await session.scalar(
        select(model).where(model.id == row_id).execution_options(populate_existing=True)
    )


def _payment_event(payment: Payment, kind: str = "payment_intent.succeeded", **changes: Any) -> bytes:
    event: dict[str, Any] = {
        "id": f"evt_{secrets.token_hex(6)}",
        "type": kind,
        "intent_id": payment.intent_id,
        "amount": payment.amount,
        "currency": payment.currency,
        "created": int(utcnow().timestamp()),
        **changes,
    }
    return encode_event(event)


def _signed(secret: str, body: bytes, age: int = 0) -> dict[str, str]:
    return {
        "Souk-Signature": sign(secret, int(utcnow().timestamp()) - age, body),
        "Content-Type": "application/json",
    }


class TestClientPrices:
    @pytest.mark.parametrize(
        "extra",
        [
            {"unit_price_amount": 1},
            {"price_amount": 0},
            {"price": "0.01"},
            {"line_total_amount": -5},
            {"currency": "JPY"},
        ],
        ids=repr,
    )
    async def test_cart_refuses_a_price(
        self, client: httpx.AsyncClient, session: AsyncSession, market, extra
    ):
        m = await market()
        headers = await _headers(session, m.buyer_id)
        await session.commit()
        body = {"sku_id": m.sku_ids[0], "quantity": 1, **extra}
        r = await client.post("/api/v1/cart/items", json=body, headers=headers)
        assert r.status_code == 422 and set(extra) <= set(r.json()["fields"]), r.text
        cart = (await client.get("/api/v1/cart", headers=headers)).json()
        prices = [ln["unit_price_amount"] for g in cart["groups"] for s in g["stores"] for ln in s["lines"]]
        assert sorted(prices) == [1500, 2990]  # the catalog prices, untouched

    @pytest.mark.parametrize(
        "extra",
        [{"total_amount": 1}, {"items_amount": 1}, {"shipping_amount": 0}, {"items": [{"price_amount": 1}]}],
        ids=repr,
    )
    async def test_checkout_refuses_a_price(
        self, client: httpx.AsyncClient, session: AsyncSession, market, extra
    ):
        m = await market()
        headers = await _headers(session, m.buyer_id)
        await session.commit()
        r = await client.post("/api/v1/checkouts", json={**m.body(), **extra}, headers=headers)
        assert r.status_code == 422 and set(extra) <= set(r.json()["fields"]), r.text
        assert await session.scalar(select(func.count()).select_from(Order)) == 0

    async def test_the_total_is_the_catalog_price(
        self, client: httpx.AsyncClient, session: AsyncSession, market
    ):
        m = await market(prices=(2990, 1500), qty=(1, 2), shipping=(490, 0))
        headers = await _headers(session, m.buyer_id)
        await session.commit()
        # a wrong expected total (what the buyer saw) is refused, not charged
        r = await client.post("/api/v1/checkouts", json=m.body(expected_total_amount=1), headers=headers)
        assert 400 <= r.status_code < 500 and r.json()["error"], r.text
        assert await session.scalar(select(func.count()).select_from(Order)) == 0
        headers["Idempotency-Key"] = f"fuzz-{secrets.token_hex(8)}"
        r = await client.post("/api/v1/checkouts", json=m.body(), headers=headers)
        assert r.status_code == 201, r.text
        assert r.json()["total_amount"] == 2990 + 2 * 1500 + 490


class TestCurrencies:
    @pytest.mark.parametrize("currency", ["EUR", "JPY", "usd", "XXX", "US", "€", ""])
    async def test_checkout_in_another_currency(
        self, client: httpx.AsyncClient, session: AsyncSession, market, currency
    ):
        m = await market(currency="USD")
        headers = await _headers(session, m.buyer_id)
        await session.commit()
        r = await client.post("/api/v1/checkouts", json={**m.body(), "currency": currency}, headers=headers)
        if currency == "usd" and r.status_code == 201:
            assert r.json()["currency"] == "USD"  # normalised, not a second currency
            return
        assert 400 <= r.status_code < 500 and r.json()["error"], r.text
        assert await session.scalar(select(func.count()).select_from(Order)) == 0

    async def test_a_payment_event_in_another_currency_pays_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession, settings: Settings, market, buy
    ):
        m = await market()
        order = await buy(m, deliver=False)
        payment = await _fresh(session, Payment, order.payment_id)
        await session.commit()
        for changes in (
            {"currency": "EUR"},
            {"currency": "JPY", "amount": payment.amount * 100},
            {"amount": 1},
        ):
            body = _payment_event(payment, **changes)
            r = await client.post(
                PAYMENTS, content=body, headers=_signed(settings.resolved_payment_webhook_secret, body)
            )
            assert r.status_code == 200 and r.json()["outcome"] == "ignored", r.text
        assert (await _fresh(session, Order, order.id)).status == "pending_payment"


class TestConfirmWithoutPaying:
    async def test_confirm_receipt_of_an_unpaid_order(
        self, client: httpx.AsyncClient, session: AsyncSession, market, buy
    ):
        m = await market()
        order = await buy(m, number=CARD_DECLINED, deliver=False)
        so_id = (await seller_orders(session, order.id))[0].id
        headers = await _headers(session, m.buyer_id)
        entries = await session.scalar(select(func.count()).select_from(LedgerEntry))
        await session.commit()
        for action in ("confirm-receipt", "extend-receipt"):
            r = await client.post(
                f"/api/v1/orders/{order.id}/seller-orders/{so_id}/{action}", headers=headers
            )
            assert 400 <= r.status_code < 500 and r.json()["error"], r.text
        assert (await _fresh(session, SellerOrder, so_id)).status == "pending_payment"
        assert (await _fresh(session, Order, order.id)).status == "pending_payment"
        assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == entries

    async def test_ship_an_unpaid_order(self, client: httpx.AsyncClient, session: AsyncSession, market, buy):
        m = await market()
        order = await buy(m, number=CARD_DECLINED, deliver=False)
        so = (await seller_orders(session, order.id))[0]
        so_id, store_id = so.id, so.store_id
        headers = await _headers(session, m.seller_of(store_id).user_id)
        await session.commit()
        r = await client.post(
            f"/api/v1/stores/{store_id}/orders/{so_id}/ship",
            json={"carrier": "DHL", "tracking_number": "JD0146000062"},
            headers=headers,
        )
        assert 400 <= r.status_code < 500 and r.json()["error"], r.text
        assert (await _fresh(session, SellerOrder, so_id)).status == "pending_payment"


class TestPaymentWebhooks:
    async def test_replayed_forged_and_out_of_order(
        self, client: httpx.AsyncClient, session: AsyncSession, settings: Settings, market, buy
    ):
        secret = settings.resolved_payment_webhook_secret
        m = await market()
        order = await buy(m, deliver=False)
        payment = await _fresh(session, Payment, order.payment_id)
        await session.commit()
        succeeded = _payment_event(payment)
        # forged: another secret, a tampered body, no signature, a captured request replayed too late
        for headers, body in [
            (_signed("not the secret", succeeded), succeeded),
            (_signed(secret, succeeded), succeeded.replace(b"succeeded", b"succeedes")),
            ({"Content-Type": "application/json"}, succeeded),
            (_signed(secret, succeeded, age=6 * 60), succeeded),
            (_signed(settings.resolved_carrier_webhook_secret, succeeded), succeeded),
        ]:
            r = await client.post(PAYMENTS, content=body, headers=headers)
            assert r.status_code == 400 and r.json()["error"].startswith("signature_"), r.text
        assert (await _fresh(session, Order, order.id)).status == "pending_payment"

        # the real event, delivered three times: paid once, one ledger entry for it
        entries = await session.scalar(select(func.count()).select_from(LedgerEntry))
        outcomes = []
        for _ in range(3):
            r = await client.post(PAYMENTS, content=succeeded, headers=_signed(secret, succeeded))
            assert r.status_code == 200, r.text
            outcomes.append((r.json()["duplicate"], r.json()["outcome"]))
        assert outcomes[0] == (False, "applied") and all(dup for dup, _ in outcomes[1:])
        assert (await _fresh(session, Order, order.id)).status == "paid"
        after = await session.scalar(select(func.count()).select_from(LedgerEntry))
        assert after is not None and entries is not None and after > entries

        # out of order: a failure (and an older success with another id) arriving after the success
        late_failure = _payment_event(payment, "payment_intent.payment_failed", failure_code="card_declined")
        older = _payment_event(payment, created=int((utcnow() - timedelta(minutes=1)).timestamp()))
        for body in (late_failure, older):
            r = await client.post(PAYMENTS, content=body, headers=_signed(secret, body))
            assert r.status_code == 200 and r.json()["outcome"] == "ignored", r.text
        assert (await _fresh(session, Order, order.id)).status == "paid"
        assert (await _fresh(session, Payment, payment.id)).status == "succeeded"
        assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == after

    async def test_a_signed_success_after_a_decline_pays_once(
        self, client: httpx.AsyncClient, session: AsyncSession, settings: Settings, market, buy
    ):
        """The provider's signed word is authoritative (the buyer may have retried on its side): the order is
        paid exactly once, and the ledger balances (the audit after the test)."""
        m = await market()
        order = await buy(m, number=CARD_DECLINED, deliver=False)
        payment = await _fresh(session, Payment, order.payment_id)
        await session.commit()
        body = _payment_event(payment)
        secret = settings.resolved_payment_webhook_secret
        first = await client.post(PAYMENTS, content=body, headers=_signed(secret, body))
        again = await client.post(PAYMENTS, content=body, headers=_signed(secret, body))
        assert first.status_code == again.status_code == 200, first.text
        assert again.json()["duplicate"] is True
        assert (await _fresh(session, Order, order.id)).status in ("paid", "pending_payment")


class TestCarrierWebhooks:
    async def test_replayed_forged_and_out_of_order(
        self, client: httpx.AsyncClient, session: AsyncSession, settings: Settings, market, buy
    ):
        secret = settings.resolved_carrier_webhook_secret
        m = await market()
        order = await buy(m)
        so = (await seller_orders(session, order.id))[0]
        so_id = so.id
        await ship(session, m, so, "JD0146000062")
        await session.commit()
        now = utcnow()
        delivered = carrier_event("JD0146000062", "delivered", now, event_id="evt_d")

        def post(body: bytes, signature: str) -> Any:
            return client.post(
                CARRIERS,
                content=body,
                headers={"Souk-Signature": signature, "Content-Type": "application/json"},
            )

        for signature in (
            carrier_signature("forged", delivered),
            carrier_signature(settings.resolved_payment_webhook_secret, delivered),
            carrier_signature(secret, delivered, now - timedelta(minutes=6)),
            "t=1,v1=" + "0" * 64,
            "garbage",
        ):
            r = await post(delivered, signature)
            assert r.status_code == 400 and r.json()["error"].startswith("signature_"), r.text
        shipment = await session.scalar(
            select(Shipment)
            .where(Shipment.seller_order_id == so_id)
            .execution_options(populate_existing=True)
        )
        assert shipment.delivered_at is None

        assert (await post(delivered, carrier_signature(secret, delivered))).json()["outcome"] == "applied"
        for _ in range(2):  # replayed
            r = await post(delivered, carrier_signature(secret, delivered))
            assert r.status_code == 200 and r.json()["outcome"] == "duplicate"
        # out of order: an older "in transit" event arriving after the delivery does not undo it
        late = carrier_event("JD0146000062", "in_transit", now - timedelta(hours=5), event_id="evt_t")
        r = await post(late, carrier_signature(secret, late))
        assert r.status_code == 200, r.text
        shipment = await session.scalar(
            select(Shipment)
            .where(Shipment.seller_order_id == so_id)
            .execution_options(populate_existing=True)
        )
        assert shipment.last_status == "delivered" and shipment.delivered_at is not None
        # and a carrier event never confirms receipt nor moves money: the order waits for the buyer
        assert (await _fresh(session, SellerOrder, so_id)).status == "shipped"

    @pytest.mark.parametrize(
        "changes",
        [
            {"status": "teleported"},
            {"occurred_at": "yesterday"},
            {"tracking_number": ""},
            {"tracking_number": "x" * 10_000},
            {"id": 5},
            {"occurred_at": "9999-12-31T23:59:59+00:00"},
        ],
        ids=repr,
    )
    async def test_malformed_events(self, client: httpx.AsyncClient, settings: Settings, changes):
        body = carrier_event("JD0146000062", "delivered", utcnow(), **{})
        import json

        event = {**json.loads(body), **changes}
        raw = json.dumps(event).encode()
        r = await client.post(
            CARRIERS,
            content=raw,
            headers={
                "Souk-Signature": carrier_signature(settings.resolved_carrier_webhook_secret, raw),
                "Content-Type": "application/json",
            },
        )
        assert r.status_code < 500, r.text
        if r.status_code >= 400:
            assert r.json()["error"] and r.json()["fields"] is not None
