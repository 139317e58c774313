"""Account errors, each with a stable code."""

from __future__ import annotations

from souk.errors import Conflict, Invalid, NotFound, TooManyRequests


class EmailTaken(Conflict):
    code = "email_taken"


class LoginRateLimited(TooManyRequests):
    code = "login_rate_limited"


class WrongPassword(Invalid):
    """The current password given to confirm a change is wrong (the edge keeps the failure record)."""

    code = "wrong_password"


class TokenNotFound(NotFound):
    code = "token_not_found"
