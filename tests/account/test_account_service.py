from __future__ import annotations

from datetime import timedelta

import pytest
from account_support import failure_count, session_count
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.factories import PASSWORD, actor_of
from souk.account.schemas import ProfileUpdate, UserCreate
from souk.account.service import account_service
from souk.auth.actor import Actor
from souk.auth.passwords import verify_password
from souk.auth.tokens import API_TOKEN_PREFIX, hash_secret
from souk.config import Settings
from souk.errors import Conflict, Forbidden, Invalid, NotFound, TooManyRequests
from souk.kit.clock import clock
from souk.kit.schemas import pydantic_fields
from souk.models import ApiToken, User, WebSession

IP = "203.0.113.7"


def read_only(user: User) -> Actor:
    return Actor(user_id=user.id, email=user.email, scopes=frozenset({"read"}), ip=IP)


class TestRegister:
    async def test_creates_user_with_normalised_email_and_hashed_password(
        self, session: AsyncSession
    ) -> None:
        user = await account_service.register(
            session,
            UserCreate(email="  Ana.Lima@Example.COM ", password="a long password", display_name=" Ana "),
        )
        assert user.id is not None
        assert user.email == "ana.lima@example.com"
        assert user.display_name == "Ana"
        assert user.is_operator is False
        assert user.password_hash != "a long password"
        assert verify_password(user.password_hash, "a long password")

    async def test_duplicate_email_is_email_taken_whatever_the_case(
        self, session: AsyncSession, user_factory
    ) -> None:
        await user_factory(email="taken@example.com")
        with pytest.raises(Conflict) as caught:
            await account_service.register(
                session, UserCreate(email="TAKEN@example.com", password="another password", display_name="B")
            )
        assert caught.value.code == "email_taken"
        assert caught.value.status_code == 409
        assert caught.value.fields == {"email": "is already registered"}

    def test_bad_email_short_password_empty_name_are_named(self) -> None:
        with pytest.raises(ValidationError) as caught:
            UserCreate(email="not-an-email", password="short", display_name="   ")
        fields = pydantic_fields(caught.value.errors())
        assert set(fields) == {"email", "password", "display_name"}
        assert "@-sign" in fields["email"]
        assert "at least 10 characters" in fields["password"]

    def test_password_longer_than_200_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            UserCreate(email="a@example.com", password="x" * 201, display_name="A")
        assert set(pydantic_fields(caught.value.errors())) == {"password"}

    async def test_create_user_turns_bad_input_into_invalid_with_fields(self, session: AsyncSession) -> None:
        with pytest.raises(Invalid) as caught:
            await account_service.create_user(session, "nobody", "short", "X")
        assert set(caught.value.fields) == {"email", "password"}
        assert caught.value.status_code == 422


class TestMakeOperator:
    async def test_creates_a_new_operator(self, session: AsyncSession) -> None:
        user = await account_service.make_operator(session, "Ops@Example.com", "operator password")
        assert user.is_operator and user.email == "ops@example.com" and user.display_name == "Ops"
        assert verify_password(user.password_hash, "operator password")

    async def test_promotes_an_existing_user_and_keeps_the_password(
        self, session: AsyncSession, user_factory
    ) -> None:
        existing = await user_factory(email="staff@example.com")
        user = await account_service.make_operator(session, "staff@example.com")
        assert user.id == existing.id and user.is_operator
        assert verify_password(user.password_hash, PASSWORD)

    async def test_new_account_needs_a_password(self, session: AsyncSession) -> None:
        with pytest.raises(Invalid) as caught:
            await account_service.make_operator(session, "new@example.com")
        assert set(caught.value.fields) == {"password"}
        assert await session.scalar(select(User).where(User.email == "new@example.com")) is None

    async def test_short_password_is_refused_on_promotion(self, session: AsyncSession, user_factory) -> None:
        await user_factory(email="weak@example.com")
        with pytest.raises(Invalid) as caught:
            await account_service.make_operator(session, "weak@example.com", "short")
        assert "at least 10 characters" in caught.value.fields["password"]


class TestAuthenticate:
    async def test_right_password(self, session: AsyncSession, user_factory, settings: Settings) -> None:
        user = await user_factory(email="right@example.com")
        found = await account_service.authenticate(
            session, " RIGHT@example.com", PASSWORD, IP, settings=settings
        )
        assert found is not None and found.id == user.id
        assert await failure_count(session, "right@example.com") == 0

    async def test_wrong_password_records_a_failure(
        self, session: AsyncSession, user_factory, settings
    ) -> None:
        await user_factory(email="wrong@example.com")
        assert (
            await account_service.authenticate(session, "wrong@example.com", "nope", IP, settings=settings)
            is None
        )
        assert await failure_count(session, "wrong@example.com") == 1

    async def test_unknown_email_records_a_failure(self, session: AsyncSession, settings: Settings) -> None:
        assert (
            await account_service.authenticate(session, "ghost@example.com", PASSWORD, IP, settings=settings)
            is None
        )
        assert await failure_count(session, "ghost@example.com") == 1

    async def test_inactive_user_cannot_log_in(self, session: AsyncSession, user_factory, settings) -> None:
        await user_factory(email="gone@example.com", is_active=False)
        assert (
            await account_service.authenticate(session, "gone@example.com", PASSWORD, IP, settings=settings)
            is None
        )

    async def test_success_clears_the_account_failures(
        self, session: AsyncSession, user_factory, settings
    ) -> None:
        await user_factory(email="typo@example.com")
        for _ in range(3):
            await account_service.authenticate(session, "typo@example.com", "typo", IP, settings=settings)
        assert await failure_count(session, "typo@example.com") == 3
        assert await account_service.authenticate(
            session, "typo@example.com", PASSWORD, IP, settings=settings
        )
        assert await failure_count(session, "typo@example.com") == 0


class TestRateLimit:
    async def test_per_account_limit_refuses_even_the_right_password(
        self, session: AsyncSession, user_factory, settings: Settings
    ) -> None:
        await user_factory(email="target@example.com")
        for n in range(settings.login_max_failures_per_account):
            assert (
                await account_service.authenticate(
                    session, "target@example.com", f"guess {n}", f"198.51.100.{n}", settings=settings
                )
                is None
            )
        with pytest.raises(TooManyRequests) as caught:
            await account_service.authenticate(session, "target@example.com", PASSWORD, IP, settings=settings)
        assert caught.value.code == "login_rate_limited"
        assert caught.value.status_code == 429
        assert "15 minutes" in caught.value.message
        # checked before the password: no new failure row
        assert await failure_count(session, "target@example.com") == settings.login_max_failures_per_account

    async def test_limit_ends_with_the_window(
        self, session: AsyncSession, user_factory, settings: Settings
    ) -> None:
        user = await user_factory(email="later@example.com")
        for _ in range(settings.login_max_failures_per_account):
            await account_service.authenticate(session, "later@example.com", "bad", IP, settings=settings)
        clock.advance(timedelta(seconds=settings.login_failure_window_seconds + 1))
        found = await account_service.authenticate(
            session, "later@example.com", PASSWORD, IP, settings=settings
        )
        assert found is not None and found.id == user.id

    async def test_per_ip_limit_spans_emails(
        self, session: AsyncSession, user_factory, settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(settings, "login_max_failures_per_ip", 3)
        await user_factory(email="victim@example.com")
        for n in range(3):
            await account_service.authenticate(session, f"spray{n}@example.com", "bad", IP, settings=settings)
        with pytest.raises(TooManyRequests) as caught:
            await account_service.authenticate(session, "victim@example.com", PASSWORD, IP, settings=settings)
        assert caught.value.code == "login_rate_limited"
        # another address is not blocked
        assert await account_service.authenticate(
            session, "victim@example.com", PASSWORD, "192.0.2.55", settings=settings
        )


class TestWebSessions:
    async def test_start_stores_only_the_hash_and_expires_after_session_days(
        self, session: AsyncSession, user_factory, settings: Settings
    ) -> None:
        clock.freeze()
        user = await user_factory()
        raw = await account_service.start_web_session(session, user, IP, "Firefox " * 60, settings=settings)
        row = await session.scalar(select(WebSession).where(WebSession.user_id == user.id))
        assert row is not None
        assert row.token_hash == hash_secret(raw) and row.token_hash != raw
        assert row.expires_at == clock.now() + timedelta(days=settings.session_days)
        assert row.ip == IP and row.user_agent is not None and len(row.user_agent) == 255

    async def test_each_start_is_a_fresh_token_and_end_deletes_one(
        self, session: AsyncSession, user_factory, settings: Settings
    ) -> None:
        user = await user_factory()
        first = await account_service.start_web_session(session, user, IP, None, settings=settings)
        second = await account_service.start_web_session(session, user, IP, None, settings=settings)
        assert first != second
        await account_service.end_web_session(session, first)
        hashes = (
            await session.scalars(select(WebSession.token_hash).where(WebSession.user_id == user.id))
        ).all()
        assert hashes == [hash_secret(second)]

    async def test_expired_sessions_are_pruned_on_the_next_login(
        self, session: AsyncSession, user_factory, settings: Settings
    ) -> None:
        user = await user_factory()
        await account_service.start_web_session(session, user, IP, None, settings=settings)
        clock.advance(timedelta(days=settings.session_days, seconds=1))
        await account_service.start_web_session(session, user, IP, None, settings=settings)
        assert await session_count(session, user.id) == 1


class TestProfileAndPassword:
    async def test_update_profile_changes_only_the_fields_sent(
        self, session: AsyncSession, user_factory
    ) -> None:
        user = await user_factory(display_name="Old", phone="+1 555 0100")
        updated = await account_service.update_profile(
            session, actor_of(user), ProfileUpdate.model_validate({"display_name": "New", "country": "de"})
        )
        assert (updated.display_name, updated.country, updated.phone) == ("New", "DE", "+1 555 0100")
        cleared = await account_service.update_profile(
            session, actor_of(user), ProfileUpdate.model_validate({"phone": ""})
        )
        assert cleared.phone is None and cleared.country == "DE"

    def test_profile_rules(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ProfileUpdate.model_validate({"display_name": None, "country": "XX", "phone": "call me"})
        fields = pydantic_fields(caught.value.errors())
        assert set(fields) == {"display_name", "country", "phone"}
        assert "ISO 3166" in fields["country"]
        # Babel knows EU and XK but they are not ISO 3166-1 country codes
        for code in ("EU", "XK", "ZZ"):
            with pytest.raises(ValidationError):
                ProfileUpdate.model_validate({"country": code})

    async def test_read_only_token_cannot_update(self, session: AsyncSession, user_factory) -> None:
        user = await user_factory()
        with pytest.raises(Forbidden) as caught:
            await account_service.update_profile(session, read_only(user), ProfileUpdate(display_name="X"))
        assert caught.value.code == "token_read_only"

    async def test_change_password_ends_other_sessions(
        self, session: AsyncSession, user_factory, settings: Settings
    ) -> None:
        user = await user_factory()
        await account_service.start_web_session(session, user, IP, None, settings=settings)
        keep = await account_service.start_web_session(session, user, IP, None, settings=settings)
        keep_id = await session.scalar(
            select(WebSession.id).where(WebSession.token_hash == hash_secret(keep))
        )
        await account_service.change_password(
            session,
            actor_of(user),
            PASSWORD,
            "a brand new password",
            settings=settings,
            keep_session_id=keep_id,
        )
        assert verify_password(user.password_hash, "a brand new password")
        ids = (await session.scalars(select(WebSession.id).where(WebSession.user_id == user.id))).all()
        assert ids == [keep_id]

    async def test_wrong_current_password_counts_as_failed_login(
        self, session: AsyncSession, user_factory, settings: Settings
    ) -> None:
        user = await user_factory(email="pw@example.com")
        with pytest.raises(Invalid) as caught:
            await account_service.change_password(
                session, actor_of(user), "not it", "a brand new password", settings=settings
            )
        assert caught.value.code == "wrong_password"
        assert set(caught.value.fields) == {"current_password"}
        assert await failure_count(session, "pw@example.com") == 1
        assert verify_password(user.password_hash, PASSWORD)

    async def test_new_password_rules(self, session: AsyncSession, user_factory, settings: Settings) -> None:
        user = await user_factory()
        with pytest.raises(Invalid) as short:
            await account_service.change_password(
                session, actor_of(user), PASSWORD, "short", settings=settings
            )
        assert set(short.value.fields) == {"new_password"}
        with pytest.raises(Invalid) as same:
            await account_service.change_password(
                session, actor_of(user), PASSWORD, PASSWORD, settings=settings
            )
        assert same.value.fields == {"new_password": "must differ from the current password"}


class TestTokens:
    async def test_create_stores_the_hash_not_the_token(self, session: AsyncSession, user_factory) -> None:
        user = await user_factory()
        token, raw = await account_service.create_token(session, actor_of(user), " CI deploy ", "read")
        assert raw.startswith(API_TOKEN_PREFIX) and len(raw) > 40
        stored = await session.get(ApiToken, token.id)
        assert stored is not None
        assert stored.token_hash == hash_secret(raw) and raw not in (stored.token_hash, stored.prefix)
        assert stored.prefix == raw[:9] and stored.name == "CI deploy" and stored.scopes == "read"
        assert stored.user_id == user.id and stored.revoked_at is None

    async def test_bad_scopes_and_empty_name(self, session: AsyncSession, user_factory) -> None:
        user = await user_factory()
        with pytest.raises(Invalid) as caught:
            await account_service.create_token(session, actor_of(user), "", "admin")
        assert set(caught.value.fields) == {"name", "scopes"}

    async def test_read_only_token_cannot_make_tokens(self, session: AsyncSession, user_factory) -> None:
        user = await user_factory()
        with pytest.raises(Forbidden) as caught:
            await account_service.create_token(session, read_only(user), "escalate", "read write")
        assert caught.value.code == "token_read_only"

    async def test_revoke_and_list(self, session: AsyncSession, user_factory) -> None:
        user = await user_factory()
        keep, _ = await account_service.create_token(session, actor_of(user), "keep")
        drop, _ = await account_service.create_token(session, actor_of(user), "drop")
        revoked = await account_service.revoke_token(session, actor_of(user), drop.id)
        assert revoked.revoked_at is not None
        tokens, next_cursor = await account_service.list_tokens(session, actor_of(user))
        assert [t.id for t in tokens] == [keep.id] and next_cursor is None
        with pytest.raises(NotFound):
            await account_service.revoke_token(session, actor_of(user), drop.id)

    async def test_cannot_revoke_another_users_token(self, session: AsyncSession, user_factory) -> None:
        owner, other = await user_factory(), await user_factory()
        token, _ = await account_service.create_token(session, actor_of(owner), "mine")
        with pytest.raises(NotFound) as caught:
            await account_service.revoke_token(session, actor_of(other), token.id)
        assert caught.value.code == "token_not_found" and caught.value.status_code == 404
        assert (await session.get(ApiToken, token.id)).revoked_at is None  # type: ignore[union-attr]
