"""The cart API: token users only; grouping, rules and errors as JSON; nobody sees another user's cart."""

from __future__ import annotations

from sqlalchemy import select

from fixtures.core import api_token_for
from souk.models import CartLine, Sku


class TestCartApi:
    async def test_add_read_change_and_remove(
        self, client, session, user_factory, store_factory, sku_factory
    ):
        headers = await api_token_for(session, await user_factory())
        usd = await store_factory(name="Dollar Store", currency="USD")
        eur = await store_factory(name="Euro Store", currency="EUR")
        mug = await sku_factory(usd, price_amount=1250, on_hand=10, title="Mug")
        tea = await sku_factory(eur, price_amount=450, on_hand=10, title="Tea")
        mug_id, tea_id = mug.id, tea.id
        await session.commit()

        r = await client.post("/api/v1/cart/items", json={"sku_id": mug_id, "quantity": 2}, headers=headers)
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["sku_id"], body["quantity"], body["unit_price_amount"], body["line_total_amount"]) == (
            mug_id,
            2,
            1250,
            2500,
        )
        assert body["currency"] == "USD" and body["warnings"] == [] and body["purchasable"] is True
        r = await client.post("/api/v1/cart/items", json={"sku_id": tea_id}, headers=headers)
        assert r.status_code == 201 and r.json()["quantity"] == 1

        cart = (await client.get("/api/v1/cart", headers=headers)).json()
        assert [g["currency"] for g in cart["groups"]] == ["EUR", "USD"]
        eur_group, usd_group = cart["groups"]
        assert eur_group["total_amount"] == 450 and usd_group["total_amount"] == 2500
        assert usd_group["stores"][0]["store_name"] == "Dollar Store"
        assert usd_group["stores"][0]["trade_model"] == "market"
        assert usd_group["stores"][0]["lines"][0]["title"] == "Mug"
        assert (cart["line_count"], cart["item_count"]) == (2, 3)
        assert "one currency group" in cart["note"]

        r = await client.patch(f"/api/v1/cart/items/{mug_id}", json={"quantity": 5}, headers=headers)
        assert r.status_code == 200 and r.json()["line_total_amount"] == 6250
        r = await client.delete(f"/api/v1/cart/items/{tea_id}", headers=headers)
        assert r.status_code == 204 and r.content == b""
        cart = (await client.get("/api/v1/cart", headers=headers)).json()
        assert [g["currency"] for g in cart["groups"]] == ["USD"] and cart["item_count"] == 5
        r = await client.delete(f"/api/v1/cart/items/{tea_id}", headers=headers)
        assert r.status_code == 404 and r.json()["error"] == "cart_line_not_found"

    async def test_errors(self, client, session, user_factory, store_factory, sku_factory, product_factory):
        headers = await api_token_for(session, await user_factory())
        sku = await sku_factory(on_hand=3)
        draft = await product_factory(status="draft")
        draft_sku = await session.scalar(select(Sku.id).where(Sku.product_id == draft.id))
        supplier = await store_factory(trade_model="sourcing")
        bulk = await product_factory(supplier, stock=1000, moq=50)
        bulk_sku = await session.scalar(select(Sku.id).where(Sku.product_id == bulk.id))
        sku_id = sku.id
        await session.commit()

        r = await client.post("/api/v1/cart/items", json={"sku_id": sku_id, "quantity": 4}, headers=headers)
        assert r.status_code == 409
        assert r.json() == {
            "error": "insufficient_stock",
            "message": "Only 3 of this item are available.",
            "fields": {"quantity": "only 3 available"},
        }
        r = await client.post(
            "/api/v1/cart/items", json={"sku_id": draft_sku, "quantity": 1}, headers=headers
        )
        assert r.status_code == 404 and r.json()["error"] == "sku_not_found"
        r = await client.post(
            "/api/v1/cart/items", json={"sku_id": bulk_sku, "quantity": 10}, headers=headers
        )
        assert r.status_code == 422 and r.json()["fields"] == {"quantity": "the minimum order is 50 pieces"}
        for bad in (
            {"sku_id": sku_id, "quantity": 0},
            {"sku_id": sku_id, "quantity": "2"},
            {"sku_id": sku_id, "quantity": True},
            {"sku_id": sku_id, "quantity": 1000},
            {"sku_id": "x"},
            {"quantity": 1},
            {"sku_id": sku_id, "quantity": 1, "price": 1},
        ):
            r = await client.post("/api/v1/cart/items", json=bad, headers=headers)
            assert r.status_code == 422, (bad, r.text)
        r = await client.patch(f"/api/v1/cart/items/{sku_id}", json={"quantity": 1}, headers=headers)
        assert r.status_code == 404 and r.json()["error"] == "cart_line_not_found"
        assert await session.scalar(select(CartLine.id)) is None

    async def test_only_token_users_and_only_their_cart(self, client, session, user_factory, sku_factory):
        alice = await api_token_for(session, await user_factory())
        bob = await api_token_for(session, await user_factory())
        reader = await api_token_for(session, await user_factory(), scopes="read")
        sku = await sku_factory(on_hand=10)
        sku_id = sku.id
        await session.commit()

        for method, path in (("GET", "/api/v1/cart"), ("POST", "/api/v1/cart/items")):
            r = await client.request(
                method, path, json={"sku_id": sku_id, "quantity": 1} if method == "POST" else None
            )
            assert r.status_code == 401 and r.json()["error"] == "unauthenticated"
        r = await client.post("/api/v1/cart/items", json={"sku_id": sku_id, "quantity": 1}, headers=reader)
        assert r.status_code == 403 and r.json()["error"] == "token_read_only"

        assert (
            await client.post("/api/v1/cart/items", json={"sku_id": sku_id, "quantity": 2}, headers=alice)
        ).status_code == 201
        # Bob sees his own (empty) cart and cannot touch Alice's line
        r = await client.get("/api/v1/cart", headers=bob)
        assert r.json()["groups"] == [] and r.json()["line_count"] == 0
        r = await client.patch(f"/api/v1/cart/items/{sku_id}", json={"quantity": 1}, headers=bob)
        assert r.status_code == 404
        r = await client.delete(f"/api/v1/cart/items/{sku_id}", headers=bob)
        assert r.status_code == 404
        r = await client.get("/api/v1/cart", headers=alice)
        assert r.json()["item_count"] == 2
