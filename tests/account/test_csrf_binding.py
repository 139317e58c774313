"""CSRF tokens are bound to the session: a token (cookie and field together) taken from session A is refused in
session B, the token a visitor had before logging in stops working at login, and login and logout issue a new
one."""

from __future__ import annotations

from typing import Any

import httpx
from account_support import set_cookie
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import TEST_SECRET, form, login_as
from fixtures.factories import PASSWORD
from souk.deps import SESSION_COOKIE
from souk.web.render import CSRF_COOKIE, make_csrf_token

REFUSAL = "The form expired or came from another site"


def other_browser(client: httpx.AsyncClient) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=client._transport, base_url=client.base_url)


def sent_token(client: httpx.AsyncClient) -> str | None:
    """The CSRF cookie the server reads (the last one the jar sends)."""
    value = None
    for cookie in client.cookies.jar:
        if cookie.name == CSRF_COOKIE:
            value = cookie.value
    return value


def with_token(client: httpx.AsyncClient, token: str) -> None:
    """Put ``token`` in the client's jar as its only CSRF cookie (what an attacker who can plant cookies does)."""
    for cookie in [c for c in client.cookies.jar if c.name == CSRF_COOKIE]:
        client.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)
    client.cookies.set(CSRF_COOKIE, token)


async def test_a_token_from_session_a_is_refused_in_session_b(
    client: httpx.AsyncClient, session: AsyncSession, user_factory: Any
) -> None:
    alice = await user_factory(email="alice@example.com", display_name="Alice")
    mallory = await user_factory(email="mallory@example.com", display_name="Mallory")
    await login_as(client, session, mallory)
    await session.commit()
    # Mallory's own, perfectly valid token: the form works for her
    page = await client.get("/account")
    mallory_token = client.cookies.get(CSRF_COOKIE)
    assert mallory_token and f'name="csrf_token" value="{mallory_token}"' in page.text

    async with other_browser(client) as victim:
        await login_as(victim, session, alice)
        await session.commit()
        # Mallory plants her cookie and posts her token in Alice's browser: refused, nothing changes
        with_token(victim, mallory_token)
        r = await victim.post("/account", data={"display_name": "Hacked", "csrf_token": mallory_token})
        assert r.status_code == 403 and REFUSAL in r.text
        # a token signed for no session (what anyone gets before logging in) is refused as well
        anonymous = make_csrf_token(TEST_SECRET, None)
        with_token(victim, anonymous)
        r = await victim.post("/account", data={"display_name": "Hacked", "csrf_token": anonymous})
        assert r.status_code == 403 and REFUSAL in r.text
        await session.refresh(alice)
        assert alice.display_name == "Alice"
        # loading a page gives Alice's browser a token of her own session, and the same form then works
        page = await victim.get("/account")
        own = sent_token(victim)  # a new token, bound to her session (set by the refusal page already)
        assert own and own not in (mallory_token, anonymous)
        assert f'name="csrf_token" value="{own}"' in page.text
        r = await victim.post("/account", data={"display_name": "Alice B", "csrf_token": own})
        assert r.status_code == 303
        await session.refresh(alice)
        assert alice.display_name == "Alice B"

    # Mallory's token keeps working in her own session
    r = await client.post("/account", data={"display_name": "Mal", "csrf_token": mallory_token})
    assert r.status_code == 303


async def test_login_and_logout_rotate_the_token(
    client: httpx.AsyncClient, session: AsyncSession, user_factory: Any
) -> None:
    await user_factory(email="rotate@example.com")
    await session.commit()
    await client.get("/login")
    before = client.cookies.get(CSRF_COOKIE)
    assert before

    r = await client.post(
        "/login", data={"email": "rotate@example.com", "password": PASSWORD, "csrf_token": before}
    )
    assert r.status_code == 303
    issued = set_cookie(r, CSRF_COOKIE)
    assert issued is not None
    after_login = issued[CSRF_COOKIE].value
    new_session = set_cookie(r, SESSION_COOKIE)
    assert new_session is not None and after_login != before

    # the pre-login token no longer passes in the logged-in session; the one issued at login does
    async with httpx.AsyncClient(
        transport=client._transport,
        base_url=client.base_url,
        cookies={SESSION_COOKIE: new_session[SESSION_COOKIE].value, CSRF_COOKIE: before},
    ) as logged_in:
        r = await logged_in.post("/account", data={"display_name": "Old token", "csrf_token": before})
        assert r.status_code == 403 and REFUSAL in r.text
        with_token(logged_in, after_login)
        r = await logged_in.post("/account", data={"display_name": "New token", "csrf_token": after_login})
        assert r.status_code == 303

        r = await logged_in.post("/logout", data={"csrf_token": after_login})
        assert r.status_code == 303
        rotated = set_cookie(r, CSRF_COOKIE)
        assert rotated is not None and rotated[CSRF_COOKIE].value not in (before, after_login)


async def test_the_form_helper_follows_the_session(
    client: httpx.AsyncClient, session: AsyncSession, user_factory: Any
) -> None:
    """The test helper ``form`` always posts a token valid for the client's current session (as a browser that
    loaded the page would)."""
    user = await user_factory(display_name="Helper")
    await login_as(client, session, user)
    await session.commit()
    r = await client.post("/account", data=form(client, display_name="Helped"))
    assert r.status_code == 303
