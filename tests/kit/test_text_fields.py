"""Trimmed text fields: the documented maxLength is the length of what the client sends.

``StringConstraints(strip_whitespace=True, max_length=N)`` strips first and checks the length after, so N + 1
characters with a space around them were accepted although the OpenAPI document says ``maxLength: N``.
"""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import BeforeValidator, Field, TypeAdapter, ValidationError

from souk.kit.schemas import Schema, Trimmed, check_raw_length, pydantic_fields

Title = Annotated[str, Trimmed(10, min_length=1)]
Note = Annotated[str, Trimmed(10)]
Code = Annotated[str, Trimmed(6, min_length=3, pattern=r"^[A-Z][A-Za-z]*$", to_upper=True)]


class Payload(Schema):
    title: Title
    note: Note = ""
    subtitle: Title | None = None


def _errors(adapter: TypeAdapter[Any], value: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        adapter.validate_python(value)
    return [(e["type"], e["msg"]) for e in caught.value.errors()]


TOO_LONG = [("string_too_long", "String should have at most 10 characters")]


@pytest.mark.parametrize(
    "value",
    ["a" * 10 + " ", " " + "a" * 10, "\u000b" + "a" * 10, "a" * 10 + "\n", "  abc  defg  ", "a" * 11],
    ids=repr,
)
def test_the_raw_value_longer_than_max_length_is_refused_even_when_it_fits_once_stripped(value: str) -> None:
    for alias in (Title, Note, Title | None):
        assert _errors(TypeAdapter(alias), value) == TOO_LONG


@pytest.mark.parametrize(
    ("value", "stored"),
    [("a" * 10, "a" * 10), (" " + "a" * 8 + " ", "a" * 8), ("\tab c\n", "ab c"), ("é" * 10, "é" * 10)],
    ids=repr,
)
def test_up_to_max_length_as_sent_is_accepted_and_stripped(value: str, stored: str) -> None:
    assert TypeAdapter(Title).validate_python(value) == stored
    assert TypeAdapter(Note).validate_python(value) == stored


@pytest.mark.parametrize("value", ["", " ", "   \t\n "], ids=repr)
def test_min_length_applies_after_stripping(value: str) -> None:
    assert _errors(TypeAdapter(Title), value) == [
        ("string_too_short", "String should have at least 1 character")
    ]
    assert TypeAdapter(Note).validate_python(value) == ""  # no minimum: spaces only is the empty text


def test_pattern_and_upper_case_apply_to_the_stripped_value() -> None:
    code = TypeAdapter(Code)
    assert code.validate_python(" ABC ") == "ABC"
    assert code.validate_python("AbC") == "ABC"  # the pattern sees the stripped value before upper-casing
    assert [t for t, _ in _errors(code, " abc ")] == ["string_pattern_mismatch"]
    assert _errors(code, " ABCDEF") == [("string_too_long", "String should have at most 6 characters")]
    assert [t for t, _ in _errors(code, " AB ")] == ["string_too_short"]


def test_optional_variant_accepts_null() -> None:
    assert TypeAdapter(Title | None).validate_python(None) is None
    assert Payload(title=" x ").subtitle is None
    assert Payload(title=" x ", subtitle=" y ").subtitle == "y"


def test_the_json_schema_keeps_the_bounds() -> None:
    assert TypeAdapter(Title).json_schema() == {"type": "string", "minLength": 1, "maxLength": 10}
    assert TypeAdapter(Note).json_schema() == {"type": "string", "maxLength": 10}
    assert TypeAdapter(Code).json_schema() == {
        "type": "string",
        "minLength": 3,
        "maxLength": 6,
        "pattern": "^[A-Z][A-Za-z]*$",
    }
    properties = Payload.model_json_schema()["properties"]
    assert properties["title"] == {"type": "string", "minLength": 1, "maxLength": 10, "title": "Title"}
    assert properties["subtitle"]["anyOf"] == [
        {"type": "string", "minLength": 1, "maxLength": 10},
        {"type": "null"},
    ]


def test_the_error_names_the_field_like_any_length_error() -> None:
    with pytest.raises(ValidationError) as caught:
        Payload.model_validate({"title": "a" * 10 + " ", "note": " " * 11, "subtitle": "   "})
    assert pydantic_fields(caught.value.errors()) == {
        "title": "String should have at most 10 characters",
        "note": "String should have at most 10 characters",
        "subtitle": "String should have at least 1 character",
    }

    class Plain(Schema):  # pydantic's own check, for comparison: the same type and words
        title: str = Field(max_length=10)

    with pytest.raises(ValidationError) as plain:
        Plain.model_validate({"title": "a" * 11})
    assert pydantic_fields(plain.value.errors()) == {"title": "String should have at most 10 characters"}


def test_a_validator_that_must_see_the_raw_value_goes_before_trimmed() -> None:
    """A validator that folds inner spaces (like the address book's phone) must not shorten the value before
    its length is checked: written before ``Trimmed`` it runs after the raw check."""
    folded = TypeAdapter(Annotated[str, BeforeValidator(lambda v: " ".join(v.split())), Trimmed(10)])
    assert folded.validate_python("1  2  3") == "1 2 3"
    assert _errors(folded, "1    2    3") == TOO_LONG  # 11 as sent, 5 once folded


def test_check_raw_length_leaves_other_types_to_the_field() -> None:
    assert check_raw_length(None, 3) is None
    assert check_raw_length(12345, 3) == 12345
    assert check_raw_length("abc", 3) == "abc"
    assert _errors(TypeAdapter(Title), 12) == [("string_type", "Input should be a valid string")]
