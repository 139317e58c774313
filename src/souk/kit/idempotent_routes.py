"""``Idempotency-Key`` on every state-changing API route, without code in the routes (ADR 0005).

``create_app`` passes each API router through ``enable_idempotency`` before it includes it. Every POST, PUT,
PATCH and DELETE route of the router that does not declare the header itself (those manage their key with
``souk.kit.idempotency``: checkout's multi-transaction flow, the ``idempotent(...)`` users) gets:

- the dependency ``idempotency_guard``, first of the route's dependencies: it documents the header in the
  OpenAPI and, when a user sends a key, claims it in the request's own transaction (``claim_key``: a stored
  answer is replayed at once; a key held by a running request is waited for) and opens a savepoint for the work;
- the route class ``IdempotentRoute``, whose handler runs inside the request's session dependency (FastAPI exits
  function-scoped dependencies after the handler returns): on success it releases the savepoint and stores the
  response (status and JSON body) with the key; on a storable ``SoukError`` (a 4xx about the work) it rolls the
  work back to the savepoint and stores the error. The session dependency then commits key, work and answer in
  one transaction. Anything else (a request validation error, a 500) propagates: the transaction rolls back,
  the key included.

The first answer is rendered from the stored body exactly as a replay is, so every request with one key gets the
same bytes (replays add ``Idempotent-Replayed: true``). Without a user (no API token) the key is ignored: keys
belong to users. A non-JSON, non-empty or streamed answer is not stored (the key is given back).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from souk.deps import DbSession, request_api_actor
from souk.errors import SoukError
from souk.kit.idempotency import (
    HEADER,
    HEADER_DESCRIPTION,
    HEADER_SCHEMA,
    IdempotentRequest,
    KeyClaim,
    StoredResponse,
    check_key_format,
    claim_key,
    complete_key,
    release_key,
    request_hash_of,
    storable,
    store_error,
    ttl_of,
)

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SCOPE_KEY = "souk.idempotency"
# headers of the first answer that are not kept on the replayed copy of it
_BODY_HEADERS = frozenset({"content-length", "content-type"})


@dataclass
class _Work:
    session: AsyncSession
    claim: KeyClaim
    savepoint: AsyncSessionTransaction


class _Replay(Exception):
    """Not an error: the way out of the dependencies with a stored answer."""

    def __init__(self, stored: StoredResponse) -> None:
        super().__init__("replay")
        self.stored = stored


async def idempotency_guard(
    request: Request,
    session: DbSession,
    key: Annotated[
        str | None, Header(alias=HEADER, description=HEADER_DESCRIPTION, json_schema_extra=HEADER_SCHEMA)
    ] = None,
) -> None:
    """Claim the request's key (see the module); nothing without a key or without a user."""
    if key is None:
        return
    check_key_format(key)  # a malformed header is refused, also from anonymous callers
    actor = await request_api_actor(request, session)
    if actor.user_id is None:
        return  # keys belong to users: an anonymous request runs as if it had none
    req = IdempotentRequest(
        user_id=actor.user_id,
        key=key,
        method=request.method.upper(),
        path=request.url.path,
        request_hash=await request_hash_of(request),
    )
    outcome = await claim_key(session, req, ttl=ttl_of(request))
    if isinstance(outcome, StoredResponse):
        raise _Replay(outcome)
    request.scope[_SCOPE_KEY] = _Work(session, outcome, await session.begin_nested())


class IdempotentRoute(APIRoute):
    """An API route whose answers are stored with the request's ``Idempotency-Key`` (see the module)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                response = await handler(request)
            except _Replay as replay:
                return replay.stored.render()
            except SoukError as error:
                work = request.scope.pop(_SCOPE_KEY, None)
                if not isinstance(work, _Work):
                    raise
                if not work.savepoint.is_active:
                    # the route committed on its own (e.g. a failure record it keeps): give the key back
                    await release_key(work.session, work.claim)
                    await work.session.commit()
                    raise
                if not storable(error):
                    raise
                await work.savepoint.rollback()
                return (await store_error(work.session, work.claim, error)).render()
            work = request.scope.pop(_SCOPE_KEY, None)
            if not isinstance(work, _Work):
                return response
            return await _store(work, response)

        return run


async def _store(work: _Work, response: Response) -> Response:
    if work.savepoint.is_active:
        await work.savepoint.commit()
    body = getattr(response, "body", None)
    media = (response.headers.get("content-type") or "").split(";")[0].strip()
    if not isinstance(body, bytes) or (body and media != "application/json" and not media.endswith("+json")):
        await release_key(work.session, work.claim)
        return response
    stored = await complete_key(
        work.session, work.claim, response.status_code, json.loads(body) if body else None
    )
    answer = stored.render()
    for name, value in response.headers.items():
        if name.lower() not in _BODY_HEADERS:
            answer.headers.append(name, value)
    answer.background = response.background
    return answer


def _declares_key(dependant: Dependant) -> bool:
    """Whether the route (or one of its dependencies) takes the header itself."""
    if any(param.alias == HEADER for param in dependant.header_params):
        return True
    return any(_declares_key(sub) for sub in dependant.dependencies)


def enable_idempotency(router: APIRouter) -> APIRouter:
    """Give every state-changing route of ``router`` the generic ``Idempotency-Key`` handling (see the module);
    routes that declare the header themselves are left alone. Safe to call again on the same router."""
    for route in router.routes:
        if type(route) is not APIRoute or not (route.methods or set()) & STATE_CHANGING:
            continue
        if _declares_key(route.dependant):
            continue
        route.__class__ = IdempotentRoute
        route.dependencies.insert(0, Depends(idempotency_guard))
    return router


__all__ = ["IdempotentRoute", "enable_idempotency", "idempotency_guard"]
