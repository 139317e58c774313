"""All SQL of our payment records (``payments`` and ``webhook_events``; the simulated provider keeps its own
tables in ``souk.payment.simulated``). No rules, no commit.

Rows with a unique key are inserted with ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: the insert is the
check, so the normal path is one statement and needs no savepoint; the existing row is read only when the insert
found one. On PostgreSQL an insert that meets a row another transaction has just inserted waits for it: when
that one commits the insert does nothing (and the read that follows, a new statement under READ COMMITTED,
sees the committed row); when it rolls back the insert goes ahead. On SQLite writers are serialised.
State changes are conditional ``UPDATE ... WHERE status IN (...)`` statements whose result says whether they
happened.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from souk.db import dialect_of
from souk.models import Payment, WebhookEvent

# the statuses a payment may be charged from (a new one, or one whose last attempt was declined)
PAYABLE_STATUSES = ("requires_payment", "failed")
# the statuses a provider's success event moves to succeeded (a failure never overrides a success)
SUCCEEDABLE_STATUSES = ("requires_payment", "processing", "failed")

_FRESH = {"populate_existing": True}  # a row a statement returns replaces what the session holds of it
# an amount column's range (BIGINT): an event's amount outside it matches no payment (and cannot be bound)
_BIGINT = range(-(2**63), 2**63)


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self) -> Any:
        return sqlite_insert if dialect_of(self.session) == "sqlite" else pg_insert

    # --- payments -------------------------------------------------------------------------------------------

    async def insert_payment(self, **values: Any) -> Payment | None:
        """Insert a payment and return it (a loaded ``Payment`` in the session); None when a payment with its
        ``idempotency_key`` exists already (also one a concurrent transaction has just committed)."""
        stmt = (
            self._insert()(Payment)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(Payment)
        )
        payment: Payment | None = (await self.session.scalars(stmt, execution_options=_FRESH)).one_or_none()
        return payment

    async def by_key(self, key: str) -> Payment | None:
        payment: Payment | None = await self.session.scalar(
            select(Payment).where(Payment.idempotency_key == key)
        )
        return payment

    async def by_intent(self, intent_id: str) -> Payment | None:
        payment: Payment | None = await self.session.scalar(
            select(Payment).where(Payment.intent_id == intent_id)
        )
        return payment

    async def lock(self, payment_id: int) -> Payment | None:
        """The payment as committed now, its row locked until the transaction ends (``SELECT ... FOR UPDATE``
        on PostgreSQL: a second transaction locking it waits, then reads what the first committed; SQLite
        ignores ``FOR UPDATE``, but there every transaction is ``BEGIN IMMEDIATE``, one writer at a time, so
        nobody else changes the row before this transaction ends either)."""
        payment: Payment | None = await self.session.get(
            Payment, payment_id, with_for_update=True, populate_existing=True
        )
        return payment

    async def record_attempt(self, payment: Payment, **values: Any) -> bool:
        """Write the result of a charge attempt (status ``processing`` or ``failed``, the card's brand and last
        four digits, the failure) on a payment that was payable; ``payment`` is updated in place. False when
        it was not payable (never, while the caller holds the row with ``lock``)."""
        result = await self.session.execute(
            update(Payment)
            .where(Payment.id == payment.id, Payment.status.in_(PAYABLE_STATUSES))
            .values(**values)
            .execution_options(synchronize_session="fetch")
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def mark_succeeded(
        self, intent_id: str, amount: int, currency: str, at: datetime
    ) -> Payment | None:
        """Move the payment of ``intent_id`` to ``succeeded`` if it is for exactly this amount and not
        succeeded (or refunded) yet: one conditional UPDATE, so of two events at once only one succeeds it.
        Returns the updated payment (refreshed in the session), or None when nothing changed (unknown intent,
        another amount, already succeeded)."""
        return await self._transition(
            intent_id,
            amount,
            currency,
            SUCCEEDABLE_STATUSES,
            status="succeeded",
            succeeded_at=at,
            failure_code=None,
            failure_message=None,
            updated_at=at,
        )

    async def mark_failed(
        self,
        intent_id: str,
        amount: int,
        currency: str,
        *,
        failure_code: str,
        failure_message: str | None,
        at: datetime,
    ) -> Payment | None:
        """Move the payment of ``intent_id`` to ``failed`` if it is for exactly this amount and payable (a newer
        attempt in flight, ``processing``, or a success is never overridden by an older failure). Returns the
        updated payment, or None when nothing changed."""
        return await self._transition(
            intent_id,
            amount,
            currency,
            PAYABLE_STATUSES,
            status="failed",
            failure_code=failure_code,
            failure_message=failure_message,
            updated_at=at,
        )

    async def _transition(
        self, intent_id: str, amount: int, currency: str, from_statuses: Any, **values: Any
    ) -> Payment | None:
        """One conditional UPDATE of the payment of ``intent_id`` for exactly this amount and currency, in one
        of ``from_statuses``; the updated payment (refreshed in the session) or None when nothing matched."""
        if amount not in _BIGINT:
            return None
        stmt = (
            update(Payment)
            .where(
                Payment.intent_id == intent_id,
                Payment.amount == amount,
                Payment.currency == currency,
                Payment.status.in_(from_statuses),
            )
            .values(**values)
            .returning(Payment)
            .execution_options(synchronize_session=False)
        )
        payment: Payment | None = (await self.session.scalars(stmt, execution_options=_FRESH)).one_or_none()
        return payment

    # --- the provider's events ------------------------------------------------------------------------------

    async def record_event(
        self, *, provider: str, event_id: str, type: str, intent_id: str, outcome: str, at: datetime
    ) -> int | None:
        """Record an event we are about to process, with the outcome it is expected to have; None when it was
        recorded before (a replay or a re-delivery: the unique ``(provider, event_id)`` decides, also against
        a concurrent delivery of the same event, which waits for the first on PostgreSQL)."""
        stmt = (
            self._insert()(WebhookEvent)
            .values(
                provider=provider,
                event_id=event_id,
                type=type,
                intent_id=intent_id,
                outcome=outcome,
                received_at=at,
            )
            .on_conflict_do_nothing(index_elements=["provider", "event_id"])
            .returning(WebhookEvent.id)
        )
        recorded: int | None = (await self.session.execute(stmt)).scalar()
        return recorded

    async def set_event_outcome(self, recorded_id: int, outcome: str) -> None:
        await self.session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id == recorded_id)
            .values(outcome=outcome)
            .execution_options(synchronize_session=False)
        )
