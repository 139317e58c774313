"""Shared Pydantic pieces."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints


def _strict_int(value: Any) -> Any:
    # JSON ints only: refuse booleans; strings are accepted only from HTML forms (see FormModel).
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    return value


StrictInt = Annotated[int, BeforeValidator(_strict_int)]
Str = Annotated[str, StringConstraints(strip_whitespace=True)]


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)


class ReadSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def pydantic_fields(errors: list[Any]) -> dict[str, str]:
    """Map a Pydantic ValidationError's ``errors()`` to {field: message}."""
    fields: dict[str, str] = {}
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form")]
        name = ".".join(loc) or "body"
        msg = str(err.get("msg", "is invalid"))
        msg = msg.removeprefix("Value error, ")
        fields.setdefault(name, msg)
    return fields


# Row ids are 32-bit integers on PostgreSQL (SERIAL); larger numbers in a path are refused with a 422 naming the
# parameter instead of reaching the database driver (which would fail with an overflow).
MAX_ID = 2**31 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
