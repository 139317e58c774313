"""Organisations, members, invitations and documents: what the API and the forms accept and return."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, EmailStr, Field, StringConstraints, computed_field

from souk.kit.countries import is_country
from souk.kit.money import is_currency
from souk.kit.schemas import ReadSchema, Schema, Trimmed, raw_max_length

Role = Literal["owner", "admin", "staff"]
DocumentKind = Literal["registration", "brand_authorization", "other"]
OrganizationStatus = Literal["pending_review", "approved", "rejected"]
InvitationStatus = Literal["pending", "accepted", "declined", "revoked", "expired"]

INVITATION_DAYS = 14


def _country(code: str) -> str:
    if not is_country(code):
        raise ValueError("is not an ISO 3166-1 alpha-2 country code (for example CN, US, DE)")
    return code


def _currency(code: str) -> str:
    if not is_currency(code):
        raise ValueError("is not a supported ISO 4217 currency code (for example USD, EUR, CNY)")
    return code


CountryCode = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True), AfterValidator(_country)
]
CurrencyCode = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True), AfterValidator(_currency)
]
LegalName = Annotated[str, Trimmed(200, min_length=1)]
RegistrationNumber = Annotated[str, Trimmed(64, min_length=1)]
Address = Annotated[str, Trimmed(1000, min_length=1)]


class OrganizationCreate(Schema):
    legal_name: LegalName
    registration_number: RegistrationNumber
    country: CountryCode
    address: Address


class OrganizationUpdate(Schema):
    legal_name: LegalName | None = None
    registration_number: RegistrationNumber | None = None
    country: CountryCode | None = None
    address: Address | None = None


class OrganizationRead(ReadSchema):
    id: int
    legal_name: str
    registration_number: str
    country: str
    address: str
    status: OrganizationStatus
    review_reason: str | None
    reviewed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class DocumentRead(ReadSchema):
    id: int
    organization_id: int
    kind: DocumentKind
    store_id: int | None
    filename: str
    content_type: str
    size_bytes: int
    uploaded_by_id: int
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def download_url(self) -> str:
        return f"/api/v1/organizations/{self.organization_id}/documents/{self.id}/file"


class MemberRead(BaseModel):
    organization_id: int
    user_id: int
    display_name: str
    email: str
    role: Role
    created_at: datetime


class RoleChange(Schema):
    role: Role


class InvitationCreate(Schema):
    # the length as sent: EmailStr strips surrounding whitespace before Field's max_length is checked
    email: Annotated[EmailStr, Field(max_length=254), raw_max_length(254)]
    role: Role = "staff"


class InvitationRead(BaseModel):
    id: int
    organization_id: int
    organization_name: str
    email: str
    role: Role
    status: InvitationStatus
    invited_by_name: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class UploadIn:
    """An uploaded file already read into memory (the route reads it with the size limit)."""

    data: bytes
    filename: str = ""
