from __future__ import annotations

import html
import re
from datetime import timedelta

import httpx
from account_support import failure_count, session_count, set_cookie
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import form, login_as
from fixtures.factories import PASSWORD
from souk.auth.passwords import verify_password
from souk.auth.tokens import hash_secret
from souk.config import Settings
from souk.deps import SESSION_COOKIE
from souk.kit.clock import utcnow
from souk.models import ApiToken, User, WebSession
from souk.web.account.routes import safe_next


def hidden_next(page: str) -> str:
    match = re.search(r'name="next" value="([^"]*)"', page)
    assert match is not None
    return html.unescape(match.group(1))


class TestRegister:
    async def test_form_has_labels_csrf_and_a_clear_button(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/register")
        assert r.status_code == 200
        assert '<label for="f-email">' in r.text and '<label for="f-password">' in r.text
        assert f'name="csrf_token" value="{client.csrf}"' in r.text  # type: ignore[attr-defined]
        assert ">Create account</button>" in r.text

    async def test_happy_path_logs_in_and_redirects_home(
        self, client: httpx.AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        r = await client.post(
            "/register",
            data=form(client, email="Zara@Example.com", display_name="Zara", password="zara's password"),
        )
        assert r.status_code == 303 and r.headers["location"] == "/"
        cookie = set_cookie(r, SESSION_COOKIE)
        assert cookie is not None
        morsel = cookie[SESSION_COOKIE]
        assert morsel["httponly"] and morsel["samesite"].lower() == "lax" and not morsel["secure"]
        assert morsel["max-age"] == str(settings.session_days * 86400)
        user = await session.scalar(select(User).where(User.email == "zara@example.com"))
        assert user is not None and user.display_name == "Zara"
        stored = await session.scalar(select(WebSession.token_hash).where(WebSession.user_id == user.id))
        assert stored == hash_secret(morsel.value)

        page = await client.get("/account")
        assert page.status_code == 200
        assert "Welcome to Souk, Zara" in page.text and "zara@example.com" in page.text

    async def test_errors_re_render_with_the_typed_values(self, client: httpx.AsyncClient) -> None:
        r = await client.post(
            "/register", data=form(client, email="typed@nowhere", display_name="Typed", password="short")
        )
        assert r.status_code == 422
        assert 'value="typed@nowhere"' in r.text and 'value="Typed"' in r.text
        assert 'id="e-email"' in r.text and 'id="e-password"' in r.text
        assert "at least 10 characters" in r.text
        assert 'class="error-summary"' in r.text
        assert 'value="short"' not in r.text  # the password is never echoed
        assert set_cookie(r, SESSION_COOKIE) is None

    async def test_duplicate_email(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        await user_factory(email="page-dup@example.com")
        await session.commit()
        r = await client.post(
            "/register",
            data=form(client, email="page-dup@example.com", display_name="Dup", password="long enough"),
        )
        assert r.status_code == 409
        assert "is already registered" in r.text and 'value="page-dup@example.com"' in r.text

    async def test_without_csrf_is_403(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        r = await client.post(
            "/register", data={"email": "csrf@example.com", "display_name": "C", "password": "long enough"}
        )
        assert r.status_code == 403 and "form expired" in r.text
        assert await session.scalar(select(User).where(User.email == "csrf@example.com")) is None


class TestLogin:
    async def test_login_follows_a_local_next(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        user = await user_factory(email="nav@example.com")
        page = await client.get("/login", params={"next": "/account/tokens?x=1"})
        assert page.status_code == 200 and hidden_next(page.text) == "/account/tokens?x=1"
        r = await client.post(
            "/login",
            data=form(client, email="nav@example.com", password=PASSWORD, next="/account/tokens?x=1"),
        )
        assert r.status_code == 303 and r.headers["location"] == "/account/tokens?x=1"
        assert set_cookie(r, SESSION_COOKIE) is not None
        assert await session_count(session, user.id) == 1

    async def test_login_required_page_sends_here_and_back(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        r = await client.get("/account/password")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/account/password"
        page = await client.get(r.headers["location"])
        assert hidden_next(page.text) == "/account/password"

    async def test_open_redirects_are_ignored(self, client: httpx.AsyncClient, user_factory) -> None:
        await user_factory(email="safe@example.com")
        page = await client.get("/login", params={"next": "//evil.com"})
        assert hidden_next(page.text) == "/"
        r = await client.post(
            "/login", data=form(client, email="safe@example.com", password=PASSWORD, next="//evil.com/x")
        )
        assert r.status_code == 303 and r.headers["location"] == "/"

    def test_safe_next(self) -> None:
        assert safe_next("/orders?tab=ship") == "/orders?tab=ship"
        for bad in (
            None,
            "",
            "https://evil.com",
            "//evil.com",
            "/\\evil.com",
            "evil.com",
            "/a\r\nSet-Cookie: x",
        ):
            assert safe_next(bad) == "/"

    async def test_wrong_password_keeps_the_email_and_the_failure(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        await user_factory(email="oops@example.com")
        await session.commit()
        r = await client.post(
            "/login", data=form(client, email="oops@example.com", password="not my password")
        )
        assert r.status_code == 401
        assert "Email or password is wrong" in r.text and 'value="oops@example.com"' in r.text
        assert 'value="not my password"' not in r.text
        assert set_cookie(r, SESSION_COOKIE) is None
        assert await failure_count(session, "oops@example.com") == 1

    async def test_rate_limited_page(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, settings: Settings
    ) -> None:
        await user_factory(email="locked@example.com")
        await session.commit()
        for _ in range(settings.login_max_failures_per_account):
            r = await client.post(
                "/login", data=form(client, email="locked@example.com", password="guessing")
            )
            assert r.status_code == 401
        r = await client.post("/login", data=form(client, email="locked@example.com", password=PASSWORD))
        assert r.status_code == 429
        assert "Too many failed login attempts" in r.text
        assert set_cookie(r, SESSION_COOKIE) is None
        assert await failure_count(session, "locked@example.com") == settings.login_max_failures_per_account

    async def test_login_replaces_the_previous_session(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        user = await user_factory(email="fix@example.com")
        await login_as(client, session, user)
        planted = client.cookies.get(SESSION_COOKIE)
        assert planted is not None
        r = await client.post("/login", data=form(client, email="fix@example.com", password=PASSWORD))
        assert r.status_code == 303
        cookie = set_cookie(r, SESSION_COOKIE)
        assert cookie is not None and cookie[SESSION_COOKIE].value != planted
        hashes = (
            await session.scalars(select(WebSession.token_hash).where(WebSession.user_id == user.id))
        ).all()
        assert hashes == [hash_secret(cookie[SESSION_COOKIE].value)]


class TestLogout:
    async def test_logout_ends_the_session(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        user = await user_factory()
        user_id = user.id  # a failing request rolls back, which expires loaded objects
        await login_as(client, session, user)
        await session.commit()
        assert (await client.post("/logout", data={})).status_code == 403
        assert await session_count(session, user_id) == 1

        r = await client.post("/logout", data=form(client))
        assert r.status_code == 303 and r.headers["location"] == "/"
        cookie = set_cookie(r, SESSION_COOKIE)
        assert cookie is not None and cookie[SESSION_COOKIE]["max-age"] == "0"
        assert await session_count(session, user_id) == 0
        page = await client.get("/login")
        assert "You are logged out" in page.text
        assert (await client.get("/account")).status_code == 303


class TestProfile:
    async def test_profile_page_and_update(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        user = await user_factory(email="prof@example.com", display_name="Prof")
        await login_as(client, session, user)
        page = await client.get("/account")
        assert page.status_code == 200
        assert "prof@example.com" in page.text and "Member since" in page.text
        assert 'href="/account/tokens"' in page.text and 'href="/account/password"' in page.text
        assert ">Save profile</button>" in page.text and '<option value="MA"' in page.text

        r = await client.post(
            "/account", data=form(client, display_name="Professor", country="MA", phone="+212 600 000 000")
        )
        assert r.status_code == 303 and r.headers["location"] == "/account"
        await session.refresh(user)
        assert (user.display_name, user.country, user.phone) == ("Professor", "MA", "+212 600 000 000")
        assert "Profile saved" in (await client.get("/account")).text

    async def test_bad_profile_re_renders(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        user = await user_factory(email="bad-prof@example.com", display_name="Keep")
        await login_as(client, session, user)
        await session.commit()
        r = await client.post("/account", data=form(client, display_name="", country="QQ", phone="12"))
        assert r.status_code == 422
        assert 'id="e-display_name"' in r.text and 'id="e-country"' in r.text and 'id="e-phone"' in r.text
        assert 'value="12"' in r.text and "bad-prof@example.com" in r.text
        assert (
            await session.scalar(select(User.display_name).where(User.email == "bad-prof@example.com"))
            == "Keep"
        )


class TestPassword:
    async def test_change_password(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        user = await user_factory(email="pwpage@example.com")
        session.add(
            WebSession(
                token_hash=hash_secret("another device"),
                user_id=user.id,
                expires_at=utcnow() + timedelta(days=1),
            )
        )
        await login_as(client, session, user)
        await session.commit()
        assert (await client.get("/account/password")).status_code == 200

        r = await client.post(
            "/account/password",
            data=form(
                client, current_password=PASSWORD, new_password="new secret 42", confirm="new secret 43"
            ),
        )
        assert r.status_code == 422 and 'id="e-confirm"' in r.text
        r = await client.post(
            "/account/password",
            data=form(client, current_password="nope", new_password="new secret 42", confirm="new secret 42"),
        )
        assert r.status_code == 422 and 'id="e-current_password"' in r.text
        assert await failure_count(session, "pwpage@example.com") == 1

        r = await client.post(
            "/account/password",
            data=form(
                client, current_password=PASSWORD, new_password="new secret 42", confirm="new secret 42"
            ),
        )
        assert r.status_code == 303 and r.headers["location"] == "/account"
        password_hash = await session.scalar(select(User.password_hash).where(User.id == user.id))
        assert password_hash is not None and verify_password(password_hash, "new secret 42")
        assert await session_count(session, user.id) == 1  # this browser stays logged in
        assert (await client.get("/account")).status_code == 200


class TestTokens:
    async def test_token_is_shown_once(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        user = await user_factory()
        await login_as(client, session, user)
        empty = await client.get("/account/tokens")
        assert empty.status_code == 200 and "No API tokens yet" in empty.text

        r = await client.post("/account/tokens", data=form(client, name="Stock sync", scopes="read"))
        assert r.status_code == 201
        raw = re.search(r"souk_[A-Za-z0-9_-]{20,}", r.text)
        assert raw is not None
        assert "Copy it now" in r.text and "Stock sync" in r.text
        assert r.headers["cache-control"] == "no-store"
        assert raw.group(0) not in str(r.headers)
        token = await session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
        assert token is not None and token.token_hash == hash_secret(raw.group(0)) and token.scopes == "read"

        listing = await client.get("/account/tokens")
        assert listing.status_code == 200
        assert raw.group(0) not in listing.text and token.token_hash not in listing.text
        assert f"{token.prefix}…" in listing.text and "Read only" in listing.text and "Never" in listing.text

    async def test_create_errors_re_render(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        user = await user_factory()
        user_id = user.id
        await login_as(client, session, user)
        await session.commit()
        r = await client.post("/account/tokens", data=form(client, name="", scopes="root"))
        assert r.status_code == 422
        assert 'id="e-name"' in r.text and 'id="e-scopes"' in r.text
        assert await session.scalar(select(ApiToken).where(ApiToken.user_id == user_id)) is None

    async def test_revoke(self, client: httpx.AsyncClient, session: AsyncSession, user_factory) -> None:
        owner, intruder = await user_factory(), await user_factory()
        owner_id = owner.id
        await login_as(client, session, owner)
        await client.post("/account/tokens", data=form(client, name="old script"))
        token_id = await session.scalar(select(ApiToken.id).where(ApiToken.user_id == owner_id))
        assert (await client.post(f"/account/tokens/{token_id}/revoke", data={})).status_code == 403

        r = await client.post(f"/account/tokens/{token_id}/revoke", data=form(client))
        assert r.status_code == 303 and r.headers["location"] == "/account/tokens"
        page = await client.get("/account/tokens")
        assert "Token “old script” revoked" in page.text and "No API tokens yet" in page.text
        assert await session.scalar(select(ApiToken.revoked_at).where(ApiToken.id == token_id)) is not None

        other = await client.post("/account/tokens", data=form(client, name="keep"))
        assert other.status_code == 201
        kept_id = await session.scalar(
            select(ApiToken.id).where(ApiToken.user_id == owner_id, ApiToken.revoked_at.is_(None))
        )
        client.cookies.delete(SESSION_COOKIE)
        await session.refresh(intruder)  # expired by the rollback of the refused request above
        await login_as(client, session, intruder)
        await session.commit()
        r = await client.post(f"/account/tokens/{kept_id}/revoke", data=form(client))
        assert r.status_code == 404
        assert await session.scalar(select(ApiToken.revoked_at).where(ApiToken.id == kept_id)) is None
