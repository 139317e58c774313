"""Payments: create an intent, confirm it with a card, receive the provider's signed webhooks, refund.
Flushes, never commits.

The order of things (ARCHITECTURE rule 5):
1. ``create`` (in the checkout's first transaction): a ``Payment`` row and the provider's intent;
2. ``confirm`` (its own short transaction): the provider charges the card and answers at once: the payment is
   ``processing`` (or ``failed`` with a ``failure_code``: the buyer may try another card);
3. the provider's webhook (``receive_webhook``, from ``POST /api/v1/webhooks/payments`` or the simulated
   provider's delivery job) marks it ``succeeded`` and runs the callbacks registered with ``on_succeeded``
   exactly once per payment, in that transaction (the checkout's callback marks the order paid and posts
   ``payment_captured`` to the ledger). ``on_failed`` callbacks run once per failure event.

Nothing here authorises an actor: call these from the service that owns what is paid for (the order), after it
has checked the actor. ``refund`` moves money at the provider only; the caller posts the matching ledger entry
(``refund_before_release`` or ``refund_after_release``) in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.config import Settings, get_settings
from souk.errors import invalid_field
from souk.kit.clock import utcnow
from souk.kit.money import Money, is_currency
from souk.models import Payment, PaymentRefund
from souk.payment.errors import (
    PaymentKeyReused,
    PaymentNotFound,
    PaymentNotPayable,
    PaymentNotRefundable,
    RefundTooLarge,
)
from souk.payment.provider import EVENT_FAILED, EVENT_SUCCEEDED, KEY_IN_USE, PaymentProvider, ProviderError
from souk.payment.repository import PAYABLE_STATUSES, PaymentRepository
from souk.payment.schemas import CardIn
from souk.payment.simulated import SimulatedPaymentProvider
from souk.payment.webhooks import decode_event, verify

log = logging.getLogger("souk.payment")

PaymentCallback = Callable[[AsyncSession, Payment], Awaitable[None]]

PROVIDERS: dict[str, Callable[[], PaymentProvider]] = {"simulated": SimulatedPaymentProvider}


@dataclass(frozen=True)
class WebhookResult:
    event_id: str
    duplicate: bool
    outcome: str  # applied | ignored | duplicate


class PaymentService:
    def __init__(self) -> None:
        self._succeeded: list[PaymentCallback] = []
        self._failed: list[PaymentCallback] = []
        self._provider: PaymentProvider | None = None
        self._settings: Settings | None = None

    # --- configuration --------------------------------------------------------------------------------

    def configure(self, settings: Settings) -> None:
        """Use these settings (provider, webhook secret) instead of the environment's (``create_app`` and
        tests call it)."""
        self._settings = settings

    @property
    def settings(self) -> Settings:
        return self._settings or get_settings()

    def use_provider(self, provider: PaymentProvider | None) -> None:
        """Replace the configured provider (an adapter under test); None goes back to the setting."""
        self._provider = provider

    @property
    def provider(self) -> PaymentProvider:
        if self._provider is None:
            self._provider = PROVIDERS[self.settings.payment_provider]()
        return self._provider

    def on_succeeded(self, callback: PaymentCallback) -> PaymentCallback:
        """Run ``await callback(session, payment)`` when a payment succeeds (once per payment, in the webhook's
        transaction; an exception rolls the webhook back and the provider delivers it again)."""
        if callback not in self._succeeded:
            self._succeeded.append(callback)
        return callback

    def on_failed(self, callback: PaymentCallback) -> PaymentCallback:
        """Run ``await callback(session, payment)`` when the provider reports a failed attempt (once per event;
        ``payment.failure_code`` says why)."""
        if callback not in self._failed:
            self._failed.append(callback)
        return callback

    def remove_callback(self, callback: PaymentCallback) -> None:
        """Unregister a callback of ``on_succeeded`` or ``on_failed`` (tests)."""
        for callbacks in (self._succeeded, self._failed):
            if callback in callbacks:
                callbacks.remove(callback)

    # --- paying -----------------------------------------------------------------------------------------

    async def get(self, session: AsyncSession, payment_id: int) -> Payment:
        payment = await session.get(Payment, payment_id)
        if payment is None:
            raise PaymentNotFound()
        return payment

    async def for_order(self, session: AsyncSession, order_id: int) -> list[Payment]:
        rows = await session.scalars(select(Payment).where(Payment.order_id == order_id).order_by(Payment.id))
        return list(rows.all())

    async def create(
        self,
        session: AsyncSession,
        *,
        amount: Money,
        reference: str,
        idempotency_key: str,
        order_id: int | None = None,
        user_id: int | None = None,
    ) -> Payment:
        """A payment of ``amount`` with the provider's intent. The same key returns the same payment; the same
        key with another amount or order raises ``PaymentKeyReused``."""
        if amount.amount <= 0:
            raise invalid_field("amount", "must be positive")
        if not is_currency(amount.currency):
            raise invalid_field("currency", "is not a currency the marketplace accepts")
        if not 1 <= len(idempotency_key) <= 200:
            raise invalid_field("idempotency_key", "must be 1 to 200 characters")
        provider = self.provider
        repo = PaymentRepository(session)
        # no savepoint and no read first: the provider's intent is idempotent by its key (the simulated
        # provider inserts its row with ON CONFLICT DO NOTHING and reads the existing one only on a conflict),
        # and so is the payment's insert; of two creates with one key at the same moment, the second finds
        # the first's intent and payment (on PostgreSQL its inserts wait for the first transaction to end)
        try:
            intent = await provider.create_intent(
                session,
                amount=amount.amount,
                currency=amount.currency,
                reference=reference,
                idempotency_key=f"payment:{idempotency_key}",
            )
        except ProviderError as error:
            # the intent under this key is for another amount: the key was used for another payment
            existing = await repo.by_key(idempotency_key) if error.code == KEY_IN_USE else None
            if existing is None:
                raise
            return self._same_payment(existing, amount, order_id)
        payment = await repo.insert_payment(
            provider=provider.name,
            intent_id=intent.id,
            idempotency_key=idempotency_key,
            amount=amount.amount,
            currency=amount.currency,
            status="requires_payment",
            reference=reference[:200],
            order_id=order_id,
            user_id=user_id,
        )
        if payment is None:
            # created before (a retry, or a concurrent request that committed first): the same payment
            existing = await repo.by_key(idempotency_key)
            if existing is None:  # pragma: no cover - payments are never deleted
                raise RuntimeError(f"payment {idempotency_key!r} conflicted but cannot be read")
            return self._same_payment(existing, amount, order_id)
        return payment

    def _same_payment(self, payment: Payment, amount: Money, order_id: int | None) -> Payment:
        if (payment.amount, payment.currency, payment.order_id) != (amount.amount, amount.currency, order_id):
            raise PaymentKeyReused("This idempotency key was used for another payment.")
        return payment

    async def confirm(self, session: AsyncSession, payment_id: int, card: CardIn) -> Payment:
        """Charge ``card``. Returns the payment: ``processing`` (the provider accepted; the webhook will mark it
        succeeded) or ``failed`` with ``failure_code``/``failure_message`` (raise ``PaymentDeclined(payment)``
        to show it). A payment already processing or paid raises ``PaymentNotPayable`` (so a double submit
        never charges twice)."""
        repo = PaymentRepository(session)
        # the claim: the payment's row is ours until this transaction ends (``lock``: FOR UPDATE on PostgreSQL,
        # one writer at a time on SQLite), so of two confirmations at the same moment the second waits and
        # then reads what the first committed (processing): only one reaches the provider. Nothing is written
        # before the provider answers, so a provider error leaves the payment as it was (no savepoint needed)
        payment = await repo.lock(payment_id)
        if payment is None:
            raise PaymentNotFound()
        if card.expired():
            raise invalid_field("exp_month", "the card has expired")
        if payment.status not in PAYABLE_STATUSES:
            raise PaymentNotPayable(payment.status)
        intent = await self.provider.confirm(
            session,
            payment.intent_id,
            card_number=card.number,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            cvc=card.cvc,
        )
        failed = intent.status == "failed"
        recorded = await repo.record_attempt(
            payment,
            status="failed" if failed else "processing",
            card_brand=intent.card_brand,
            card_last4=intent.card_last4,
            failure_code=intent.failure_code if failed else None,
            failure_message=intent.failure_message if failed else None,
            updated_at=utcnow(),
        )
        if not recorded:  # pragma: no cover - the row is locked since ``lock`` read it payable
            raise RuntimeError(f"payment {payment.id} changed while it was being charged")
        return payment

    # --- the provider's webhook ------------------------------------------------------------------------

    def webhook_secret(self, settings: Settings | None = None) -> str:
        return (settings or self.settings).resolved_payment_webhook_secret

    async def receive_webhook(
        self,
        session: AsyncSession,
        *,
        body: bytes,
        signature: str | None,
        provider: str | None = None,
        secret: str | None = None,
    ) -> WebhookResult:
        """Verify, de-duplicate and apply one provider event (``WebhookRejected``, 400, when it is not
        authentic or too old). A replayed event is a no-op."""
        verify(secret or self.webhook_secret(), signature, body, int(utcnow().timestamp()))
        event = decode_event(body)
        provider_name = provider or self.provider.name
        repo = PaymentRepository(session)
        # the event is recorded first (its unique id makes a replay a no-op, also one delivered at the same
        # moment), with the outcome it usually has; when it turns out otherwise, one UPDATE corrects it in the
        # same transaction (an exception in a callback rolls the record back with everything else)
        expected = "applied" if event["type"] in (EVENT_SUCCEEDED, EVENT_FAILED) else "ignored"
        recorded = await repo.record_event(
            provider=provider_name,
            event_id=event["id"],
            type=event["type"],
            intent_id=event["intent_id"],
            outcome=expected,
            at=utcnow(),
        )
        if recorded is None:
            return WebhookResult(event["id"], duplicate=True, outcome="duplicate")
        outcome = await self._apply(session, event)
        if outcome != expected:
            await repo.set_event_outcome(recorded, outcome)
        return WebhookResult(event["id"], duplicate=False, outcome=outcome)

    async def _apply(self, session: AsyncSession, event: dict[str, Any]) -> str:
        """Apply a verified, first-seen event to its payment: "applied" (the callbacks ran) or "ignored"."""
        repo = PaymentRepository(session)
        now = utcnow()
        intent_id, amount, currency = event["intent_id"], event["amount"], event["currency"]
        payment: Payment | None = None
        callbacks: list[PaymentCallback] = []
        if event["type"] == EVENT_SUCCEEDED:
            payment = await repo.mark_succeeded(intent_id, amount, currency, now)
            callbacks = self._succeeded
        elif event["type"] == EVENT_FAILED:
            code = event.get("failure_code")
            message = event.get("failure_message")
            payment = await repo.mark_failed(
                intent_id,
                amount,
                currency,
                failure_code=str(code)[:40] if code else "payment_failed",
                failure_message=str(message)[:300] if message else None,
                at=now,
            )
            callbacks = self._failed
        if payment is None:
            await self._log_ignored(repo, event)
            return "ignored"
        for callback in list(callbacks):
            await callback(session, payment)
        return "applied"

    async def _log_ignored(self, repo: PaymentRepository, event: dict[str, Any]) -> None:
        """Say why an event changed nothing when it is the provider's or our mistake (an unknown intent, another
        amount); an event that arrives after a newer one (a stale state) is ignored silently."""
        payment = await repo.by_intent(event["intent_id"])
        if payment is None:
            log.warning("payment webhook %s for an unknown intent %s", event["id"], event["intent_id"])
        elif (payment.amount, payment.currency) != (event["amount"], event["currency"]):
            log.error("payment webhook %s does not match payment %s's amount", event["id"], payment.id)

    # --- refunds ------------------------------------------------------------------------------------------

    async def refund(self, session: AsyncSession, payment_id: int, amount: int, key: str) -> PaymentRefund:
        """Refund ``amount`` (minor units; partial allowed, never more than what is left) at the provider.
        Idempotent by ``key``: the same key and amount return the same refund; another amount raises
        ``PaymentKeyReused``. A payment refunded in full becomes ``refunded``."""
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise invalid_field("amount", "must be a positive amount in minor units")
        if not 1 <= len(key) <= 200:
            raise invalid_field("idempotency_key", "must be 1 to 200 characters")
        existing = await self._refund_by_key(session, key)
        if existing is not None:
            return self._same_refund(existing, payment_id, amount)
        payment = await self.get(session, payment_id)
        try:
            async with session.begin_nested():
                return await self._refund(session, payment, amount, key)
        except IntegrityError:
            existing = await self._refund_by_key(session, key)
            if existing is None:
                raise
            return self._same_refund(existing, payment_id, amount)

    async def _refund(self, session: AsyncSession, payment: Payment, amount: int, key: str) -> PaymentRefund:
        now = utcnow()
        taken = await session.execute(
            update(Payment)
            .where(
                Payment.id == payment.id,
                Payment.status == "succeeded",
                Payment.refunded_amount + amount <= Payment.amount,
            )
            .values(refunded_amount=Payment.refunded_amount + amount, updated_at=now)
            .execution_options(synchronize_session="fetch")
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            await session.refresh(payment)
            if payment.status != "succeeded":
                raise PaymentNotRefundable(payment.status)
            raise RefundTooLarge(payment.amount - payment.refunded_amount, payment.currency)
        result = await self.provider.refund(
            session, payment.intent_id, amount=amount, idempotency_key=f"refund:{key}"
        )
        refund = PaymentRefund(
            payment_id=payment.id,
            amount=amount,
            currency=payment.currency,
            idempotency_key=key,
            provider_refund_id=result.id,
        )
        session.add(refund)
        await session.flush()
        await session.refresh(payment)
        if payment.refunded_amount == payment.amount:
            payment.status = "refunded"
            await session.flush()
        return refund

    async def _refund_by_key(self, session: AsyncSession, key: str) -> PaymentRefund | None:
        refund: PaymentRefund | None = await session.scalar(
            select(PaymentRefund).where(PaymentRefund.idempotency_key == key)
        )
        return refund

    def _same_refund(self, refund: PaymentRefund, payment_id: int, amount: int) -> PaymentRefund:
        if (refund.payment_id, refund.amount) != (payment_id, amount):
            raise PaymentKeyReused("This idempotency key was used for another refund.")
        return refund


payment_service = PaymentService()
