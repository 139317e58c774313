"""Catalog errors, each with a stable code."""

from __future__ import annotations

from souk.errors import Conflict, Invalid, NotFound


class CategoryNotFound(NotFound):
    code = "category_not_found"

    def __init__(self) -> None:
        super().__init__("No such category.")


class ProductNotFound(NotFound):
    code = "product_not_found"

    def __init__(self) -> None:
        super().__init__("No such product.")


class SkuNotFound(NotFound):
    code = "sku_not_found"

    def __init__(self) -> None:
        super().__init__("No such variant.")


class ImageNotFound(NotFound):
    code = "image_not_found"

    def __init__(self) -> None:
        super().__init__("No such image.")


class InvalidProduct(Invalid):
    """One or more fields of a product, its variants or price tiers break a rule."""

    code = "invalid_product"


class StatusChangeNotAllowed(Conflict):
    code = "invalid_status"

    def __init__(self, current: str, action: str) -> None:
        done = {"publish": "published", "archive": "archived", "restore": "restored"}.get(action, action)
        hint = {
            "publish": "Restore it to draft first." if current == "archived" else "",
            "restore": "Only archived products can be restored.",
        }.get(action, "")
        super().__init__(f"A product that is {current} cannot be {done}. {hint}".strip())


class NoActiveSku(Conflict):
    code = "no_active_sku"

    def __init__(self, message: str = "Add at least one variant with a price before publishing.") -> None:
        super().__init__(message, fields={"skus": message})
