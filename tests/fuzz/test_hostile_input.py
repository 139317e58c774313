"""Hostile input through the API and the web forms: quantities and prices that are negative, zero, huge or not
integers; Unicode, emoji and right-to-left text; 10 MB bodies; malformed JSON, wrong content types and broken
multipart forms. Every answer is a 4xx (never a 500) and, from the API, a JSON error naming the field."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.catalog import seller_actor
from fixtures.core import api_token_for, form, login_as
from souk.models import CartLine, Sku, Stock, User

HUGE = [2**63, 10**30, -(2**63), 2**31, 2**53 + 1]
NOT_INTEGERS: list[Any] = [1.5, "3", "three", True, None, [], {}, "1e3", "0x10", "NaN"]
BAD_QUANTITIES: list[Any] = [-1, 0, -(10**30), *HUGE, *NOT_INTEGERS]
BAD_PRICES: list[Any] = [-1, -990, 2**63, 10**30, -(2**63), 2**53 + 1, 12.5, "12.50", "990", True, None, "∞"]

RTL_AND_EMOJI = [
    "متجر الأصدقاء 🛍️",  # Arabic, right to left, with an emoji
    "חנות \u202eevil\u202c",  # Hebrew with a right-to-left override
    "👩🏽‍💻 Café Ünïcödé 日本語 ✓",  # a ZWJ sequence, combining-free accents, CJK
    "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",  # combining marks
    "𝕌𝕟𝕚𝕔𝕠𝕕𝕖 𓀀",  # astral plane
]


def assert_field_error(response: httpx.Response, field: str | None = None) -> dict[str, Any]:
    """A 4xx JSON error body; when ``field`` is given, it names that field."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    body = response.json()
    assert isinstance(body["error"], str) and body["error"] and isinstance(body["message"], str)
    if field is not None:
        assert any(field in name for name in body["fields"]), body
    return dict(body)


@pytest.fixture
async def shop(
    session: AsyncSession, user_factory: Any, store_factory: Any, sku_factory: Any
) -> dict[str, Any]:
    """A buyer with an API token, and a published SKU at 12.50 with 10 in stock (its seller's token too)."""
    buyer = await user_factory(display_name="Bea")
    store = await store_factory(name="Hostile Shop")
    sku = await sku_factory(store, price_amount=1250, on_hand=10)
    seller = await session.get(User, (await seller_actor(session, store)).user_id)
    assert seller is not None
    # plain ids: a request that fails rolls the test's session back, which expires every loaded object
    data = {
        "buyer": buyer.id,
        "seller": seller.id,
        "store": store.id,
        "sku": sku.id,
        "product": sku.product_id,
        "headers": await api_token_for(session, buyer),
        "seller_headers": await api_token_for(session, seller),
    }
    await session.commit()
    return data


async def login(client: httpx.AsyncClient, session: AsyncSession, user_id: int) -> None:
    user = await session.get(User, user_id)
    assert user is not None
    await login_as(client, session, user)
    await session.commit()


async def _stock(session: AsyncSession, sku_id: int) -> int:
    on_hand = await session.scalar(
        select(Stock.on_hand).where(Stock.sku_id == sku_id).execution_options(populate_existing=True)
    )
    return int(on_hand or 0)


class TestQuantitiesAndPrices:
    @pytest.mark.parametrize("quantity", BAD_QUANTITIES, ids=repr)
    async def test_cart_quantity(self, client: httpx.AsyncClient, session: AsyncSession, shop, quantity):
        r = await client.post(
            "/api/v1/cart/items", json={"sku_id": shop["sku"], "quantity": quantity}, headers=shop["headers"]
        )
        assert_field_error(r, "quantity")
        assert await session.scalar(select(CartLine.id).where(CartLine.sku_id == shop["sku"])) is None

    @pytest.mark.parametrize("quantity", [-1, 0, 2**63, 10**30, 1.5, "x"], ids=repr)
    async def test_cart_line_update(self, client: httpx.AsyncClient, shop, quantity):
        sku_id = shop["sku"]
        ok = await client.post(
            "/api/v1/cart/items", json={"sku_id": sku_id, "quantity": 2}, headers=shop["headers"]
        )
        assert ok.status_code == 201, ok.text
        r = await client.patch(
            f"/api/v1/cart/items/{sku_id}", json={"quantity": quantity}, headers=shop["headers"]
        )
        assert_field_error(r, "quantity")
        cart = (await client.get("/api/v1/cart", headers=shop["headers"])).json()
        assert [line["quantity"] for g in cart["groups"] for s in g["stores"] for line in s["lines"]] == [2]

    @pytest.mark.parametrize("sku_id", [-1, 0, 2**63, 10**30, 1.5, "1", None], ids=repr)
    async def test_cart_sku_id(self, client: httpx.AsyncClient, shop, sku_id):
        r = await client.post(
            "/api/v1/cart/items", json={"sku_id": sku_id, "quantity": 1}, headers=shop["headers"]
        )
        assert 400 <= r.status_code < 500 and r.json()["error"], r.text

    @pytest.mark.parametrize("price", BAD_PRICES, ids=repr)
    async def test_product_price(
        self, client: httpx.AsyncClient, session: AsyncSession, shop, category_factory, price
    ):
        category_id = (await category_factory()).id
        await session.commit()
        body = {
            "title": "Hostile mug",
            "category_id": category_id,
            "options": [],
            "skus": [{"price_amount": price, "stock": 1}],
        }
        r = await client.post(
            f"/api/v1/stores/{shop['store']}/products", json=body, headers=shop["seller_headers"]
        )
        assert_field_error(r, "price_amount")

    @pytest.mark.parametrize("price", [-1, 2**63, 10**30, 1.5, "9.90"], ids=repr)
    async def test_sku_price_update(self, client: httpx.AsyncClient, session: AsyncSession, shop, price):
        r = await client.patch(
            f"/api/v1/products/{shop['product']}/skus/{shop['sku']}",
            json={"price_amount": price},
            headers=shop["seller_headers"],
        )
        assert_field_error(r, "price_amount")
        fresh = await session.scalar(
            select(Sku.price_amount).where(Sku.id == shop["sku"]).execution_options(populate_existing=True)
        )
        assert fresh == 1250

    @pytest.mark.parametrize("price", [-1, 2**63, 10**30, 4.9, "4.90"], ids=repr)
    async def test_shipping_price(self, client: httpx.AsyncClient, shop, price):
        r = await client.post(
            f"/api/v1/stores/{shop['store']}/shipping-methods",
            json={"name": "Hostile post", "kind": "surface", "price_amount": price},
            headers=shop["seller_headers"],
        )
        assert_field_error(r, "price_amount")

    @pytest.mark.parametrize("delta", [0, 2**63, -(2**63), 10**30, 1.5, "5", -11], ids=repr)
    async def test_stock_adjustment(self, client: httpx.AsyncClient, session: AsyncSession, shop, delta):
        sku_id = shop["sku"]
        r = await client.post(
            f"/api/v1/skus/{sku_id}/stock-adjustments",
            json={"delta": delta, "reason": "count"},
            headers=shop["seller_headers"],
        )
        assert_field_error(r, "delta")
        assert await _stock(session, sku_id) == 10


class TestForms:
    @pytest.mark.parametrize("quantity", ["-1", "0", str(2**63), str(10**30), "1.5", "abc", ""], ids=repr)
    async def test_cart_form_quantity(self, client: httpx.AsyncClient, session: AsyncSession, shop, quantity):
        await login(client, session, shop["buyer"])
        await session.commit()
        r = await client.post("/cart/items", data=form(client, sku_id=shop["sku"], quantity=quantity))
        assert r.status_code < 500, r.text[:300]
        assert await session.scalar(select(CartLine.id).where(CartLine.sku_id == shop["sku"])) is None

    @pytest.mark.parametrize(
        "delta", ["0", str(2**63), str(-(2**63)), str(10**30), "1.5", "x", "-11"], ids=repr
    )
    async def test_stock_form_delta(self, client: httpx.AsyncClient, session: AsyncSession, shop, delta):
        await login(client, session, shop["seller"])
        await session.commit()
        sku_id = shop["sku"]
        r = await client.post(f"/seller/skus/{sku_id}/stock", data=form(client, delta=delta, reason="count"))
        assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
        assert "delta" in r.text.lower() or "units" in r.text.lower()
        assert await _stock(session, sku_id) == 10


class TestText:
    @pytest.mark.parametrize("text", RTL_AND_EMOJI, ids=range(len(RTL_AND_EMOJI)))
    async def test_stored_and_returned_intact(
        self, client: httpx.AsyncClient, session: AsyncSession, shop, text
    ):
        store_id = shop["store"]
        r = await client.patch(
            f"/api/v1/stores/{store_id}",
            json={"name": text, "description": text},
            headers=shop["seller_headers"],
        )
        assert r.status_code == 200, r.text
        again = (await client.get(f"/api/v1/stores/{store_id}", headers=shop["seller_headers"])).json()
        assert again["name"] == text.strip() and again["description"] == text
        # and the store's page renders it (escaped, in UTF-8)
        page = await client.get(f"/s/{again['slug']}")
        assert page.status_code == 200 and text.strip() in page.text

    async def test_address_and_message_text(self, client: httpx.AsyncClient, shop):
        text = RTL_AND_EMOJI[0]
        body = {
            "full_name": text,
            "phone": "+49 30 1234567",
            "line1": RTL_AND_EMOJI[2],
            "city": "القاهرة",
            "postal_code": "11511",
            "country": "EG",
        }
        r = await client.post("/api/v1/me/addresses", json=body, headers=shop["headers"])
        assert r.status_code == 201, r.text
        got = (await client.get(f"/api/v1/me/addresses/{r.json()['id']}", headers=shop["headers"])).json()
        assert {k: got[k] for k in ("full_name", "line1", "city")} == {
            "full_name": text,
            "line1": RTL_AND_EMOJI[2],
            "city": "القاهرة",
        }

    @pytest.mark.parametrize("text", ["\x00", "a\x00b", "\ud800"], ids=["nul", "inner-nul", "lone-surrogate"])
    async def test_unstorable_characters_are_refused(self, client: httpx.AsyncClient, shop, text):
        body = json.dumps({"name": text}).encode()  # json.dumps escapes both (\u0000, \ud800)
        r = await client.patch(
            f"/api/v1/stores/{shop['store']}",
            content=body,
            headers={**shop["seller_headers"], "Content-Type": "application/json"},
        )
        assert_field_error(r, "name")


class TestBodies:
    async def test_10mb_json(self, client: httpx.AsyncClient, session: AsyncSession, shop):
        body = json.dumps({"sku_id": shop["sku"], "quantity": 1, "note": "x" * (10 * 1024 * 1024)})
        tracemalloc.start()
        try:
            r = await client.post(
                "/api/v1/cart/items",
                content=body,
                headers={**shop["headers"], "Content-Type": "application/json"},
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert_field_error(r)
        assert peak < 150 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB for a 10 MB body"
        assert await session.scalar(select(CartLine.id).where(CartLine.sku_id == shop["sku"])) is None

    async def test_10mb_text_field(self, client: httpx.AsyncClient, shop):
        r = await client.patch(
            f"/api/v1/stores/{shop['store']}",
            json={"description": "é" * (5 * 1024 * 1024)},
            headers=shop["seller_headers"],
        )
        assert_field_error(r, "description")

    async def test_10mb_form(self, client: httpx.AsyncClient, session: AsyncSession, shop):
        await login(client, session, shop["seller"])
        await session.commit()
        data = form(client, delta="1", reason="r" * (10 * 1024 * 1024))
        tracemalloc.start()
        try:
            r = await client.post(f"/seller/skus/{shop['sku']}/stock", data=data)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
        assert peak < 200 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB for a 10 MB form"
        assert await _stock(session, shop["sku"]) == 10

    async def test_over_the_request_limit(self, client: httpx.AsyncClient, shop, settings):
        body = b"{" + b" " * (settings.max_request_bytes + 1) + b"}"
        r = await client.post(
            "/api/v1/cart/items",
            content=body,
            headers={**shop["headers"], "Content-Type": "application/json"},
        )
        assert r.status_code == 413 and r.json()["error"] == "payload_too_large"

    @pytest.mark.parametrize(
        "body",
        [b"{", b'{"sku_id": 1,}', b"\xff\xfe\x00", b"[]", b"null", b'"text"', b"{'sku_id': 1}", b"NaN", b""],
        ids=repr,
    )
    async def test_malformed_json(self, client: httpx.AsyncClient, shop, body):
        r = await client.post(
            "/api/v1/cart/items",
            content=body,
            headers={**shop["headers"], "Content-Type": "application/json"},
        )
        error = assert_field_error(r)
        assert error["fields"] or "body" in error["message"].lower() or "json" in error["message"].lower()

    @pytest.mark.parametrize(
        "content_type",
        ["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data"],
    )
    async def test_wrong_content_type(
        self, client: httpx.AsyncClient, session: AsyncSession, shop, content_type
    ):
        body = json.dumps({"sku_id": shop["sku"], "quantity": 1})
        r = await client.post(
            "/api/v1/cart/items", content=body, headers={**shop["headers"], "Content-Type": content_type}
        )
        assert_field_error(r)
        assert await session.scalar(select(CartLine.id).where(CartLine.sku_id == shop["sku"])) is None

    @pytest.mark.parametrize(
        ("content_type", "body"),
        [
            ("multipart/form-data", b"--x\r\nnot a part"),
            (
                "multipart/form-data; boundary=x",
                b"--x\r\nContent-Disposition: form-data\r\n\r\nv\r\n--x--\r\n",
            ),
            (
                "multipart/form-data; boundary=x",
                b'--x\r\nContent-Disposition: form-data; name="delta"\r\n\r\n1',
            ),
            ("multipart/form-data; boundary=", b"----\r\n"),
            ("application/x-www-form-urlencoded", b"delta=%ZZ&reason=%"),
            ("application/x-www-form-urlencoded", b"\xff\xfe=\xff"),
        ],
        ids=range(6),
    )
    async def test_malformed_forms(
        self, client: httpx.AsyncClient, session: AsyncSession, shop, content_type, body
    ):
        await login(client, session, shop["seller"])
        await session.commit()
        r = await client.post(
            f"/seller/skus/{shop['sku']}/stock", content=body, headers={"Content-Type": content_type}
        )
        assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
        assert await _stock(session, shop["sku"]) == 10

    async def test_malformed_multipart_upload_api(self, client: httpx.AsyncClient, shop):
        r = await client.post(
            f"/api/v1/products/{shop['product']}/images",
            content=b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nPNG',
            headers={**shop["seller_headers"], "Content-Type": "multipart/form-data; boundary=b"},
        )
        assert_field_error(r)


class TestNulInQueries:
    @pytest.mark.parametrize(
        "url",
        [
            "/api/v1/search?q=%00",
            "/api/v1/search?q=mug%00",
            "/api/v1/products?q=a%00b",
            "/api/v1/products?cursor=%00",
            "/api/v1/stores?cursor=a%00",
            "/search?q=%00",
            "/s/%00",
        ],
    )
    async def test_nul_in_query_or_path(self, client: httpx.AsyncClient, shop, url):
        r = await client.get(url, headers=shop["headers"] if url.startswith("/api") else {})
        assert r.status_code < 500, (r.status_code, r.text[:300])
