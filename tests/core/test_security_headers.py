"""Security headers on every kind of response, HSTS only over https, the relaxed policy of /docs only, and no
inline script, event handler or inline style on any page (so the strict Content-Security-Policy holds)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import login_as
from souk.web.security import CONTENT_SECURITY_POLICY

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def assert_security_headers(r: httpx.Response, csp: str | None = CSP) -> None:
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert r.headers["x-frame-options"] == "DENY"
    permissions = r.headers["permissions-policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
        assert feature in permissions
    if csp is not None:
        assert r.headers["content-security-policy"] == csp
    assert "strict-transport-security" not in r.headers  # plain http


def routes_of(app: Any) -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) for every route of the app's route table, included routers walked."""

    def walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, APIRoute]]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield prefix + route.path, route
            elif hasattr(route, "original_router"):  # FastAPI keeps included routers as branches
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)

    return walk(list(app.routes), "")


def test_the_policy_is_the_decided_one() -> None:
    assert CONTENT_SECURITY_POLICY == CSP
    script_src = directives(CSP)["script-src"]
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert directives(CSP)["frame-ancestors"] == ["'none'"]


async def test_headers_on_a_page(client: httpx.AsyncClient) -> None:
    r = await client.get("/login")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert_security_headers(r)


async def test_headers_on_an_api_response(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/categories")
    assert r.status_code == 200 and r.json() == []
    assert_security_headers(r)
    r = await client.get("/api/v1/me")
    assert r.status_code == 401 and r.json()["error"]
    assert_security_headers(r)


async def test_headers_on_error_pages(client: httpx.AsyncClient) -> None:
    r = await client.get("/nothing-here")
    assert r.status_code == 404 and "Page not found" in r.text
    assert_security_headers(r)
    r = await client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert_security_headers(r)
    r = await client.post("/logout", data={})  # no CSRF token: the refusal page carries them too
    assert r.status_code == 403
    assert_security_headers(r)


async def test_headers_on_static_files(client: httpx.AsyncClient) -> None:
    r = await client.get("/static/souk.css")
    assert r.status_code == 200 and "text/css" in r.headers["content-type"]
    assert_security_headers(r)
    r = await client.get("/static/favicon.svg")
    assert r.status_code == 200
    assert_security_headers(r)


async def test_hsts_only_over_https(app: Any, client: httpx.AsyncClient) -> None:
    r = await client.get("/login")
    assert "strict-transport-security" not in r.headers
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://test") as secure:
        for path in ("/login", "/api/v1/categories", "/static/souk.css", "/nothing-here"):
            r = await secure.get(path)
            assert r.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains", path
            assert r.headers["content-security-policy"] == CSP


async def test_docs_page_has_its_own_policy_without_unsafe_inline_scripts(client: httpx.AsyncClient) -> None:
    r = await client.get("/docs")
    assert r.status_code == 200 and "SwaggerUIBundle" in r.text
    policy = directives(r.headers["content-security-policy"])
    script_src = policy["script-src"]
    assert "'unsafe-inline'" not in script_src
    assert "https://cdn.jsdelivr.net" in script_src
    # every inline script of the page is allowed by its hash, nothing more
    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", r.text, re.DOTALL)
    assert len(inline) == 1
    expected = {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline}
    assert {v for v in script_src if v.startswith("'sha256-")} == expected
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert r.headers["x-frame-options"] == "DENY"
    # the relaxed policy is for /docs only
    r = await client.get("/openapi.json")
    assert r.headers["content-security-policy"] == CSP


async def test_a_route_that_sets_its_own_policy_keeps_it(app: Any) -> None:
    """Uploaded documents are served with ``Content-Security-Policy: sandbox``; the middleware keeps it."""
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    from souk.web.security import SecurityHeadersMiddleware

    tiny = FastAPI()
    tiny.add_middleware(SecurityHeadersMiddleware)

    @tiny.get("/doc")
    async def doc() -> PlainTextResponse:
        return PlainTextResponse("x", headers={"Content-Security-Policy": "sandbox"})

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=tiny), base_url="http://t") as c:
        r = await c.get("/doc")
    assert r.headers["content-security-policy"] == "sandbox"
    assert r.headers["x-content-type-options"] == "nosniff"


# --- no inline script, handler or style on any page ----------------------------------------------------


class InlineFinder(HTMLParser):
    """Collects what a strict CSP would block: inline <script>, on*= handlers, style attributes and
    <style> elements, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.tags = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags += 1
        names = {name.lower() for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        for name, value in attrs:
            if name.lower().startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name.lower() == "style":
                self.problems.append(f"<{tag} style={value!r}>")
            if name.lower() in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"<{tag} {name}=javascript:...>")


PROBES = {"/healthz", "/readyz"}  # JSON probes for the orchestrator, not pages


def inline_problems(html: str) -> tuple[list[str], int]:
    finder = InlineFinder()
    finder.feed(html)
    finder.close()
    return finder.problems, finder.tags


async def test_every_page_without_ids_has_no_inline_script_handler_or_style(
    app: Any,
    client: httpx.AsyncClient,
    session: AsyncSession,
    operator_factory: Any,
    store_factory: Any,
) -> None:
    paths = sorted(
        {
            path
            for path, route in routes_of(app)
            if "GET" in route.methods and "{" not in path and not path.startswith("/api/")
        }
        - PROBES
    )
    assert {"/", "/login", "/search", "/cart", "/account", "/seller", "/ops", "/rfqs"} <= set(paths)
    operator = await operator_factory()
    await store_factory(owner=operator)  # the seller centre shows a store
    await session.commit()

    checked = 0
    for who in ("anonymous", "operator"):
        if who == "operator":
            await login_as(client, session, operator)
            await session.commit()
        for path in paths:
            r = await client.get(path)
            assert r.status_code < 500, (who, path, r.status_code)
            assert_security_headers(r, csp=None)
            if "text/html" not in r.headers.get("content-type", ""):
                continue
            assert r.headers["content-security-policy"] == CSP, path
            problems, tags = inline_problems(r.text)
            assert tags > 10, (who, path)
            assert problems == [], (who, path, problems)
            checked += 1
    # the logged-in pass renders the pages behind the login (anonymous gets redirects for those)
    assert checked >= len(paths)


# --- error responses: 405, 422 and the 500 page (sent outside the middleware stack) --------------------


async def test_headers_on_405_and_422(client: httpx.AsyncClient) -> None:
    r = await client.delete("/login")
    assert r.status_code == 405
    assert_security_headers(r)
    r = await client.put("/api/v1/me")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
    assert_security_headers(r)
    r = await client.post("/api/v1/auth/register", json={"email": "not-an-email"})
    assert r.status_code == 422 and r.json()["error"] == "invalid"
    assert_security_headers(r)


async def test_headers_on_the_500_page_and_the_500_json(settings: Any) -> None:
    """An unexpected exception is answered by Starlette's outermost middleware, outside
    SecurityHeadersMiddleware: the catch-all handler adds the headers itself."""
    from souk.app import create_app

    broken = create_app(settings)  # its own app: the shared one's route table stays as it is

    @broken.get("/broken-page")
    async def broken_page() -> None:
        raise RuntimeError("boom")

    @broken.get("/api/v1/broken")
    async def broken_api() -> None:
        raise RuntimeError("boom")

    transport = httpx.ASGITransport(app=broken, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            r = await c.get("/broken-page")
            assert r.status_code == 500 and "Something went wrong" in r.text
            assert "boom" not in r.text
            assert_security_headers(r)
            r = await c.get("/api/v1/broken")
            assert r.status_code == 500 and r.json()["error"] == "internal_error"
            assert_security_headers(r)
        async with httpx.AsyncClient(transport=transport, base_url="https://test") as c:
            r = await c.get("/broken-page")
            assert r.status_code == 500
            assert r.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
            assert r.headers["content-security-policy"] == CSP
    finally:
        await broken.state.db.dispose()
