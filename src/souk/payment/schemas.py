"""Payment payloads and read models. Card details are checked here and never stored (only brand and last 4)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from souk.kit.clock import utcnow
from souk.kit.schemas import ReadSchema, Schema, Trimmed
from souk.payment.provider import luhn_valid

_SEPARATORS = re.compile(r"[\s-]+")


class CardIn(Schema):
    """A card as the buyer typed it. Spaces and dashes in the number are ignored; a two-digit year is 20YY."""

    number: Annotated[str, Trimmed(40)] = Field(
        description="the card number; test cards: 4242424242424242 succeeds, 4000000000000002 is declined, "
        "4000000000009995 has insufficient funds"
    )
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=0, le=2200)
    cvc: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{3,4}$")] = Field(
        description="the 3 or 4 digits on the card"
    )

    @field_validator("number")
    @classmethod
    def _card_number(cls, value: str) -> str:
        digits = _SEPARATORS.sub("", value)
        if not digits.isdigit() or not 12 <= len(digits) <= 19:
            raise ValueError("enter the 12 to 19 digits of the card number")
        if not luhn_valid(digits):
            raise ValueError("this card number is not valid; check the digits")
        return digits

    @field_validator("exp_year")
    @classmethod
    def _four_digit_year(cls, value: int) -> int:
        return value + 2000 if value < 100 else value

    def expired(self) -> bool:
        now = utcnow()
        return (self.exp_year, self.exp_month) < (now.year, now.month)


class PaymentRead(ReadSchema):
    id: int
    provider: str
    intent_id: str
    amount: int
    currency: str
    refunded_amount: int
    status: str
    reference: str
    order_id: int | None
    card_brand: str | None
    card_last4: str | None
    failure_code: str | None
    failure_message: str | None
    created_at: datetime
    succeeded_at: datetime | None


class WebhookAck(ReadSchema):
    received: bool = True
    event_id: str
    duplicate: bool = Field(description="true when this event was processed before (nothing was done again)")
    outcome: str = Field(description="applied, or ignored (unknown intent, state already reached, mismatch)")
