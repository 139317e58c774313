"""The orders API: the buyer's list and detail with their actions, a store's orders and shipping."""

from __future__ import annotations

from datetime import timedelta

from fixtures.core import api_token_for
from fixtures.orders import CARD_DECLINED, seller_orders
from souk.kit.clock import clock
from souk.models import User


async def _headers(session, user_id: int) -> dict[str, str]:
    return await api_token_for(session, await session.get(User, user_id))


class TestBuyerOrdersApi:
    async def test_list_filter_and_detail(self, client, session, market, buy, assert_ledger_balanced):
        m = await market()
        paid = await buy(m)
        unpaid = await buy(await market(buyer_id=m.buyer_id), number=CARD_DECLINED)
        headers = await _headers(session, m.buyer_id)
        await session.commit()
        r = await client.get("/api/v1/orders", headers=headers)
        assert r.status_code == 200
        assert [o["id"] for o in r.json()["items"]] == [unpaid.id, paid.id]
        r = await client.get("/api/v1/orders?status=paid", headers=headers)
        assert [o["id"] for o in r.json()["items"]] == [paid.id]
        assert r.json()["items"][0]["seller_orders"][0]["timeline"] == []
        r = await client.get("/api/v1/orders?status=pending_payment&limit=1", headers=headers)
        assert [o["id"] for o in r.json()["items"]] == [unpaid.id] and r.json()["next_cursor"] is None
        r = await client.get("/api/v1/orders?limit=1", headers=headers)
        cursor = r.json()["next_cursor"]
        r = await client.get(f"/api/v1/orders?limit=1&cursor={cursor}", headers=headers)
        assert [o["id"] for o in r.json()["items"]] == [paid.id]
        assert (await client.get("/api/v1/orders?status=lost", headers=headers)).status_code == 422
        r = await client.get(f"/api/v1/orders/{paid.id}", headers=headers)
        detail = r.json()
        assert detail["number"] == f"O-{paid.id + 1000}" and detail["status"] == "paid"
        so = detail["seller_orders"][0]
        assert so["lines"][0]["title"].startswith("Thing") and so["shipping"]["name"] in (
            "Express",
            "Surface",
        )
        assert so["next_action"]["actions"] == ["cancel"]
        await assert_ledger_balanced(session)

    async def test_cancel_confirm_and_extend(self, client, session, market, buy, assert_ledger_balanced):
        clock.freeze()
        m = await market(kinds=("express", "express"))
        order = await buy(m)
        first, second = sorted(await seller_orders(session, order.id), key=lambda so: so.store_id)
        first_id, second_id, first_store = first.id, second.id, first.store_id
        headers = await _headers(session, m.buyer_id)
        seller = await _headers(session, m.seller_of(first_store).user_id)
        await session.commit()
        base = f"/api/v1/orders/{order.id}/seller-orders"
        # moving money needs a key
        r = await client.post(f"{base}/{second_id}/cancel", headers=headers)
        assert r.status_code == 422 and r.json()["error"] == "idempotency_key_required"
        r = await client.post(f"{base}/{second_id}/cancel", headers={**headers, "Idempotency-Key": "c1"})
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        r2 = await client.post(f"{base}/{second_id}/cancel", headers={**headers, "Idempotency-Key": "c1"})
        assert r2.json() == r.json() and r2.headers["idempotent-replayed"] == "true"

        r = await client.post(
            f"/api/v1/stores/{first_store}/orders/{first_id}/ship",
            json={"carrier": "SF Express", "tracking_number": "SF1234567890"},
            headers=seller,
        )
        assert r.status_code == 200, r.text
        shipped = r.json()
        assert shipped["status"] == "shipped" and shipped["shipment"]["carrier"] == "SF Express"
        assert shipped["buyer"]["id"] == m.buyer_id and shipped["shipping_address"]["city"] == "Berlin"

        r = await client.post(f"{base}/{first_id}/extend-receipt", headers=headers)
        assert r.status_code == 409 and r.json()["error"] == "receipt_extension_refused"
        clock.advance(timedelta(days=8))
        r = await client.post(f"{base}/{first_id}/extend-receipt", headers=headers)
        assert r.status_code == 200 and r.json()["receipt_extended"] is True
        assert r.json()["next_action"]["kind"] == "confirm_receipt"
        assert r.json()["next_action"]["actions"] == ["confirm_receipt"]
        r = await client.post(
            f"{base}/{first_id}/confirm-receipt", headers={**headers, "Idempotency-Key": "r1"}
        )
        assert r.status_code == 200 and r.json()["status"] == "completed"
        assert [e["kind"] for e in r.json()["timeline"]] == [
            "placed",
            "paid",
            "shipped",
            "receipt_extended",
            "completed",
        ]
        r = await client.post(
            f"{base}/{second_id}/confirm-receipt", headers={**headers, "Idempotency-Key": "r2"}
        )
        assert r.status_code == 409 and r.json()["error"] == "transition_not_allowed"
        await assert_ledger_balanced(session)

    async def test_other_people_get_404(self, client, session, market, buy, user_factory):
        m = await market()
        order = await buy(m)
        so_id = (await seller_orders(session, order.id))[0].id
        stranger = await api_token_for(session, await user_factory())
        await session.commit()
        assert (await client.get(f"/api/v1/orders/{order.id}", headers=stranger)).status_code == 404
        r = await client.post(
            f"/api/v1/orders/{order.id}/seller-orders/{so_id}/cancel",
            headers={**stranger, "Idempotency-Key": "x"},
        )
        assert r.status_code == 404 and r.json()["error"] == "order_not_found"
        assert (await client.get("/api/v1/orders")).status_code == 401


class TestStoreOrdersApi:
    async def test_to_ship_first_and_other_stores_404(self, client, session, market, buy):
        clock.freeze()
        m = await market(prices=(1000,), qty=(1,), shipping=(0,), kinds=("express",))
        store_id = m.store_ids[0]
        seller_user = m.seller_of(store_id).user_id
        orders = []
        for _ in range(3):
            buyer_market = await market(prices=(1000,), qty=(1,), shipping=(0,), kinds=("express",))
            # the other buyers buy from m's store
            from souk.cart.service import cart_service

            await cart_service.remove_many(session, buyer_market.actor, None, buyer_market.sku_ids)
            await cart_service.add(session, buyer_market.actor, None, m.sku_ids[0], 1)
            buyer_market.store_ids, buyer_market.method_ids = [store_id], m.method_ids
            orders.append(await buy(buyer_market))
            clock.advance(timedelta(minutes=5))
        sos = [(await seller_orders(session, o.id))[0] for o in orders]
        ids = [so.id for so in sos]
        from fixtures.orders import ship

        await ship(session, m, sos[0])
        headers = await _headers(session, seller_user)
        other_store = (await market()).store_ids[0]
        await session.commit()
        r = await client.get(f"/api/v1/stores/{store_id}/orders", headers=headers)
        assert r.status_code == 200
        # the two to ship first (earliest ship-by first), then the shipped one
        assert [o["id"] for o in r.json()["items"]] == [ids[1], ids[2], ids[0]]
        r = await client.get(f"/api/v1/stores/{store_id}/orders?limit=2", headers=headers)
        assert [o["id"] for o in r.json()["items"]] == [ids[1], ids[2]]
        r = await client.get(
            f"/api/v1/stores/{store_id}/orders?limit=2&cursor={r.json()['next_cursor']}", headers=headers
        )
        assert r.status_code == 200, r.text
        assert [o["id"] for o in r.json()["items"]] == [ids[0]] and r.json()["next_cursor"] is None, r.text
        r = await client.get(f"/api/v1/stores/{store_id}/orders?status=shipped", headers=headers)
        assert [o["id"] for o in r.json()["items"]] == [ids[0]]
        r = await client.get(f"/api/v1/stores/{store_id}/orders/{ids[1]}", headers=headers)
        assert r.json()["next_action"]["kind"] == "ship" and r.json()["shipping_address"]["country"] == "DE"
        # another store's orders are not there for this seller
        assert (await client.get(f"/api/v1/stores/{other_store}/orders", headers=headers)).status_code == 404
        r = await client.post(
            f"/api/v1/stores/{other_store}/orders/{ids[1]}/ship",
            json={"carrier": "DHL", "tracking_number": "JD0146000062"},
            headers=headers,
        )
        assert r.status_code == 404
        r = await client.post(
            f"/api/v1/stores/{store_id}/orders/{ids[1]}/ship",
            json={"carrier": "", "tracking_number": "x"},
            headers=headers,
        )
        assert r.status_code == 422 and {"carrier", "tracking_number"} <= set(r.json()["fields"])
