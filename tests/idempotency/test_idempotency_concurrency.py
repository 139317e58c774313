"""The same key, or the same form, sent many times at once (real parallel requests, each with its own connection
and transaction): exactly one effect, and for a key every request gets the same answer. PostgreSQL; the checkout
burst also runs on SQLite. Rows are committed and removed afterwards (or the database is dropped)."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from fixtures.core import TEST_SECRET, is_postgres
from fixtures.idempotency_routes import FORM, NOTES
from souk.auth.tokens import hash_secret, new_api_token
from souk.deps import SESSION_COOKIE
from souk.kit.clock import utcnow
from souk.models import ApiToken, Notification, User, WebSession
from souk.web.render import CSRF_COOKIE, make_csrf_token


@dataclass
class Committed:
    user_id: int
    api_token: str
    web_session: str


@pytest.fixture
async def committed_user(engine: AsyncEngine) -> AsyncIterator[Committed]:
    tag = secrets.token_hex(4)
    api_token, web_session = new_api_token(), secrets.token_urlsafe(32)
    async with AsyncSession(engine, expire_on_commit=False) as s, s.begin():
        user = User(email=f"idem-{tag}@example.com", password_hash="x", display_name="Racer")
        s.add(user)
        await s.flush()
        # just used: the requests do not update the token row (that would queue them one behind the other)
        s.add(
            ApiToken(
                user_id=user.id,
                name="race",
                token_hash=hash_secret(api_token),
                prefix=api_token[:9],
                last_used_at=utcnow(),
            )
        )
        s.add(
            WebSession(
                token_hash=hash_secret(web_session), user_id=user.id, expires_at=utcnow() + timedelta(hours=1)
            )
        )
    try:
        yield Committed(user_id=user.id, api_token=api_token, web_session=web_session)
    finally:
        async with AsyncSession(engine) as s, s.begin():
            await s.execute(delete(User).where(User.id == user.id))  # cascades to everything of theirs


async def _titles(engine: AsyncEngine, user_id: int) -> list[str]:
    async with AsyncSession(engine) as s:
        return list(await s.scalars(select(Notification.title).where(Notification.user_id == user_id)))


def _client(app: FastAPI, **kw: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", **kw)  # type: ignore[arg-type]


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="needs real parallel PostgreSQL connections")
async def test_ten_requests_with_one_key_make_one_effect(
    app: FastAPI, engine: AsyncEngine, committed_user: Committed
) -> None:
    headers = {"Authorization": f"Bearer {committed_user.api_token}", "Idempotency-Key": "race-1"}
    async with _client(app) as client:
        answers = await asyncio.gather(
            *(client.post(NOTES, json={"title": "Only one"}, headers=headers) for _ in range(10))
        )

    assert [a.status_code for a in answers] == [201] * 10, [a.text for a in answers]
    assert len({a.content for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 9
    assert await _titles(engine, committed_user.user_id) == ["Only one"]


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="needs real parallel PostgreSQL connections")
async def test_a_form_submitted_ten_times_at_once_makes_one_effect(
    app: FastAPI, engine: AsyncEngine, committed_user: Committed
) -> None:
    csrf = make_csrf_token(TEST_SECRET, committed_user.web_session)  # CSRF tokens are bound to the session
    cookies = {CSRF_COOKIE: csrf, SESSION_COOKIE: committed_user.web_session}
    async with _client(app, cookies=cookies) as client:
        page = await client.get(FORM)
        match = re.search(r'name="form_token" value="([^"]+)"', page.text)
        assert match is not None
        data = {"form_token": match.group(1), "title": "Placed once", "csrf_token": csrf}
        answers = await asyncio.gather(*(client.post(FORM, data=data) for _ in range(10)))

    assert [a.status_code for a in answers] == [303] * 10, [a.text for a in answers]
    assert len({a.headers["location"] for a in answers}) == 1
    assert await _titles(engine, committed_user.user_id) == ["Placed once"]
