"""What the API fuzzer found, fixed, and kept fixed (the NUL-character cases are in test_hostile_input.py)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import api_token_for


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
