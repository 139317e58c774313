"""All SQL for accounts: users, web sessions, API tokens, failed logins. No rules, no commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from souk.models import ApiToken, LoginFailure, PasswordResetRequest, PasswordResetToken, User, WebSession

CountedEvent = type[LoginFailure] | type[PasswordResetRequest]


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- users --------------------------------------------------------------------------------------

    async def user_by_email(self, email: str) -> User | None:
        user: User | None = await self.session.scalar(select(User).where(User.email == email))
        return user

    async def user_by_id(self, user_id: int) -> User | None:
        user: User | None = await self.session.scalar(select(User).where(User.id == user_id))
        return user

    async def add_user(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        return user

    # --- counted events: failed logins, password reset requests -------------------------------------

    async def count_events(self, model: CountedEvent, column: str, value: str, since: datetime) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(model)
            .where(getattr(model, column) == value, model.created_at >= since)
        )
        return int(count or 0)

    async def add_event(self, model: CountedEvent, email: str, ip: str, at: datetime) -> None:
        self.session.add(model(email=email, ip=ip, created_at=at))
        await self.session.flush()

    async def clear_events(self, model: CountedEvent, email: str) -> None:
        await self.session.execute(delete(model).where(model.email == email))

    # --- password reset tokens ----------------------------------------------------------------------

    async def add_reset_token(self, token: PasswordResetToken) -> PasswordResetToken:
        self.session.add(token)
        await self.session.flush()
        return token

    async def delete_reset_tokens_of(self, user_id: int) -> None:
        await self.session.execute(delete(PasswordResetToken).where(PasswordResetToken.user_id == user_id))

    async def live_reset_token(self, token_hash: str, now: datetime) -> PasswordResetToken | None:
        token: PasswordResetToken | None = await self.session.scalar(
            select(PasswordResetToken).where(
                PasswordResetToken.token_hash == token_hash,
                PasswordResetToken.used_at.is_(None),
                PasswordResetToken.expires_at > now,
            )
        )
        return token

    async def use_reset_token(self, token_id: int, now: datetime) -> bool:
        """Mark the token used if it still is usable (one winner when two requests race)."""
        result = await self.session.execute(
            update(PasswordResetToken)
            .where(
                PasswordResetToken.id == token_id,
                PasswordResetToken.used_at.is_(None),
                PasswordResetToken.expires_at > now,
            )
            .values(used_at=now),
            execution_options={"synchronize_session": False},
        )
        return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]

    async def revoke_tokens_of(self, user_id: int, now: datetime) -> None:
        await self.session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now),
            execution_options={"synchronize_session": False},
        )

    # --- web sessions -------------------------------------------------------------------------------

    async def add_web_session(self, web_session: WebSession) -> WebSession:
        self.session.add(web_session)
        await self.session.flush()
        return web_session

    async def delete_web_session(self, token_hash: str) -> int:
        result = await self.session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def delete_web_sessions_of(self, user_id: int, *, keep_id: int | None = None) -> int:
        statement = delete(WebSession).where(WebSession.user_id == user_id)
        if keep_id is not None:
            statement = statement.where(WebSession.id != keep_id)
        result = await self.session.execute(statement)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def delete_expired_web_sessions_of(self, user_id: int, now: datetime) -> int:
        result = await self.session.execute(
            delete(WebSession).where(WebSession.user_id == user_id, WebSession.expires_at <= now)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # --- API tokens (always scoped to their owner) --------------------------------------------------

    async def add_token(self, token: ApiToken) -> ApiToken:
        self.session.add(token)
        await self.session.flush()
        return token

    async def active_tokens_of(
        self, user_id: int, *, before_id: int | None, limit: int
    ) -> Sequence[ApiToken]:
        statement = select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        if before_id is not None:
            statement = statement.where(ApiToken.id < before_id)
        return (await self.session.scalars(statement.order_by(ApiToken.id.desc()).limit(limit))).all()

    async def active_token_of(self, user_id: int, token_id: int) -> ApiToken | None:
        token: ApiToken | None = await self.session.scalar(
            select(ApiToken).where(
                ApiToken.id == token_id, ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None)
            )
        )
        return token
