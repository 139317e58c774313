"""Helpers shared by the account tests (imported as `account_support`: tests/account is on sys.path)."""

from __future__ import annotations

from http.cookies import SimpleCookie

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.models import LoginFailure, WebSession


async def failure_count(session: AsyncSession, email: str) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(LoginFailure).where(LoginFailure.email == email)
        )
        or 0
    )


async def session_count(session: AsyncSession, user_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(WebSession).where(WebSession.user_id == user_id)
        )
        or 0
    )


def set_cookie(response: httpx.Response, name: str) -> SimpleCookie | None:
    """The parsed ``Set-Cookie`` header of ``response`` for cookie ``name`` (None when not set)."""
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        if name in cookie:
            return cookie
    return None
