"""Shared Pydantic pieces."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from annotated_types import GroupedMetadata
from fastapi import Path, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticKnownError

from souk.kit.pagination import MAX_LIMIT


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


STRICT_INT = BeforeValidator(_strict_int)
"""The strict-integer check as Annotated metadata. Put it AFTER the constraints: in
``Annotated[int, Field(ge=1, le=5), STRICT_INT]`` the JSON schema shows ``minimum``/``maximum``; constraints placed
after a BeforeValidator (``Annotated[StrictInt, Field(ge=1)]`` or ``x: StrictInt = Field(ge=1)``) still validate
but leak the invalid keywords ``ge``/``le`` into the OpenAPI document, so clients and fuzzers see no bound."""
StrictInt = Annotated[int, STRICT_INT]
"""An unbounded strict integer: only for values with no natural bound; prefer the bounded aliases below."""
StrictBool = Annotated[bool, BeforeValidator(_strict_bool)]
Str = Annotated[str, StringConstraints(strip_whitespace=True)]


def check_raw_length(value: Any, max_length: int) -> Any:
    """Refuse a string longer than ``max_length`` as it was sent, before any whitespace is stripped: the
    documented ``maxLength`` is about what the client sends. The error is pydantic's own ``string_too_long``,
    so it reads like every other length error."""
    if isinstance(value, str) and len(value) > max_length:
        raise PydanticKnownError("string_too_long", {"max_length": max_length})
    return value


def raw_max_length(max_length: int) -> BeforeValidator:
    """:func:`check_raw_length` as Annotated metadata; put it LAST so that it runs first."""

    def raw_length(value: Any) -> Any:
        return check_raw_length(value, max_length)

    return BeforeValidator(raw_length)


@dataclass(frozen=True)
class Trimmed(GroupedMetadata):
    """A text field whose surrounding whitespace is stripped: ``Annotated[str, Trimmed(200, min_length=1)]``
    (``| None`` for an optional one).

    ``StringConstraints(strip_whitespace=True, max_length=...)`` strips first and checks the length after, so
    it accepted a value longer than the ``maxLength`` of the OpenAPI document when it had spaces around it.
    Here the raw value is checked against ``max_length`` first; then the value is stripped (and upper-cased
    with ``to_upper``), and ``min_length`` and ``pattern`` apply to the stripped value (spaces only are empty).
    The JSON schema keeps ``maxLength``/``minLength``/``pattern``. A validator of the field's own that should
    see the raw value (e.g. one that folds inner spaces) goes BEFORE ``Trimmed`` in the ``Annotated``."""

    max_length: int
    min_length: int = 0
    pattern: str | None = None
    to_upper: bool = False

    def __iter__(self) -> Iterator[object]:
        yield from StringConstraints(
            strip_whitespace=True,
            to_upper=self.to_upper or None,
            min_length=self.min_length or None,
            max_length=self.max_length,
            pattern=self.pattern,
        )
        yield raw_max_length(self.max_length)  # the outermost validator: it sees the value as sent


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
IdQuery = Annotated[int, Query(ge=1, le=MAX_ID)]
OptionalIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
LimitQuery = Annotated[
    int | None, Query(ge=1, le=MAX_LIMIT, description=f"page size, 1 to {MAX_LIMIT} (default 20)")
]
StrictId = Annotated[int, Field(ge=1, le=MAX_ID), STRICT_INT]
"""A row id in a JSON body (or a form)."""

# Money amounts in minor units: far inside a BigInteger even when multiplied by a quantity. Modules with their own
# bound (catalog MAX_PRICE_AMOUNT, negotiation MAX_AMOUNT) use theirs.
MAX_AMOUNT = 10**15
Amount = Annotated[int, Field(ge=1, le=MAX_AMOUNT, description="minor units"), STRICT_INT]
BasisPoints = Annotated[int, Field(ge=0, le=10_000, description="basis points (3000 = 30 %)"), STRICT_INT]
