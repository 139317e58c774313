"""The built-in simulated payment provider: behaves like a real one, for demos and tests.

Test cards (any future expiry date, any 3-digit CVC):

| number | result |
|---|---|
| 4242 4242 4242 4242 | succeeds |
| 4000 0000 0000 0002 | declined: ``card_declined`` |
| 4000 0000 0000 9995 | declined: ``insufficient_funds`` |
| 4000 0000 0000 0069 | declined: ``expired_card`` |
| 4000 0000 0000 0127 | declined: ``incorrect_cvc`` |

Any other number that passes the Luhn check succeeds too. The provider keeps its own state (its intents and
refunds tables, "the provider's side") and, after each confirmation attempt, sends the result **asynchronously**:
it enqueues a ``payment.deliver_webhook`` job that signs the event and hands it to the same handler
``POST /api/v1/webhooks/payments`` uses (``souk.payment.tasks``).
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from souk.db import dialect_of
from souk.kit.clock import utcnow
from souk.models import SimulatedIntent, SimulatedRefund
from souk.payment.provider import (
    EVENT_FAILED,
    EVENT_SUCCEEDED,
    KEY_IN_USE,
    Intent,
    ProviderError,
    ProviderRefund,
    card_brand,
)
from souk.worker.queue import enqueue

CARD_SUCCEEDS = "4242424242424242"
CARD_DECLINED = "4000000000000002"
CARD_INSUFFICIENT_FUNDS = "4000000000009995"
CARD_EXPIRED = "4000000000000069"
CARD_INCORRECT_CVC = "4000000000000127"

DECLINES: dict[str, tuple[str, str]] = {
    CARD_DECLINED: ("card_declined", "The card was declined."),
    CARD_INSUFFICIENT_FUNDS: ("insufficient_funds", "The card has insufficient funds."),
    CARD_EXPIRED: ("expired_card", "The card has expired."),
    CARD_INCORRECT_CVC: ("incorrect_cvc", "The card's security code is incorrect."),
}

DELIVER_WEBHOOK = "payment.deliver_webhook"

_FRESH = {"populate_existing": True}  # a row a statement returns replaces what the session holds of it


def _intent(
    row: SimulatedIntent, status: str | None = None, failure: tuple[str, str] | None = None
) -> Intent:
    return Intent(
        id=row.id,
        status=status or ("succeeded" if row.status == "succeeded" else "requires_payment_method"),  # type: ignore[arg-type]
        client_secret=row.client_secret,
        amount=row.amount,
        currency=row.currency,
        card_brand=row.card_brand,
        card_last4=row.card_last4,
        failure_code=failure[0] if failure else None,
        failure_message=failure[1] if failure else None,
    )


class SimulatedPaymentProvider:
    name = "simulated"

    async def create_intent(
        self, session: AsyncSession, *, amount: int, currency: str, reference: str, idempotency_key: str
    ) -> Intent:
        """One statement for a new key: the intent is inserted with ``ON CONFLICT DO NOTHING`` on its unique
        key, and the existing intent is read only when there is one (also one a concurrent transaction has
        just committed: on PostgreSQL the insert waits for it)."""
        intent_id = f"pi_sim_{secrets.token_hex(12)}"
        insert = sqlite_insert if dialect_of(session) == "sqlite" else pg_insert
        stmt = (
            insert(SimulatedIntent)
            .values(
                id=intent_id,
                idempotency_key=idempotency_key,
                client_secret=f"{intent_id}_secret_{secrets.token_urlsafe(18)}",
                amount=amount,
                currency=currency,
                reference=reference[:200],
                status="requires_payment_method",
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(SimulatedIntent)
        )
        row = (await session.scalars(stmt, execution_options=_FRESH)).one_or_none()
        if row is not None:
            return _intent(row)
        existing = await session.scalar(
            select(SimulatedIntent).where(SimulatedIntent.idempotency_key == idempotency_key)
        )
        if existing is None:  # pragma: no cover - intents are never deleted
            raise RuntimeError(f"intent {idempotency_key!r} conflicted but cannot be read")
        if (existing.amount, existing.currency) != (amount, currency):
            raise ProviderError("This idempotency key was used for another amount.", code=KEY_IN_USE)
        return _intent(existing)

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
        """Charge the card: one conditional UPDATE of the intent (refused when it has succeeded already; the
        row stays locked until the transaction ends, as a ``SELECT ... FOR UPDATE`` would) and the webhook's
        delivery job."""
        now = utcnow()
        failure = DECLINES.get(card_number)
        if failure is None and (exp_year, exp_month) < (now.year, now.month):
            failure = DECLINES[CARD_EXPIRED]
        stmt = (
            update(SimulatedIntent)
            .where(SimulatedIntent.id == intent_id, SimulatedIntent.status != "succeeded")
            .values(
                status="succeeded" if failure is None else "requires_payment_method",
                last_failure_code=None if failure is None else failure[0],
                card_brand=card_brand(card_number),
                card_last4=card_number[-4:],
                updated_at=now,
            )
            .returning(SimulatedIntent)
            .execution_options(synchronize_session=False)
        )
        row = (await session.scalars(stmt, execution_options=_FRESH)).one_or_none()
        if row is None:
            if await session.get(SimulatedIntent, intent_id) is None:
                raise ProviderError(f"No such payment intent: {intent_id}.", code="resource_missing")
            raise ProviderError(
                "This payment intent has already succeeded.", code="payment_intent_unexpected_state"
            )
        event: dict[str, Any] = {
            "id": f"evt_sim_{secrets.token_hex(12)}",
            "type": EVENT_SUCCEEDED if failure is None else EVENT_FAILED,
            "intent_id": row.id,
            "amount": row.amount,
            "currency": row.currency,
            "created": int(now.timestamp()),
        }
        if failure is not None:
            event["failure_code"] = failure[0]
            event["failure_message"] = failure[1]
        await enqueue(
            session,
            DELIVER_WEBHOOK,
            {"provider": self.name, "event": event},
            dedupe_key=f"payment-webhook:{self.name}:{event['id']}",
        )
        return _intent(row, "succeeded" if failure is None else "failed", failure)

    async def refund(
        self, session: AsyncSession, intent_id: str, *, amount: int, idempotency_key: str
    ) -> ProviderRefund:
        existing = await session.scalar(
            select(SimulatedRefund).where(SimulatedRefund.idempotency_key == idempotency_key)
        )
        if existing is not None:
            if (existing.intent_id, existing.amount) != (intent_id, amount):
                raise ProviderError("This idempotency key was used for another refund.", code=KEY_IN_USE)
            return ProviderRefund(existing.id, existing.intent_id, existing.amount)
        row = await session.get(SimulatedIntent, intent_id, with_for_update=True)
        if row is None:
            raise ProviderError(f"No such payment intent: {intent_id}.", code="resource_missing")
        if row.status != "succeeded":
            raise ProviderError("Only a succeeded payment can be refunded.", code="charge_not_refundable")
        if amount <= 0 or row.refunded_amount + amount > row.amount:
            raise ProviderError(
                "The refund is more than what is left of the charge.", code="amount_too_large"
            )
        row.refunded_amount += amount
        refund = SimulatedRefund(
            id=f"re_sim_{secrets.token_hex(12)}",
            intent_id=intent_id,
            idempotency_key=idempotency_key,
            amount=amount,
        )
        session.add(refund)
        await session.flush()
        return ProviderRefund(refund.id, intent_id, amount)
