"""CSRF on every state-changing form, generated from the app's route table: every non-API route that takes a
POST (or PUT/PATCH/DELETE) refuses a request without the token and one carrying another browser's token, before
it looks anything up (403 even for ids that do not exist), and nothing in the database changes."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import TEST_SECRET, login_as
from souk.auth.tokens import sign
from souk.deps import SESSION_COOKIE
from souk.models import Base
from souk.web.render import CSRF_COOKIE, _valid_csrf

PARAM = re.compile(r"{(\w+)(?::\w+)?}")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
REFUSAL = "The form expired or came from another site"


def routes_of(app: Any) -> Iterator[tuple[str, APIRoute]]:
    def walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, APIRoute]]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield prefix + route.path, route
            elif hasattr(route, "original_router"):  # FastAPI keeps included routers as branches
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)

    return walk(list(app.routes), "")


def query_params(dependant: Any) -> list[Any]:
    """The query parameters of a route and of its dependencies."""
    found = list(dependant.query_params)
    for sub in dependant.dependencies:
        found.extend(query_params(sub))
    return found


def form_routes(app: Any) -> list[tuple[str, str]]:
    """(method, url) of every state-changing web route (the API authenticates with bearer tokens, which a
    browser never sends by itself; webhooks are signed). Ids in the path and required query parameters are 1."""
    found = set()
    for path, route in routes_of(app):
        if path.startswith("/api/") or "webhook" in path:
            continue
        query = sorted(f"{p.alias}=1" for p in query_params(route.dependant) if p.field_info.is_required())
        url = PARAM.sub("1", path) + ("?" + "&".join(query) if query else "")
        for method in route.methods & UNSAFE:
            found.add((method, url))
    return sorted(found, key=lambda mp: (mp[1], mp[0]))


async def snapshot(session: AsyncSession) -> dict[str, list[str]]:
    """Every row of every table (the test's transaction holds only what this test wrote)."""
    rows = {}
    for table in Base.metadata.sorted_tables:
        result = await session.execute(select(table))
        rows[table.name] = sorted(repr(tuple(r)) for r in result)
    return rows


def foreign_token() -> str:
    """A valid token of another browser (what an attacker gets by visiting the site)."""
    nonce = secrets.token_urlsafe(16)
    return f"{nonce}.{sign(TEST_SECRET, 'csrf:' + nonce)}"


def test_the_route_table_has_the_forms() -> None:
    from souk.app import create_app
    from souk.config import Settings

    routes = form_routes(create_app(Settings(secret_key=TEST_SECRET, worker_in_process=False)))
    paths = {p for _, p in routes}
    assert len(routes) > 80
    for expected in (
        "/login",
        "/logout",
        "/register",
        "/checkout",
        "/cart/items",
        "/rfqs/new",
        "/reviews/new",
    ):
        assert expected in paths
    assert "/orders/1/pay" in paths and "/messages/new?product=1" in paths
    assert not any(p.startswith("/api/") for p in paths)


async def test_every_form_refuses_a_missing_or_foreign_token(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, operator_factory: Any, store_factory: Any
) -> None:
    # an operator who owns a store: no route can refuse them for a role before looking at the token
    user = await operator_factory()
    await store_factory(owner=user)
    await login_as(client, session, user)
    await session.commit()
    own = client.cookies.get(CSRF_COOKIE)
    assert own and _valid_csrf(_FakeRequest(app), own, client.cookies.get(SESSION_COOKIE))
    other = foreign_token()
    assert other != own and _valid_csrf(_FakeRequest(app), other)

    before = await snapshot(session)
    routes = form_routes(app)
    accepted = []
    for method, url in routes:
        for case, fields in (
            ("missing", {"name": "x", "title": "x", "quantity": "1"}),
            ("foreign", {"name": "x", "title": "x", "quantity": "1", "csrf_token": other}),
            ("empty", {"csrf_token": ""}),
        ):
            r = await client.request(method, url, data=fields, follow_redirects=False)
            if r.status_code not in (400, 403) or REFUSAL not in r.text:
                accepted.append((method, url, case, r.status_code))
                continue
            # refused: still logged in, nothing written
            assert r.headers["content-security-policy"].startswith("default-src 'self'")
        assert await snapshot(session) == before, (method, url)
    assert accepted == [], accepted
    assert client.cookies.get(CSRF_COOKIE) == own


async def test_a_foreign_cookie_and_token_pair_is_refused_with_my_session_when_only_the_form_is_forged(
    client: httpx.AsyncClient, session: AsyncSession, user_factory: Any
) -> None:
    """The classic attack: another site posts a form to Souk with the victim's cookies; it can put any token
    in the form, but not read or set the victim's ``souk_csrf`` cookie."""
    user = await user_factory()
    await login_as(client, session, user)
    await session.commit()
    r = await client.post("/account", data={"display_name": "Hacked", "csrf_token": foreign_token()})
    assert r.status_code == 403 and REFUSAL in r.text
    r = await client.get("/account")
    assert r.status_code == 200 and "Hacked" not in r.text
    # with its own token the same form works (the refusals above are the token, not the form)
    r = await client.post("/account", data={"display_name": "Renamed", "csrf_token": client.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 303
    await session.refresh(user)
    assert user.display_name == "Renamed"


class _FakeRequest:
    """Just enough of a request for ``_valid_csrf`` (it reads the app's secret key)."""

    def __init__(self, app: Any) -> None:
        self.app = app
