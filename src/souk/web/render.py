"""Server-rendered pages: templates, CSRF, flash messages, form errors.

Every form carries ``csrf_token``; ``checked_form`` refuses a POST whose token does not match the
``souk_csrf`` cookie (double submit) or whose HMAC signature does not cover this browser's session cookie: a
token is bound to its session, so a token taken from another session (an attacker's own, planted through a
sub-domain) is refused, and a new one is issued whenever the session changes (login, logout).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from babel import Locale, UnknownLocaleError
from babel.dates import format_timedelta
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from pydantic import ValidationError
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData, UploadFile

from souk.auth.tokens import constant_equal, hash_secret, sign
from souk.deps import SESSION_COOKIE
from souk.errors import Forbidden, SoukError
from souk.kit.clock import utcnow
from souk.kit.countries import country_name
from souk.kit.money import bps_percent, format_money, from_minor
from souk.kit.schemas import pydantic_fields
from souk.order.views import TimelineEntry, event_text

TEMPLATES_DIR = Path(__file__).parent / "templates"
CSRF_COOKIE = "souk_csrf"
FLASH_COOKIE = "souk_flash"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))

TRADE_MODEL_LABELS = {"sourcing": "Sourcing", "market": "Market", "mall": "Mall", "crossborder": "Global"}
TRADE_MODEL_BLURBS = {
    "sourcing": "Buy in bulk from verified suppliers: quotes, samples, volume prices.",
    "market": "Everyday finds from independent sellers, paid safely through escrow.",
    "mall": "Official brand stores with an authenticity guarantee.",
    "crossborder": "Shop worldwide, priced in many currencies, delivered to your door.",
}


DEFAULT_LOCALE = "en_001"  # international English: "US$12.50", "CN¥88.00", "€9.99"


def money(amount: int | None, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    if amount is None:
        return ""
    return format_money(amount, currency, locale)


def price_range(low: int | None, high: int | None, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    if low is None:
        return ""
    if high is None or high == low:
        return money(low, currency, locale)
    return f"{money(low, currency, locale)} – {money(high, currency, locale)}"


@lru_cache(maxsize=512)
def _negotiate(header: str) -> str:
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:12]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*":
            weighted.append((-quality, index, tag))
    for _, _, tag in sorted(weighted):
        try:
            locale = Locale.parse(tag.replace("_", "-"), sep="-")
        except (ValueError, TypeError, UnknownLocaleError):
            continue
        return str(locale)
    return DEFAULT_LOCALE


def visitor_locale(request: Request) -> str:
    """The visitor's locale from Accept-Language (Babel), for formatting money and dates."""
    header = request.headers.get("accept-language", "")
    negotiated = _negotiate(header[:200]) if header else None
    if negotiated and negotiated != DEFAULT_LOCALE:
        return negotiated
    settings = getattr(request.app.state, "settings", None)
    return str(getattr(settings, "default_locale", DEFAULT_LOCALE))


@pass_context
def _money_filter(ctx: Any, amount: int | None, currency: str) -> str:
    return money(amount, currency, ctx.get("locale") or DEFAULT_LOCALE)


@pass_context
def _price_range_global(ctx: Any, low: int | None, high: int | None, currency: str) -> str:
    return price_range(low, high, currency, ctx.get("locale") or DEFAULT_LOCALE)


@pass_context
def _event_sentence(ctx: Any, event: TimelineEntry, currency: str) -> str:
    """An order timeline entry as a sentence with amounts in the visitor's locale."""
    return event_text(event, currency, ctx.get("locale") or DEFAULT_LOCALE)


def timeago(value: datetime | None) -> str:
    if value is None:
        return ""
    delta = value - utcnow()
    return str(format_timedelta(delta, add_direction=True, locale="en_US"))


def model_label(model: str) -> str:
    return TRADE_MODEL_LABELS.get(model, model)


def url_with(request: Request, **changes: Any) -> str:
    """The current URL with some query parameters changed (None removes one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    return f"{request.url.path}?{query}" if query else request.url.path


templates.env.filters["money"] = _money_filter
templates.env.filters["timeago"] = timeago
templates.env.filters["model_label"] = model_label
templates.env.filters["decimal"] = from_minor
templates.env.globals["price_range"] = _price_range_global
templates.env.globals["event_sentence"] = _event_sentence
templates.env.filters["country_name"] = country_name
templates.env.filters["bps_percent"] = bps_percent
templates.env.globals["url_with"] = url_with
templates.env.globals["TRADE_MODEL_LABELS"] = TRADE_MODEL_LABELS
templates.env.globals["TRADE_MODEL_BLURBS"] = TRADE_MODEL_BLURBS


# --- CSRF -------------------------------------------------------------------------------------------


def _secret(request: Request) -> str:
    key: str = request.app.state.settings.resolved_secret_key
    return key


def _session_of(request: Request) -> str | None:
    cookies = getattr(request, "cookies", None) or {}
    value = cookies.get(SESSION_COOKIE)
    return str(value) if value else None


def _csrf_message(nonce: str, session_cookie: str | None) -> str:
    """What a token signs: its nonce and the session it belongs to (the SHA-256 of the session cookie; nothing
    for a visitor without one)."""
    return "csrf:" + nonce + (":" + hash_secret(session_cookie) if session_cookie else "")


def make_csrf_token(secret_key: str, session_cookie: str | None) -> str:
    """A new CSRF token bound to ``session_cookie`` (``nonce.HMAC(secret, nonce + session)``)."""
    nonce = secrets.token_urlsafe(24)
    return f"{nonce}.{sign(secret_key, _csrf_message(nonce, session_cookie))}"


def csrf_token(request: Request) -> str:
    """The token for this browser and session; a fresh one is set as a cookie by the web middleware."""
    token = getattr(request.state, "csrf_token", None)
    if token:
        return str(token)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if _valid_csrf(request, cookie):
        request.state.csrf_token = cookie
        return cookie
    return rotate_csrf(request, _session_of(request))


def rotate_csrf(request: Request, session_cookie: str | None) -> str:
    """Issue a new token bound to ``session_cookie`` (the session this response starts: at login, logout,
    registration, password reset); the web middleware sets it as the ``souk_csrf`` cookie."""
    token = make_csrf_token(_secret(request), session_cookie)
    request.state.csrf_token = token
    request.state.csrf_new = True
    return token


_FROM_REQUEST = object()


def _valid_csrf(request: Request, token: str, session_cookie: Any = _FROM_REQUEST) -> bool:
    """Is ``token`` signed by us for this session (by default the session cookie of ``request``)?"""
    if session_cookie is _FROM_REQUEST:
        session_cookie = _session_of(request)
    nonce, _, signature = token.partition(".")
    return bool(nonce and signature) and constant_equal(
        signature, sign(_secret(request), _csrf_message(nonce, session_cookie))
    )


async def checked_form(request: Request) -> FormData:
    """The POSTed form after the CSRF check (403 ``csrf_failed`` otherwise)."""
    form = await request.form()
    sent = form.get("csrf_token")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if (
        not isinstance(sent, str)
        or not cookie
        or not constant_equal(sent, cookie)
        or not _valid_csrf(request, cookie)
    ):
        raise Forbidden(
            "The form expired or came from another site. Reload the page and try again.", code="csrf_failed"
        )
    return form


def form_values(form: FormData) -> dict[str, str]:
    """Text fields of a form (files and the CSRF token left out), whitespace stripped."""
    return {
        key: value.strip() for key, value in form.items() if isinstance(value, str) and key != "csrf_token"
    }


def form_files(form: FormData, name: str) -> list[UploadFile]:
    return [f for f in form.getlist(name) if isinstance(f, UploadFile) and f.filename]


# --- flash messages ---------------------------------------------------------------------------------


def flash(request: Request, message: str, kind: str = "success") -> None:
    pending = getattr(request.state, "flash_out", [])
    pending.append({"m": message, "k": kind})
    request.state.flash_out = pending


def _read_flash(request: Request) -> list[dict[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    payload, _, signature = raw.rpartition(".")
    if not constant_equal(signature, sign(_secret(request), "flash:" + payload)):
        return []
    try:
        data = json.loads(bytes.fromhex(payload))
    except ValueError:
        return []
    request.state.flash_consumed = True
    return data if isinstance(data, list) else []


def apply_cookies(request: Request, response: Any) -> None:
    """Called by the web middleware on every HTML response: CSRF and flash cookies."""
    secure = request.url.scheme == "https"
    if getattr(request.state, "csrf_new", False):
        response.set_cookie(
            CSRF_COOKIE, request.state.csrf_token, httponly=True, samesite="lax", secure=secure
        )
    out = getattr(request.state, "flash_out", None)
    if out:
        payload = json.dumps(out).encode().hex()
        value = f"{payload}.{sign(_secret(request), 'flash:' + payload)}"
        response.set_cookie(FLASH_COOKIE, value, httponly=True, samesite="lax", secure=secure, max_age=60)
    elif getattr(request.state, "flash_consumed", False):
        response.delete_cookie(FLASH_COOKIE)


# --- rendering --------------------------------------------------------------------------------------


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "actor": getattr(request.state, "actor", None),
        "nav": getattr(request.state, "nav", None)
        or {"categories": _NAV_CACHE["categories"], "has_store": False},
        "flashes": _read_flash(request),
        "csrf_token": csrf_token(request),
        "locale": visitor_locale(request),
        "site_name": request.app.state.settings.site_name,
        "errors": {},
        "values": {},
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, template, ctx, status_code=status)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def errors_of(error: Exception) -> dict[str, str]:
    """{field: message} for a form, plus "_" for the summary."""
    if isinstance(error, ValidationError):
        fields = pydantic_fields(error.errors())  # type: ignore[arg-type]
        return {"_": "Please correct the fields marked below.", **fields}
    if isinstance(error, SoukError):
        return {"_": error.message, **error.fields}
    return {"_": str(error)}


async def form_error(
    request: Request,
    session: AsyncSession,
    template: str,
    error: Exception,
    context: dict[str, Any] | None = None,
) -> HTMLResponse:
    """Roll back whatever the failed attempt wrote, then re-render the form with its errors."""
    await session.rollback()
    status = error.status_code if isinstance(error, SoukError) else 422
    ctx = {"errors": errors_of(error)}
    ctx.update(context or {})
    return render(request, template, ctx, status=status)


# --- navigation (header) ----------------------------------------------------------------------------

_NAV_CACHE: dict[str, Any] = {"at": 0.0, "categories": []}

# Header badges ("cart", "messages", "notifications"): each domain registers a counter
# ``async def count(session, actor, request) -> int`` from its web module; load_nav calls them. A counter may
# also give ``column(actor, request)``: a scalar SQL expression of the count (None: 0 without a query), which
# load_nav reads in the same statement as the header's other values instead of calling the counter; and
# ``then(session, actor, request, count)``, called with the count that statement read, for what the counter
# would have done besides counting (e.g. details read only when the count is not 0).
NavCounter = Callable[[AsyncSession, Any, Request], Awaitable[int]]
NavColumn = Callable[[Any, Request], ColumnElement[int] | None]
NavThen = Callable[[AsyncSession, Any, Request, int], Awaitable[None]]
NAV_COUNTERS: dict[str, NavCounter] = {}
NAV_COLUMNS: dict[str, NavColumn] = {}
NAV_THEN: dict[str, NavThen] = {}


def register_nav_counter(
    name: str, counter: NavCounter, *, column: NavColumn | None = None, then: NavThen | None = None
) -> None:
    NAV_COUNTERS[name] = counter
    if column is not None:
        NAV_COLUMNS[name] = column
    else:
        NAV_COLUMNS.pop(name, None)
    if column is not None and then is not None:
        NAV_THEN[name] = then
    else:
        NAV_THEN.pop(name, None)


async def load_nav(request: Request, session: AsyncSession) -> None:
    """Top categories (cached for a minute per process) and what the header shows for this actor: whether
    they have a store and the counters that have a SQL form, in one statement (then what those counters
    do besides counting); then the other counters."""
    from souk.authz import store_ids
    from souk.models import Category

    now = time.monotonic()
    if now - _NAV_CACHE["at"] > 60:
        rows = await session.execute(
            select(Category.id, Category.name, Category.slug)
            .where(Category.parent_id.is_(None))
            .order_by(Category.position, Category.name)
        )
        _NAV_CACHE["categories"] = [{"id": r.id, "name": r.name, "slug": r.slug} for r in rows]
        _NAV_CACHE["at"] = now
    actor = getattr(request.state, "actor", None)
    columns: dict[str, ColumnElement[Any]] = {}
    if actor is not None and actor.user_id is not None:
        columns["has_store"] = store_ids(actor, "store:read").exists()
    counts: dict[str, int] = {}
    for name, column in NAV_COLUMNS.items():
        expression = column(actor, request)
        if expression is None:
            counts[name] = 0
        else:
            columns[f"count_{name}"] = expression
    values: dict[str, Any] = {}
    if columns:
        row = (await session.execute(select(*(c.label(k) for k, c in columns.items())))).one()
        values = dict(row._mapping)
    for name in NAV_COLUMNS:
        if f"count_{name}" in values:
            counts[name] = int(values[f"count_{name}"] or 0)
            if name in NAV_THEN:
                await NAV_THEN[name](session, actor, request, counts[name])
    for name, counter in NAV_COUNTERS.items():
        if name not in NAV_COLUMNS:
            counts[name] = await counter(session, actor, request)
    counts = {name: counts[name] for name in NAV_COUNTERS}  # in the order the counters were registered
    has_store = bool(values.get("has_store", False))
    request.state.nav = {"categories": _NAV_CACHE["categories"], "has_store": has_store, "counts": counts}


def reset_nav_cache() -> None:
    """Forget the per-process caches of pages (the header's categories, the category tree)."""
    from souk.search.service import reset_category_cache

    _NAV_CACHE["at"] = 0.0
    reset_category_cache()
