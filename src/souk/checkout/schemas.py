"""Checkout: what ``POST /api/v1/checkouts`` and the checkout form accept, and the preview the page shows.

A checkout covers one currency group of the buyer's cart (stores price in their own currencies; there is no
conversion yet): every purchasable line of that currency, one shipping method per store, one address, one card::

    {"currency": "USD", "address_id": 12,
     "shipping": [{"store_id": 3, "shipping_method_id": 7}, {"store_id": 5, "shipping_method_id": 9}],
     "card": {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
     "expected_total_amount": 5480}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BeforeValidator, Field, model_validator

from souk.address.schemas import AddressCreate
from souk.cart.schemas import CartCurrencyGroup, CartStoreGroup
from souk.catalog.schemas import whole_number
from souk.kit.schemas import MAX_ID, Schema
from souk.models import Address, ShippingMethod
from souk.party.schemas import CurrencyCode
from souk.payment.schemas import CardIn

_WHOLE = BeforeValidator(whole_number)
RowId = Annotated[int, Field(ge=1, le=MAX_ID), _WHOLE]
Amount = Annotated[int, Field(ge=1, le=10**17), _WHOLE]
MAX_STORES = 50


class ShippingChoice(Schema):
    store_id: RowId
    shipping_method_id: RowId


class CheckoutCreate(Schema):
    currency: CurrencyCode = Field(description="the cart's currency group to check out")
    address_id: RowId | None = Field(None, description="an address of the buyer's address book")
    address: AddressCreate | None = Field(
        None, description="or a new address (it is added to the address book)"
    )
    shipping: list[ShippingChoice] = Field(
        min_length=1, max_length=MAX_STORES, description="one shipping method per store of the group"
    )
    card: CardIn
    expected_total_amount: Amount | None = Field(
        None,
        description="the grand total the buyer saw; when it differs (a price changed) nothing is ordered (409)",
    )

    @model_validator(mode="after")
    def _one_address(self) -> CheckoutCreate:
        if (self.address_id is None) == (self.address is None):
            raise ValueError("send either address_id (from the address book) or a new address")
        stores = [choice.store_id for choice in self.shipping]
        if len(set(stores)) != len(stores):
            raise ValueError("choose one shipping method per store")
        return self


@dataclass
class MethodQuote:
    """A shipping method with its price for this store's subtotal (0 when the subtotal is over the threshold)."""

    method: ShippingMethod
    price_amount: int


@dataclass
class StoreQuote:
    group: CartStoreGroup
    methods: list[MethodQuote]
    selected: MethodQuote | None
    items_amount: int
    shipping_amount: int
    total_amount: int


@dataclass
class CheckoutPreview:
    """What the checkout page shows for one currency group: the stores with their shipping choices and totals,
    the address book, and the lines left out (their warnings block them)."""

    currency: str
    group: CartCurrencyGroup
    stores: list[StoreQuote]
    addresses: list[Address]
    items_amount: int
    shipping_amount: int
    total_amount: int
    # stores the buyer cannot check out from, with why ({store_id: problem})
    problems: dict[int, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        """Every store has a shipping method chosen and nothing blocks the order."""
        return bool(self.stores) and not self.problems and all(s.selected for s in self.stores)
