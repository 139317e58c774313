"""The reviews API: create, list with filters and cursors, the seller's reply, a store's reputation."""

from __future__ import annotations

from datetime import timedelta

from fixtures.core import api_token_for
from fixtures.party import png_bytes
from souk.kit.clock import clock
from souk.models import Store, User


async def _headers(session, user_id: int) -> dict[str, str]:
    user = await session.get(User, user_id)
    return await api_token_for(session, user)


class TestReviewsApi:
    async def test_create_list_reply_and_reputation(self, client, session, bought):
        b = await bought()
        other = await bought(b.market)
        buyer = await _headers(session, b.market.buyer_id)
        seller = await _headers(session, b.seller.user_id)
        await session.commit()
        body = {
            "order_line_id": b.line_id,
            "rating": 5,
            "text": "Lovely",
            "item_as_described": 5,
            "communication": 4,
            "shipping_speed": 4,
        }
        r = await client.post("/api/v1/reviews", json=body, headers=buyer)
        assert r.status_code == 201, r.text
        first = r.json()
        assert first["rating"] == 5 and first["text"] == "Lovely" and first["reply_text"] is None
        again = await client.post("/api/v1/reviews", json=body, headers=buyer)
        assert again.status_code == 409 and again.json()["error"] == "already_reviewed"
        r = await client.post(
            "/api/v1/reviews",
            json={"order_line_id": other.line_id, "rating": 2, "text": "Meh"},
            headers=buyer,
        )
        assert r.status_code == 201
        second = r.json()

        r = await client.get(f"/api/v1/reviews?store_id={b.store_id}")
        assert [x["id"] for x in r.json()["items"]] == [second["id"], first["id"]]
        assert r.json()["items"][0]["buyer_name"] == "Bea B."
        r = await client.get(f"/api/v1/reviews?product_id={b.product_id}&rating=5")
        assert [x["id"] for x in r.json()["items"]] == [first["id"]]
        r = await client.get(f"/api/v1/reviews?store_id={b.store_id}&limit=1")
        assert [x["id"] for x in r.json()["items"]] == [second["id"]]
        r = await client.get(
            f"/api/v1/reviews?store_id={b.store_id}&limit=1&cursor={r.json()['next_cursor']}"
        )
        assert [x["id"] for x in r.json()["items"]] == [first["id"]] and r.json()["next_cursor"] is None
        assert (await client.get("/api/v1/reviews?rating=6")).status_code == 422
        assert (await client.get("/api/v1/reviews?cursor=nonsense")).status_code == 422

        r = await client.post(
            f"/api/v1/reviews/{second['id']}/reply", json={"text": "We will do better"}, headers=seller
        )
        assert r.status_code == 201 and r.json()["reply_text"] == "We will do better"
        r = await client.post(f"/api/v1/reviews/{second['id']}/reply", json={"text": "Twice"}, headers=seller)
        assert r.status_code == 409
        r = await client.post(f"/api/v1/reviews/{first['id']}/reply", json={"text": "Hi"}, headers=buyer)
        assert r.status_code == 404

        r = await client.get(f"/api/v1/stores/{b.store_id}/reputation")
        assert r.status_code == 200
        rep = r.json()
        # two reviews by one buyer in one month: only the first counts
        assert rep["points"] == 1 and rep["level"] == "New seller"
        assert rep["rating"]["count"] == 2 and rep["rating"]["average"] == 3.5
        assert rep["rating"]["histogram"] == {"5": 1, "4": 0, "3": 0, "2": 1, "1": 0}
        assert (rep["item_as_described"], rep["communication"], rep["shipping_speed"]) == (5.0, 4.0, 4.0)
        assert (await client.get("/api/v1/stores/999999/reputation")).status_code == 404

    async def test_bad_input_names_fields(self, client, session, bought):
        b = await bought()
        buyer = await _headers(session, b.market.buyer_id)
        await session.commit()
        r = await client.post(
            "/api/v1/reviews",
            json={"order_line_id": b.line_id, "rating": 0, "text": "x" * 2001},
            headers=buyer,
        )
        assert r.status_code == 422
        assert {"rating", "text"} <= set(r.json()["fields"])
        r = await client.post(
            "/api/v1/reviews",
            json={"order_line_id": b.line_id, "rating": 5, "communication": 3},
            headers=buyer,
        )
        assert r.status_code == 422 and set(r.json()["fields"]) == {"item_as_described", "shipping_speed"}
        assert (
            await client.post("/api/v1/reviews", json={"order_line_id": b.line_id, "rating": 5})
        ).status_code == 401

    async def test_window_and_other_buyers(self, client, session, bought, user_factory):
        b = await bought()
        stranger = await _headers(session, (await user_factory()).id)
        buyer = await _headers(session, b.market.buyer_id)
        await session.commit()
        body = {"order_line_id": b.line_id, "rating": 5}
        assert (await client.post("/api/v1/reviews", json=body, headers=stranger)).status_code == 404
        clock.advance(timedelta(days=16))
        r = await client.post("/api/v1/reviews", json=body, headers=buyer)
        assert r.status_code == 409 and r.json()["error"] == "review_window_closed"

    async def test_photos(self, client, session, bought, user_factory):
        b = await bought()
        buyer = await _headers(session, b.market.buyer_id)
        stranger = await _headers(session, (await user_factory()).id)
        await session.commit()
        r = await client.post(
            "/api/v1/reviews", json={"order_line_id": b.line_id, "rating": 4}, headers=buyer
        )
        review_id = r.json()["id"]
        files = [("files", ("a.png", png_bytes(), "image/png"))]
        r = await client.post(f"/api/v1/reviews/{review_id}/photos", files=files, headers=stranger)
        assert r.status_code == 404
        r = await client.post(f"/api/v1/reviews/{review_id}/photos", files=files, headers=buyer)
        assert r.status_code == 201 and len(r.json()["photos"]) == 1
        r = await client.post(f"/api/v1/reviews/{review_id}/photos", files=files * 3, headers=buyer)
        assert r.status_code == 422 and r.json()["error"] == "too_many_photos"
        r = await client.get(f"/api/v1/reviews?product_id={b.product_id}")
        assert r.json()["items"][0]["photos"][0]["thumb_url"].endswith("_t.jpg")

    async def test_reviews_of_closed_stores_are_not_listed(self, client, session, bought):
        b = await bought()
        buyer = await _headers(session, b.market.buyer_id)
        await session.commit()
        r = await client.post(
            "/api/v1/reviews", json={"order_line_id": b.line_id, "rating": 4}, headers=buyer
        )
        assert r.status_code == 201
        assert len((await client.get(f"/api/v1/reviews?store_id={b.store_id}")).json()["items"]) == 1
        store = await session.get(Store, b.store_id)
        store.status = "suspended"
        await session.commit()
        assert (await client.get(f"/api/v1/reviews?store_id={b.store_id}")).json()["items"] == []
        assert (await client.get(f"/api/v1/stores/{b.store_id}/reputation")).status_code == 404
