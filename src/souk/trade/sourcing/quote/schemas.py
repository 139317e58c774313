"""Quotes: what the API accepts and returns. Amounts are integer minor units of the quote's currency (the
supplier store's); ``bps`` are basis points (3000 = 30 %)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator

from souk.kit.schemas import MAX_AMOUNT, STRICT_INT, BasisPoints, ReadSchema, Schema, StrictId, Trimmed
from souk.trade.sourcing.rfq.schemas import AttachmentRead, Incoterm

BalanceDue = Literal["before_shipment", "on_documents"]
QuoteStatus = Literal["submitted", "accepted", "awarded", "declined", "withdrawn"]
SortKey = Literal["price", "landed", "lead_time", "rating", "response"]
MAX_TIERS = 10
MAX_QUOTE_ATTACHMENTS = 5

MAX_QUOTE_QUANTITY = 10**12
# constraints before STRICT_INT, so that the JSON schema shows them (see souk.kit.schemas)
QuoteAmount = Annotated[int, Field(gt=0, le=MAX_AMOUNT), STRICT_INT]
QuoteQuantity = Annotated[int, Field(gt=0, le=MAX_QUOTE_QUANTITY), STRICT_INT]
# a tier's numbers: only an upper bound here, so that _tiers words the "must be positive" problems
TierQuantity = Annotated[int, Field(le=MAX_QUOTE_QUANTITY), STRICT_INT]
TierPrice = Annotated[int, Field(le=MAX_AMOUNT), STRICT_INT]

Message = Annotated[str, Trimmed(4000)]
Place = Annotated[str, Trimmed(100)]


class QuoteCreate(Schema):
    store_id: StrictId = Field(description="your sourcing store that quotes")
    unit_price_amount: QuoteAmount
    tiers: list[tuple[TierQuantity, TierPrice]] = Field(
        default_factory=list,
        max_length=MAX_TIERS,
        description="[[min_quantity, unit_price_amount], ...] with ascending quantities",
    )
    currency: str | None = Field(default=None, description="must be the store's currency (the default)")
    quantity: QuoteQuantity | None = Field(default=None, description="default: the RFQ's")
    moq: QuoteQuantity = 1
    lead_time_days: Annotated[int, Field(ge=0, le=730), STRICT_INT]
    incoterm: Incoterm
    place: Place = ""
    shipping_amount: Annotated[int, Field(ge=0, le=MAX_AMOUNT), STRICT_INT] = 0
    sample_price_amount: QuoteAmount | None = None
    deposit_bps: BasisPoints | None = Field(default=None, description="default: the policy's")
    balance_due: BalanceDue = "before_shipment"
    valid_until: date | None = Field(default=None, description="default: 30 days from today")
    message: Message = ""

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, tiers: list[tuple[int, int]]) -> list[tuple[int, int]]:
        previous = 0
        for min_quantity, price in tiers:
            if min_quantity <= previous:
                raise ValueError("minimum quantities must be positive and ascending")
            if price <= 0:
                raise ValueError("tier prices must be more than zero")
            previous = min_quantity
        return tiers

    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value


class QuoteRead(ReadSchema):
    id: int
    rfq_id: int
    rfq_title: str = ""
    store_id: int
    store_name: str = ""
    status: QuoteStatus
    currency: str
    unit_price_amount: int
    tiers: list[list[int]]
    quantity: int
    moq: int
    lead_time_days: int
    incoterm: str
    place: str
    shipping_amount: int
    sample_price_amount: int | None
    deposit_bps: int
    balance_due: BalanceDue
    valid_until: date
    message: str
    attachments: list[AttachmentRead] = []
    version: int
    revisions_used: int
    response_seconds: int
    buyer_answered_at: datetime | None
    created_at: datetime


class QuotaRead(ReadSchema):
    period: str
    quota: int
    used: int
    left: int


class ComparisonRow(ReadSchema):
    quote_id: int
    store_id: int
    store_name: str
    verified: bool
    status: QuoteStatus
    currency: str
    # the unit price for the RFQ's quantity (its tier price), in the quote's currency
    unit_price_amount: int
    # unit price x RFQ quantity + shipping estimate, in the quote's currency
    landed_total_amount: int
    shipping_amount: int
    # the same in the RFQ's currency; None when there is no exchange rate (different currency)
    converted_unit_price_amount: int | None
    converted_landed_total_amount: int | None
    has_rate: bool
    lead_time_days: int
    moq: int
    incoterm: str
    place: str
    deposit_bps: int
    valid_until: date
    rating: float | None
    rating_count: int
    credit_level: str
    response_seconds: int
    response_time: str
    version: int


class Comparison(ReadSchema):
    rfq_id: int
    currency: str
    quantity: int
    sort: SortKey
    # True when some quotes are in another currency (no FX rates yet: shown as "no rate")
    missing_rates: bool
    rows: list[ComparisonRow]
