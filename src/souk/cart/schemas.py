"""The cart: what the API and the forms accept, and the CartView every cart page, the API and checkout read.

CartView (``GET /api/v1/cart``, ``cart_service.get_cart``) is plain data:

    CartView
      groups: [CartCurrencyGroup]            one per currency, the most recently added to first
        currency, total_amount, item_count, line_count, blocked, stores:
          [CartStoreGroup]                   one per store, the most recently added to first
            store_id, store_name, store_slug, store_url, trade_model, currency, subtotal_amount,
            item_count, lines:
              [CartLineView]                 newest first
                sku_id, sku_code, product_id, product_url, title, options {name: value}, thumb_url,
                store_id, currency, is_sample, quantity, min_quantity, max_quantity, available,
                unit_price_amount (now: tier price for sourcing, sample price for a sample),
                seen_unit_price_amount (when added),
                line_total_amount, added_at, purchasable, warnings: [LineWarning]
      line_count, item_count, note

Amounts are integer minor units of the group's currency. A line is ``purchasable`` when none of its warnings
is ``blocking``; store subtotals and currency totals add up the purchasable lines only. One checkout covers
one currency group (stores price in their own currencies and there is no conversion yet).

A sample line (``is_sample``) is a sourcing product's sample: 1 piece at its sample price whatever the MOQ, a
line of its own next to the same SKU's bulk line (lines are keyed by sku_id and is_sample).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field

from souk.catalog.schemas import whole_number
from souk.kit.schemas import MAX_ID, Schema, StrictBool
from souk.models.cart import MAX_LINE_QUANTITY

_WHOLE = BeforeValidator(whole_number)
CartQuantity = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_LINE_QUANTITY,
        description="units; 1 to 999, or the minimum order quantity and up for sourcing products",
    ),
    _WHOLE,
]
SkuId = Annotated[int, Field(ge=1, le=MAX_ID), _WHOLE]

WarningKind = Literal[
    "unavailable",  # the product, the variant or the store is no longer for sale (blocking)
    "out_of_stock",  # nothing available now (blocking)
    "insufficient_stock",  # fewer available than the quantity in the cart (blocking)
    "below_moq",  # below the product's minimum order quantity (blocking)
    "price_changed",  # the unit price differs from the one seen when added (information)
    "low_stock",  # only a few left, enough for this line (information)
    "sample_unavailable",  # a sample line whose product no longer offers samples (blocking)
]

CURRENCY_NOTE = (
    "Stores price in their own currencies. Each currency is checked out on its own: "
    "one checkout covers one currency group."
)


class CartItemCreate(Schema):
    sku_id: SkuId
    quantity: CartQuantity = 1
    sample: StrictBool = Field(
        False,
        description="add the SKU as a sample: 1 piece at the product's sample price, whatever its minimum "
        "order (sourcing products with a sample price only); a line of its own next to a bulk line",
    )


class CartItemUpdate(Schema):
    quantity: CartQuantity


class LineWarning(BaseModel):
    kind: WarningKind
    message: str
    # a blocking warning keeps the line out of the totals and out of checkout until it is fixed
    blocking: bool
    old_unit_price_amount: int | None = None
    new_unit_price_amount: int | None = None
    available: int | None = None


class CartLineView(BaseModel):
    sku_id: int
    sku_code: str
    product_id: int
    product_url: str
    title: str
    options: dict[str, str]
    thumb_url: str | None
    store_id: int
    currency: str
    is_sample: bool = Field(description="a sourcing sample: 1 piece at the sample price")
    quantity: int
    min_quantity: int
    max_quantity: int
    available: int
    unit_price_amount: int
    seen_unit_price_amount: int
    line_total_amount: int
    added_at: datetime
    purchasable: bool
    warnings: list[LineWarning]


class CartStoreGroup(BaseModel):
    store_id: int
    store_name: str
    store_slug: str
    store_url: str
    trade_model: str
    currency: str
    lines: list[CartLineView]
    # purchasable lines only
    subtotal_amount: int
    item_count: int
    own_store: bool = Field(
        False, description="the store is one of yours (you own it or work in it): you cannot buy from it"
    )


class CartCurrencyGroup(BaseModel):
    currency: str
    stores: list[CartStoreGroup]
    # purchasable lines only
    total_amount: int
    item_count: int
    line_count: int
    # some line has a blocking warning (fix or remove it before checking out)
    blocked: bool

    @property
    def purchasable_lines(self) -> list[CartLineView]:
        return [line for store in self.stores for line in store.lines if line.purchasable]


class CartView(BaseModel):
    groups: list[CartCurrencyGroup]
    # distinct variants in the cart (the header badge), and units over all lines
    line_count: int
    item_count: int
    note: str = CURRENCY_NOTE

    @property
    def is_empty(self) -> bool:
        return not self.groups

    def group(self, currency: str) -> CartCurrencyGroup | None:
        return next((g for g in self.groups if g.currency == currency), None)
