from __future__ import annotations

import httpx
from account_support import failure_count, session_count
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import api_token_for, login_as
from fixtures.factories import PASSWORD
from souk.auth.passwords import verify_password
from souk.auth.tokens import hash_secret
from souk.config import Settings
from souk.models import ApiToken, User


class TestRegister:
    async def test_register_returns_the_user_and_no_token(self, client: httpx.AsyncClient, session) -> None:
        r = await client.post(
            "/api/v1/auth/register",
            json={"email": "New@Example.com", "password": "ten chars!!", "display_name": "Newbie"},
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["email"] == "new@example.com" and body["display_name"] == "Newbie"
        assert body["is_operator"] is False and body["country"] is None
        assert not {"token", "password", "password_hash"} & set(body)
        user = await session.scalar(select(User).where(User.email == "new@example.com"))
        assert user is not None and user.id == body["id"]

    async def test_duplicate_email(
        self, client: httpx.AsyncClient, user_factory, session: AsyncSession
    ) -> None:
        await user_factory(email="dup@example.com")
        await session.commit()
        r = await client.post(
            "/api/v1/auth/register",
            json={"email": "DUP@example.com", "password": "long enough", "display_name": "Dup"},
        )
        assert r.status_code == 409
        assert r.json() == {
            "error": "email_taken",
            "message": "An account with this email already exists. Log in instead.",
            "fields": {"email": "is already registered"},
        }

    async def test_bad_input_names_the_fields(self, client: httpx.AsyncClient) -> None:
        r = await client.post(
            "/api/v1/auth/register", json={"email": "nope", "password": "short", "display_name": ""}
        )
        assert r.status_code == 422
        body = r.json()
        assert body["error"] == "invalid"
        assert set(body["fields"]) == {"email", "password", "display_name"}

    async def test_unknown_fields_are_refused(self, client: httpx.AsyncClient) -> None:
        r = await client.post(
            "/api/v1/auth/register",
            json={
                "email": "x@example.com",
                "password": "long enough",
                "display_name": "X",
                "is_operator": True,
            },
        )
        assert r.status_code == 422 and "is_operator" in r.json()["fields"]


class TestTokenLogin:
    async def test_login_gives_a_token_that_works(self, client: httpx.AsyncClient, user_factory) -> None:
        user = await user_factory(email="cli@example.com")
        r = await client.post(
            "/api/v1/auth/tokens",
            json={"email": "CLI@example.com", "password": PASSWORD, "name": "laptop", "scopes": "read"},
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert r.headers["cache-control"] == "no-store"
        assert body["token"].startswith("souk_") and body["prefix"] == body["token"][:9]
        assert body["name"] == "laptop" and body["scopes"] == "read" and body["last_used_at"] is None
        me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
        assert me.status_code == 200 and me.json()["id"] == user.id

    async def test_wrong_password_is_401_and_the_failure_is_kept(
        self, client: httpx.AsyncClient, user_factory, session: AsyncSession
    ) -> None:
        await user_factory(email="api-wrong@example.com")
        await session.commit()
        r = await client.post(
            "/api/v1/auth/tokens", json={"email": "api-wrong@example.com", "password": "nope"}
        )
        assert r.status_code == 401
        assert r.json()["error"] == "invalid_credentials"
        assert r.headers["www-authenticate"] == "Bearer"
        assert await failure_count(session, "api-wrong@example.com") == 1
        assert (await session.scalars(select(ApiToken))).all() == []

    async def test_rate_limited_after_too_many_failures(
        self, client: httpx.AsyncClient, user_factory, session: AsyncSession, settings: Settings
    ) -> None:
        await user_factory(email="api-brute@example.com")
        await session.commit()
        limit = settings.login_max_failures_per_account
        for n in range(limit):
            r = await client.post(
                "/api/v1/auth/tokens", json={"email": "api-brute@example.com", "password": f"guess {n}"}
            )
            assert r.status_code == 401
        r = await client.post(
            "/api/v1/auth/tokens", json={"email": "api-brute@example.com", "password": PASSWORD}
        )
        assert r.status_code == 429
        assert r.json()["error"] == "login_rate_limited"
        # the failed attempts survived their failing requests
        assert await failure_count(session, "api-brute@example.com") == limit


class TestMe:
    async def test_anonymous_is_401(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/v1/me")
        assert r.status_code == 401 and r.json()["error"] == "unauthenticated"
        r = await client.get("/api/v1/me/tokens")
        assert r.status_code == 401 and r.json()["error"] == "unauthenticated"

    async def test_garbage_token_is_401(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/v1/me", headers={"Authorization": "Bearer souk_not-a-real-token"})
        assert r.status_code == 401 and r.json()["error"] == "bad_token"

    async def test_get_and_patch_me(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        user = await user_factory(email="me@example.com", display_name="Me")
        headers = await api_token_for(session, user)
        r = await client.get("/api/v1/me", headers=headers)
        assert r.status_code == 200
        assert r.json()["email"] == "me@example.com" and r.json()["display_name"] == "Me"
        r = await client.patch(
            "/api/v1/me",
            headers=headers,
            json={"display_name": "  Mina ", "country": "ma", "phone": "+212 5 22 00"},
        )
        assert r.status_code == 200, r.text
        assert (r.json()["display_name"], r.json()["country"], r.json()["phone"]) == (
            "Mina",
            "MA",
            "+212 5 22 00",
        )
        r = await client.patch("/api/v1/me", headers=headers, json={"country": None})
        assert r.json()["country"] is None and r.json()["display_name"] == "Mina"

    async def test_patch_me_bad_input(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        user = await user_factory()
        headers = await api_token_for(session, user)
        await session.commit()
        r = await client.patch(
            "/api/v1/me", headers=headers, json={"country": "Atlantis", "display_name": None}
        )
        assert r.status_code == 422
        assert set(r.json()["fields"]) == {"country", "display_name"}

    async def test_read_only_token_cannot_patch(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        user = await user_factory(display_name="Stays")
        headers = await api_token_for(session, user, scopes="read")
        await session.commit()
        assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
        r = await client.patch("/api/v1/me", headers=headers, json={"display_name": "Changed"})
        assert r.status_code == 403 and r.json()["error"] == "token_read_only"
        r = await client.post("/api/v1/me/tokens", headers=headers, json={"name": "more power"})
        assert r.status_code == 403 and r.json()["error"] == "token_read_only"
        assert (await client.get("/api/v1/me", headers=headers)).json()["display_name"] == "Stays"

    async def test_change_password(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, settings: Settings
    ) -> None:
        user = await user_factory(email="pwapi@example.com")
        headers = await api_token_for(session, user)
        await login_as(client, session, user)
        await session.commit()
        r = await client.post(
            "/api/v1/me/password",
            headers=headers,
            json={"current_password": "wrong", "new_password": "new password 1"},
        )
        assert r.status_code == 422 and r.json()["error"] == "wrong_password"
        assert await failure_count(session, "pwapi@example.com") == 1
        r = await client.post(
            "/api/v1/me/password",
            headers=headers,
            json={"current_password": PASSWORD, "new_password": "new password 1"},
        )
        assert r.status_code == 204 and r.content == b""
        await session.refresh(user)
        assert verify_password(user.password_hash, "new password 1")
        assert await session_count(session, user.id) == 0  # web sessions ended
        assert (await client.get("/api/v1/me", headers=headers)).status_code == 200  # tokens keep working


class TestTokens:
    async def test_create_list_revoke(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        user = await user_factory()
        headers = await api_token_for(session, user)
        r = await client.post(
            "/api/v1/me/tokens", headers=headers, json={"name": "sync", "scopes": "read write"}
        )
        assert r.status_code == 201, r.text
        created = r.json()
        stored = await session.get(ApiToken, created["id"])
        assert stored is not None and stored.token_hash == hash_secret(created["token"])

        listing = await client.get("/api/v1/me/tokens", headers=headers)
        listed = listing.json()
        assert [t["name"] for t in listed["items"]] == ["sync", "test"]
        assert listed["next_cursor"] is None
        for item in listed["items"]:
            assert set(item) == {"id", "name", "prefix", "scopes", "created_at", "last_used_at"}
        assert created["token"] not in listing.text and stored.token_hash not in listing.text

        new_headers = {"Authorization": f"Bearer {created['token']}"}
        assert (await client.get("/api/v1/me", headers=new_headers)).status_code == 200
        r = await client.delete(f"/api/v1/me/tokens/{created['id']}", headers=headers)
        assert r.status_code == 204
        r = await client.get("/api/v1/me", headers=new_headers)
        assert r.status_code == 401 and r.json()["error"] == "bad_token"
        listed = (await client.get("/api/v1/me/tokens", headers=headers)).json()
        assert [t["name"] for t in listed["items"]] == ["test"]

    async def test_another_users_token_is_404(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        owner, intruder = await user_factory(), await user_factory()
        await api_token_for(session, owner)
        owner_token_id = await session.scalar(select(ApiToken.id).where(ApiToken.user_id == owner.id))
        headers = await api_token_for(session, intruder)
        await session.commit()  # the failing request rolls back only its own work
        r = await client.delete(f"/api/v1/me/tokens/{owner_token_id}", headers=headers)
        assert r.status_code == 404 and r.json()["error"] == "token_not_found"
        revoked_at = await session.scalar(select(ApiToken.revoked_at).where(ApiToken.id == owner_token_id))
        assert revoked_at is None
        listed = (await client.get("/api/v1/me/tokens", headers=headers)).json()
        assert owner_token_id not in [t["id"] for t in listed["items"]]

    async def test_cursor_pagination(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        user = await user_factory()
        headers = await api_token_for(session, user)
        for n in range(4):
            r = await client.post("/api/v1/me/tokens", headers=headers, json={"name": f"t{n}"})
            assert r.status_code == 201
        seen: list[str] = []
        pages = 0
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/api/v1/me/tokens", headers=headers, params=params)).json()
            pages += 1
            seen += [t["name"] for t in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == 3
        assert seen == ["t3", "t2", "t1", "t0", "test"]

    async def test_bad_limit_and_cursor(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        headers = await api_token_for(session, await user_factory())
        await session.commit()
        r = await client.get("/api/v1/me/tokens", headers=headers, params={"cursor": "!!not a cursor"})
        assert r.status_code == 422 and set(r.json()["fields"]) == {"cursor"}
        r = await client.get("/api/v1/me/tokens", headers=headers, params={"limit": 0})
        assert r.status_code == 422 and set(r.json()["fields"]) == {"limit"}

    async def test_openapi_documents_the_routes(self, client: httpx.AsyncClient) -> None:
        spec = (await client.get("/openapi.json")).json()
        paths = spec["paths"]
        assert paths["/api/v1/auth/tokens"]["post"]["tags"] == ["auth"]
        assert paths["/api/v1/me/tokens/{token_id}"]["delete"]["summary"] == "Revoke an API token"
        assert "201" in paths["/api/v1/me/tokens"]["post"]["responses"]
