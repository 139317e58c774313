"""POST /api/v1/checkouts: the order, the Idempotency-Key, declined cards, stock races, bad input."""

from __future__ import annotations

from sqlalchemy import func, select

from fixtures.core import api_token_for
from fixtures.orders import CARD_DECLINED, card
from souk.inventory.service import inventory_service
from souk.models import Order, Payment, SellerOrder, Stock, User


async def _count(session, model) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _headers(session, buyer_id: int, key: str | None = "key-1") -> dict[str, str]:
    user = await session.get(User, buyer_id)
    headers = await api_token_for(session, user)
    if key:
        headers["Idempotency-Key"] = key
    return headers


class TestCheckoutApi:
    async def test_checkout_then_webhook_pays(
        self, client, session, market, run_worker, assert_ledger_balanced
    ):
        m = await market()
        headers = await _headers(session, m.buyer_id)
        await session.commit()
        r = await client.post("/api/v1/checkouts", json=m.body(), headers=headers)
        assert r.status_code == 201, r.text
        body = r.json()
        assert r.headers["location"] == f"/api/v1/orders/{body['id']}"
        assert body["status"] == "pending_payment" and body["total_amount"] == 6480
        assert body["payment"]["status"] == "processing" and body["payment"]["card_last4"] == "4242"
        assert body["next_action"]["kind"] == "payment_processing"
        assert len(body["seller_orders"]) == 2
        assert {so["store"]["id"] for so in body["seller_orders"]} == set(m.store_ids)
        assert body["shipping_address"]["city"] == "Berlin"
        await run_worker()
        r = await client.get(f"/api/v1/orders/{body['id']}", headers=headers)
        order = r.json()
        assert order["status"] == "paid" and order["payment"]["status"] == "succeeded"
        assert [so["status"] for so in order["seller_orders"]] == ["paid", "paid"]
        so = order["seller_orders"][0]
        assert (
            so["next_action"]["kind"] == "await_shipment" and so["next_action"]["deadline"] == so["ship_by"]
        )
        assert [e["kind"] for e in so["timeline"]] == ["placed", "paid"]
        await assert_ledger_balanced(session)

    async def test_same_key_same_order_other_body_refused(self, client, session, market, run_worker):
        m = await market()
        headers = await _headers(session, m.buyer_id)
        await session.commit()
        first = await client.post("/api/v1/checkouts", json=m.body(), headers=headers)
        again = await client.post("/api/v1/checkouts", json=m.body(), headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.json()["id"] == first.json()["id"]
        assert again.headers.get("idempotent-replayed") == "true"
        assert await _count(session, Order) == 1 and await _count(session, Payment) == 1
        other = await client.post(
            "/api/v1/checkouts", json=m.body(expected_total_amount=6480), headers=headers
        )
        assert other.status_code == 422 and other.json()["error"] == "idempotency_error"
        assert await _count(session, Order) == 1

    async def test_key_is_required(self, client, session, market):
        m = await market()
        headers = await _headers(session, m.buyer_id, key=None)
        await session.commit()
        r = await client.post("/api/v1/checkouts", json=m.body(), headers=headers)
        assert r.status_code == 422 and r.json()["error"] == "idempotency_key_required"
        assert await _count(session, Order) == 0

    async def test_declined_card_then_another_card(
        self, client, session, market, run_worker, assert_ledger_balanced
    ):
        m = await market()
        headers = await _headers(session, m.buyer_id)
        await session.commit()
        r = await client.post("/api/v1/checkouts", json=m.body(CARD_DECLINED), headers=headers)
        assert r.status_code == 201
        order = r.json()
        assert order["status"] == "pending_payment"
        assert order["payment"]["status"] == "failed" and order["payment"]["failure_code"] == "card_declined"
        assert order["next_action"]["kind"] == "pay" and order["next_action"]["deadline"] == order["pay_by"]
        timeline = order["seller_orders"][0]["timeline"]
        assert timeline[-1]["kind"] == "payment_failed" and "declined" in timeline[-1]["text"]

        pay = {**headers, "Idempotency-Key": "pay-1"}
        r = await client.post(f"/api/v1/orders/{order['id']}/payments", json={"card": card()}, headers=pay)
        assert r.status_code == 200, r.text
        assert r.json()["payment"]["status"] == "processing"
        # paying again while the provider confirms is refused
        r = await client.post(
            f"/api/v1/orders/{order['id']}/payments",
            json={"card": card()},
            headers={**pay, "Idempotency-Key": "p2"},
        )
        assert r.status_code == 409 and r.json()["error"] == "payment_in_progress"
        await run_worker()
        r = await client.get(f"/api/v1/orders/{order['id']}", headers=headers)
        assert r.json()["status"] == "paid"
        assert await _count(session, Payment) == 1
        await assert_ledger_balanced(session)

    async def test_last_units_taken_meanwhile(self, client, session, market):
        m = await market(stock=3, qty=(2, 1))
        # someone else reserved two of the first SKU after the buyer put two in the cart
        assert await inventory_service.reserve(session, m.sku_ids[0], 2)
        headers = await _headers(session, m.buyer_id)
        await session.commit()
        r = await client.post("/api/v1/checkouts", json=m.body(), headers=headers)
        assert r.status_code == 409, r.text
        body = r.json()
        assert body["error"] == "insufficient_stock"
        assert "Thing 1" in body["message"] and f"sku.{m.sku_ids[0]}" in body["fields"]
        assert await _count(session, Order) == 0 and await _count(session, SellerOrder) == 0
        reserved = await session.scalar(
            select(Stock.reserved)
            .where(Stock.sku_id == m.sku_ids[1])
            .execution_options(populate_existing=True)
        )
        assert reserved == 0

    async def test_bad_input(self, client, session, market, user_factory):
        m = await market()
        headers = await _headers(session, m.buyer_id)
        await session.commit()
        body = m.body()
        body["shipping"] = body["shipping"][:1]
        r = await client.post("/api/v1/checkouts", json=body, headers={**headers, "Idempotency-Key": "a"})
        assert r.status_code == 422 and f"shipping.{m.store_ids[1]}" in r.json()["fields"]
        body = m.body()
        body["card"]["number"] = "4242424242424241"
        r = await client.post("/api/v1/checkouts", json=body, headers={**headers, "Idempotency-Key": "b"})
        assert r.status_code == 422 and "card.number" in r.json()["fields"]
        r = await client.post(
            "/api/v1/checkouts",
            json=m.body(expected_total_amount=100),
            headers={**headers, "Idempotency-Key": "c"},
        )
        assert r.status_code == 409 and r.json()["error"] == "price_changed"
        r = await client.post(
            "/api/v1/checkouts", json=m.body(currency="EUR"), headers={**headers, "Idempotency-Key": "d"}
        )
        assert r.status_code == 409 and r.json()["error"] == "nothing_to_check_out"
        body = m.body()
        body["address_id"] = 999999
        r = await client.post("/api/v1/checkouts", json=body, headers={**headers, "Idempotency-Key": "e"})
        assert r.status_code == 422 and "address_id" in r.json()["fields"]
        assert await _count(session, Order) == 0
        r = await client.post("/api/v1/checkouts", json=m.body(), headers={"Idempotency-Key": "f"})
        assert r.status_code == 401

    async def test_new_address_is_saved_and_snapshotted(self, client, session, market):
        m = await market()
        headers = await _headers(session, m.buyer_id)
        await session.commit()
        body = m.body()
        del body["address_id"]
        body["address"] = {
            "full_name": "Bea at work",
            "phone": "+33 1 23 45 67 89",
            "line1": "1 Rue de Rivoli",
            "city": "Paris",
            "postal_code": "75001",
            "country": "FR",
        }
        r = await client.post("/api/v1/checkouts", json=body, headers=headers)
        assert r.status_code == 201, r.text
        assert r.json()["shipping_address"]["city"] == "Paris"
        book = (await client.get("/api/v1/me/addresses", headers=headers)).json()
        assert sorted(a["city"] for a in book) == ["Berlin", "Paris"]
