"""Dispute errors, each with a stable code."""

from __future__ import annotations

from souk.errors import Conflict, Invalid, NotFound


class DisputeNotFound(NotFound):
    code = "dispute_not_found"

    def __init__(self) -> None:
        super().__init__("No such dispute.")


class DisputeDocumentNotFound(NotFound):
    code = "document_not_found"

    def __init__(self) -> None:
        super().__init__("No such document in this dispute.")


class DisputeAlreadyOpen(Conflict):
    code = "dispute_already_open"

    def __init__(self) -> None:
        super().__init__("This order already has an open refund request.")


class DisputeNotAllowed(Conflict):
    """The dispute or its order is not in a state that allows this step."""

    code = "dispute_not_allowed"


class RefundAmountInvalid(Invalid):
    code = "refund_amount_invalid"

    def __init__(self, most: int) -> None:
        super().__init__(
            f"The amount must be between 1 and {most} (the order total minus what was refunded already).",
            fields={"amount": f"at most {most}"},
        )
