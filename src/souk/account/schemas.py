"""Accounts: registration, login, profile, password and API token shapes."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, EmailStr, Field, StringConstraints, field_validator

from souk.kit.countries import is_country
from souk.kit.schemas import ReadSchema, Schema, Trimmed, check_raw_length

PASSWORD_MIN = 10
PASSWORD_MAX = 200
EMAIL_MAX = 254

_PHONE = re.compile(r"^\+?[0-9(][0-9 ()./-]{3,30}$")

TokenScopes = Literal["read", "read write"]


def _lower_email(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    # the documented maxLength is the length of what the client sends, before the spaces are stripped
    check_raw_length(value, EMAIL_MAX)
    return value.strip().lower()


def _country(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be a two-letter country code")
    code = value.strip().upper()
    if not code:
        return None
    if not is_country(code):
        raise ValueError("is not an ISO 3166 two-letter country code")
    return code


def _phone(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be text")
    phone = " ".join(value.split())
    if not phone:
        return None
    if not _PHONE.match(phone) or sum(ch.isdigit() for ch in phone) < 4:
        raise ValueError("must be a phone number: digits, spaces, +, -, ( and )")
    return phone


Email = Annotated[EmailStr, BeforeValidator(_lower_email)]
LoginEmail = Annotated[
    str, BeforeValidator(_lower_email), StringConstraints(min_length=1, max_length=EMAIL_MAX)
]
Password = Annotated[str, StringConstraints(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)]
# a login attempt is only refused by its length when it could never match a stored password
LoginPassword = Annotated[str, StringConstraints(min_length=1, max_length=PASSWORD_MAX)]
DisplayName = Annotated[str, Trimmed(80, min_length=1)]
Country = Annotated[str | None, BeforeValidator(_country)]
Phone = Annotated[str | None, BeforeValidator(_phone)]
TokenName = Annotated[str, Trimmed(80, min_length=1)]


class UserCreate(Schema):
    email: Email
    password: Password = Field(description=f"{PASSWORD_MIN} to {PASSWORD_MAX} characters")
    display_name: DisplayName


class LoginPayload(Schema):
    email: LoginEmail
    password: LoginPassword


class TokenLogin(Schema):
    """Log in from an API client: the answer carries a new API token."""

    email: LoginEmail
    password: LoginPassword
    name: TokenName = "API client"
    scopes: TokenScopes = "read write"


class ProfileUpdate(Schema):
    """Only the fields sent are changed; send ``null`` or "" to clear country or phone."""

    display_name: DisplayName | None = None
    country: Country = Field(default=None, description="ISO 3166-1 alpha-2 code, e.g. DE")
    phone: Phone = None

    @field_validator("display_name", mode="before")
    @classmethod
    def _display_name_not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be empty")
        return value


class PasswordChange(Schema):
    current_password: LoginPassword
    new_password: Password = Field(description=f"{PASSWORD_MIN} to {PASSWORD_MAX} characters")


class PasswordResetRequest(Schema):
    email: LoginEmail


class PasswordResetConfirm(Schema):
    token: str = Field(min_length=1, max_length=100, description="the token from the emailed link")
    new_password: Password = Field(description=f"{PASSWORD_MIN} to {PASSWORD_MAX} characters")


class TokenCreate(Schema):
    name: TokenName
    scopes: TokenScopes = Field(default="read write", description='"read" or "read write"')


class UserRead(ReadSchema):
    id: int
    email: str
    display_name: str
    country: str | None
    phone: str | None
    is_operator: bool
    created_at: datetime


class TokenRead(ReadSchema):
    id: int
    name: str
    prefix: str = Field(description="the first characters of the token, to recognise it")
    scopes: str
    created_at: datetime
    last_used_at: datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="the token itself: shown once, store it now")


class ErrorRead(Schema):
    error: str
    message: str
    fields: dict[str, str]
