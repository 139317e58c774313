"""Checkout errors, each with a stable code."""

from __future__ import annotations

from souk.errors import Conflict


class NothingToCheckOut(Conflict):
    code = "nothing_to_check_out"

    def __init__(self, currency: str) -> None:
        super().__init__(
            f"Your cart has nothing in {currency} that can be bought now.",
            fields={"currency": "nothing to buy"},
        )


class InsufficientStockAtCheckout(Conflict):
    """Another buyer took the last units while this checkout was placed: nothing was reserved or ordered."""

    code = "insufficient_stock"

    def __init__(self, *, sku_id: int, sku_code: str, title: str, quantity: int) -> None:
        problem = f"fewer than {quantity} available now"
        super().__init__(
            f"Not enough stock of {title} (SKU {sku_code}): {problem}. Change the quantity in your cart.",
            fields={f"sku.{sku_id}": problem},
        )
        self.sku_id = sku_id
        self.sku_code = sku_code


class PriceChanged(Conflict):
    """The total is not the one the buyer saw (a price or shipping price changed): nothing was ordered."""

    code = "price_changed"

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(
            "A price changed since you looked: check the new total and place the order again.",
            fields={"expected_total_amount": f"the total is now {actual}, not {expected}"},
        )
        self.actual = actual
