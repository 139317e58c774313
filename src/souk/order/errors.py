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


class MilestoneOrderNotCancellable(Conflict):
    """A sourcing contract's order with money paid may be cancelled only after the supplier missed the ship-by
    time (the on-time shipment guarantee)."""

    code = "cancel_not_allowed_yet"

    def __init__(self, ship_by: datetime | None) -> None:
        when = f" ({ship_by:%Y-%m-%d %H:%M} UTC)" if ship_by else ""
        super().__init__(
            "The supplier is producing this order under the contract: it may be cancelled for a full refund "
            f"only if it has not shipped by the ship-by time{when}."
        )
        self.ship_by = ship_by


class MilestoneNotFound(NotFound):
    code = "milestone_not_found"

    def __init__(self) -> None:
        super().__init__("No such payment milestone.")


class MilestoneNotDue(Conflict):
    """The milestone cannot be paid now: not due yet, paid already, or cancelled."""

    code = "milestone_not_due"

    def __init__(self, kind: str, status: str) -> None:
        if status == "paid":
            message = f"The {kind} is paid already."
        elif status == "pending":
            message = f"The {kind} is not due yet."
        else:
            message = f"The {kind} cannot be paid: it is {status}."
        super().__init__(message)
        self.milestone_status = status
