"""What the API fuzzer found, fixed, and kept fixed (the NUL-character cases are in test_hostile_input.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import api_token_for
from souk.kit.clock import utcnow


def test_every_api_operation_declares_its_error_body(app: Any) -> None:
    """Each operation documents the ``{"error", "message", "fields"}`` body of its 4xx answers, and no operation
    documents FastAPI's ``{"detail": [...]}`` 422 the API never sends."""
    spec = app.openapi()
    missing = []
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            responses = operation["responses"]
            error = responses.get("4XX", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if error.get("$ref") != "#/components/schemas/ErrorBody" or "HTTPValidationError" in json.dumps(
                responses
            ):
                missing.append(f"{method.upper()} {path}")
    assert missing == []
    assert set(spec["components"]["schemas"]["ErrorBody"]["required"]) == {"error", "message", "fields"}


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("PATCH", "/api/v1/stores/mine"),
        ("DELETE", "/api/v1/stores/mine"),
        ("GET", "/api/v1/disputes/with-images"),
    ],
)
async def test_a_literal_path_is_not_read_as_an_id(
    client: httpx.AsyncClient, session: AsyncSession, user_factory: Any, method: str, url: str
) -> None:
    headers = await api_token_for(session, await user_factory())
    await session.commit()
    r = await client.request(method, url, headers=headers, json={})
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed", r.text


@pytest.mark.parametrize("value", [0, 1, 1.0, "maybe"], ids=repr)
async def test_booleans_are_json_booleans(
    client: httpx.AsyncClient, session: AsyncSession, user_factory: Any, sku_factory: Any, value: Any
) -> None:
    user = await user_factory()
    sku_id = (await sku_factory()).id
    headers = await api_token_for(session, user)
    await session.commit()
    r = await client.post("/api/v1/cart/items", json={"sku_id": sku_id, "sample": value}, headers=headers)
    assert r.status_code == 422 and "sample" in r.json()["fields"], r.text
    ok = await client.post("/api/v1/cart/items", json={"sku_id": sku_id, "sample": False}, headers=headers)
    assert ok.status_code == 201, ok.text


async def test_ids_of_stores_still_work(
    client: httpx.AsyncClient, session: AsyncSession, store_factory: Any, user_factory: Any
) -> None:
    store_id = (await store_factory()).id
    headers = await api_token_for(session, await user_factory())
    await session.commit()
    assert (await client.get(f"/api/v1/stores/{store_id}", headers=headers)).json()["id"] == store_id
    assert (await client.get(f"/api/v1/stores/{2**31}", headers=headers)).status_code == 422


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/rfqs/1/quotes", {"store_id": 2**63}, "store_id"),
        ("/api/v1/rfqs", {"organization_id": 2**63}, "organization_id"),
        ("/api/v1/rfqs", {"category_id": 2**31}, "category_id"),
        ("/api/v1/stores", {"organization_id": 2**63}, "organization_id"),
        ("/api/v1/reviews", {"order_line_id": 2**63}, "order_line_id"),
        ("/api/v1/disputes", {"seller_order_id": 10**30}, "seller_order_id"),
        # numbers past their bound (the OpenAPI document declares every one, see test_openapi_bounds)
        ("/api/v1/reviews", {"order_line_id": 1, "rating": 6}, "rating"),
        ("/api/v1/reviews", {"order_line_id": 1, "rating": 5, "communication": 0}, "communication"),
        ("/api/v1/payouts", {"store_id": 1, "currency": "USD", "amount": 10**16}, "amount"),
        ("/api/v1/disputes", {"seller_order_id": 1, "reason": "not_received", "amount": 10**16}, "amount"),
        ("/api/v1/conversations", {"product_id": 2**31, "body": "hello"}, "product_id"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
async def test_ids_and_numbers_in_bodies_fit_their_bounds(
    client: httpx.AsyncClient,
    session: AsyncSession,
    user_factory: Any,
    url: str,
    body: dict[str, Any],
    field: str,
) -> None:
    """An id past 32 bits is refused naming the field (it used to reach SQLite, which failed with a 500)."""
    headers = await api_token_for(session, await user_factory())
    headers["Idempotency-Key"] = "fuzz-regression-1"
    await session.commit()
    r = await client.post(url, json=body, headers=headers)
    assert r.status_code == 422 and field in r.json()["fields"], r.text


@pytest.mark.parametrize("query", ["product_id=2147483648", "store_id=9223372036854775808"])
async def test_ids_in_queries_fit_the_database(
    client: httpx.AsyncClient, session: AsyncSession, user_factory: Any, query: str
) -> None:
    """GET /reviews?product_id=2**31 used to reach PostgreSQL (int32 overflow: a 500)."""
    headers = await api_token_for(session, await user_factory())
    await session.commit()
    r = await client.get(f"/api/v1/reviews?{query}", headers=headers)
    assert r.status_code == 422 and query.split("=")[0] in r.json()["fields"], r.text


@pytest.mark.parametrize("path", ["/api/v1/auth/password-reset", "/api/v1/auth/tokens"])
async def test_an_email_longer_than_documented_is_refused_before_it_is_trimmed(
    client: httpx.AsyncClient, path: str
) -> None:
    """255 characters that are 254 once the leading vertical tab is stripped: the schema's maxLength (254) is
    about what the client sends, so this is a 422 naming the field (the password reset answered 202)."""
    email = "\u000b" + "a" * (254 - len("@example.com")) + "@example.com"
    assert len(email) == 255 and len(email.strip()) == 254
    r = await client.post(path, json={"email": email, "password": "whatever-it-is"})
    assert r.status_code == 422 and "email" in r.json()["fields"], r.text


# --- text fields: maxLength is the length as sent, before the surrounding whitespace is stripped ------------

TOO_LONG_200 = "String should have at most 200 characters"


@pytest.mark.parametrize(
    ("title", "status", "stored"),
    [
        ("a" * 200 + " ", 422, None),
        ("\u000b" + "a" * 200, 422, None),
        ("a" * 200, 201, "a" * 200),
        (" " + "a" * 198 + " ", 201, "a" * 198),
    ],
    ids=["max+trailing-space", "vertical-tab+max", "max", "max-with-spaces"],
)
async def test_a_product_title_is_measured_as_sent(
    client: httpx.AsyncClient,
    session: AsyncSession,
    user_factory: Any,
    store_factory: Any,
    category_factory: Any,
    title: str,
    status: int,
    stored: str | None,
) -> None:
    """201 characters that were 200 once trimmed were accepted although the document says maxLength 200."""
    owner = await user_factory()
    store_id = (await store_factory(owner=owner)).id
    category_id = (await category_factory()).id
    headers = await api_token_for(session, owner)
    await session.commit()
    r = await client.post(
        f"/api/v1/stores/{store_id}/products",
        json={"title": title, "category_id": category_id},
        headers=headers,
    )
    assert r.status_code == status, r.text
    if status == 422:
        assert r.json()["fields"] == {"title": TOO_LONG_200}
    else:
        assert r.json()["title"] == stored


@pytest.mark.parametrize(
    ("title", "problem"),
    [
        ("a" * 200 + " ", TOO_LONG_200),
        ("  ab  ", "String should have at least 3 characters"),
        ("a" * 200, None),
    ],
    ids=["max+trailing-space", "too-short-once-trimmed", "max"],
)
async def test_an_rfq_title_is_measured_as_sent_and_its_minimum_once_trimmed(
    client: httpx.AsyncClient, session: AsyncSession, sourcing_buyer: Any, title: str, problem: str | None
) -> None:
    buyer = await sourcing_buyer()
    headers = await api_token_for(session, buyer.user)
    await session.commit()
    body = {
        "title": title,
        "requirements": "750 ml, double wall, powder coated.",
        "quantity": 1000,
        "currency": "USD",
        "destination_country": "DE",
        "quote_deadline": (utcnow() + timedelta(days=7)).isoformat(),
    }
    r = await client.post("/api/v1/rfqs", json=body, headers=headers)
    if problem is None:
        assert r.status_code == 201 and r.json()["title"] == title, r.text
    else:
        assert r.status_code == 422 and r.json()["fields"] == {"title": problem}, r.text


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def _string_bound(prop: dict[str, Any]) -> tuple[int, bool] | None:
    """(maxLength, is a list of strings) of a property that is a string, a nullable string or a list of them."""
    for schema in (prop, *prop.get("anyOf", [])):
        if schema.get("type") == "string" and "maxLength" in schema:
            return schema["maxLength"], False
        items = schema.get("items") if schema.get("type") == "array" else None
        if isinstance(items, dict) and items.get("type") == "string" and "maxLength" in items:
            return items["maxLength"], True
    return None


def test_every_bounded_text_field_measures_the_value_as_sent(app: Any) -> None:
    """Every pydantic model of the application: a string property documented with maxLength N refuses N
    characters plus a trailing space with pydantic's string_too_long, whatever the field does after
    (strip, upper-case, pattern, its own validators). Declare such fields with ``souk.kit.schemas.Trimmed``."""
    models = {m for m in _subclasses(BaseModel) if m.__module__.startswith("souk.")}
    checked, lenient = 0, set()
    for model in models:
        for name, prop in model.model_json_schema().get("properties", {}).items():
            bound = _string_bound(prop)
            if bound is None:
                continue
            checked += 1
            value = "a" * bound[0] + " "
            try:
                model.model_validate({name: [value] if bound[1] else value})
                errors = []
            except ValidationError as caught:
                errors = [e for e in caught.errors() if e["loc"][:1] == (name,)]
            if not any(e["type"] == "string_too_long" for e in errors):
                lenient.add(f"{model.__module__}.{model.__qualname__}.{name}")
    assert checked > 90
    assert lenient == set()
