"""Inventory errors, each with a stable code."""

from __future__ import annotations

from souk.errors import Conflict, NotFound


class StockNotFound(NotFound):
    code = "sku_not_found"

    def __init__(self) -> None:
        super().__init__("No such variant.")


class StockBelowReserved(Conflict):
    """An adjustment would leave fewer units on hand than are reserved for orders."""

    code = "stock_below_reserved"

    def __init__(self, *, code: str, on_hand: int, reserved: int, delta: int) -> None:
        problem = (
            f"would leave {on_hand + delta} on hand, but {reserved} are reserved for orders "
            f"(the lowest change possible is {reserved - on_hand:+d})"
        )
        super().__init__(f"Stock of SKU {code} {problem}.", fields={"delta": problem})
        self.on_hand = on_hand
        self.reserved = reserved
