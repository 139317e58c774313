"""FastAPI dependencies shared by the API and the web: the request's session and its actor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import ANONYMOUS, Actor
from souk.auth.tokens import API_TOKEN_PREFIX, hash_secret
from souk.config import Settings
from souk.errors import Unauthenticated
from souk.kit.clock import utcnow
from souk.kit.uploads import MediaStorage
from souk.models import ApiToken, User, WebSession

SESSION_COOKIE = "souk_session"


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One request, one transaction: commit at the edge when the handler returns, roll back on error."""
    async with request.app.state.db.sessionmaker() as session:
        try:
            yield session
            if session.in_transaction():
                await session.commit()
        except BaseException:
            await session.rollback()
            raise


# scope="function": the commit happens before the response is sent, so a failed commit is an error response
DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _actor_for(user: User, request: Request, **extra: object) -> Actor:
    return Actor(
        user_id=user.id,
        is_operator=user.is_operator,
        ip=client_ip(request),
        display_name=user.display_name,
        email=user.email,
        **extra,  # type: ignore[arg-type]
    )


async def resolve_web_actor(request: Request, session: AsyncSession) -> Actor:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return Actor(ip=client_ip(request))
    now = utcnow()
    row = (
        await session.execute(
            select(User, WebSession.id)
            .join(WebSession, WebSession.user_id == User.id)
            .where(WebSession.token_hash == hash_secret(raw), WebSession.expires_at > now, User.is_active)
        )
    ).first()
    if row is None:
        return Actor(ip=client_ip(request))
    request.state.web_session_id = row[1]
    return _actor_for(row[0], request)


async def resolve_api_actor(request: Request, session: AsyncSession) -> Actor:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if not header:
        return Actor(ip=client_ip(request))
    if scheme.lower() != "bearer" or not credential.startswith(API_TOKEN_PREFIX):
        raise Unauthenticated("Send an API token as 'Authorization: Bearer souk_...'.", code="bad_token")
    row = (
        await session.execute(
            select(User, ApiToken)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(
                ApiToken.token_hash == hash_secret(credential.strip()),
                ApiToken.revoked_at.is_(None),
                User.is_active,
            )
        )
    ).first()
    if row is None:
        raise Unauthenticated("This API token is unknown or revoked.", code="bad_token")
    user, token = row
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        await session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
    return _actor_for(user, request, scopes=frozenset(token.scopes.split()), token_id=token.id)


async def request_api_actor(request: Request, session: AsyncSession) -> Actor:
    """The API caller of this request, resolved once (the idempotency layer may ask before the route does)."""
    actor = getattr(request.state, "api_actor", None)
    if isinstance(actor, Actor):
        return actor
    actor = await resolve_api_actor(request, session)
    request.state.api_actor = actor
    request.state.actor = actor
    return actor


async def api_actor(request: Request, session: DbSession) -> Actor:
    return await request_api_actor(request, session)


async def web_actor(request: Request, session: DbSession) -> Actor:
    actor = await resolve_web_actor(request, session)
    request.state.actor = actor
    return actor


def get_storage(request: Request) -> MediaStorage:
    storage: MediaStorage = request.app.state.storage
    return storage


Storage = Annotated[MediaStorage, Depends(get_storage)]
ApiActor = Annotated[Actor, Depends(api_actor)]
WebActor = Annotated[Actor, Depends(web_actor)]

__all__ = ["ANONYMOUS", "ApiActor", "DbSession", "Storage", "WebActor", "get_session"]
