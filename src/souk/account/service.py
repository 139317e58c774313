"""Accounts: who the caller is. Registration, login with its rate limit, web sessions, profile, password,
API tokens. The API and the pages call these same methods.

Settings that shape the rules (rate-limit numbers, session length) are passed in by the edge
(``request.app.state.settings``), never read from the environment here.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.account.errors import EmailTaken, LoginRateLimited, TokenNotFound, WrongPassword
from souk.account.limits import LimitStore, limit_store
from souk.account.repository import AccountRepository
from souk.account.schemas import (
    EMAIL_MAX,
    LoginPayload,
    Password,
    PasswordChange,
    ProfileUpdate,
    TokenCreate,
    TokenLogin,
    UserCreate,
)
from souk.auth.actor import Actor
from souk.auth.passwords import dummy_verify, hash_password, hasher, verify_password
from souk.auth.tokens import hash_secret, new_api_token, new_secret
from souk.authz import require_user, require_writer
from souk.config import Settings
from souk.errors import (
    Invalid,
    Unauthenticated,
    invalid_field,
)
from souk.kit.clock import utcnow
from souk.kit.pagination import clamp_limit, decode_cursor, encode_cursor
from souk.kit.schemas import pydantic_fields
from souk.models import ApiToken, User, WebSession

M = TypeVar("M", bound=BaseModel)

TOKEN_PREFIX_LENGTH = 9
_PASSWORD: TypeAdapter[str] = TypeAdapter(Password)


def _validated(model: type[M], data: dict[str, Any]) -> M:
    """``model`` built from plain arguments (CLI, other services); bad input is an ``Invalid`` with fields."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = pydantic_fields(list(exc.errors()))
        raise Invalid("; ".join(f"{k}: {v}" for k, v in fields.items()), fields=fields) from exc


def _checked_password(password: str) -> str:
    try:
        return _PASSWORD.validate_python(password)
    except ValidationError as exc:
        raise invalid_field("password", str(exc.errors()[0]["msg"])) from exc


async def _hash(password: str) -> str:
    # argon2 costs real CPU time: keep it off the event loop
    return await asyncio.to_thread(hash_password, password)


async def _verify(password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash, password)


class AccountService:
    # --- registration -------------------------------------------------------------------------------

    async def register(self, session: AsyncSession, payload: UserCreate) -> User:
        return await self._create(session, payload, is_operator=False)

    async def create_user(
        self, session: AsyncSession, email: str, password: str, display_name: str, is_operator: bool = False
    ) -> User:
        payload = _validated(UserCreate, {"email": email, "password": password, "display_name": display_name})
        return await self._create(session, payload, is_operator=is_operator)

    async def make_operator(self, session: AsyncSession, email: str, password: str | None = None) -> User:
        """Create a platform operator, or promote the existing account (and set its password when given)."""
        repo = AccountRepository(session)
        user = await repo.user_by_email(email.strip().lower())
        if user is None:
            if password is None:
                raise invalid_field("password", "is needed to create a new account")
            display_name = email.strip().split("@", 1)[0][:80] or "Operator"
            return await self.create_user(session, email, password, display_name, is_operator=True)
        user.is_operator = True
        if password is not None:
            user.password_hash = await _hash(_checked_password(password))
            await repo.delete_reset_tokens_of(user.id)
        await session.flush()
        return user

    async def _create(self, session: AsyncSession, payload: UserCreate, *, is_operator: bool) -> User:
        repo = AccountRepository(session)
        if await repo.user_by_email(payload.email) is not None:
            raise self._email_taken()
        user = User(
            email=payload.email,
            password_hash=await _hash(payload.password),
            display_name=payload.display_name,
            is_operator=is_operator,
        )
        try:
            return await repo.add_user(user)
        except IntegrityError as exc:  # registered by a concurrent request since the check above
            raise self._email_taken() from exc

    @staticmethod
    def _email_taken() -> EmailTaken:
        return EmailTaken(
            "An account with this email already exists. Log in instead.",
            fields={"email": "is already registered"},
        )

    # --- login --------------------------------------------------------------------------------------

    async def _check_rate_limit(self, store: LimitStore, email: str, ip: str, settings: Settings) -> None:
        since = utcnow() - timedelta(seconds=settings.login_failure_window_seconds)
        by_account, by_ip = await store.counts("login", email, ip, since)
        if (
            by_account >= settings.login_max_failures_per_account
            or by_ip >= settings.login_max_failures_per_ip
        ):
            minutes = max(1, -(-settings.login_failure_window_seconds // 60))
            raise LoginRateLimited(f"Too many failed login attempts. Wait {minutes} minutes and try again.")

    async def authenticate(
        self, session: AsyncSession, email: str, password: str, ip: str, *, settings: Settings
    ) -> User | None:
        """The user with this email and password, or None (a failure row is then written: the caller
        commits it before answering). Raises ``login_rate_limited`` (429) before checking the password
        when this account or this IP failed too often within the window."""
        repo = AccountRepository(session)
        store = limit_store(session, settings)
        email = email.strip().lower()[:EMAIL_MAX]
        ip = ip[:45]
        await self._check_rate_limit(store, email, ip, settings)
        user = await repo.user_by_email(email)
        if user is None:
            await asyncio.to_thread(dummy_verify, password)
            ok = False
        else:
            ok = await _verify(user.password_hash, password) and user.is_active
        if user is None or not ok:
            await store.add("login", email, ip, utcnow())
            return None
        await store.clear("login", email)
        if hasher().check_needs_rehash(user.password_hash):
            user.password_hash = await _hash(password)
        await session.flush()
        return user

    async def start_web_session(
        self, session: AsyncSession, user: User, ip: str, user_agent: str | None, *, settings: Settings
    ) -> str:
        """A new web session for ``user``; returns the raw token for the cookie (only its hash is stored)."""
        repo = AccountRepository(session)
        now = utcnow()
        await repo.delete_expired_web_sessions_of(user.id, now)
        raw = new_secret()
        await repo.add_web_session(
            WebSession(
                token_hash=hash_secret(raw),
                user_id=user.id,
                created_at=now,
                expires_at=now + timedelta(days=settings.session_days),
                ip=ip[:45],
                user_agent=(user_agent or "")[:255] or None,
            )
        )
        return raw

    async def end_web_session(self, session: AsyncSession, raw_token: str) -> None:
        await AccountRepository(session).delete_web_session(hash_secret(raw_token))

    async def log_in(
        self,
        session: AsyncSession,
        payload: LoginPayload,
        ip: str,
        user_agent: str | None,
        *,
        settings: Settings,
        previous_token: str | None = None,
    ) -> tuple[User, str] | None:
        """Web login: (user, raw session token) with a fresh session (the previous one, if any, is ended),
        or None for a wrong email or password (commit the failure record before answering)."""
        user = await self.authenticate(session, payload.email, payload.password, ip, settings=settings)
        if user is None:
            return None
        if previous_token:
            await self.end_web_session(session, previous_token)
        return user, await self.start_web_session(session, user, ip, user_agent, settings=settings)

    async def token_login(
        self, session: AsyncSession, payload: TokenLogin, ip: str, *, settings: Settings
    ) -> tuple[ApiToken, str] | None:
        """API client login: a new API token (and its raw value, shown once), or None for a wrong email or
        password (commit the failure record before answering)."""
        user = await self.authenticate(session, payload.email, payload.password, ip, settings=settings)
        if user is None:
            return None
        return await self._new_token(session, user.id, payload.name, payload.scopes)

    # --- profile and password -----------------------------------------------------------------------

    async def me(self, session: AsyncSession, actor: Actor) -> User:
        user = await AccountRepository(session).user_by_id(require_user(actor))
        if user is None or not user.is_active:
            raise Unauthenticated("Log in to continue.")
        return user

    async def update_profile(self, session: AsyncSession, actor: Actor, payload: ProfileUpdate) -> User:
        require_writer(actor)
        user = await self.me(session, actor)
        for name in payload.model_fields_set:
            setattr(user, name, getattr(payload, name))
        await session.flush()
        return user

    async def change_password(
        self,
        session: AsyncSession,
        actor: Actor,
        current: str,
        new: str,
        *,
        settings: Settings,
        keep_session_id: int | None = None,
    ) -> User:
        """Set a new password after checking the current one, then end the user's other web sessions
        (all of them but ``keep_session_id``). A wrong current password counts as a failed login:
        it raises ``wrong_password`` after writing the failure row, which the edge commits."""
        require_writer(actor)
        payload = _validated(PasswordChange, {"current_password": current, "new_password": new})
        user = await self.me(session, actor)
        repo = AccountRepository(session)
        store = limit_store(session, settings)
        await self._check_rate_limit(store, user.email, actor.ip[:45], settings)
        if not await _verify(user.password_hash, payload.current_password):
            await store.add("login", user.email, actor.ip[:45], utcnow())
            raise WrongPassword(
                "The current password is wrong.", fields={"current_password": "is not your current password"}
            )
        if payload.new_password == payload.current_password:
            raise invalid_field("new_password", "must differ from the current password")
        user.password_hash = await _hash(payload.new_password)
        await repo.delete_web_sessions_of(user.id, keep_id=keep_session_id)
        await repo.delete_reset_tokens_of(user.id)  # a reset link sent earlier no longer works
        await session.flush()
        return user

    # --- API tokens ---------------------------------------------------------------------------------

    async def create_token(
        self, session: AsyncSession, actor: Actor, name: str, scopes: str = "read write"
    ) -> tuple[ApiToken, str]:
        """A new API token of the actor and its raw value (shown once; only the hash is stored)."""
        user_id = require_writer(actor)
        payload = _validated(TokenCreate, {"name": name, "scopes": scopes})
        return await self._new_token(session, user_id, payload.name, payload.scopes)

    async def _new_token(
        self, session: AsyncSession, user_id: int, name: str, scopes: str
    ) -> tuple[ApiToken, str]:
        raw = new_api_token()
        token = await AccountRepository(session).add_token(
            ApiToken(
                user_id=user_id,
                name=name,
                token_hash=hash_secret(raw),
                prefix=raw[:TOKEN_PREFIX_LENGTH],
                scopes=scopes,
                created_at=utcnow(),
            )
        )
        return token, raw

    async def list_tokens(
        self, session: AsyncSession, actor: Actor, *, limit: int | None = None, cursor: str | None = None
    ) -> tuple[list[ApiToken], str | None]:
        """The actor's active tokens, newest first, and the cursor of the next page (None at the end)."""
        user_id = require_user(actor)
        size = clamp_limit(limit)
        before_id: int | None = None
        position = decode_cursor(cursor)
        if position is not None:
            if len(position) != 1 or not isinstance(position[0], int) or isinstance(position[0], bool):
                raise invalid_field("cursor", "is not a cursor this API issued")
            before_id = position[0]
        rows = list(
            await AccountRepository(session).active_tokens_of(user_id, before_id=before_id, limit=size + 1)
        )
        next_cursor = encode_cursor([rows[size - 1].id]) if len(rows) > size else None
        return rows[:size], next_cursor

    async def revoke_token(self, session: AsyncSession, actor: Actor, token_id: int) -> ApiToken:
        user_id = require_writer(actor)
        token = await AccountRepository(session).active_token_of(user_id, token_id)
        if token is None:
            raise TokenNotFound("No such API token.")
        token.revoked_at = utcnow()
        await session.flush()
        return token


account_service = AccountService()
