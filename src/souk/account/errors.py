"""Account errors, each with a stable code."""

from __future__ import annotations

from souk.errors import Conflict, Invalid, NotFound, SoukError, TooManyRequests


class EmailTaken(Conflict):
    code = "email_taken"


class LoginRateLimited(TooManyRequests):
    code = "login_rate_limited"


class WrongPassword(Invalid):
    """The current password given to confirm a change is wrong (the edge keeps the failure record)."""

    code = "wrong_password"


class TokenNotFound(NotFound):
    code = "token_not_found"


class ResetRateLimited(TooManyRequests):
    code = "password_reset_rate_limited"


class ResetTokenInvalid(Invalid):
    """The reset link is unknown, already used, superseded by a newer one, or expired (one answer for all)."""

    code = "reset_token_invalid"


class LimitStoreUnavailable(SoukError):
    """The store of the login limits (Redis) cannot be reached: refuse rather than let logins go unlimited."""

    status = 503
    code = "login_unavailable"
