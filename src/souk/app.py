"""create_app(settings) -> FastAPI: middleware, routers, error handlers, lifespan."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from souk import __version__
from souk.config import Settings, get_settings
from souk.db import Database
from souk.errors import SoukError, Unauthenticated
from souk.kit.failures import allowed_methods, is_database_outage, method_table
from souk.kit.idempotent_routes import enable_idempotency
from souk.kit.schemas import pydantic_fields
from souk.kit.uploads import MediaStorage
from souk.mail.sender import mailer
from souk.payment.service import payment_service
from souk.payout.service import payout_service
from souk.trade.policy import configure_policies
from souk.web.page_cache import AnonymousPageCache
from souk.web.render import apply_cookies, render
from souk.web.security import SecurityHeadersMiddleware, harden
from souk.worker.embedded import start_worker

log = logging.getLogger("souk")

API_ROUTERS = [
    "souk.account.endpoints",
    "souk.party.endpoints",
    "souk.store.endpoints",
    "souk.catalog.endpoints",
    "souk.inventory.endpoints",
    "souk.search.endpoints",
    "souk.ops.endpoints",
    "souk.ledger.endpoints",
    "souk.payment.endpoints",
    "souk.payout.endpoints",
    "souk.notification.endpoints",
    "souk.review.endpoints",
    "souk.cart.endpoints",
    "souk.address.endpoints",
    "souk.shipping.endpoints",
    "souk.messaging.endpoints",
    "souk.checkout.endpoints",
    "souk.order.endpoints",
    "souk.fulfillment.endpoints",
    "souk.dispute.endpoints",
    "souk.trade.sourcing.rfq.endpoints",
    "souk.trade.sourcing.quote.endpoints",
    "souk.trade.sourcing.negotiation.endpoints",
    "souk.trade.sourcing.contract.endpoints",
    "souk.trade.sourcing.contract.order_endpoints",
]
WEB_ROUTERS = [
    "souk.web.account.routes",
    "souk.web.seller.stores",
    "souk.web.seller.catalog",
    "souk.web.ops.routes",
    "souk.web.buyer.cart",
    "souk.web.buyer.addresses",
    "souk.web.buyer.messages",
    "souk.web.buyer.notifications",
    "souk.web.seller.money",
    "souk.web.seller.shipping",
    "souk.web.seller.messages",
    "souk.web.buyer.checkout",
    "souk.web.buyer.orders",
    "souk.web.seller.orders",
    "souk.web.buyer.reviews",
    "souk.web.seller.reviews",
    "souk.web.buyer.disputes",
    "souk.web.seller.disputes",
    "souk.web.ops.disputes",
    "souk.web.sourcing.rfqs",
    "souk.web.sourcing.negotiation",
    "souk.web.sourcing.contracts",
    "souk.web.sourcing.contract_orders",
    "souk.web.storefront.routes",
]

STATUS_TITLES = {
    400: "Bad request",
    401: "Please log in",
    403: "Not allowed",
    404: "Page not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Too large",
    422: "Please check your input",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Please try again shortly",
}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_response(
    request: Request, status: int, code: str, message: str, fields: dict[str, str]
) -> Response:
    if _is_api(request):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(
            {"error": code, "message": message, "fields": fields}, status_code=status, headers=headers
        )
    if status == 401:
        from souk.web.render import redirect

        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect(f"/login?next={quote(target)}")
    return render(
        request,
        "error.html",
        {"status": status, "title": STATUS_TITLES.get(status, "Error"), "message": message, "code": code},
        status=status,
    )


async def repository_root_ready(app: FastAPI) -> bool:
    from souk.migrate import head_revision

    async with app.state.db.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        try:
            current = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        except Exception:
            return False
    return current == head_revision()


class RequestEdgeMiddleware:
    """What every request passes first: a body announced larger than ``max_request_bytes`` is refused (413)
    before anything reads it, and an HTML response gets the CSRF and flash cookies its handler asked for
    (``apply_cookies``). A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` (``@app.middleware``)
    would run each request in an extra task with a memory stream between the two halves, a cost paid on
    every request."""

    def __init__(self, app: ASGIApp, *, max_request_bytes: int) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.max_request_bytes:
            refusal = _error_response(
                Request(scope),
                413,
                "payload_too_large",
                f"The request is larger than {self.max_request_bytes // (1024 * 1024)} MB.",
                {},
            )
            await refusal(scope, receive, send)
            return
        if str(scope.get("path", "")).startswith("/api/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookies = Response()
                apply_cookies(request, cookies)
                wanted = [(k, v) for k, v in cookies.raw_headers if k == b"set-cookie"]
                if wanted:
                    MutableHeaders(scope=message).raw.extend(wanted)
            await send(message)

        await self.app(scope, receive, send_with_cookies)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.ensure_dirs()
    configure_policies()  # SOUK_POLICY_* overrides: a wrong one stops the start here

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # embedded mode: the worker (jobs and timers) runs in this process; see souk.worker
        worker = start_worker(app) if settings.worker_in_process else None
        yield
        if worker is not None:
            await worker.stop_and_wait()
        await app.state.db.dispose()

    app = FastAPI(
        title="Souk API",
        version=__version__,
        description=(
            "The JSON API of a Souk marketplace. Authenticate with a personal API token "
            "(`Authorization: Bearer souk_...`), created on the account page or with `POST /api/v1/auth/tokens`. "
            "Lists page with cursors: pass `next_cursor` back as `cursor`. "
            'Errors are `{"error": code, "message": text, "fields": {field: problem}}`.'
        ),
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    # the payment and payout services (and their jobs, in embedded mode) use this app's settings
    payment_service.configure(settings)
    payout_service.configure(settings)
    mailer.configure(settings)  # outgoing email: .eml files in the data dir, or SMTP (souk.mail)
    app.state.db = Database(settings)
    app.state.storage = MediaStorage(
        settings.uploads_dir, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels
    )

    # innermost first: anonymous storefront pages are kept a moment (ADR 0009), inside the cookie handling
    app.add_middleware(AnonymousPageCache, seconds=settings.page_cache_seconds)
    app.add_middleware(RequestEdgeMiddleware, max_request_bytes=settings.max_request_bytes)
    app.add_middleware(SecurityHeadersMiddleware)  # CSP, HSTS over https, ...: souk.web.security

    @app.exception_handler(SoukError)
    async def souk_error(request: Request, exc: SoukError) -> Response:
        if isinstance(exc, Unauthenticated) and not _is_api(request):
            return _error_response(request, 401, exc.code, exc.message, exc.fields)
        response = _error_response(request, exc.status_code, exc.code, exc.message, exc.fields)
        response.headers.update(getattr(exc, "headers", None) or {})  # e.g. Retry-After of a 409
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        fields = pydantic_fields(list(exc.errors()))
        summary = "; ".join(f"{k}: {v}" for k, v in fields.items())
        return _error_response(request, 422, "invalid", summary or "Invalid input.", fields)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = str(exc.detail) if exc.detail else STATUS_TITLES.get(exc.status_code, "Error")
        if exc.status_code == 404:
            message = "There is nothing at this address."
        response = _error_response(request, exc.status_code, code, message, {})
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:  # every method of the path, not only those of the first route matched
            if not hasattr(app.state, "method_table"):
                app.state.method_table = method_table(app.routes)
            response.headers["Allow"] = ", ".join(allowed_methods(app.state.method_table, request.url.path))
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        if is_database_outage(exc):  # nothing happened: the client may retry (with its Idempotency-Key)
            log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
            response = _error_response(
                request,
                503,
                "service_unavailable",
                "The marketplace cannot reach its database right now. Please try again in a few seconds.",
                {},
            )
            response.headers["Retry-After"] = "5"
        else:
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            response = _error_response(
                request, 500, "internal_error", "Something went wrong on our side.", {}
            )
        harden(response.headers, request.url.scheme == "https")  # sent outside SecurityHeadersMiddleware
        return response

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        try:
            ready = await repository_root_ready(app)
        except Exception:
            log.warning("readiness check: database unreachable")
            ready = False
        if ready:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not ready"}, status_code=503)

    static_dir = Path(__file__).parent / "web" / "static"
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")
    (settings.uploads_dir / "public").mkdir(parents=True, exist_ok=True)
    app.mount("/media", StaticFiles(directory=str(settings.uploads_dir / "public")), name="media")

    for name in API_ROUTERS:
        module = importlib.import_module(name)
        app.include_router(enable_idempotency(module.router), prefix="/api/v1")  # Idempotency-Key: ADR 0005
    for name in WEB_ROUTERS:
        module = importlib.import_module(name)
        app.include_router(module.router, include_in_schema=False)
    return app
