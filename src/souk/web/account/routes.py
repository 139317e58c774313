"""HTML pages of the account: register, log in and out, forgotten password, profile, password, API tokens."""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from souk.account.errors import ResetTokenInvalid, WrongPassword
from souk.account.reset import RESET_PATH, password_reset_service
from souk.account.schemas import (
    PASSWORD_MIN,
    LoginPayload,
    PasswordResetRequest,
    ProfileUpdate,
    TokenCreate,
    TokenRead,
    UserCreate,
)
from souk.account.service import account_service
from souk.auth.actor import Actor
from souk.config import Settings
from souk.deps import SESSION_COOKIE, DbSession, client_ip, get_settings_dep
from souk.errors import SoukError, Unauthenticated, invalid_field
from souk.kit.countries import countries
from souk.kit.schemas import IdPath
from souk.web.buyer.cart import merge_guest_cart
from souk.web.deps import PageActor, UserPage
from souk.web.render import checked_form, flash, form_error, form_values, redirect, render, rotate_csrf

router = APIRouter()

AppSettings = Annotated[Settings, Depends(get_settings_dep)]

WRONG_CREDENTIALS = "Email or password is wrong"


def safe_next(value: str | None) -> str:
    """``value`` when it is a path on this site, else the home page (no open redirects)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "/"
    return value


def _raw(form: FormData, name: str) -> str:
    """A password field exactly as typed (``form_values`` strips whitespace)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _set_session_cookie(request: Request, response: Response, raw: str, settings: Settings) -> None:
    rotate_csrf(request, raw)  # the CSRF token of the new session (the old one was bound to the old session)
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        max_age=settings.session_days * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


# --- register ---------------------------------------------------------------------------------------

REGISTER = "account/register.html"


def _register_ctx() -> dict[str, Any]:
    return {"password_min": PASSWORD_MIN}


@router.get("/register")
async def register_page(request: Request, actor: PageActor) -> Response:
    if actor.user_id is not None:
        return redirect("/account")
    return render(
        request,
        REGISTER,
        {"values": {"next": safe_next(request.query_params.get("next"))}, **_register_ctx()},
    )


@router.post("/register")
async def register(request: Request, actor: PageActor, session: DbSession, settings: AppSettings) -> Response:
    form = await checked_form(request)
    values = {**form_values(form), "password": _raw(form, "password")}
    target = safe_next(values.pop("next", None))
    kept = {"email": values.get("email", ""), "display_name": values.get("display_name", ""), "next": target}
    try:
        user = await account_service.register(session, UserCreate.model_validate(values))
        raw = await account_service.start_web_session(
            session, user, client_ip(request), request.headers.get("user-agent"), settings=settings
        )
    except (ValidationError, SoukError) as error:
        return await form_error(request, session, REGISTER, error, {"values": kept, **_register_ctx()})
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        await account_service.end_web_session(session, previous)
    flash(request, f"Welcome to {settings.site_name}, {user.display_name}")
    response = redirect(target)
    _set_session_cookie(request, response, raw, settings)
    await merge_guest_cart(session, request, response, user.id)
    return response


# --- log in and out ---------------------------------------------------------------------------------

LOGIN = "account/login.html"


@router.get("/login")
async def login_page(request: Request, actor: PageActor) -> Response:
    target = safe_next(request.query_params.get("next"))
    if actor.user_id is not None:
        return redirect(target)
    return render(request, LOGIN, {"values": {"next": target}})


@router.post("/login")
async def login(request: Request, actor: PageActor, session: DbSession, settings: AppSettings) -> Response:
    form = await checked_form(request)
    values = {**form_values(form), "password": _raw(form, "password")}
    target = safe_next(values.pop("next", None) or request.query_params.get("next"))
    kept = {"email": values.get("email", ""), "next": target}
    try:
        done = await account_service.log_in(
            session,
            LoginPayload.model_validate(values),
            client_ip(request),
            request.headers.get("user-agent"),
            settings=settings,
            previous_token=request.cookies.get(SESSION_COOKIE),
        )
    except (ValidationError, SoukError) as error:
        return await form_error(request, session, LOGIN, error, {"values": kept})
    if done is None:
        await session.commit()  # keep the failure record that the rate limit counts
        wrong = Unauthenticated(WRONG_CREDENTIALS, code="invalid_credentials")
        return await form_error(request, session, LOGIN, wrong, {"values": kept})
    user, raw = done
    flash(request, f"Welcome back, {user.display_name}")
    response = redirect(target)
    _set_session_cookie(request, response, raw, settings)
    await merge_guest_cart(session, request, response, user.id)
    return response


@router.post("/logout")
async def logout(request: Request, actor: PageActor, session: DbSession) -> Response:
    await checked_form(request)
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        await account_service.end_web_session(session, raw)
    flash(request, "You are logged out")
    rotate_csrf(request, None)
    response = redirect("/")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


# --- profile ----------------------------------------------------------------------------------------

PROFILE = "account/profile.html"


async def _profile_ctx(session: DbSession, actor: Actor) -> dict[str, Any]:
    user = await account_service.me(session, actor)
    # plain values: a failed form rolls back, which expires ORM objects before the page renders
    account = {"email": user.email, "created_at": user.created_at}
    current = {"display_name": user.display_name, "country": user.country or "", "phone": user.phone or ""}
    return {
        "account": account,
        "current": current,
        "countries": list(countries().items()),
        "section": "profile",
    }


@router.get("/account")
async def profile_page(request: Request, actor: UserPage, session: DbSession) -> Response:
    ctx = await _profile_ctx(session, actor)
    return render(request, PROFILE, {"values": ctx["current"], **ctx})


@router.post("/account")
async def update_profile(request: Request, actor: UserPage, session: DbSession) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    try:
        await account_service.update_profile(session, actor, ProfileUpdate.model_validate(values))
    except (ValidationError, SoukError) as error:
        ctx = await _profile_ctx(session, actor)
        return await form_error(request, session, PROFILE, error, {"values": values, **ctx})
    flash(request, "Profile saved")
    return redirect("/account")


# --- password ---------------------------------------------------------------------------------------

PASSWORD = "account/password.html"
PASSWORD_CTX = {"section": "password", "password_min": PASSWORD_MIN}


@router.get("/account/password")
async def password_page(request: Request, actor: UserPage) -> Response:
    return render(request, PASSWORD, PASSWORD_CTX)


@router.post("/account/password")
async def change_password(
    request: Request, actor: UserPage, session: DbSession, settings: AppSettings
) -> Response:
    form = await checked_form(request)
    # passwords are never echoed back into the page
    current, new, confirm = (_raw(form, k) for k in ("current_password", "new_password", "confirm"))
    try:
        if new != confirm:
            raise invalid_field("confirm", "does not match the new password")
        await account_service.change_password(
            session,
            actor,
            current,
            new,
            settings=settings,
            keep_session_id=getattr(request.state, "web_session_id", None),
        )
    except SoukError as error:
        if isinstance(error, WrongPassword):
            await session.commit()  # keep the failure record that the rate limit counts
        return await form_error(request, session, PASSWORD, error, PASSWORD_CTX)
    flash(request, "Password changed. Your other sessions were logged out.")
    return redirect("/account")


# --- API tokens -------------------------------------------------------------------------------------

TOKENS = "account/tokens.html"


async def _tokens_ctx(request: Request, session: DbSession, actor: Actor) -> dict[str, Any]:
    cursor = request.query_params.get("cursor") or None
    try:
        tokens, next_cursor = await account_service.list_tokens(session, actor, limit=50, cursor=cursor)
    except SoukError:
        tokens, next_cursor = await account_service.list_tokens(session, actor, limit=50)
    return {
        # plain values (no hash, and nothing expires when a failed form rolls back)
        "tokens": [TokenRead.model_validate(t).model_dump() for t in tokens],
        "next_url": f"/account/tokens?cursor={next_cursor}" if next_cursor else None,
        "first_url": "/account/tokens" if cursor else None,
        "section": "tokens",
    }


@router.get("/account/tokens")
async def tokens_page(request: Request, actor: UserPage, session: DbSession) -> Response:
    ctx = await _tokens_ctx(request, session, actor)
    return render(request, TOKENS, {"values": {"scopes": "read write"}, **ctx})


@router.post("/account/tokens")
async def create_token(request: Request, actor: UserPage, session: DbSession) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    try:
        payload = TokenCreate.model_validate(values)
        token, raw = await account_service.create_token(session, actor, payload.name, payload.scopes)
    except (ValidationError, SoukError) as error:
        ctx = await _tokens_ctx(request, session, actor)
        return await form_error(request, session, TOKENS, error, {"values": values, **ctx})
    ctx = await _tokens_ctx(request, session, actor)
    # the raw token is in this answer only: never in a cookie, a URL or a later page
    new_token = {"name": token.name, "scopes": token.scopes, "raw": raw}
    response = render(
        request, TOKENS, {"new_token": new_token, "values": {"scopes": "read write"}, **ctx}, status=201
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/account/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: IdPath, actor: UserPage, session: DbSession) -> Response:
    await checked_form(request)
    token = await account_service.revoke_token(session, actor, token_id)
    flash(request, f"Token “{token.name}” revoked")
    return redirect("/account/tokens")


# --- forgot password and reset ----------------------------------------------------------------------

FORGOT = "account/forgot.html"
RESET = "account/reset.html"
RESET_SENT = (
    "If an account exists for that email, we sent it a link to choose a new password. "
    "The link works once, for {minutes} minutes."
)


class _RedactResetTokens(logging.Filter):
    """Logs show ``/account/reset/…`` instead of the secret token of a reset link."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(a, str) and RESET_PATH in a for a in record.args
        ):
            record.args = tuple(
                _RESET_TOKEN.sub(RESET_PATH + "…", a) if isinstance(a, str) else a for a in record.args
            )
        return True


_RESET_TOKEN = re.compile(re.escape(RESET_PATH) + r"[^/?#\s\"]+")
for _logger in (
    "uvicorn.access",
    "souk",
):  # the access log, and the app's own "unhandled error on GET <path>"
    logging.getLogger(_logger).addFilter(_RedactResetTokens())


def _no_store(response: Response) -> Response:
    # the reset page's URL carries the token: no cache keeps it, no Referer sends it anywhere
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/account/forgot")
async def forgot_page(request: Request, actor: PageActor) -> Response:
    return render(request, FORGOT, {"values": {"email": request.query_params.get("email", "")[:254]}})


@router.post("/account/forgot")
async def forgot(request: Request, actor: PageActor, session: DbSession, settings: AppSettings) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    try:
        payload = PasswordResetRequest.model_validate(values)
        await password_reset_service.request_reset(
            session, payload.email, client_ip(request), settings=settings
        )
    except (ValidationError, SoukError) as error:
        return await form_error(request, session, FORGOT, error, {"values": values})
    flash(request, RESET_SENT.format(minutes=settings.password_reset_minutes))
    return redirect("/login")


@router.get("/account/reset/{token}")
async def reset_page(request: Request, token: str, actor: PageActor, session: DbSession) -> Response:
    usable = await password_reset_service.token_is_usable(session, token)
    ctx = {"usable": usable, "token": token, "password_min": PASSWORD_MIN}
    return _no_store(render(request, RESET, ctx, status=200 if usable else 410))


@router.post("/account/reset/{token}")
async def reset(
    request: Request, token: str, actor: PageActor, session: DbSession, settings: AppSettings
) -> Response:
    form = await checked_form(request)
    new, confirm = _raw(form, "new_password"), _raw(form, "confirm")
    ctx = {"usable": True, "token": token, "password_min": PASSWORD_MIN}
    try:
        if new != confirm:
            raise invalid_field("confirm", "does not match the new password")
        await password_reset_service.reset_password(session, token, new, settings=settings)
    except ResetTokenInvalid as error:
        await session.rollback()
        ctx["usable"] = False
        return _no_store(render(request, RESET, {**ctx, "errors": {"_": error.message}}, status=410))
    except SoukError as error:
        return _no_store(await form_error(request, session, RESET, error, ctx))
    flash(
        request, "Your password is changed and you were logged out everywhere. Log in with the new password."
    )
    rotate_csrf(request, None)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
