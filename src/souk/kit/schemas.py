"""Shared Pydantic pieces."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, field_validator


def _strict_int(value: Any) -> Any:
    # JSON ints only: refuse booleans; strings are accepted only from HTML forms (see FormModel).
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    return value


def _strict_bool(value: Any) -> Any:
    # JSON booleans only: refuse numbers (0 and 1 are not booleans); strings are accepted only from HTML forms.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


StrictInt = Annotated[int, BeforeValidator(_strict_int)]
StrictBool = Annotated[bool, BeforeValidator(_strict_bool)]
Str = Annotated[str, StringConstraints(strip_whitespace=True)]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold U+0000 (the driver fails on it): refuse it in every input field
        if _has_nul(value):
            raise ValueError("must not contain NUL characters (U+0000)")
        return value


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
