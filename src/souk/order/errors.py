"""Order errors, each with a stable code."""

from __future__ import annotations

from datetime import datetime

from souk.errors import Conflict, NotFound


class OrderNotFound(NotFound):
    code = "order_not_found"

    def __init__(self) -> None:
        super().__init__("No such order.")


class SellerOrderNotFound(NotFound):
    code = "seller_order_not_found"

    def __init__(self) -> None:
        super().__init__("No such order.")


class TransitionNotAllowed(Conflict):
    """The seller order is not in a state that allows this step (e.g. cancelling after shipment)."""

    code = "transition_not_allowed"

    def __init__(self, action: str, status: str, hint: str = "") -> None:
        message = f"An order that is {status.replace('_', ' ')} cannot be {action}."
        super().__init__(f"{message} {hint}".strip())
        self.order_status = status


class ReceiptExtensionRefused(Conflict):
    code = "receipt_extension_refused"


class PaymentWindowClosed(Conflict):
    """The order was not paid in time (or is no longer waiting for payment)."""

    code = "payment_window_closed"

    def __init__(self, pay_by: datetime | None = None) -> None:
        super().__init__("This order is no longer waiting for payment; it was closed or paid already.")
        self.pay_by = pay_by


class PaymentInProgress(Conflict):
    code = "payment_in_progress"

    def __init__(self) -> None:
        super().__init__(
            "A payment for this order is being processed; wait for its result before trying another card."
        )
