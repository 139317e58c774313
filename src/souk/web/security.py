"""Security headers on every response (pages, API, errors, static files).

A pure ASGI middleware (no body buffering, streaming untouched) that adds the browser hardening headers:

- ``Content-Security-Policy``: only our own origin for scripts, styles, images (plus ``data:`` images),
  forms and frames; no plugins, no ``<base>`` from elsewhere, never framed. Souk's pages have no inline
  script, no inline event handler and no inline ``style=`` (``tests/core/test_security_headers.py`` checks every
  page), so neither scripts nor styles need ``'unsafe-inline'``. A response that already carries its own policy
  (uploaded documents are served with ``sandbox``) keeps it.
- ``/docs`` (Swagger UI) is FastAPI's page: its script and stylesheet come from the jsDelivr CDN and it starts
  with one inline script. It gets its own policy: the CDN for scripts and styles, the inline script allowed by
  its SHA-256 hash (computed from the page itself, so still no ``'unsafe-inline'`` for scripts), inline styles
  (Swagger UI sets them from JavaScript). Without internet access the page stays blank, as it would anyway.
- ``X-Content-Type-Options``, ``Referrer-Policy``, ``X-Frame-Options``, ``Permissions-Policy``.
- The 500 page is sent by Starlette's outermost middleware, outside this one: the app's catch-all error
  handler adds the same headers with ``harden`` (404, 405 and every other error pass through this middleware).
- ``Strict-Transport-Security`` only when the request came over https (``request.url.scheme``; behind a TLS
  proxy run uvicorn with ``--proxy-headers`` so the scheme is the client's).
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_CDN = "https://cdn.jsdelivr.net"
PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
    "magnetometer=(), microphone=(), midi=(), payment=(), usb=()"
)
HSTS = "max-age=31536000; includeSubDomains"
DOCS_PREFIXES = ("/docs", "/redoc")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": PERMISSIONS_POLICY,
}

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def docs_policy(html: bytes) -> str:
    """The policy of the API documentation page: its CDN, and its own inline scripts by hash."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'self'; script-src 'self' {DOCS_CDN} {hashes}".rstrip()
        + f"; style-src 'self' {DOCS_CDN} 'unsafe-inline'; img-src 'self' data: https:; connect-src 'self'; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )


def _is_docs(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in DOCS_PREFIXES)


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response of the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        if _is_docs(str(scope.get("path", ""))):
            await self._docs(scope, receive, send, https)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                _apply(headers, https)
                headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send, https: bool) -> None:
        """The docs pages are small: hold the body back to hash their inline scripts into the policy."""
        start: Message | None = None
        body = bytearray()

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body", False):
                return
            assert start is not None
            headers = MutableHeaders(scope=start)
            _apply(headers, https)
            headers["Content-Security-Policy"] = docs_policy(bytes(body))
            await send(start)
            await send({"type": "http.response.body", "body": bytes(body), "more_body": False})

        await self.app(scope, receive, buffer)


def harden(headers: MutableHeaders, https: bool) -> None:
    """Add the security headers to ``headers`` (a response's): for the responses Starlette sends from outside
    every middleware, i.e. the 500 page of the app's catch-all error handler."""
    _apply(headers, https)
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)


def _apply(headers: MutableHeaders, https: bool) -> None:
    for name, value in SECURITY_HEADERS.items():
        if name == "Referrer-Policy":
            headers.setdefault(name, value)  # a page may be stricter (the password reset page: no-referrer)
        else:
            headers[name] = value
    if https:
        headers["Strict-Transport-Security"] = HSTS
