"""Password reset by email (ADR 0003 "Password reset").

- ``request_reset``: the same answer whether or not the email has an account (the edge says "if an account
  exists, we sent a link"). Every request counts against a limit per email and per IP address (429, for
  unknown emails too, so the limit reveals nothing). For an active account: the user's earlier reset tokens are
  deleted, a new one is made (32 random bytes; only its SHA-256 is stored; it expires after
  ``password_reset_minutes``) and an email with the link ``<base_url>/account/reset/<token>`` is queued in the
  same transaction (``souk.mail``). The raw token exists only in that email and is never logged.
- ``reset_password``: the token is marked used with a conditional UPDATE (one winner if the link is submitted
  twice at once), the new password is set (argon2id), and then: every reset token of the user is deleted, every
  web session ends and every API token is revoked (a reset is how an account is taken back from whoever knew
  the old password), and the account's failed-login count is cleared. The person then logs in with the new
  password. A password change (``AccountService.change_password``) also deletes the reset tokens.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from souk.account.errors import ResetRateLimited, ResetTokenInvalid
from souk.account.limits import limit_store
from souk.account.repository import AccountRepository
from souk.account.schemas import EMAIL_MAX
from souk.account.service import _checked_password, _hash
from souk.auth.tokens import hash_secret, new_secret
from souk.config import Settings
from souk.errors import Invalid, invalid_field
from souk.kit.clock import utcnow
from souk.mail.service import queue_email
from souk.models import PasswordResetToken, User

RESET_PATH = "/account/reset/"
REQUEST_WINDOW = timedelta(hours=1)


def reset_link(settings: Settings, raw: str) -> str:
    return f"{settings.base_url.rstrip('/')}{RESET_PATH}{raw}"


def _email_body(settings: Settings, user: User, link: str) -> str:
    return (
        f"Hello {user.display_name},\n\n"
        f"someone (hopefully you) asked to reset the password of your {settings.site_name} account.\n"
        f"Open this link to choose a new password. It works once, for {settings.password_reset_minutes} "
        "minutes:\n\n"
        f"{link}\n\n"
        "If you did not ask for this, ignore this email: your password stays as it is.\n"
    )


def _invalid() -> ResetTokenInvalid:
    return ResetTokenInvalid(
        "This password reset link is invalid, was already used, or has expired. Ask for a new one.",
        fields={"token": "is invalid, used or expired"},
    )


class PasswordResetService:
    async def request_reset(self, session: AsyncSession, email: str, ip: str, *, settings: Settings) -> None:
        """Queue a reset email when ``email`` belongs to an active account; otherwise do nothing visible.
        Raises ``password_reset_rate_limited`` (429) when this email or this IP asked too often this hour."""
        email = email.strip().lower()[:EMAIL_MAX]
        ip = ip[:45]
        now = utcnow()
        store = limit_store(session, settings)
        by_email, by_ip = await store.counts("reset", email, ip, now - REQUEST_WINDOW)
        if (
            by_email >= settings.password_reset_max_per_hour
            or by_ip >= settings.password_reset_max_per_ip_hour
        ):
            raise ResetRateLimited("Too many password reset requests. Wait an hour and try again.")
        await store.add("reset", email, ip, now)
        repo = AccountRepository(session)
        user = await repo.user_by_email(email)
        if user is None or not user.is_active:
            return
        await repo.delete_reset_tokens_of(user.id)  # only the newest link works
        raw = new_secret(32)
        await repo.add_reset_token(
            PasswordResetToken(
                user_id=user.id,
                token_hash=hash_secret(raw),
                created_at=now,
                expires_at=now + timedelta(minutes=settings.password_reset_minutes),
            )
        )
        await queue_email(
            session,
            user.email,
            f"Reset your {settings.site_name} password",
            _email_body(settings, user, reset_link(settings, raw)),
            sensitive=True,
        )

    async def token_is_usable(self, session: AsyncSession, raw: str) -> bool:
        """Does ``raw`` open the "choose a new password" form (known, unused, not expired)?"""
        if not raw or len(raw) > 100:
            return False
        return await AccountRepository(session).live_reset_token(hash_secret(raw), utcnow()) is not None

    async def reset_password(
        self, session: AsyncSession, raw: str, new_password: str, *, settings: Settings
    ) -> User:
        """Use the token once to set ``new_password``; ends every web session and revokes every API token of
        the user. ``reset_token_invalid`` (422) for an unknown, used, superseded or expired token."""
        try:
            password = _checked_password(new_password)
        except Invalid as exc:
            raise invalid_field("new_password", exc.fields.get("password", exc.message)) from exc
        repo = AccountRepository(session)
        now = utcnow()
        token = await repo.live_reset_token(hash_secret(raw), now) if raw and len(raw) <= 100 else None
        if token is None or not await repo.use_reset_token(token.id, now):
            raise _invalid()
        user = await repo.user_by_id(token.user_id)
        if user is None or not user.is_active:
            raise _invalid()
        user.password_hash = await _hash(password)
        await repo.delete_reset_tokens_of(user.id)
        await repo.delete_web_sessions_of(user.id)
        await repo.revoke_tokens_of(user.id, now)
        await limit_store(session, settings).clear("login", user.email)
        await session.flush()
        return user


password_reset_service = PasswordResetService()
