"""Every integer a client sends is bounded, and the OpenAPI document says so with standard JSON-Schema keywords.

Row ids are 32-bit on PostgreSQL: an unbounded id in a query reached asyncpg and failed with a 500. Constraints
written after a BeforeValidator (``Annotated[StrictInt, Field(le=5)]``) still validate but leak the keys
``ge``/``le``/``gt``/``lt`` into the document instead of ``minimum``/``maximum``, so clients and the fuzzer saw no
bound; ``souk.kit.schemas`` has the aliases that put the constraints first.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import api_token_for

PYDANTIC_KEYS = {"ge", "le", "gt", "lt"}
METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


@pytest.fixture
def spec(app: Any) -> dict[str, Any]:
    return app.openapi()  # type: ignore[no-any-return]


def _leaked_keys(node: Any, where: str, out: list[str]) -> None:
    if isinstance(node, dict):
        is_schema = "type" in node or any(k in node for k in ("anyOf", "oneOf", "allOf", "$ref"))
        for key, value in node.items():
            # a schema's "properties" may hold a field named "ge": only a key next to schema keywords counts
            if key in PYDANTIC_KEYS and (is_schema or not isinstance(value, dict)):
                out.append(f"{where}/{key}")
            _leaked_keys(value, f"{where}/{key}", out)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _leaked_keys(value, f"{where}[{i}]", out)


def _unbounded(
    schema: Any, where: str, components: dict[str, Any], out: list[str], seen: tuple[str, ...]
) -> None:
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            _unbounded(components[name], where, components, out, (*seen, name))
        return
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for i, sub in enumerate(schema.get(key, [])):
            _unbounded(sub, f"{where}" if key != "prefixItems" else f"{where}[{i}]", components, out, seen)
    types = schema.get("type")
    is_integer = types == "integer" or (isinstance(types, list) and "integer" in types)
    if is_integer and "maximum" not in schema and "exclusiveMaximum" not in schema:
        out.append(where)
    for name, sub in schema.get("properties", {}).items():
        _unbounded(sub, f"{where}.{name}", components, out, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _unbounded(schema[key], f"{where}[]", components, out, seen)


def test_no_schema_uses_pydantic_constraint_names(spec: dict[str, Any]) -> None:
    """``ge``/``le``/``gt``/``lt`` are not JSON Schema: a client reading them sees no bound at all."""
    leaked: list[str] = []
    _leaked_keys(spec, "", leaked)
    assert leaked == [], (
        "put Field constraints before the BeforeValidator (see souk.kit.schemas):\n" + "\n".join(leaked)
    )


def test_every_integer_a_client_sends_has_a_maximum(spec: dict[str, Any]) -> None:
    components = spec.get("components", {}).get("schemas", {})
    unbounded: list[str] = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            for parameter in operation.get("parameters", []):
                where = f"{method.upper()} {path} {parameter['in']}:{parameter['name']}"
                _unbounded(parameter.get("schema", {}), where, components, unbounded, ())
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                where = f"{method.upper()} {path} body({media_type})"
                _unbounded(content.get("schema", {}), where, components, unbounded, ())
    assert unbounded == [], "integers without maximum/exclusiveMaximum:\n" + "\n".join(unbounded)


def test_the_checks_see_a_leak_and_an_unbounded_integer() -> None:
    """The walkers themselves find what they look for (through $ref, anyOf and items)."""
    components = {"X": {"type": "object", "properties": {"n": {"anyOf": [{"type": "integer", "ge": 1}]}}}}
    leaked: list[str] = []
    _leaked_keys(components, "", leaked)
    assert leaked == ["/X/properties/n/anyOf[0]/ge"]
    unbounded: list[str] = []
    _unbounded(
        {"type": "array", "items": {"$ref": "#/components/schemas/X"}}, "body", components, unbounded, ()
    )
    assert unbounded == ["body[].n"]


@pytest.mark.parametrize(
    ("url", "fields"),
    [
        ("/api/v1/disputes?store_id=2147483648", {"store_id"}),
        ("/api/v1/products?store_id=2147483648&category_id=2147483648", {"store_id", "category_id"}),
        ("/api/v1/products?limit=101", {"limit"}),
        ("/api/v1/conversations?limit=0", {"limit"}),
        ("/api/v1/reviews?limit=1000", {"limit"}),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
async def test_big_numbers_in_queries_are_refused_naming_the_field(
    client: httpx.AsyncClient, session: AsyncSession, user_factory: Any, url: str, fields: set[str]
) -> None:
    """``GET /disputes?store_id=2**31`` reached asyncpg (value out of int32 range): a 500 on PostgreSQL."""
    headers = await api_token_for(session, await user_factory())
    await session.commit()
    r = await client.get(url, headers=headers)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid" and fields <= set(body["fields"]), r.text


async def test_big_subject_id_in_the_decision_log_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, operator_factory: Any
) -> None:
    headers = await api_token_for(session, await operator_factory())
    await session.commit()
    r = await client.get("/api/v1/ops/decisions?subject_id=2147483648", headers=headers)
    assert r.status_code == 422 and "subject_id" in r.json()["fields"], r.text
    ok = await client.get("/api/v1/ops/decisions?subject_id=2147483647", headers=headers)
    assert ok.status_code == 200 and ok.json()["items"] == [], ok.text
