"""Contract schemas: the read model (the terms, both confirmations, the order it became), its versions, and the
inputs (editing a draft, confirming, proposing an amendment). Money is integers in minor units."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from souk.kit.schemas import STRICT_INT, ReadSchema, Schema, StrictId

Side = Literal["buyer", "supplier"]
SPEC_MAX = 5000
QUALITY_MAX = 5000
# a contract's quantity and unit price are bounded so the goods amount stays far inside a BigInteger
QUANTITY_MAX = 10**9
UNIT_PRICE_MAX = 10**9

Spec = Annotated[str, Field(min_length=1, max_length=SPEC_MAX)]
Quality = Annotated[str, Field(max_length=QUALITY_MAX)]


class ContractRead(ReadSchema):
    id: int
    number: str
    version: int
    status: str
    rfq_id: int
    quote_id: int
    offer_id: int
    buyer_organization_id: int
    buyer_user_id: int
    store_id: int
    product_specification: str
    quantity: int
    unit: str
    currency: str
    unit_price_amount: int
    goods_amount: int
    shipping_amount: int
    total_amount: int
    incoterm: str
    place: str
    ship_by: date
    quality_terms: str
    deposit_bps: int
    deposit_amount: int
    balance_amount: int
    balance_due: str
    shipping_address: dict[str, Any]
    buyer_confirmed_at: datetime | None
    buyer_confirmed_by_id: int | None
    supplier_confirmed_at: datetime | None
    supplier_confirmed_by_id: int | None
    confirmed_at: datetime | None
    seller_order_id: int | None
    # the buyer's order (receipt) the confirmed contract became, for the link /orders/{order_id}
    order_id: int | None = None
    created_at: datetime
    # the staleness token of the terms: send it back as ``based_on_updated_at`` when editing or confirming
    updated_at: datetime


class ContractChange(ReadSchema):
    field: str
    before: Any
    after: Any


class ContractVersionRead(ReadSchema):
    id: int
    number: str
    version: int
    status: str
    created_at: datetime
    confirmed_at: datetime | None
    # what this version changed from the previous one (empty for version 1)
    changes: list[ContractChange]


class ContractSummary(ReadSchema):
    """One row of a list: a contract (by number) at its newest version."""

    id: int
    number: str
    version: int
    status: str
    store_id: int
    store_name: str
    buyer_organization_id: int
    buyer_name: str
    title: str
    quantity: int
    unit: str
    currency: str
    total_amount: int
    ship_by: date
    buyer_confirmed_at: datetime | None
    supplier_confirmed_at: datetime | None
    has_address: bool
    seller_order_id: int | None
    created_at: datetime


class ContractUpdate(Schema):
    """Edit a draft. Only the fields sent change; ``based_on_updated_at`` is the ``updated_at`` the editor saw
    (409 ``contract_outdated`` when the draft changed since). ``shipping_address_id`` (an address of the buyer's
    address book) is the buyer's; ``side`` says which side the caller acts for when they are on both."""

    based_on_updated_at: datetime
    ship_by: date | None = None
    quality_terms: Quality | None = None
    product_specification: Spec | None = None
    shipping_address_id: StrictId | None = None
    side: Side | None = None


class ContractConfirm(Schema):
    """Confirm the current draft. ``based_on_updated_at`` (optional) makes sure the terms confirmed are the ones
    the caller saw."""

    based_on_updated_at: datetime | None = None
    side: Side | None = None


class AmendmentCreate(Schema):
    """Propose changes to a confirmed contract: the fields sent change, the rest is copied."""

    ship_by: date | None = None
    quality_terms: Quality | None = None
    product_specification: Spec | None = None
    quantity: Annotated[int, Field(ge=1, le=QUANTITY_MAX), STRICT_INT] | None = None
    unit_price_amount: Annotated[int, Field(ge=1, le=UNIT_PRICE_MAX), STRICT_INT] | None = None
    side: Side | None = None
