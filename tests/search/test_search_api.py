"""GET /api/v1/search: results, cursor paging, 422s naming the field, and fuzzed query text."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from souk.kit.clock import utcnow
from souk.kit.pagination import encode_cursor
from souk.models import Product


async def test_search_api_returns_cards_total_and_facets(
    client: httpx.AsyncClient, listing_factory, store_factory, category_factory
):
    kitchen = await category_factory(name="Kitchen")
    store = await store_factory(name="Clay & Co", slug="clay-co")
    mug = await listing_factory(title="Crème mug", store=store, category=kitchen, price=1250, images=1)
    await listing_factory(title="Teapot", store=store, category=kitchen)

    r = await client.get("/api/v1/search", params={"q": "creme"})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 1 and body["next_cursor"] is None
    [item] = body["items"]
    assert item["id"] == mug.id and item["title"] == "Crème mug" and item["slug"] == "creme-mug"
    assert (item["store_id"], item["store_name"], item["store_slug"]) == (store.id, "Clay & Co", "clay-co")
    assert (item["min_price_amount"], item["max_price_amount"], item["currency"]) == (1250, 1250, "USD")
    assert item["thumb"] == f"/media/products/p{mug.id}/0_t.jpg"
    assert body["facets"] == {
        "category": [{"id": kitchen.id, "name": "Kitchen", "count": 1}],
        "trade_model": [{"id": "market", "name": "Market", "count": 1}],
        "store": [{"id": store.id, "name": "Clay & Co", "count": 1}],
        "currency": [{"id": "USD", "name": "USD", "count": 1}],
    }


async def test_search_api_filters(client: httpx.AsyncClient, listing_factory, store_factory):
    eur = await store_factory(currency="EUR", trade_model="crossborder")
    cheap = await listing_factory(title="Sock", price=300)
    await listing_factory(title="Sock deluxe", price=3000)
    euro = await listing_factory(title="Sock euro", price=300, store=eur)

    r = await client.get("/api/v1/search", params={"q": "sock", "max_price": 500})
    assert [i["id"] for i in r.json()["items"]] == [cheap.id]
    r = await client.get("/api/v1/search", params={"q": "sock", "max_price": 500, "currency": "eur"})
    assert [i["id"] for i in r.json()["items"]] == [euro.id]
    r = await client.get("/api/v1/search", params={"trade_model": "crossborder"})
    assert [i["id"] for i in r.json()["items"]] == [euro.id]
    r = await client.get("/api/v1/search", params={"store": eur.id, "sort": "price_desc"})
    assert [i["id"] for i in r.json()["items"]] == [euro.id]


async def test_api_cursor_walks_all_results_once(client: httpx.AsyncClient, listing_factory):
    now = utcnow()
    made = [
        await listing_factory(title=f"Pen {i}", price=100 + i % 3, created_at=now - timedelta(minutes=i))
        for i in range(11)
    ]
    for sort in ("newest", "price_asc", "price_desc", "relevance"):
        seen: list[int] = []
        params: dict[str, object] = {"q": "pen", "sort": sort, "limit": 3}
        while True:
            body = (await client.get("/api/v1/search", params=params)).json()
            assert body["total"] == 11
            seen += [i["id"] for i in body["items"]]
            if not body["next_cursor"]:
                break
            params["cursor"] = body["next_cursor"]
        assert sorted(seen) == sorted(p.id for p in made), sort
        assert len(seen) == 11, sort


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "cheapest"}, "sort"),
        ({"min_price": 500, "max_price": 100}, "min_price"),
        ({"min_price": -1}, "min_price"),
        ({"max_price": -5}, "max_price"),
        ({"min_price": "12.50"}, "min_price"),
        ({"max_price": 2**40}, "max_price"),
        ({"currency": "XXX"}, "currency"),
        ({"currency": "dollars"}, "currency"),
        ({"cursor": "not a cursor!"}, "cursor"),
        ({"cursor": encode_cursor({"a": 1})}, "cursor"),  # type: ignore[arg-type]
        ({"cursor": encode_cursor(["0" * 12, 1])}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"trade_model": "bazaar"}, "trade_model"),
        ({"category": "kitchen"}, "category"),
        ({"category": 2**40}, "category"),
        ({"store": 0}, "store"),
    ],
)
async def test_bad_parameters_are_422_naming_the_field(client: httpx.AsyncClient, params, field):
    r = await client.get("/api/v1/search", params=params)
    assert r.status_code == 422, r.text
    body = r.json()
    assert field in body["fields"], body
    assert body["error"] == "invalid"


async def test_forged_cursor_values_are_422(client: httpx.AsyncClient, listing_factory):
    for i in range(3):
        await listing_factory(title=f"Cup {i}")
    body = (await client.get("/api/v1/search", params={"sort": "newest", "limit": 1})).json()
    import base64
    import json

    raw = json.loads(base64.urlsafe_b64decode(body["next_cursor"] + "=="))
    for forged in (
        [raw[0], "not a date", raw[2]],
        [raw[0], "2026-01-01T00:00:00", raw[2]],
        [raw[0], raw[1], 2**40],
        [raw[0], raw[1], True],
        [raw[0], raw[1]],
        [raw[0], "9999-12-31T23:59:59-23:59", raw[2]],
    ):
        r = await client.get("/api/v1/search", params={"sort": "newest", "cursor": encode_cursor(forged)})
        assert r.status_code == 422, forged
        assert "cursor" in r.json()["fields"]


async def test_search_is_in_the_openapi_schema(client: httpx.AsyncClient):
    spec = (await client.get("/openapi.json")).json()
    op = spec["paths"]["/api/v1/search"]["get"]
    assert op["tags"] == ["search"] and op["summary"] == "Search products"
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/SearchResult")
    names = {p["name"] for p in op["parameters"]}
    assert names >= {
        "q",
        "category",
        "trade_model",
        "min_price",
        "max_price",
        "currency",
        "store",
        "sort",
        "limit",
        "cursor",
    }


FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NASTY = st.sampled_from(
    [
        '"',
        "*",
        ":",
        "&",
        "(",
        ")",
        "-",
        "NEAR",
        "OR",
        "AND",
        "NOT",
        "^",
        "'",
        "\\",
        "|",
        "!",
        "<->",
        ":*",
        "_",
        "\x00",
        "%",
        "NEAR(",
        "{",
        "}",
    ]
)
QUERY = st.one_of(
    st.text(max_size=300), st.lists(st.one_of(NASTY, st.text(max_size=8)), max_size=12).map(" ".join)
)


async def _with_a_product(session, listing_factory) -> None:
    """Each fuzzed query runs against a real index row (created by the first example)."""
    if await session.scalar(select(Product.id).limit(1)) is None:
        await listing_factory(title="Near OR far lamp", description="crème (kit) - 5 pcs: AND more")


@FUZZ
@given(q=QUERY)
async def test_any_query_text_gives_200_from_the_api(
    client: httpx.AsyncClient, session, listing_factory, q: str
):
    await _with_a_product(session, listing_factory)
    r = await client.get("/api/v1/search", params={"q": q, "limit": 5})
    assert r.status_code == 200, (q, r.text)
    assert isinstance(r.json()["items"], list)


@FUZZ
@given(q=QUERY)
async def test_any_query_text_gives_200_from_the_search_page(
    client: httpx.AsyncClient, session, listing_factory, q: str
):
    await _with_a_product(session, listing_factory)
    r = await client.get("/search", params={"q": q})
    assert r.status_code == 200, (q, r.text[:500])
    assert "products" in r.text


async def test_fuzz_has_data_to_match(client: httpx.AsyncClient, listing_factory):
    """The nasty characters next to real words still find the product."""
    product = await listing_factory(title="Near lamp", description="OR gate (kit) - 5 pcs")
    for q in ['near "lamp', "(kit)", "gate -kit", "lamp:", "NEAR(lamp", "kit&&", "or* gate"]:
        r = await client.get("/api/v1/search", params={"q": q})
        assert r.status_code == 200
        assert [i["id"] for i in r.json()["items"]] == [product.id], q
