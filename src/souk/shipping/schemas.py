"""Shipping methods: what the API and the forms accept and return. Amounts are minor units of the store's
currency (``490`` = 4.90 for USD)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, StrictBool

from souk.catalog.schemas import MAX_PRICE_AMOUNT, whole_number
from souk.kit.schemas import ReadSchema, Schema, Trimmed

MAX_METHODS_PER_STORE = 20

ShippingKind = Literal["express", "surface"]
MethodName = Annotated[str, Trimmed(60, min_length=1)]
_WHOLE = BeforeValidator(whole_number)
ShippingPrice = Annotated[
    int, Field(ge=0, le=MAX_PRICE_AMOUNT, description="minor units; 0 = free shipping"), _WHOLE
]
FreeOver = Annotated[
    int,
    Field(gt=0, le=MAX_PRICE_AMOUNT, description="minor units: free when the store subtotal reaches it"),
    _WHOLE,
]
Position = Annotated[int, Field(ge=0, le=1000, description="display order, lowest first"), _WHOLE]

KIND_LABELS = {"express": "express", "surface": "surface mail"}


class ShippingMethodCreate(Schema):
    name: MethodName
    kind: ShippingKind
    price_amount: ShippingPrice
    free_over_amount: FreeOver | None = None
    active: StrictBool = True
    position: Position = 0


class ShippingMethodUpdate(Schema):
    """The fields sent change; send ``free_over_amount: null`` to remove the free-shipping threshold."""

    name: MethodName | None = None
    kind: ShippingKind | None = None
    price_amount: ShippingPrice | None = None
    free_over_amount: FreeOver | None = None
    active: StrictBool | None = None
    position: Position | None = None


class ShippingMethodRead(ReadSchema):
    id: int
    store_id: int
    name: str
    kind: ShippingKind
    price_amount: int
    currency: str
    free_over_amount: int | None
    active: bool
    position: int
    created_at: datetime
    updated_at: datetime
