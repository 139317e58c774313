"""The disputes API: open with an Idempotency-Key, lists for the buyer and a store, accept, reject, escalate,
messages, the operators' ruling, and the 404/409/422 answers."""

from __future__ import annotations

from fixtures.core import api_token_for
from fixtures.orders import seller_orders, ship
from fixtures.party import pdf_bytes, png_bytes
from souk.kit.clock import clock
from souk.models import User


async def _headers(session, user_id: int, key: str | None = None) -> dict[str, str]:
    headers = await api_token_for(session, await session.get(User, user_id))
    if key:
        headers = {**headers, "Idempotency-Key": key}
    return headers


async def _shipped(session, market, buy):
    clock.freeze()
    m = await market(kinds=("express", "express"))
    order = await buy(m)
    first, second = sorted(await seller_orders(session, order.id), key=lambda so: so.store_id)
    await ship(session, m, first)
    return m, order, first.id, first.store_id, first.total_amount, second.id


class TestDisputesApi:
    async def test_open_accept_and_lists(self, client, session, market, buy, user_factory):
        m, _order, so_id, store_id, total, _ = await _shipped(session, market, buy)
        buyer = await _headers(session, m.buyer_id)
        seller = await _headers(session, m.seller_of(store_id).user_id)
        stranger = await _headers(session, (await user_factory()).id)
        await session.commit()
        body = {"seller_order_id": so_id, "reason": "damaged", "message": "Cracked."}
        r = await client.post("/api/v1/disputes", json=body, headers=buyer)
        assert r.status_code == 422 and r.json()["error"] == "idempotency_key_required"
        r = await client.post(
            "/api/v1/disputes", json={**body, "amount": total + 1}, headers={**buyer, "Idempotency-Key": "d0"}
        )
        assert r.status_code == 422 and r.json()["error"] == "refund_amount_invalid"
        r = await client.post("/api/v1/disputes", json=body, headers={**buyer, "Idempotency-Key": "d1"})
        assert r.status_code == 201, r.text
        dispute = r.json()
        assert dispute["requested_amount"] == total and dispute["status"] == "awaiting_seller"
        # a retry with the same key returns the same dispute; another key gets 409
        again = await client.post("/api/v1/disputes", json=body, headers={**buyer, "Idempotency-Key": "d1"})
        assert again.status_code == 201 and again.json()["id"] == dispute["id"]
        r = await client.post("/api/v1/disputes", json=body, headers={**buyer, "Idempotency-Key": "d2"})
        assert r.status_code == 409 and r.json()["error"] == "dispute_already_open"
        # someone else's order or dispute: 404
        r = await client.post("/api/v1/disputes", json=body, headers={**stranger, "Idempotency-Key": "d3"})
        assert r.status_code == 404
        assert (await client.get(f"/api/v1/disputes/{dispute['id']}", headers=stranger)).status_code == 404
        assert (
            await client.get(f"/api/v1/disputes?store_id={store_id}", headers=stranger)
        ).status_code == 404
        # lists
        r = await client.get("/api/v1/disputes", headers=buyer)
        assert [d["id"] for d in r.json()] == [dispute["id"]]
        r = await client.get(f"/api/v1/disputes?store_id={store_id}", headers=seller)
        assert [d["id"] for d in r.json()] == [dispute["id"]]
        r = await client.get(f"/api/v1/disputes/{dispute['id']}", headers=seller)
        assert [e["kind"] for e in r.json()["events"]] == ["opened"]
        # the buyer cannot accept; the store can
        url = f"/api/v1/disputes/{dispute['id']}/accept"
        assert (await client.post(url, headers={**buyer, "Idempotency-Key": "a0"})).status_code == 404
        r = await client.post(url, headers={**seller, "Idempotency-Key": "a1"})
        assert r.status_code == 200, r.text
        assert (r.json()["outcome"], r.json()["resolved_amount"]) == ("refund_full", total)
        r = await client.get(f"/api/v1/orders/{_order.id}", headers=buyer)
        statuses = {so["id"]: so["status"] for so in r.json()["seller_orders"]}
        assert statuses[so_id] == "refunded"

    async def test_reject_escalate_message_and_ruling(self, client, session, market, buy, operator_factory):
        m, _order, so_id, store_id, total, _ = await _shipped(session, market, buy)
        buyer = await _headers(session, m.buyer_id)
        seller = await _headers(session, m.seller_of(store_id).user_id)
        operator = await _headers(session, (await operator_factory()).id)
        await session.commit()
        r = await client.post(
            "/api/v1/disputes",
            json={"seller_order_id": so_id, "reason": "not_as_described", "amount": 1000},
            headers={**buyer, "Idempotency-Key": "o1"},
        )
        dispute_id = r.json()["id"]
        base = f"/api/v1/disputes/{dispute_id}"
        assert (await client.post(f"{base}/escalate", headers=buyer)).status_code == 409
        r = await client.post(f"{base}/reject", json={"reason": ""}, headers=seller)
        assert r.status_code == 422
        r = await client.post(f"{base}/reject", json={"reason": "It is as pictured."}, headers=seller)
        assert r.status_code == 200 and r.json()["status"] == "awaiting_buyer"
        r = await client.post(f"{base}/messages", json={"body": "See the photo."}, headers=buyer)
        assert r.status_code == 201
        r = await client.post(f"{base}/escalate", headers=buyer)
        assert r.status_code == 200 and r.json()["status"] == "escalated"
        r = await client.get("/api/v1/ops/disputes", headers=operator)
        assert [d["id"] for d in r.json()] == [dispute_id]
        assert (await client.get("/api/v1/ops/disputes", headers=buyer)).status_code == 403
        ruling = f"/api/v1/ops/disputes/{dispute_id}/ruling"
        r = await client.post(
            ruling,
            json={"outcome": "refund_partial", "reason": "Half."},
            headers={**operator, "Idempotency-Key": "r0"},
        )
        assert r.status_code == 422
        r = await client.post(
            ruling,
            json={"outcome": "refund_partial", "amount": 700, "reason": "Partly as described."},
            headers={**operator, "Idempotency-Key": "r1"},
        )
        assert r.status_code == 200, r.text
        assert (r.json()["outcome"], r.json()["resolved_amount"]) == ("refund_partial", 700)
        assert [e["kind"] for e in r.json()["events"]] == [
            "opened",
            "rejected",
            "message",
            "escalated",
            "ruled",
        ]
        assert total > 700

    async def test_return_tracking_and_received(self, client, session, market, buy):
        m, _order, so_id, store_id, total, _ = await _shipped(session, market, buy)
        buyer = await _headers(session, m.buyer_id)
        seller = await _headers(session, m.seller_of(store_id).user_id)
        await session.commit()
        r = await client.post(
            "/api/v1/disputes",
            json={"seller_order_id": so_id, "reason": "damaged", "wants_return": True},
            headers={**buyer, "Idempotency-Key": "rt1"},
        )
        assert r.status_code == 201 and r.json()["wants_return"] is True
        base = f"/api/v1/disputes/{r.json()['id']}"
        r = await client.post(f"{base}/accept", headers={**seller, "Idempotency-Key": "ac0"})
        assert r.status_code == 422
        r = await client.post(
            f"{base}/accept",
            json={"return_address": "Returns desk, 1 Main St, Berlin"},
            headers={**seller, "Idempotency-Key": "ac1"},
        )
        assert r.status_code == 200 and r.json()["status"] == "awaiting_return"
        assert (
            await client.post(f"{base}/return-tracking", json={"tracking_number": "RT1"}, headers=buyer)
        ).status_code == 422
        r = await client.post(f"{base}/return-tracking", json={"tracking_number": "RT123456"}, headers=buyer)
        assert r.status_code == 200 and r.json()["return_tracking_number"] == "RT123456"
        r = await client.post(f"{base}/return-received", headers={**seller, "Idempotency-Key": "rr1"})
        assert r.status_code == 200
        assert (r.json()["outcome"], r.json()["resolved_amount"]) == ("refund_full", total)


class TestDisputesWithImages:
    async def test_open_and_write_with_photos(self, client, session, market, buy):
        m, _order, so_id, store_id, total, _ = await _shipped(session, market, buy)
        buyer = await _headers(session, m.buyer_id)
        seller = await _headers(session, m.seller_of(store_id).user_id)
        await session.commit()
        url = "/api/v1/disputes/with-images"
        fields = {"seller_order_id": str(so_id), "reason": "damaged", "message": "Cracked.", "amount": "500"}
        photo = png_bytes()

        def two(second: bytes = photo) -> list[tuple[str, tuple[str, bytes, str]]]:
            return [("images", ("a.png", photo, "image/png")), ("images", ("b.png", second, "image/png"))]

        r = await client.post(url, headers=buyer, data=fields, files=two())
        assert r.status_code == 422 and r.json()["error"] == "idempotency_key_required"
        # not an image, more than 3, a bad field: 422 naming it, nothing opened
        r = await client.post(
            url,
            headers={**buyer, "Idempotency-Key": "w0"},
            data=fields,
            files={"images": ("x.pdf", pdf_bytes(), "application/pdf")},
        )
        assert r.status_code == 422 and "images" in r.json()["fields"]
        four = [("images", (f"p{n}.png", photo, "image/png")) for n in range(4)]
        r = await client.post(url, headers={**buyer, "Idempotency-Key": "w1"}, data=fields, files=four)
        assert r.status_code == 422 and "images" in r.json()["fields"]
        r = await client.post(
            url, headers={**buyer, "Idempotency-Key": "w2"}, data={**fields, "reason": "bored"}, files=two()
        )
        assert r.status_code == 422 and "reason" in r.json()["fields"]
        assert (await client.get("/api/v1/disputes", headers=buyer)).json() == []

        r = await client.post(url, headers={**buyer, "Idempotency-Key": "w3"}, data=fields, files=two())
        assert r.status_code == 201, r.text
        dispute = r.json()
        assert (dispute["requested_amount"], dispute["status"]) == (500, "awaiting_seller")
        opened = dispute["events"][0]
        assert opened["kind"] == "opened" and len(opened["data"]["images"]) == 2
        # a retry with the same key, fields and files (a new multipart boundary) replays the first answer
        again = await client.post(url, headers={**buyer, "Idempotency-Key": "w3"}, data=fields, files=two())
        assert again.status_code == 201 and again.json()["id"] == dispute["id"]
        assert again.headers.get("Idempotent-Replayed") == "true"
        # the same key with other files is a reused key
        other = png_bytes(colour=(0, 0, 255))
        assert other != photo
        r = await client.post(url, headers={**buyer, "Idempotency-Key": "w3"}, data=fields, files=two(other))
        assert r.status_code == 422 and r.json()["error"] == "idempotency_error"

        # messages with photos, by the store
        base = f"/api/v1/disputes/{dispute['id']}/messages/with-images"
        r = await client.post(base, headers=seller, data={"body": "Please send one more."}, files=four)
        assert r.status_code == 422 and "images" in r.json()["fields"]
        r = await client.post(
            base,
            headers=seller,
            data={"body": "x"},
            files={"images": ("x.pdf", pdf_bytes(), "application/pdf")},
        )
        assert r.status_code == 422 and "images" in r.json()["fields"]
        r = await client.post(
            base,
            headers=seller,
            data={"body": "Here is ours."},
            files=[("images", ("s.png", photo, "image/png"))],
        )
        assert r.status_code == 201, r.text
        message = r.json()["events"][-1]
        assert (message["kind"], message["body"], len(message["data"]["images"])) == (
            "message",
            "Here is ours.",
            1,
        )
        # a message without photos works too; an empty one is refused
        r = await client.post(base, headers=buyer, data={"body": "Thanks."})
        assert r.status_code == 201 and r.json()["events"][-1]["body"] == "Thanks."
        r = await client.post(base, headers=buyer, data={"body": " "})
        assert r.status_code == 422 and "body" in r.json()["fields"]
        assert total > 500
