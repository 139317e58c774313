"""Idempotency-Key on the routes that do not handle it themselves (``souk.kit.idempotent_routes``): adding to a
cart, posting a message, creating a product, taking an item out of the cart. The work is done once, replays are
the same status and bytes, errors once the work began are stored, validation errors are not."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import api_token_for
from fixtures.orders import card
from souk.kit import idempotency
from souk.kit.clock import utcnow
from souk.models import CartLine, IdempotencyKey, Message, Product, Sku, Store, User

pytestmark = pytest.mark.usefixtures("client")


async def _count(session: AsyncSession, model: Any, *where: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@dataclass
class Shop:
    buyer_id: int
    buyer: dict[str, str]
    seller: dict[str, str]
    store_id: int
    sku_id: int
    product_id: int
    category_id: int


@pytest.fixture
async def shop(session: AsyncSession, user_factory, store_factory, sku_factory, category_factory) -> Shop:  # type: ignore[no-untyped-def]
    buyer = await user_factory()
    store: Store = await store_factory("market")
    sku: Sku = await sku_factory(store, on_hand=10, price_amount=1000)
    owner = await session.get(User, store.owner_user_id)
    assert owner is not None
    category = await category_factory()
    shop = Shop(
        buyer_id=buyer.id,
        buyer=await api_token_for(session, buyer),
        seller=await api_token_for(session, owner),
        store_id=store.id,
        sku_id=sku.id,
        product_id=sku.product_id,
        category_id=category.id,
    )
    await session.commit()
    return shop


def _checkout(currency: str) -> dict[str, Any]:
    return {
        "currency": currency,
        "address_id": 1,
        "shipping": [{"store_id": 1, "shipping_method_id": 1}],
        "card": card(),
    }


def _keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


class TestReplay:
    async def test_adding_to_the_cart_twice_with_one_key_adds_once(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        sent = _keyed(shop.buyer, "cart-1")
        body = {"sku_id": shop.sku_id, "quantity": 2}
        first = await client.post("/api/v1/cart/items", json=body, headers=sent)
        second = await client.post("/api/v1/cart/items", json=body, headers=sent)

        assert first.status_code == second.status_code == 201, first.text
        assert first.content == second.content
        assert "idempotent-replayed" not in first.headers
        assert second.headers["idempotent-replayed"] == "true"
        quantity = await session.scalar(
            select(func.sum(CartLine.quantity)).where(CartLine.sku_id == shop.sku_id)
        )
        assert quantity == 2
        # without a key the same request is new work
        assert (await client.post("/api/v1/cart/items", json=body, headers=shop.buyer)).status_code == 201
        quantity = await session.scalar(
            select(func.sum(CartLine.quantity)).where(CartLine.sku_id == shop.sku_id)
        )
        assert quantity == 4

    async def test_posting_a_message_twice_with_one_key_posts_once(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        asked = await client.post(
            "/api/v1/conversations",
            json={"product_id": shop.product_id, "body": "Is it blue?"},
            headers=_keyed(shop.buyer, "ask-1"),
        )
        assert asked.status_code == 201, asked.text
        conversation = asked.json()["id"]
        before = await _count(session, Message)
        url = f"/api/v1/conversations/{conversation}/messages"
        sent = _keyed(shop.buyer, "msg-1")
        answers = [await client.post(url, json={"body": "And in red?"}, headers=sent) for _ in range(3)]

        assert {a.status_code for a in answers} == {201}
        assert len({a.content for a in answers}) == 1
        assert await _count(session, Message) == before + 1

    async def test_creating_a_product_twice_with_one_key_creates_one(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        url = f"/api/v1/stores/{shop.store_id}/products"
        body = {
            "title": "Teapot",
            "category_id": shop.category_id,
            "skus": [{"price_amount": 2500, "stock": 3}],
        }
        sent = _keyed(shop.seller, "product-1")
        first = await client.post(url, json=body, headers=sent)
        second = await client.post(url, json=body, headers=sent)

        assert first.status_code == second.status_code == 201, first.text
        assert first.content == second.content
        assert await _count(session, Product, Product.title == "Teapot") == 1

    async def test_a_delete_answer_without_a_body_is_replayed(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        await client.post("/api/v1/cart/items", json={"sku_id": shop.sku_id}, headers=shop.buyer)
        sent = _keyed(shop.buyer, "remove-1")
        first = await client.delete(f"/api/v1/cart/items/{shop.sku_id}", headers=sent)
        second = await client.delete(f"/api/v1/cart/items/{shop.sku_id}", headers=sent)
        assert first.status_code == second.status_code == 204
        assert first.content == second.content == b""
        assert second.headers["idempotent-replayed"] == "true"
        row = await session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "remove-1"))
        assert row is not None and (row.status, row.response_status, row.response_body) == ("done", 204, None)


class TestErrors:
    async def test_an_error_once_the_work_began_is_stored_and_replayed(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        sent = _keyed(shop.buyer, "too-many")
        body = {"sku_id": shop.sku_id, "quantity": 11}  # more than the 10 in stock
        first = await client.post("/api/v1/cart/items", json=body, headers=sent)
        assert first.status_code == 409, first.text
        code = first.json()["error"]
        row = await session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "too-many"))
        assert (
            row is not None and row.response_status == first.status_code and row.response_body == first.json()
        )

        again = await client.post("/api/v1/cart/items", json=body, headers=sent)
        assert (again.status_code, again.content) == (first.status_code, first.content)
        assert again.headers["idempotent-replayed"] == "true" and again.json()["error"] == code
        assert await _count(session, CartLine, CartLine.sku_id == shop.sku_id) == 0

    async def test_a_request_validation_error_is_not_stored(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        sent = _keyed(shop.buyer, "bad-body")
        bad = await client.post("/api/v1/cart/items", json={"sku_id": "many"}, headers=sent)
        assert bad.status_code == 422 and bad.json()["error"] == "invalid"
        assert await _count(session, IdempotencyKey, IdempotencyKey.key == "bad-body") == 0
        # the key is still free: a corrected request (another body) with it runs
        good = await client.post("/api/v1/cart/items", json={"sku_id": shop.sku_id}, headers=sent)
        assert good.status_code == 201, good.text

    @pytest.mark.parametrize("route", ["cart", "message", "product", "checkout", "payout"])
    async def test_the_same_key_with_another_body_is_refused(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop, route: str
    ) -> None:
        sent = _keyed(
            shop.buyer if route in ("cart", "message", "checkout") else shop.seller, f"reuse-{route}"
        )
        url, one, other = {
            "cart": ("/api/v1/cart/items", {"sku_id": shop.sku_id}, {"sku_id": shop.sku_id, "quantity": 2}),
            "message": (
                "/api/v1/conversations",
                {"product_id": shop.product_id, "body": "One"},
                {"product_id": shop.product_id, "body": "Two"},
            ),
            "product": (
                f"/api/v1/stores/{shop.store_id}/products",
                {"title": "One", "category_id": shop.category_id, "skus": [{"price_amount": 100}]},
                {"title": "Two", "category_id": shop.category_id, "skus": [{"price_amount": 100}]},
            ),
            # their first answer is an error (nothing to check out, nothing to pay out): stored all the same
            "checkout": ("/api/v1/checkouts", _checkout("USD"), _checkout("EUR")),
            "payout": (
                "/api/v1/payouts",
                {"store_id": shop.store_id, "currency": "USD"},
                {"store_id": shop.store_id, "currency": "EUR"},
            ),
        }[route]
        first = await client.post(url, json=one, headers=sent)
        assert first.status_code != 500, first.text
        reused = await client.post(url, json=other, headers=sent)
        assert reused.status_code == 422, reused.text
        assert reused.json()["error"] == "idempotency_error"
        assert reused.json()["fields"] == {"Idempotency-Key": "was already used with another request"}
        # another route with the key: refused too
        elsewhere = await client.post("/api/v1/cart/items/x", json=one, headers=sent)
        assert elsewhere.status_code in (404, 405, 422)


class TestKeys:
    async def test_a_key_of_255_characters_is_accepted_and_256_refused(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        body = {"sku_id": shop.sku_id}
        ok = await client.post("/api/v1/cart/items", json=body, headers=_keyed(shop.buyer, "k" * 255))
        assert ok.status_code == 201, ok.text
        long = await client.post("/api/v1/cart/items", json=body, headers=_keyed(shop.buyer, "k" * 256))
        assert long.status_code == 422 and "Idempotency-Key" in long.json()["fields"]
        assert await _count(session, CartLine, CartLine.sku_id == shop.sku_id) == 1
        assert await _count(session, IdempotencyKey, IdempotencyKey.user_id == shop.buyer_id) == 1

    async def test_keys_are_kept_at_least_24_hours(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        await client.post(
            "/api/v1/cart/items", json={"sku_id": shop.sku_id}, headers=_keyed(shop.buyer, "kept")
        )
        row = await session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "kept"))
        assert row is not None and row.expires_at - row.created_at >= timedelta(hours=24)

    async def test_a_key_held_by_a_running_request_is_waited_for_then_409(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.3)
        body = {"sku_id": shop.sku_id}
        now = utcnow()
        # a request with this key and body is still running (holds the key, committed)
        session.add(
            IdempotencyKey(
                user_id=shop.buyer_id,
                key="held",
                method="POST",
                path="/api/v1/cart/items",
                request_hash=idempotency.canonical_hash(b'{"sku_id": %d}' % shop.sku_id),
                status="in_progress",
                locked_until=now + timedelta(minutes=5),
                created_at=now,
                expires_at=now + timedelta(hours=24),
            )
        )
        await session.commit()
        r = await client.post("/api/v1/cart/items", json=body, headers=_keyed(shop.buyer, "held"))
        assert r.status_code == 409 and r.json()["error"] == "idempotency_in_progress"
        assert r.headers["retry-after"] == "1"
        assert await _count(session, CartLine, CartLine.sku_id == shop.sku_id) == 0

    async def test_without_a_user_the_key_is_ignored(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        r = await client.post(
            "/api/v1/cart/items", json={"sku_id": shop.sku_id}, headers={"Idempotency-Key": "a"}
        )
        assert r.status_code == 401
        assert await _count(session, IdempotencyKey, IdempotencyKey.key == "a") == 0


def test_every_state_changing_operation_documents_the_header(app: FastAPI) -> None:
    schema = app.openapi()
    missing = []
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            if method.upper() not in ("POST", "PUT", "PATCH", "DELETE"):
                continue
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
            if names.count("Idempotency-Key") != 1:
                missing.append(f"{method.upper()} {path}")
    assert missing == []
    checkout = schema["paths"]["/api/v1/cart/items"]["post"]
    header = next(p for p in checkout["parameters"] if p["name"] == "Idempotency-Key")
    assert (header["schema"]["maxLength"], header["schema"]["pattern"]) == (255, "^[!-~]+$")


async def test_a_route_that_commits_before_its_error_gives_the_key_back(
    client: httpx.AsyncClient, session: AsyncSession, user_factory
) -> None:  # type: ignore[no-untyped-def]
    user = await user_factory()
    headers = {**await api_token_for(session, user), "Idempotency-Key": "pw-1"}
    await session.commit()
    body = {"current_password": "not-the-password", "new_password": "a much better password 42"}
    first = await client.post("/api/v1/me/password", json=body, headers=headers)
    assert first.status_code == 422 and first.json()["error"] == "wrong_password", first.text
    assert await _count(session, IdempotencyKey, IdempotencyKey.key == "pw-1") == 0
    again = await client.post("/api/v1/me/password", json=body, headers=headers)
    assert again.status_code == first.status_code and "idempotent-replayed" not in again.headers
