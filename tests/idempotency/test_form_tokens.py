"""One-time form tokens: a form submitted twice does the work once and the second submit goes to the result."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import form, login_as
from fixtures.idempotency_routes import FORM
from souk.kit.clock import clock
from souk.models import FormTokenUse, Notification, User

TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


async def _token(client: httpx.AsyncClient) -> str:
    page = await client.get(FORM)
    assert page.status_code == 200
    match = TOKEN.search(page.text)
    assert match is not None
    return match.group(1)


async def _notes(session: AsyncSession, user_id: int) -> list[tuple[int, str]]:
    rows = await session.execute(
        select(Notification.id, Notification.title)
        .where(Notification.user_id == user_id)
        .order_by(Notification.id)
    )
    return [(r.id, r.title) for r in rows]


async def _logged_in(client: httpx.AsyncClient, session: AsyncSession, user_factory) -> int:  # type: ignore[no-untyped-def]
    user = await user_factory()
    await login_as(client, session, user)
    await session.commit()
    return user.id


async def test_a_second_submit_goes_to_what_the_first_made(
    client: httpx.AsyncClient, session: AsyncSession, user_factory
) -> None:  # type: ignore[no-untyped-def]
    user_id = await _logged_in(client, session, user_factory)
    token = await _token(client)
    # showing the form writes nothing
    assert await session.scalar(select(func.count()).select_from(FormTokenUse)) == 0

    first = await client.post(FORM, data=form(client, form_token=token, title="Order"))
    second = await client.post(FORM, data=form(client, form_token=token, title="Order"))

    notes = await _notes(session, user_id)
    assert [title for _, title in notes] == ["Order"]
    target = f"/notifications#notification-{notes[0][0]}"
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"] == target

    # a new form (a new token) makes a new one
    third = await client.post(FORM, data=form(client, form_token=await _token(client), title="Another"))
    assert third.status_code == 303
    assert [title for _, title in await _notes(session, user_id)] == ["Order", "Another"]


async def test_a_failed_first_submit_leaves_the_token_unused(
    client: httpx.AsyncClient, session: AsyncSession, user_factory
) -> None:  # type: ignore[no-untyped-def]
    user_id = await _logged_in(client, session, user_factory)
    token = await _token(client)
    failed = await client.post(FORM, data=form(client, form_token=token, title="fail"))
    assert failed.status_code == 409
    retried = await client.post(FORM, data=form(client, form_token=token, title="fixed"))
    assert retried.status_code == 303
    assert [title for _, title in await _notes(session, user_id)] == ["fixed"]


async def test_tokens_are_personal_signed_and_expire(
    client: httpx.AsyncClient, session: AsyncSession, user_factory
) -> None:  # type: ignore[no-untyped-def]
    clock.freeze()
    first_user = await _logged_in(client, session, user_factory)
    theirs = await _token(client)
    second_user = await _logged_in(client, session, user_factory)  # the client now belongs to someone else

    other = await client.post(FORM, data=form(client, form_token=theirs, title="Stolen"))
    assert other.status_code == 422
    assert "This form has expired or was not made for you" in other.text

    mine = await _token(client)
    nonce, expires, signature = mine.split(".")
    for forged in (
        f"{nonce}.{int(expires) + 3600}.{signature}",
        f"{nonce}x.{expires}.{signature}",
        "",
        "garbage",
    ):
        r = await client.post(FORM, data=form(client, form_token=forged, title="Forged"))
        assert r.status_code == 422, forged

    clock.advance(timedelta(hours=24, seconds=1))
    await login_as(client, session, await session.get_one(User, second_user))  # the old web session ended too
    await session.commit()
    late = await client.post(FORM, data=form(client, form_token=mine, title="Late"))
    assert late.status_code == 422
    assert "This form has expired" in late.text
    assert await _notes(session, first_user) == [] and await _notes(session, second_user) == []


async def test_used_tokens_are_swept_after_they_expire(
    client: httpx.AsyncClient, session: AsyncSession, user_factory, run_worker
) -> None:  # type: ignore[no-untyped-def]
    clock.freeze()
    await _logged_in(client, session, user_factory)
    await client.post(FORM, data=form(client, form_token=await _token(client), title="Kept"))
    assert await session.scalar(select(func.count()).select_from(FormTokenUse)) == 1
    clock.advance(timedelta(hours=23))
    await run_worker()
    assert await session.scalar(select(func.count()).select_from(FormTokenUse)) == 1
    clock.advance(timedelta(hours=1, seconds=1))
    await run_worker()
    assert await session.scalar(select(func.count()).select_from(FormTokenUse)) == 0


async def test_a_form_post_without_csrf_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, user_factory
) -> None:  # type: ignore[no-untyped-def]
    user_id = await _logged_in(client, session, user_factory)
    r = await client.post(FORM, data={"form_token": await _token(client), "title": "x"})
    assert r.status_code == 403
    assert await _notes(session, user_id) == []
