"""The address book: what the API and the forms accept and return."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, StrictBool

from souk.kit.countries import country_name
from souk.kit.schemas import ReadSchema, Schema, Trimmed
from souk.party.schemas import CountryCode

MAX_ADDRESSES = 30

_PHONE = re.compile(r"^\+?[0-9(][0-9 ()./-]{3,30}$")


def _phone(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    phone = " ".join(value.split())
    if not _PHONE.match(phone) or sum(ch.isdigit() for ch in phone) < 4:
        raise ValueError("must be a phone number: digits, spaces, +, -, ( and )")
    return phone


FullName = Annotated[str, Trimmed(100, min_length=1)]
# _phone folds inner spaces: Trimmed goes after it, so that the length is checked on the value as sent
Phone = Annotated[str, BeforeValidator(_phone), Trimmed(32)]
Line = Annotated[str, Trimmed(200, min_length=1)]
OptionalLine = Annotated[str, Trimmed(200)]
City = Annotated[str, Trimmed(100, min_length=1)]
Region = Annotated[str, Trimmed(100)]
PostalCode = Annotated[str, Trimmed(20, pattern=r"^[A-Z0-9 -]*$", to_upper=True)]


class AddressCreate(Schema):
    full_name: FullName
    phone: Phone
    line1: Line
    line2: OptionalLine = ""
    city: City
    region: Region = ""
    postal_code: PostalCode = ""
    country: CountryCode
    is_default: StrictBool = False


class AddressUpdate(Schema):
    """The fields sent change; ``line2``, ``region`` and ``postal_code`` may be sent empty to clear them."""

    full_name: FullName | None = None
    phone: Phone | None = None
    line1: Line | None = None
    line2: OptionalLine | None = None
    city: City | None = None
    region: Region | None = None
    postal_code: PostalCode | None = None
    country: CountryCode | None = None


class AddressRead(ReadSchema):
    id: int
    full_name: str
    phone: str
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str
    is_default: bool
    created_at: datetime
    updated_at: datetime

    @property
    def country_name(self) -> str:
        return country_name(self.country)

    @property
    def lines(self) -> list[str]:
        """The address as it is written on a parcel, one line each."""
        place = " ".join(p for p in (self.postal_code, self.city) if p)
        if self.region:
            place = f"{place}, {self.region}"
        return [
            line
            for line in (self.full_name, self.line1, self.line2, place, self.country_name, self.phone)
            if line
        ]
