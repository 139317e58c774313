"""The payment-provider interface. An adapter for a real provider (Stripe, Adyen ...) implements
``PaymentProvider``; the built-in ``SimulatedPaymentProvider`` (``souk.payment.simulated``) behaves like one for
demos and tests.

Every method takes the caller's ``session``: the simulated provider keeps its own state in its own tables and
enqueues its webhook deliveries there; an adapter for a remote provider ignores it (and makes its HTTP call
with the provider's own idempotency key, so a retry never charges twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from souk.errors import Conflict

IntentStatus = Literal["requires_payment_method", "succeeded", "failed"]

# Event types the provider sends to POST /api/v1/webhooks/payments
EVENT_SUCCEEDED = "payment_intent.succeeded"
EVENT_FAILED = "payment_intent.payment_failed"

# ProviderError.code when an idempotency key was used before with other values
KEY_IN_USE = "idempotency_key_in_use"


@dataclass(frozen=True)
class Intent:
    """A payment intent as the provider reports it. After ``confirm``: ``succeeded`` (the confirmation arrives
    later by webhook) or ``failed`` with a ``failure_code`` (the buyer may try another card)."""

    id: str
    status: IntentStatus
    client_secret: str
    amount: int
    currency: str
    card_brand: str | None = None
    card_last4: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None


@dataclass(frozen=True)
class ProviderRefund:
    id: str
    intent_id: str
    amount: int


class ProviderError(Conflict):
    """The provider refused a request (an intent in the wrong state, a key reused with other values)."""

    code = "payment_provider_error"


class PaymentProvider(Protocol):
    name: str

    async def create_intent(
        self, session: AsyncSession, *, amount: int, currency: str, reference: str, idempotency_key: str
    ) -> Intent:
        """A new intent to collect ``amount`` (minor units); the same key returns the same intent (the same key
        with another amount or currency raises ``ProviderError`` with code ``KEY_IN_USE``)."""
        ...

    async def confirm(
        self,
        session: AsyncSession,
        intent_id: str,
        *,
        card_number: str,
        exp_month: int,
        exp_year: int,
        cvc: str,
    ) -> Intent:
        """Charge the card. The result comes back at once; the provider also sends it to the webhook."""
        ...

    async def refund(
        self, session: AsyncSession, intent_id: str, *, amount: int, idempotency_key: str
    ) -> ProviderRefund:
        """Give back ``amount`` of a succeeded intent (partial refunds allowed); the same key is one refund."""
        ...


def card_brand(number: str) -> str:
    """The card network from the number's prefix."""
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"34", "37"}:
        return "amex"
    if 51 <= int(number[:2] or 0) <= 55 or 2221 <= int(number[:4] or 0) <= 2720:
        return "mastercard"
    if number.startswith(("6011", "65")):
        return "discover"
    if number[:2] == "35":
        return "jcb"
    if number[:2] == "62":
        return "unionpay"
    return "card"


def luhn_valid(number: str) -> bool:
    """The Luhn checksum of a card number (digits only)."""
    if not number.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0
