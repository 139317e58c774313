"""Dependencies for HTML pages: the actor from the session cookie, and the header's navigation."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from souk.auth.actor import Actor
from souk.deps import DbSession, resolve_web_actor
from souk.errors import Unauthenticated
from souk.web.render import load_nav


async def page_actor(request: Request, session: DbSession) -> Actor:
    actor = await resolve_web_actor(request, session)
    request.state.actor = actor
    await load_nav(request, session)
    return actor


async def user_page_actor(request: Request, actor: Annotated[Actor, Depends(page_actor)]) -> Actor:
    """A logged-in user; anonymous visitors are sent to the login page (see the error handler)."""
    if actor.user_id is None:
        raise Unauthenticated("Log in to continue.", code="login_required")
    return actor


PageActor = Annotated[Actor, Depends(page_actor)]
UserPage = Annotated[Actor, Depends(user_page_actor)]
