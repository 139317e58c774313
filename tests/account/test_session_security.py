"""Session security: a login (or registration) always issues a NEW session id, a pre-login cookie (planted by an
attacker, a guest cart's, another user's session) never becomes the logged-in session, and logging out deletes
the session row so the old cookie no longer authenticates anywhere."""

from __future__ import annotations

import httpx
from account_support import session_count, set_cookie
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import form, login_as
from fixtures.factories import PASSWORD
from souk.auth.tokens import hash_secret
from souk.deps import SESSION_COOKIE
from souk.models import Cart, WebSession
from souk.web.buyer.cart import CART_COOKIE


async def session_hashes(session: AsyncSession, user_id: int) -> list[str]:
    return list(
        (await session.scalars(select(WebSession.token_hash).where(WebSession.user_id == user_id))).all()
    )


async def shows_logged_in(client: httpx.AsyncClient, cookie: str, email: str) -> bool:
    """Does ``cookie`` alone (another browser holding a copy of it) open the account page of ``email``?"""
    async with httpx.AsyncClient(
        transport=client._transport, base_url=client.base_url, cookies={SESSION_COOKIE: cookie}
    ) as other:
        r = await other.get("/account")
    return r.status_code == 200 and email in r.text


async def test_login_issues_a_new_session_id_not_the_planted_one(
    client: httpx.AsyncClient, session: AsyncSession, user_factory
) -> None:
    user = await user_factory(email="fixation@example.com")
    user_id = user.id
    await session.commit()
    # session fixation: an attacker plants a session id of their choice before the victim logs in
    planted = "attacker-chosen-session-id-0123456789abcdef"
    client.cookies.set(SESSION_COOKIE, planted)
    assert (await client.get("/account")).status_code == 303  # it authenticates nothing

    r = await client.post("/login", data=form(client, email="fixation@example.com", password=PASSWORD))
    assert r.status_code == 303
    issued = set_cookie(r, SESSION_COOKIE)
    assert issued is not None
    new = issued[SESSION_COOKIE].value
    assert new and new != planted and len(new) >= 40
    assert issued[SESSION_COOKIE]["httponly"] and issued[SESSION_COOKIE]["samesite"].lower() == "lax"
    # only the new id's hash is stored (never the raw id, never the planted one)
    assert await session_hashes(session, user_id) == [hash_secret(new)]
    assert not await shows_logged_in(client, planted, "fixation@example.com")
    assert await shows_logged_in(client, new, "fixation@example.com")


async def test_each_login_gives_a_different_id_and_ends_the_previous_session(
    client: httpx.AsyncClient, session: AsyncSession, user_factory
) -> None:
    first_user = await user_factory(email="first@example.com")
    await user_factory(email="second@example.com")
    first_id = first_user.id
    await login_as(client, session, first_user)
    await session.commit()
    before = client.cookies.get(SESSION_COOKIE)
    assert before and await shows_logged_in(client, before, "first@example.com")

    # logging in as someone else from the same browser: the first session is ended server-side
    r = await client.post("/login", data=form(client, email="second@example.com", password=PASSWORD))
    assert r.status_code == 303
    issued = set_cookie(r, SESSION_COOKIE)
    assert issued is not None
    after = issued[SESSION_COOKIE].value
    assert after != before
    assert await session_count(session, first_id) == 0
    assert not await shows_logged_in(client, before, "first@example.com")
    assert await shows_logged_in(client, after, "second@example.com")

    # and the same user logging in again gets yet another id
    r = await client.post("/login", data=form(client, email="second@example.com", password=PASSWORD))
    again = set_cookie(r, SESSION_COOKIE)
    assert again is not None and again[SESSION_COOKIE].value not in (before, after)
    assert not await shows_logged_in(client, after, "second@example.com")


async def test_the_guest_cart_session_is_not_the_logged_in_session(
    client: httpx.AsyncClient, session: AsyncSession, user_factory, sku_factory
) -> None:
    user = await user_factory(email="guest-then-user@example.com")
    sku = await sku_factory(on_hand=5, title="Teacup")
    user_id, sku_id = user.id, sku.id
    await session.commit()
    r = await client.post("/cart/items", data=form(client, sku_id=sku_id, quantity=1, next="/cart"))
    assert r.status_code == 303
    guest = client.cookies.get(CART_COOKIE)
    assert guest

    r = await client.post("/login", data=form(client, email="guest-then-user@example.com", password=PASSWORD))
    assert r.status_code == 303
    issued = set_cookie(r, SESSION_COOKIE)
    assert issued is not None
    logged_in = issued[SESSION_COOKIE].value
    assert logged_in != guest
    assert await session_hashes(session, user_id) == [hash_secret(logged_in)]
    # the guest's cart row is gone (merged into the user's) and its token opens nothing
    carts = (await session.scalars(select(Cart))).all()
    assert [c.user_id for c in carts] == [user_id]
    assert not await shows_logged_in(client, guest, "guest-then-user@example.com")
    async with httpx.AsyncClient(
        transport=client._transport, base_url=client.base_url, cookies={CART_COOKIE: guest}
    ) as replay:
        page = await replay.get("/cart")
    assert page.status_code == 200 and "Teacup" not in page.text


async def test_registration_issues_a_new_session_id(client: httpx.AsyncClient, session: AsyncSession) -> None:
    planted = "planted-before-registration-0123456789abcdef"
    client.cookies.set(SESSION_COOKIE, planted)
    r = await client.post(
        "/register",
        data=form(client, email="newbie@example.com", display_name="Newbie", password="a-long-password-1"),
    )
    assert r.status_code == 303
    issued = set_cookie(r, SESSION_COOKIE)
    assert issued is not None and issued[SESSION_COOKIE].value != planted
    assert await shows_logged_in(client, issued[SESSION_COOKIE].value, "newbie@example.com")
    assert not await shows_logged_in(client, planted, "newbie@example.com")


async def test_logout_deletes_the_session_row_and_the_old_cookie_is_dead(
    client: httpx.AsyncClient, session: AsyncSession, user_factory
) -> None:
    user = await user_factory(email="leaving@example.com")
    user_id = user.id
    await login_as(client, session, user)
    await login_as(client, session, user)  # a second browser of the same user (this cookie replaces it here)
    await session.commit()
    raw = client.cookies.get(SESSION_COOKIE)
    assert raw and await session_count(session, user_id) == 2
    assert hash_secret(raw) in await session_hashes(session, user_id)

    r = await client.post("/logout", data=form(client))
    assert r.status_code == 303
    # the row of this session is deleted server-side; the other browser's session is untouched
    remaining = await session_hashes(session, user_id)
    assert len(remaining) == 1 and hash_secret(raw) not in remaining
    # replaying the old cookie (say, copied before the logout) authenticates nothing
    assert not await shows_logged_in(client, raw, "leaving@example.com")
    r = await client.get("/account")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = await client.post("/account", data=form(client, display_name="Ghost"))
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
