"""Negotiation payloads and read models: counter-offers, supplier revisions, the quote with its history.

Amounts are integers in minor units of the quote's currency (``1250`` = 12.50 USD); the deposit is in basis
points of the total (``3000`` = 30 %). A counter-offer or a revision may leave a term out: it keeps the value of
the newest offer.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, field_validator

from souk.kit.schemas import ReadSchema, Schema, Trimmed
from souk.models.sourcing import BALANCE_DUE, INCOTERMS

MAX_AMOUNT = 10**12
MAX_QUANTITY = 10**9
MAX_TIERS = 10
MAX_MESSAGE = 4000

Side = Literal["buyer", "supplier"]
Incoterm = Literal["EXW", "FCA", "FAS", "FOB", "CFR", "CIF", "CPT", "CIP", "DAP", "DPU", "DDP"]
BalanceDue = Literal["before_shipment", "on_documents"]
assert set(INCOTERMS) == set(Incoterm.__args__) and set(BALANCE_DUE) == set(BalanceDue.__args__)  # type: ignore[attr-defined]


def _whole(value: object) -> object:
    # JSON numbers only: booleans and text are refused (the web forms convert their text first)
    if isinstance(value, (bool, str, float)):
        raise ValueError("must be a whole number")
    return value


_W = BeforeValidator(_whole)
Amount = Annotated[int, Field(gt=0, le=MAX_AMOUNT, description="minor units, e.g. 230 = 2.30"), _W]
Shipping = Annotated[int, Field(ge=0, le=MAX_AMOUNT, description="minor units; 0: included"), _W]
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY), _W]
LeadTime = Annotated[int, Field(ge=0, le=3650, description="days from the order to shipment"), _W]
DepositBps = Annotated[int, Field(ge=0, le=10_000, description="basis points of the total: 3000 = 30 %"), _W]
Version = Annotated[int, Field(ge=1, le=2**31 - 1), _W]
Place = Annotated[str, Trimmed(100)]
Message = Annotated[str, Trimmed(MAX_MESSAGE)]


class TermsChange(Schema):
    """Terms a counter-offer or a revision proposes; a term left out keeps the newest offer's value."""

    unit_price_amount: Amount | None = None
    quantity: Quantity | None = None
    lead_time_days: LeadTime | None = None
    incoterm: Incoterm | None = None
    place: Place | None = Field(default=None, description="port or place for the Incoterm")
    shipping_amount: Shipping | None = None
    deposit_bps: DepositBps | None = None
    balance_due: BalanceDue | None = None
    message: Message = ""


class CounterCreate(TermsChange):
    """A counter-offer by either side. ``based_on_version``: the quote version the author saw (409
    ``offer_outdated`` when a newer offer came in since)."""

    based_on_version: Version
    side: Side | None = Field(
        default=None, description="needed only when you are on both sides (the buyer's and the supplier's)"
    )


class RevisionCreate(TermsChange):
    """The supplier's revision of its quote (at most ``quote_revisions_allowed`` times, before the buyer
    answers). Besides the offer terms it may change the MOQ, the quantity tiers, the sample price and the
    validity date."""

    based_on_version: Version | None = Field(
        default=None, description="the quote version you saw; 409 offer_outdated when it changed since"
    )
    moq: Quantity | None = None
    tiers: list[tuple[Quantity, Amount]] | None = Field(
        default=None, max_length=MAX_TIERS, description="[[min_quantity, unit_price_amount], ...] ascending"
    )
    sample_price_amount: Amount | None = None
    valid_until: date | None = None

    @field_validator("tiers")
    @classmethod
    def _ascending(cls, tiers: list[tuple[int, int]] | None) -> list[tuple[int, int]] | None:
        if tiers is not None:
            quantities = [q for q, _ in tiers]
            if quantities != sorted(set(quantities)):
                raise ValueError("list the tiers by ascending minimum quantity, each quantity once")
        return tiers


class MessageCreate(Schema):
    body: Annotated[str, Trimmed(MAX_MESSAGE, min_length=1)]


class OfferRead(ReadSchema):
    id: int
    version: int
    kind: str
    side: Side
    created_by_id: int
    created_by_name: str
    status: str
    currency: str
    unit_price_amount: int
    quantity: int
    lead_time_days: int
    incoterm: str
    place: str
    shipping_amount: int
    deposit_bps: int
    balance_due: str
    message: str
    created_at: datetime
    decided_at: datetime | None
    changes: list[str] = Field(
        description='what changed from the previous version, in words ("price 2.50 → 2.30")'
    )


class RfqSummary(ReadSchema):
    id: int
    title: str
    quantity: int
    unit: str
    currency: str
    target_unit_price_amount: int | None
    destination_country: str
    incoterm: str
    quote_deadline: datetime
    status: str
    organization_id: int
    organization_name: str


class QuoteDetail(ReadSchema):
    id: int
    rfq_id: int
    store_id: int
    store_name: str
    supplier_verified: bool
    status: str
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
    balance_due: str
    valid_until: date
    message: str
    revisions_used: int
    revisions_allowed: int
    version: int
    agreed_offer_id: int | None
    buyer_answered_at: datetime | None
    decided_at: datetime | None
    created_at: datetime


class MessageRead(BaseModel):
    id: int
    sender_user_id: int
    sender_side: Side
    sender_name: str
    body: str
    created_at: datetime


class Ability(BaseModel):
    allowed: bool
    reason: str = Field(default="", description="why not, when not allowed")


class Abilities(BaseModel):
    """What the caller may do now on this quote, from their side."""

    revise: Ability
    counter: Ability
    accept: Ability
    award: Ability
    decline: Ability


class NegotiationRead(BaseModel):
    """A quote with its RFQ, every offer version (newest first) and the thread's messages (oldest first)."""

    side: Side = Field(description="the side the caller reads from")
    quote: QuoteDetail
    rfq: RfqSummary
    offers: list[OfferRead]
    messages: list[MessageRead]
    conversation_id: int | None
    can: Abilities
    contract_id: int | None = Field(description="the contract drafted when this quote was awarded")


class AwardRead(BaseModel):
    rfq_id: int
    quote_id: int
    offer_id: int
    contract_id: int
    contract_number: str
    declined_quote_ids: list[int]
    buyer_url: str
    supplier_url: str
