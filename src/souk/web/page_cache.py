"""A short-lived cache of the storefront pages anonymous visitors see (ADR 0009).

A product, category, store or search page is the same HTML for every visitor who is not logged in and has no
guest cart, apart from one thing: the CSRF token in its forms. ``AnonymousPageCache`` (a plain ASGI middleware
inside ``RequestEdgeMiddleware``, so the cookies and security headers are added to cached answers as to
rendered ones) keeps such pages for ``page_cache_seconds`` per process:

- **What is cached**: ``GET`` of ``/``, ``/p/...``, ``/c/...``, ``/s/...`` and ``/search``, from a
  request with no cookie but the CSRF cookie and no ``Authorization`` header, answered ``200`` with HTML. The
  key is the path, the query string and the visitor's locale (from Accept-Language).
- **The CSRF token**: the page is rendered with a placeholder in place of the token; each answer, fresh or
  cached, gets the visitor's own token (their valid ``souk_csrf`` cookie, or a new one set as the cookie).
- **How long**: ``page_cache_seconds`` (2 by default; 0 turns the cache off). Any state-changing request this
  process serves (``POST``, ``PUT``, ``PATCH``, ``DELETE``) empties it, so a seller who edits a product and
  opens its page sees the edit; another process's edits show within those seconds, like a CDN's. Prices and
  stock are checked again when the cart and checkout are read, never taken from a page.
- **How much**: at most ``MAX_ENTRIES`` pages, the least recently used leave first.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from souk.web.render import CSRF_COOKIE, csrf_token, visitor_locale

MAX_ENTRIES = 2048
# stands in for the CSRF token while a cacheable page renders (never sent: every answer replaces it)
PLACEHOLDER = "souk-csrf-placeholder-3f9c1e"
CACHED_PREFIXES = ("/p/", "/c/", "/s/")
CACHED_PATHS = frozenset({"/", "/search"})
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# the answer's headers that a cached copy keeps (the rest are recomputed or added by the outer middleware)
_KEPT = frozenset({b"content-type", b"cache-control", b"vary", b"content-language"})


@dataclass
class _Entry:
    expires: float
    headers: list[tuple[bytes, bytes]]
    body: bytes


class AnonymousPageCache:
    def __init__(self, app: ASGIApp, *, seconds: float, max_entries: int = MAX_ENTRIES) -> None:
        self.app = app
        self.seconds = seconds
        self.max_entries = max_entries
        self.entries: OrderedDict[tuple[str, str, str], _Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.seconds <= 0:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method in STATE_CHANGING:
            self.entries.clear()  # whatever this request changes shows on the next page view
            await self.app(scope, receive, send)
            return
        if method != "GET" or not _cacheable_request(scope):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        key = (scope["path"], scope.get("query_string", b"").decode("latin-1"), visitor_locale(request))
        now = time.monotonic()
        entry = self.entries.get(key)
        if entry is not None and entry.expires > now:
            self.entries.move_to_end(key)
            self.hits += 1
            await _answer(request, entry, send)
            return
        self.misses += 1
        scope.setdefault("state", {})["csrf_token"] = PLACEHOLDER  # csrf_token() returns it while rendering
        fresh = await self._render(scope, receive, send, key, now)
        if fresh is not None:
            await _answer(request, fresh, send)

    async def _render(
        self, scope: Scope, receive: Receive, send: Send, key: tuple[str, str, str], now: float
    ) -> _Entry | None:
        """Run the app, keep its answer when it can be shared; None when it was not cacheable (then it has
        already been sent on as it came, the placeholder replaced)."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def collect(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, collect)
        assert start is not None
        headers = Headers(raw=start["headers"])
        body = b"".join(chunks)
        state = scope.get("state", {})
        shareable = (
            start["status"] == 200
            and headers.get("content-type", "").startswith("text/html")
            and "set-cookie" not in headers
            and not state.get("csrf_new")
            and not state.get("flash_out")
            and not state.get("flash_consumed")
        )
        entry = _Entry(now + self.seconds, [(k, v) for k, v in start["headers"] if k in _KEPT], body)
        if not shareable:
            await _send_uncached(Request(scope), start, body, send)
            return None
        self.entries[key] = entry
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)
        return entry


def _cacheable_request(scope: Scope) -> bool:
    path: str = scope["path"]
    if path not in CACHED_PATHS and not path.startswith(CACHED_PREFIXES):
        return False
    headers = Headers(scope=scope)
    if "authorization" in headers:
        return False
    cookie = headers.get("cookie", "")
    if not cookie:
        return True
    names = {part.split("=", 1)[0].strip() for part in cookie.split(";") if part.strip()}
    return names <= {CSRF_COOKIE}


def _visitor_token(request: Request) -> str:
    """The visitor's own CSRF token (their valid cookie, or a new one the web middleware sets as the cookie)."""
    request.state.csrf_token = None
    return csrf_token(request)


async def _answer(request: Request, entry: _Entry, send: Send) -> None:
    body = entry.body.replace(PLACEHOLDER.encode(), _visitor_token(request).encode())
    headers = MutableHeaders(raw=list(entry.headers))
    headers["content-length"] = str(len(body))
    await send({"type": "http.response.start", "status": 200, "headers": headers.raw})
    await send({"type": "http.response.body", "body": body})


async def _send_uncached(request: Request, start: Message, body: bytes, send: Send) -> None:
    if PLACEHOLDER.encode() in body:
        body = body.replace(PLACEHOLDER.encode(), _visitor_token(request).encode())
    headers = MutableHeaders(raw=[(k, v) for k, v in start["headers"] if k != b"content-length"])
    headers["content-length"] = str(len(body))
    await send({"type": "http.response.start", "status": start["status"], "headers": headers.raw})
    await send({"type": "http.response.body", "body": body})
