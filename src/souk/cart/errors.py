"""Cart errors, each with a stable code."""

from __future__ import annotations

from souk.errors import Conflict, Invalid, NotFound, Unauthenticated


class SkuNotForSale(NotFound):
    """The SKU does not exist, or buyers cannot see it (inactive SKU, product not active, store not open)."""

    code = "sku_not_found"

    def __init__(self, message: str = "No such product variant for sale.") -> None:
        super().__init__(message)


class CartLineNotFound(NotFound):
    code = "cart_line_not_found"

    def __init__(self, *, sample: bool = False) -> None:
        super().__init__(
            "No sample of this variant is in your cart." if sample else "This variant is not in your cart."
        )


class SampleNotOffered(Invalid):
    """A sample was asked of a product that offers none: not a sourcing product, or no sample price."""

    code = "sample_not_offered"

    def __init__(self, *, sourcing: bool) -> None:
        if sourcing:
            problem = "the supplier offers no sample of this product"
            message = "The supplier offers no sample of this product: ask them for one."
        else:
            problem = "only sourcing products are sold as samples"
            message = "Only sourcing products are sold as samples."
        super().__init__(message, fields={"sample": problem})


class SampleQuantityFixed(Invalid):
    """A sample line always holds one piece."""

    code = "sample_quantity"

    def __init__(self) -> None:
        super().__init__("A sample is always one piece.", fields={"quantity": "a sample is always 1 piece"})


class InsufficientStock(Conflict):
    """More units asked for than are available (on hand minus reserved)."""

    code = "insufficient_stock"

    def __init__(self, *, available: int, in_cart: int = 0) -> None:
        if available <= 0:
            problem = "out of stock"
            message = "This item is out of stock."
        else:
            problem = f"only {available} available"
            message = f"Only {available} of this item {'is' if available == 1 else 'are'} available"
            message += f" (you already have {in_cart} in your cart)." if in_cart else "."
        super().__init__(message, fields={"quantity": problem})
        self.available = max(0, available)


class CartTokenRequired(Unauthenticated):
    code = "cart_token_required"

    def __init__(self) -> None:
        super().__init__("Log in, or allow cookies, to use a cart.")
