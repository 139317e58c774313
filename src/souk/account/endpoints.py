"""JSON routes under /api/v1: registration, API-client login, the caller's profile, password and tokens."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from souk.account.errors import WrongPassword
from souk.account.reset import password_reset_service
from souk.account.schemas import (
    ErrorRead,
    PasswordChange,
    PasswordResetConfirm,
    PasswordResetRequest,
    ProfileUpdate,
    TokenCreate,
    TokenCreated,
    TokenLogin,
    TokenRead,
    UserCreate,
    UserRead,
)
from souk.account.service import account_service
from souk.config import Settings
from souk.deps import ApiActor, DbSession, client_ip, get_settings_dep
from souk.errors import SoukError, Unauthenticated
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.pagination import MAX_LIMIT, Page
from souk.kit.schemas import IdPath
from souk.models import ApiToken, User

router = APIRouter(responses=ERROR_RESPONSES)

AppSettings = Annotated[Settings, Depends(get_settings_dep)]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        401: "Not logged in, or wrong email or password",
        403: "A read-only API token cannot change anything",
        404: "Not found among your things",
        409: "Conflicts with existing data",
        422: "Invalid input; `fields` names each problem",
        429: "Too many attempts; wait and try again",
    }
    return {status: {"model": ErrorRead, "description": descriptions[status]} for status in statuses}


def _created(response: Response, token: ApiToken, raw: str) -> TokenCreated:
    """The new token with its secret, in an answer that no cache may keep."""
    response.headers["Cache-Control"] = "no-store"
    return TokenCreated.model_validate({**TokenRead.model_validate(token).model_dump(), "token": raw})


# --- auth -------------------------------------------------------------------------------------------


@router.post(
    "/auth/register",
    response_model=UserRead,
    status_code=201,
    tags=["auth"],
    summary="Create an account",
    description="Creates a user. No token is returned: log in with `POST /auth/tokens`.",
    responses=_errors(409, 422),
)
async def register(body: UserCreate, session: DbSession) -> User:
    return await account_service.register(session, body)


@router.post(
    "/auth/tokens",
    response_model=TokenCreated,
    status_code=201,
    tags=["auth"],
    summary="Log in: exchange email and password for an API token",
    description=(
        "Returns a new personal API token; `token` is shown only in this answer. Send it as "
        "`Authorization: Bearer souk_...`. Failed attempts are limited per account and per IP address (429)."
    ),
    responses=_errors(401, 422, 429),
)
async def token_login(
    body: TokenLogin, request: Request, response: Response, session: DbSession, settings: AppSettings
) -> TokenCreated:
    issued = await account_service.token_login(session, body, client_ip(request), settings=settings)
    if issued is None:
        await session.commit()  # keep the failure record that the rate limit counts
        raise Unauthenticated("Email or password is wrong.", code="invalid_credentials")
    return _created(response, *issued)


@router.post(
    "/auth/password-reset",
    status_code=202,
    response_class=Response,
    tags=["auth"],
    summary="Forgot password: email a reset link",
    description=(
        "Always 202, whether or not the email has an account; when it has one, a link to "
        "`/account/reset/{token}` is emailed (it works once, for `SOUK_PASSWORD_RESET_MINUTES`). "
        "Requests are limited per email and per IP address (429)."
    ),
    responses=_errors(422, 429),
)
async def request_password_reset(
    body: PasswordResetRequest, request: Request, session: DbSession, settings: AppSettings
) -> Response:
    await password_reset_service.request_reset(session, body.email, client_ip(request), settings=settings)
    return Response(status_code=202)


@router.post(
    "/auth/password-reset/confirm",
    status_code=204,
    response_class=Response,
    tags=["auth"],
    summary="Set a new password with the emailed token",
    description=(
        "Uses the token once. Ends every web session and revokes every API token of the account; "
        "log in again with the new password."
    ),
    responses=_errors(422),
)
async def confirm_password_reset(
    body: PasswordResetConfirm, session: DbSession, settings: AppSettings
) -> Response:
    await password_reset_service.reset_password(session, body.token, body.new_password, settings=settings)
    return Response(status_code=204)


# --- me ---------------------------------------------------------------------------------------------


@router.get("/me", response_model=UserRead, tags=["me"], summary="Your account", responses=_errors(401))
async def get_me(actor: ApiActor, session: DbSession) -> User:
    return await account_service.me(session, actor)


@router.patch(
    "/me",
    response_model=UserRead,
    tags=["me"],
    summary="Change your profile",
    description="Only the fields sent change. `country` is an ISO 3166-1 alpha-2 code.",
    responses=_errors(401, 403, 422),
)
async def update_me(body: ProfileUpdate, actor: ApiActor, session: DbSession) -> User:
    return await account_service.update_profile(session, actor, body)


@router.post(
    "/me/password",
    status_code=204,
    response_class=Response,
    tags=["me"],
    summary="Change your password",
    description="Needs the current password. Logs out every web session; API tokens keep working.",
    responses=_errors(401, 403, 422, 429),
)
async def change_password(
    body: PasswordChange, actor: ApiActor, session: DbSession, settings: AppSettings
) -> Response:
    try:
        await account_service.change_password(
            session, actor, body.current_password, body.new_password, settings=settings
        )
    except SoukError as error:
        if isinstance(error, WrongPassword):
            await session.commit()  # keep the failure record that the rate limit counts
        raise
    return Response(status_code=204)


@router.get(
    "/me/tokens",
    response_model=Page[TokenRead],
    tags=["me"],
    summary="Your API tokens",
    description="Active tokens, newest first. The tokens themselves are never shown again, only a prefix.",
    responses=_errors(401, 422),
)
async def list_tokens(
    actor: ApiActor,
    session: DbSession,
    limit: Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description="page size (default 20)")] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> Page[TokenRead]:
    tokens, next_cursor = await account_service.list_tokens(session, actor, limit=limit, cursor=cursor)
    return Page[TokenRead](items=[TokenRead.model_validate(t) for t in tokens], next_cursor=next_cursor)


@router.post(
    "/me/tokens",
    response_model=TokenCreated,
    status_code=201,
    tags=["me"],
    summary="Create an API token",
    description='`token` is shown only in this answer. `scopes`: "read" or "read write".',
    responses=_errors(401, 403, 422),
)
async def create_token(
    body: TokenCreate, response: Response, actor: ApiActor, session: DbSession
) -> TokenCreated:
    return _created(response, *await account_service.create_token(session, actor, body.name, body.scopes))


@router.delete(
    "/me/tokens/{token_id}",
    status_code=204,
    response_class=Response,
    tags=["me"],
    summary="Revoke an API token",
    responses=_errors(401, 403, 404),
)
async def revoke_token(token_id: IdPath, actor: ApiActor, session: DbSession) -> Response:
    await account_service.revoke_token(session, actor, token_id)
    return Response(status_code=204)
