"""Every route, called with absurd ids or without credentials, answers 4xx, never 500."""

from __future__ import annotations

import importlib
import re

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import api_token_for, login_as
from souk.app import WEB_ROUTERS

HUGE = "99999999999999999999"
PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def _api_routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if "{" in path
        for method in operations
    ]


def _page_routes() -> list[str]:
    paths = []
    for name in WEB_ROUTERS:
        for route in importlib.import_module(name).router.routes:
            if isinstance(route, APIRoute) and "{" in route.path and "GET" in route.methods:
                paths.append(route.path)
    return paths


@pytest.mark.parametrize("value", [HUGE, "0", "-1"])
async def test_api_routes_refuse_out_of_range_ids(
    app, client: httpx.AsyncClient, session: AsyncSession, user_factory, value: str
) -> None:  # type: ignore[no-untyped-def]
    headers = await api_token_for(session, await user_factory())
    await session.commit()
    routes = _api_routes(app)
    assert len(routes) > 20
    for method, path in routes:
        url = PARAM.sub(value, path)
        r = await client.request(
            method, url, headers=headers, json={} if method in ("POST", "PATCH", "PUT") else None
        )
        assert r.status_code < 500, (method, url, r.text)
        assert r.status_code in (401, 403, 404, 405, 409, 413, 422), (method, url, r.status_code)
        assert "error" in r.json()


async def test_pages_refuse_out_of_range_ids(
    app, client: httpx.AsyncClient, session: AsyncSession, user_factory
) -> None:  # type: ignore[no-untyped-def]
    await login_as(client, session, await user_factory())
    await session.commit()
    paths = _page_routes()
    assert len(paths) > 10
    for path in paths:
        url = PARAM.sub(HUGE, path)
        r = await client.get(url)
        assert r.status_code < 500, (url, r.text[:300])
