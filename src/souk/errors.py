"""One error family for the whole application.

Every rule violation is a ``SoukError`` with a stable ``code``; the API renders it as
``{"error": code, "message": ..., "fields": {...}}`` and the web re-renders a form or shows an error page.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SoukError(Exception):
    status: ClassVar[int] = 400
    code: str = "error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.fields = fields or {}
        if status is not None:
            self.status_code = status
        else:
            self.status_code = self.status

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "fields": self.fields}


class Invalid(SoukError):
    """Input breaks a rule (HTTP 422). ``fields`` maps each field to its problem."""

    status = 422
    code = "invalid"


class NotFound(SoukError):
    status = 404
    code = "not_found"


class Unauthenticated(SoukError):
    status = 401
    code = "unauthenticated"


class Forbidden(SoukError):
    status = 403
    code = "forbidden"


class Conflict(SoukError):
    status = 409
    code = "conflict"


class TooManyRequests(SoukError):
    status = 429
    code = "too_many_requests"


class PayloadTooLarge(SoukError):
    status = 413
    code = "payload_too_large"


def invalid_field(field: str, problem: str, *, code: str = "invalid") -> Invalid:
    """A one-field validation error: ``invalid_field("price", "must be positive")``."""
    return Invalid(f"{field}: {problem}", code=code, fields={field: problem})
