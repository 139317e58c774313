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

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.config import Settings, get_settings
from souk.db import dialect_of
from souk.errors import invalid_field
from souk.kit.clock import utcnow
from souk.kit.money import Money, is_currency
from souk.models import Payment, PaymentRefund, WebhookEvent
from souk.payment.errors import (
    PaymentKeyReused,
    PaymentNotFound,
    PaymentNotPayable,
    PaymentNotRefundable,
    RefundTooLarge,
)
from souk.payment.provider import EVENT_FAILED, EVENT_SUCCEEDED, PaymentProvider
from souk.payment.schemas import CardIn
from souk.payment.simulated import SimulatedPaymentProvider
from souk.payment.webhooks import decode_event, verify

log = logging.getLogger("souk.payment")

PaymentCallback = Callable[[AsyncSession, Payment], Awaitable[None]]

PROVIDERS: dict[str, Callable[[], PaymentProvider]] = {"simulated": SimulatedPaymentProvider}
PAYABLE_STATUSES = ("requires_payment", "failed")


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
        existing = await self._by_key(session, idempotency_key)
        if existing is not None:
            return self._same_payment(existing, amount, order_id)
        provider = self.provider
        try:
            # the provider's intent (the simulated provider writes a row keyed by the same key) and the payment
            # in one savepoint: of two creates with one key at the same moment, the second fails as a whole
            async with session.begin_nested():
                intent = await provider.create_intent(
                    session,
                    amount=amount.amount,
                    currency=amount.currency,
                    reference=reference,
                    idempotency_key=f"payment:{idempotency_key}",
                )
                payment = Payment(
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
                session.add(payment)
        except IntegrityError:
            # a concurrent request with the same key committed first
            existing = await self._by_key(session, idempotency_key)
            if existing is None:
                raise
            return self._same_payment(existing, amount, order_id)
        return payment

    async def _by_key(self, session: AsyncSession, key: str) -> Payment | None:
        payment: Payment | None = await session.scalar(select(Payment).where(Payment.idempotency_key == key))
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
        payment = await self.get(session, payment_id)
        if card.expired():
            raise invalid_field("exp_month", "the card has expired")
        async with session.begin_nested():
            # claim it: of two confirmations at the same moment only one reaches the provider
            claimed = await session.execute(
                update(Payment)
                .where(Payment.id == payment.id, Payment.status.in_(PAYABLE_STATUSES))
                .values(status="processing", failure_code=None, failure_message=None, updated_at=utcnow())
                .execution_options(synchronize_session="fetch")
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                await session.refresh(payment)
                raise PaymentNotPayable(payment.status)
            intent = await self.provider.confirm(
                session,
                payment.intent_id,
                card_number=card.number,
                exp_month=card.exp_month,
                exp_year=card.exp_year,
                cvc=card.cvc,
            )
            payment.card_brand = intent.card_brand
            payment.card_last4 = intent.card_last4
            if intent.status == "failed":
                payment.status = "failed"
                payment.failure_code = intent.failure_code
                payment.failure_message = intent.failure_message
            await session.flush()
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
        insert = sqlite_insert if dialect_of(session) == "sqlite" else pg_insert
        recorded = (
            await session.execute(
                insert(WebhookEvent)
                .values(
                    provider=provider_name,
                    event_id=event["id"],
                    type=event["type"],
                    intent_id=event["intent_id"],
                    outcome="received",
                    received_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["provider", "event_id"])
                .returning(WebhookEvent.id)
            )
        ).scalar()
        if recorded is None:
            return WebhookResult(event["id"], duplicate=True, outcome="duplicate")
        outcome = await self._apply(session, event)
        await session.execute(update(WebhookEvent).where(WebhookEvent.id == recorded).values(outcome=outcome))
        return WebhookResult(event["id"], duplicate=False, outcome=outcome)

    async def _apply(self, session: AsyncSession, event: dict[str, object]) -> str:
        payment: Payment | None = await session.scalar(
            select(Payment).where(Payment.intent_id == event["intent_id"])
        )
        if payment is None:
            log.warning("payment webhook %s for an unknown intent %s", event["id"], event["intent_id"])
            return "ignored"
        if (payment.amount, payment.currency) != (event["amount"], event["currency"]):
            log.error("payment webhook %s does not match payment %s's amount", event["id"], payment.id)
            return "ignored"
        now = utcnow()
        if event["type"] == EVENT_SUCCEEDED:
            changed = await session.execute(
                update(Payment)
                .where(
                    Payment.id == payment.id, Payment.status.in_(("requires_payment", "processing", "failed"))
                )
                .values(
                    status="succeeded",
                    succeeded_at=now,
                    failure_code=None,
                    failure_message=None,
                    updated_at=now,
                )
                .execution_options(synchronize_session="fetch")
            )
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                return "ignored"
            await session.refresh(payment)
            for callback in list(self._succeeded):
                await callback(session, payment)
            return "applied"
        if event["type"] == EVENT_FAILED:
            code = event.get("failure_code")
            message = event.get("failure_message")
            changed = await session.execute(
                update(Payment)
                # a newer attempt in flight (processing) or a success is never overridden by an older failure
                .where(Payment.id == payment.id, Payment.status.in_(PAYABLE_STATUSES))
                .values(
                    status="failed",
                    failure_code=str(code)[:40] if code else "payment_failed",
                    failure_message=str(message)[:300] if message else None,
                    updated_at=now,
                )
                .execution_options(synchronize_session="fetch")
            )
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                return "ignored"
            await session.refresh(payment)
            for callback in list(self._failed):
                await callback(session, payment)
            return "applied"
        return "ignored"

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
