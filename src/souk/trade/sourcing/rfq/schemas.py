"""RFQs: what the API accepts and returns. Amounts are integer minor units of the RFQ's currency."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator

from souk.kit.countries import is_country
from souk.kit.money import is_currency
from souk.kit.schemas import MAX_AMOUNT, STRICT_INT, ReadSchema, Schema, StrictId, Trimmed

Incoterm = Literal["EXW", "FCA", "FAS", "FOB", "CFR", "CIF", "CPT", "CIP", "DAP", "DPU", "DDP"]
Visibility = Literal["public", "invited"]
RfqStatus = Literal["open", "closed", "awarded", "cancelled"]
# what a list shows: the status, or "not_taking_quotes" for an open RFQ whose deadline passed or cap is reached
RfqState = Literal["open", "closed", "awarded", "cancelled", "not_taking_quotes"]
MAX_INVITES = 50
MAX_ATTACHMENTS = 5

Title = Annotated[str, Trimmed(200, min_length=3)]
Requirements = Annotated[str, Trimmed(5000, min_length=10)]
Unit = Annotated[str, Trimmed(20, min_length=1)]


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


class RfqCreate(Schema):
    organization_id: StrictId | None = Field(
        default=None, description="the buyer organisation (default: your first one)"
    )
    title: Title = Field(description="the product wanted")
    category_id: StrictId | None = None
    requirements: Requirements
    quantity: Annotated[int, Field(gt=0, le=10**12), STRICT_INT]
    unit: Unit = "pieces"
    target_unit_price_amount: Annotated[int, Field(gt=0, le=MAX_AMOUNT), STRICT_INT] | None = None
    currency: str = Field(
        description="ISO 4217: the target price's currency and the one quotes are compared in"
    )
    destination_country: str = Field(description="ISO 3166-1 alpha-2")
    incoterm: Incoterm = "FOB"
    needed_by: date | None = None
    quote_deadline: datetime = Field(
        description="UTC; in the future, at most the policy's rfq_max_open_days ahead"
    )
    visibility: Visibility = "public"
    invited_store_ids: list[StrictId] = Field(default_factory=list, max_length=MAX_INVITES)

    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, value: object) -> object:
        value = _upper(value)
        if not isinstance(value, str) or len(value) != 3 or not is_currency(value):
            raise ValueError("must be an ISO 4217 currency code like USD")
        return value

    @field_validator("destination_country", mode="before")
    @classmethod
    def _country(cls, value: object) -> object:
        value = _upper(value)
        if not isinstance(value, str) or not is_country(value):
            raise ValueError("must be an ISO 3166 country code like DE")
        return value


class AttachmentRead(ReadSchema):
    index: int
    filename: str
    content_type: str
    size_bytes: int


class RfqRead(ReadSchema):
    id: int
    organization_id: int
    organization_name: str = ""
    organization_verified: bool = False
    title: str
    category_id: int | None
    category_name: str | None = None
    requirements: str
    quantity: int
    unit: str
    target_unit_price_amount: int | None
    currency: str
    destination_country: str
    incoterm: str
    needed_by: date | None
    quote_deadline: datetime
    visibility: Visibility
    status: RfqStatus
    state: RfqState
    taking_quotes: bool
    quote_count: int
    quote_cap: int
    attachments: list[AttachmentRead] = []
    # only for the buyer's organisation
    invited_store_ids: list[int] = []
    closed_at: datetime | None
    close_reason: str | None
    awarded_quote_id: int | None
    created_at: datetime
    # for a supplier: the quote its store sent, if any
    my_quote_id: int | None = None
