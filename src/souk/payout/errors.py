"""Payout errors, each with a stable code. Input problems are 422 with the field that is wrong."""

from __future__ import annotations

from souk.errors import Invalid, NotFound
from souk.kit.money import format_money

# amounts in messages: international English, "US$12.50"
MESSAGE_LOCALE = "en_001"


class PayoutNotFound(NotFound):
    code = "payout_not_found"

    def __init__(self) -> None:
        super().__init__("No such payout.")


class PayoutBelowMinimum(Invalid):
    code = "payout_below_minimum"

    def __init__(self, minimum: int, currency: str) -> None:
        problem = f"must be at least {format_money(minimum, currency, 'en_001')}, the smallest payout"
        super().__init__(f"The payout {problem}.", fields={"amount": problem})
        self.minimum = minimum


class PayoutAboveAvailable(Invalid):
    code = "payout_above_available"

    def __init__(self, available: int, currency: str) -> None:
        if available <= 0:
            problem = f"nothing is available to pay out in {currency}"
        else:
            problem = f"must be at most {format_money(available, currency, 'en_001')}, your available balance"
        super().__init__(f"The payout amount: {problem}.", fields={"amount": problem})
        self.available = available


class PayoutKeyReused(Invalid):
    """The Idempotency-Key was used for another payout request of this store."""

    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was used for another payout request; use a new key for a new payout.",
            fields={"Idempotency-Key": "was used for another request"},
        )
