from __future__ import annotations

import httpx
import pytest
from messaging_support import Shop, conversation_count, make_shop, message_count
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import api_token_for
from fixtures.party import pdf_bytes, png_bytes


@pytest.fixture
async def shop(user_factory, store_factory, product_factory) -> Shop:
    return await make_shop(user_factory, store_factory, product_factory)


async def _tokens(session: AsyncSession, shop: Shop) -> tuple[dict[str, str], dict[str, str]]:
    buyer = await api_token_for(session, shop.buyer)
    seller = await api_token_for(session, shop.owner)
    await session.commit()
    return buyer, seller


class TestInquiries:
    async def test_start_reply_read_and_list(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        buyer, seller = await _tokens(session, shop)
        product_id, store_id = shop.product.id, shop.store.id

        r = await client.post(
            "/api/v1/conversations",
            headers=buyer,
            json={"product_id": product_id, "body": "Dishwasher safe?"},
        )
        assert r.status_code == 201, r.text
        started = r.json()
        cid = started["id"]
        assert (
            started["store_id"],
            started["store_name"],
            started["subject_type"],
            started["subject_id"],
        ) == (
            store_id,
            "Clay Corner",
            "product",
            product_id,
        )
        assert (started["side"], started["unread_count"], started["message_count"]) == ("buyer", 0, 1)
        assert (
            started["message"]["body"] == "Dishwasher safe?" and started["message"]["sender_side"] == "buyer"
        )

        again = await client.post(
            "/api/v1/conversations", headers=buyer, json={"product_id": product_id, "body": "In blue?"}
        )
        assert again.status_code == 201 and again.json()["id"] == cid and again.json()["message_count"] == 2

        inbox = await client.get("/api/v1/conversations", headers=seller, params={"store_id": store_id})
        assert inbox.status_code == 200
        assert [(c["id"], c["side"], c["unread_count"], c["buyer_name"]) for c in inbox.json()["items"]] == [
            (cid, "seller", 2, "Ali Buyer")
        ]
        assert inbox.json()["items"][0]["last_message_preview"] == "In blue?"

        detail = await client.get(f"/api/v1/conversations/{cid}", headers=seller)
        assert detail.status_code == 200
        body = detail.json()
        assert [m["body"] for m in body["messages"]["items"]] == ["In blue?", "Dishwasher safe?"]
        assert body["product"]["id"] == product_id and body["product"]["url"].startswith(f"/p/{product_id}/")
        assert body["unread_count"] == 2  # reading through the API does not mark read

        r = await client.post(f"/api/v1/conversations/{cid}/read", headers=seller)
        assert r.status_code == 200 and r.json()["unread_count"] == 0 and r.json()["side"] == "seller"

        reply = await client.post(
            f"/api/v1/conversations/{cid}/messages", headers=seller, json={"body": "Yes!"}
        )
        assert reply.status_code == 201
        assert (reply.json()["sender_side"], reply.json()["sender_name"], reply.json()["attachments"]) == (
            "seller",
            "Mei the potter",
            [],
        )
        mine = await client.get("/api/v1/conversations", headers=buyer)
        assert [(c["id"], c["unread_count"], c["last_sender_side"]) for c in mine.json()["items"]] == [
            (cid, 1, "seller")
        ]
        unread = await client.get("/api/v1/conversations", headers=buyer, params={"unread": "true"})
        assert [c["id"] for c in unread.json()["items"]] == [cid]

    async def test_messages_page_by_cursor(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        buyer, _ = await _tokens(session, shop)
        r = await client.post(
            "/api/v1/conversations", headers=buyer, json={"product_id": shop.product.id, "body": "m0"}
        )
        cid = r.json()["id"]
        for n in range(1, 3):
            await client.post(f"/api/v1/conversations/{cid}/messages", headers=buyer, json={"body": f"m{n}"})
        first = (await client.get(f"/api/v1/conversations/{cid}", headers=buyer, params={"limit": 2})).json()
        assert [m["body"] for m in first["messages"]["items"]] == ["m2", "m1"]
        older = await client.get(
            f"/api/v1/conversations/{cid}",
            headers=buyer,
            params={"limit": 2, "cursor": first["messages"]["next_cursor"]},
        )
        assert [m["body"] for m in older.json()["messages"]["items"]] == ["m0"]
        assert older.json()["messages"]["next_cursor"] is None
        bad = await client.get(f"/api/v1/conversations/{cid}", headers=buyer, params={"cursor": "!!"})
        assert bad.status_code == 422 and "cursor" in bad.json()["fields"]

    @pytest.mark.parametrize(
        ("payload", "problem"),
        [
            ({"body": ""}, "at least 1 character"),
            ({"body": "   "}, "at least 1 character"),
            ({"body": "x" * 4001}, "at most 4000 characters"),
            ({}, "Field required"),
        ],
    )
    async def test_body_validation_names_body(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        shop: Shop,
        payload: dict[str, str],
        problem: str,
    ) -> None:
        buyer, _ = await _tokens(session, shop)
        product_id = shop.product.id
        r = await client.post(
            "/api/v1/conversations", headers=buyer, json={"product_id": product_id, **payload}
        )
        assert r.status_code == 422 and problem in r.json()["fields"]["body"]
        r = await client.post(
            "/api/v1/conversations", headers=buyer, json={"product_id": product_id, "body": "ok"}
        )
        cid = r.json()["id"]
        r = await client.post(f"/api/v1/conversations/{cid}/messages", headers=buyer, json=payload)
        assert r.status_code == 422 and problem in r.json()["fields"]["body"]
        assert await message_count(session, cid) == 1

    async def test_nul_character_is_refused(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        buyer, _ = await _tokens(session, shop)
        r = await client.post(
            "/api/v1/conversations", headers=buyer, json={"product_id": shop.product.id, "body": "a\u0000b"}
        )
        assert r.status_code == 422 and "body" in r.json()["fields"]

    async def test_own_store_and_unknown_product(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        _, seller = await _tokens(session, shop)
        r = await client.post(
            "/api/v1/conversations", headers=seller, json={"product_id": shop.product.id, "body": "Hi"}
        )
        assert (
            r.status_code == 422 and r.json()["error"] == "own_store" and "product_id" in r.json()["fields"]
        )
        r = await client.post(
            "/api/v1/conversations", headers=seller, json={"product_id": 2_000_000_000, "body": "Hi"}
        )
        assert r.status_code == 404 and r.json()["error"] == "product_not_found"
        r = await client.post(
            "/api/v1/conversations", headers=seller, json={"product_id": True, "body": "Hi"}
        )
        assert r.status_code == 422 and "product_id" in r.json()["fields"]
        assert await conversation_count(session) == 0


class TestAccess:
    async def test_others_get_404_and_read_only_tokens_403(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop, user_factory, store_factory
    ) -> None:
        buyer, _ = await _tokens(session, shop)
        r = await client.post(
            "/api/v1/conversations", headers=buyer, json={"product_id": shop.product.id, "body": "Q"}
        )
        cid = r.json()["id"]
        stranger = await api_token_for(session, await user_factory())
        other_owner = await user_factory()
        other_store = await store_factory(owner=other_owner)
        other_seller = await api_token_for(session, other_owner)
        read_only = await api_token_for(session, shop.buyer, scopes="read")
        store_id, other_store_id = shop.store.id, other_store.id
        await session.commit()
        for headers in (stranger, other_seller):
            assert (await client.get(f"/api/v1/conversations/{cid}", headers=headers)).status_code == 404
            r = await client.post(
                f"/api/v1/conversations/{cid}/messages", headers=headers, json={"body": "x"}
            )
            assert r.status_code == 404 and r.json()["error"] == "conversation_not_found"
            assert (
                await client.post(f"/api/v1/conversations/{cid}/read", headers=headers)
            ).status_code == 404
        r = await client.get("/api/v1/conversations", headers=other_seller, params={"store_id": store_id})
        assert r.status_code == 404
        r = await client.get(
            "/api/v1/conversations", headers=other_seller, params={"store_id": other_store_id}
        )
        assert r.status_code == 200 and r.json()["items"] == []
        r = await client.post(
            f"/api/v1/conversations/{cid}/messages",
            headers=buyer,
            params={"side": "seller"},
            json={"body": "x"},
        )
        assert r.status_code == 404
        assert (await client.get(f"/api/v1/conversations/{cid}", headers=read_only)).status_code == 200
        r = await client.post(f"/api/v1/conversations/{cid}/messages", headers=read_only, json={"body": "x"})
        assert r.status_code == 403 and r.json()["error"] == "token_read_only"
        assert (await client.get("/api/v1/conversations")).status_code == 401
        assert await message_count(session, cid) == 1


class TestImages:
    async def test_message_with_images(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop, app
    ) -> None:  # type: ignore[no-untyped-def]
        buyer, seller = await _tokens(session, shop)
        r = await client.post(
            "/api/v1/conversations", headers=buyer, json={"product_id": shop.product.id, "body": "Q"}
        )
        cid = r.json()["id"]
        r = await client.post(
            f"/api/v1/conversations/{cid}/messages/with-images",
            headers=seller,
            data={"body": "See the glaze:\nclose up"},
            files=[
                ("images", ("a.png", png_bytes(), "image/png")),
                ("images", ("b.png", png_bytes(30, 20), "image/png")),
            ],
        )
        assert r.status_code == 201, r.text
        sent = r.json()
        assert sent["body"] == "See the glaze:\nclose up"
        assert [(a["width"], a["height"], a["content_type"]) for a in sent["attachments"]] == [
            (64, 64, "image/jpeg"),
            (30, 20, "image/jpeg"),
        ]
        url = sent["attachments"][0]["url"]
        assert url.startswith("/media/messages/")
        assert app.state.storage.absolute(url.removeprefix("/media/")).is_file()
        detail = (await client.get(f"/api/v1/conversations/{cid}", headers=buyer)).json()
        assert [len(m["attachments"]) for m in detail["messages"]["items"]] == [2, 0]

    async def test_images_are_validated(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        buyer, _ = await _tokens(session, shop)
        r = await client.post(
            "/api/v1/conversations", headers=buyer, json={"product_id": shop.product.id, "body": "Q"}
        )
        cid = r.json()["id"]
        url = f"/api/v1/conversations/{cid}/messages/with-images"
        r = await client.post(
            url,
            headers=buyer,
            data={"body": "doc"},
            files={"images": ("x.pdf", pdf_bytes(), "application/pdf")},
        )
        assert r.status_code == 422 and r.json()["fields"] == {"images": "is not a valid image file"}
        four = [("images", (f"{n}.png", png_bytes(), "image/png")) for n in range(4)]
        r = await client.post(url, headers=buyer, data={"body": "many"}, files=four)
        assert r.status_code == 422 and r.json()["error"] == "too_many_images"
        r = await client.post(
            url, headers=buyer, data={"body": " "}, files={"images": ("a.png", png_bytes(), "image/png")}
        )
        assert r.status_code == 422 and r.json()["fields"]["body"] == "write a message"
        assert await message_count(session, cid) == 1
