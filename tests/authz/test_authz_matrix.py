"""The authorization matrix (issue 5): every route of the app, API and web, called as anonymous, buyer A, buyer
B, store A's owner, admin and staff, store B's owner and an operator, on objects of buyer A and store A. Each
route's expected outcome per actor is declared in ``authz_matrix_table.MATRIX``; a route without an entry (or an
entry without a route) fails. No response, allowed or refused, carries a private field of an object to an actor
who is not one of its insiders (``authz_world.SECRETS``).

Each call runs in a savepoint that is rolled back, so calls never see each other's writes and one world serves
all of them. When routes change: ``SOUK_AUTHZ_ONLY=<regex>`` limits the run to matching routes, and
``SOUK_AUTHZ_DUMP=<file>`` writes the observed rows (to compare with the table; review before copying any)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from authz_matrix_table import IGNORED, MATRIX, OUTCOMES
from authz_requests import PARAM, PARAM_IDS, REQUESTS, WEB_FORM
from authz_world import ACTORS, SECRETS, World, build_world
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from fixtures.core import TEST_SECRET
from souk.app import create_app
from souk.config import Settings

FIXTURES = (
    "user_factory",
    "organization_factory",
    "store_factory",
    "category_factory",
    "product_factory",
    "shipping_method_factory",
    "address_factory",
    "rfq_factory",
    "quote_factory",
    "run_worker",
)


def route_keys(app: Any) -> list[str]:
    """ "METHOD /path" of every route of the app (HEAD left out: Starlette answers it from GET; path
    convertors left out)."""

    def walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, Any]]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield prefix + route.path, route
            elif hasattr(route, "original_router"):  # FastAPI keeps included routers as branches
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif hasattr(route, "methods"):  # the docs and the OpenAPI document
                yield prefix + route.path, route
            else:  # mounted static files
                yield prefix + route.path, None

    keys = []
    for path, route in walk(list(app.routes), ""):
        path = re.sub(r"{(\w+):\w+}", r"{\1}", path)  # "{store_id:int}" and "{store_id}" are one entry
        methods = sorted((route.methods or set()) - {"HEAD"}) if route is not None else ["MOUNT"]
        keys.extend(f"{method} {path}" for method in methods)
    return keys


def outcome_of(response: httpx.Response, api: bool) -> str:
    """The outcome class of a response: A allowed, L login required, F forbidden, N not found, S refused by the
    object's state or the input (400/409/410/422), or the raw status when it is none of these."""
    status = response.status_code
    location = response.headers.get("location", "")
    if status == 401 or (
        not api and status in (302, 303) and re.match(r"^(https?://[^/]+)?/login\?next=", location)
    ):
        return "L"
    if 200 <= status < 400:
        return "A"
    return {403: "F", 404: "N", 400: "S", 409: "S", 410: "S", 422: "S"}.get(status, str(status))


class Caller:
    """Calls one route as one actor inside a savepoint that is rolled back afterwards, so calls never see each
    other's writes."""

    def __init__(self, app: Any, connection: AsyncConnection, world: World) -> None:
        self.app = app
        self.connection = connection
        self.world = world

    async def call(self, key: str, actor: str) -> httpx.Response:
        method, template = key.split(" ", 1)
        api = template.startswith("/api/")
        spec = REQUESTS.get(key, {})
        ids = self.world.ids
        params = spec.get("params", {})
        url = PARAM.sub(lambda m: str(ids[params.get(m[1], PARAM_IDS.get(m[1], m[1]))]), template)
        creds = self.world.credentials[actor]
        kwargs: dict[str, Any] = {"params": spec["query"](ids) if "query" in spec else None}
        headers: dict[str, str] = {}
        if api:
            headers.update(creds.headers)
            if method != "GET":  # state-changing API calls carry a key (some routes require one)
                headers["Idempotency-Key"] = str(uuid.uuid4())
            if "json" in spec:
                kwargs["json"] = spec["json"](ids)
            if "data" in spec:
                kwargs["data"] = spec["data"](ids)
            if "files" in spec:
                kwargs["files"] = spec["files"](ids)
        else:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in creds.cookies.items())
            if method != "GET":
                form = spec["form"](ids) if "form" in spec else {}
                kwargs["data"] = {
                    **({} if spec.get("form_only") else WEB_FORM),
                    **form,
                    "csrf_token": creds.csrf,
                }
                if "files" in spec:
                    kwargs["files"] = spec["files"](ids)
        savepoint = await self.connection.begin_nested()
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.app, raise_app_exceptions=False),
                base_url="http://test",
            ) as client:
                return await client.request(method, url, headers=headers, follow_redirects=False, **kwargs)
        finally:
            await savepoint.rollback()


@pytest.fixture
async def world(
    request: pytest.FixtureRequest, app: Any, session: AsyncSession, connection: AsyncConnection
) -> World:
    factories = {name: request.getfixturevalue(name) for name in FIXTURES}
    return await build_world(session, app.state.storage, factories)


@pytest.fixture
def caller(app: Any, connection: AsyncConnection, world: World) -> Iterator[Caller]:
    """The app's requests open their sessions on the test's connection, as savepoints (set on the app's
    sessionmaker rather than as a dependency override, which FastAPI would re-analyse on every request)."""
    real = app.state.db.sessionmaker
    app.state.db.sessionmaker = async_sessionmaker(
        bind=connection, expire_on_commit=False, autoflush=False, join_transaction_mode="create_savepoint"
    )
    try:
        yield Caller(app, connection, world)
    finally:
        app.state.db.sessionmaker = real


def test_every_route_has_an_entry_and_every_entry_a_route() -> None:
    keys = route_keys(create_app(Settings(secret_key=TEST_SECRET, worker_in_process=False)))
    assert len(keys) > 300
    routes = {k for k in keys if k not in IGNORED}
    missing = sorted(routes - MATRIX.keys())
    stale = sorted(MATRIX.keys() - routes) + sorted(IGNORED - set(keys))
    assert missing == [], "routes without an entry in authz_matrix_table.MATRIX:\n" + "\n".join(missing)
    assert stale == [], "entries whose route no longer exists:\n" + "\n".join(stale)
    for key, expected in MATRIX.items():
        assert len(expected) == len(ACTORS) and set(expected) <= OUTCOMES, (key, expected)


def _dump(path: str, lines: list[str]) -> None:
    with open(path, "w") as out:
        out.write("\n".join(lines) + "\n")


async def _run(caller: Caller, api: bool) -> None:
    wrong: list[str] = []
    leaks: list[str] = []
    observed: list[str] = []
    for key, expected in sorted(MATRIX.items()):
        if key.split(" ", 1)[1].startswith("/api/") != api:
            continue
        if os.environ.get("SOUK_AUTHZ_ONLY") and not re.search(os.environ["SOUK_AUTHZ_ONLY"], key):
            continue
        got = ""
        for actor, want in zip(ACTORS, expected, strict=True):
            response = await caller.call(key, actor)
            outcome = outcome_of(response, api)
            got += outcome if len(outcome) == 1 else "!"
            if outcome != want:
                wrong.append(
                    f"{key} as {actor}: expected {want}, got {response.status_code} {response.text[:160]!r}"
                )
            shown = [
                secret
                for secret, insiders in SECRETS.items()
                if actor not in insiders and secret in response.text
            ]
            if shown:  # allowed or refused, nobody sees what is not theirs
                leaks.append(f"{key} as {actor} ({response.status_code}) shows {shown}")
        observed.append(f'    "{key}": "{got}",')
    if os.environ.get("SOUK_AUTHZ_DUMP"):  # the observed rows, to review when routes change
        _dump(os.environ["SOUK_AUTHZ_DUMP"] + ("-api" if api else "-web"), observed)
    report = []
    if leaks:
        report.append("responses show private fields to the wrong party:\n" + "\n".join(leaks))
    if wrong:
        report.append(f"{len(wrong)} outcomes differ from the matrix:\n" + "\n".join(wrong))
    assert not report, "\n".join(report)


async def test_api_routes_follow_the_matrix(caller: Caller) -> None:
    await _run(caller, api=True)


async def test_web_routes_follow_the_matrix(caller: Caller) -> None:
    await _run(caller, api=False)
