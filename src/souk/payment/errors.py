"""Payment errors, each with a stable code."""

from __future__ import annotations

from souk.errors import Conflict, Invalid, NotFound, SoukError
from souk.kit.money import format_money
from souk.models import Payment

# amounts in messages: international English, "US$12.50"
MESSAGE_LOCALE = "en_001"


class PaymentNotFound(NotFound):
    code = "payment_not_found"

    def __init__(self) -> None:
        super().__init__("No such payment.")


class PaymentNotPayable(Conflict):
    """The payment is already being processed, has succeeded, or was refunded."""

    code = "payment_not_payable"

    def __init__(self, status: str) -> None:
        super().__init__(f"This payment cannot be paid again (it is {status.replace('_', ' ')}).")
        self.payment_status = status


class PaymentNotRefundable(Conflict):
    code = "payment_not_refundable"

    def __init__(self, status: str) -> None:
        super().__init__(
            f"Only a succeeded payment can be refunded (this one is {status.replace('_', ' ')})."
        )


class RefundTooLarge(Invalid):
    code = "refund_too_large"

    def __init__(self, left: int, currency: str) -> None:
        problem = f"must be at most {format_money(left, currency, 'en_001')}, what is left to refund"
        super().__init__(f"Refund amount {problem}.", fields={"amount": problem})


class PaymentKeyReused(Conflict):
    """The idempotency key was used for a payment or refund with other values."""

    code = "idempotency_key_reused"


class PaymentDeclined(SoukError):
    """The provider declined the card (HTTP 402, the code says why: ``card_declined``, ``insufficient_funds``
    ...); ``fields`` points at the card number so a form shows it there."""

    status = 402
    code = "payment_declined"

    def __init__(self, payment: Payment) -> None:
        reason = payment.failure_message or "The card was declined."
        super().__init__(
            f"{reason} Try another card.",
            code=payment.failure_code or "payment_declined",
            fields={"card_number": f"{reason} Try another card."},
        )
        self.failure_code = payment.failure_code
