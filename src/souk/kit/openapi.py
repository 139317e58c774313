"""What the OpenAPI document declares for every JSON route: the error body every 4xx carries.

Every API router is created with ``APIRouter(responses=ERROR_RESPONSES)``, so each operation documents that a
client error answers ``{"error": code, "message": text, "fields": {field: problem}}`` (FastAPI's own 422
``detail`` schema is never what the API returns: the app's handlers render every error this way).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """A client error: a stable code, a message for people, and the problem of each field concerned."""

    error: str = Field(description="a stable snake_case code, e.g. not_found, invalid, insufficient_stock")
    message: str
    fields: dict[str, str] = Field(description="each field concerned and its problem; empty when none is")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "model": ErrorBody,
        "description": "Client error: the body names the code and the fields concerned",
    }
}

__all__ = ["ERROR_RESPONSES", "ErrorBody"]
