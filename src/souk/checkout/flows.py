"""The only code that spans several transactions: checkout around the payment call (ARCHITECTURE rule 5).

1. one transaction: the idempotency claim (API key or form token), the pending order with its seller orders
   and lines, the payment intent and, last, the stock reservations (``checkout_service.place``) — committed;
2. the payment provider charges the card in its own short transaction (``payment_service.confirm``): no order
   row is locked while the provider is called;
3. one transaction: the result is recorded (``checkout_service.settle``): a success marks the order paid (the
   provider's signed webhook reaches the same ``order_service.mark_paid``, which runs once whichever comes
   first); a declined card leaves the order waiting for payment with the reason on its timeline; the stored
   answer of the idempotency key is written here.

The flows use the request's session and commit it between the steps; the request's dependency commits the last
step. An error answer of step 1 (out of stock, price changed, ...) rolls the work back and is stored as the
key's answer, replayed to a retry with the key (ADR 0005); a form token is rolled back with it, so a corrected
form runs. A failure after step 1 leaves a pending order the buyer can pay from its page (or that the unpaid timer closes),
and a retry with the same key or token finds it instead of making another.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from souk.auth.actor import Actor
from souk.checkout.schemas import CheckoutCreate
from souk.checkout.service import Placed, checkout_service
from souk.errors import SoukError, invalid_field
from souk.kit.idempotency import (
    FormSubmission,
    IdempotentRequest,
    StoredResponse,
    claim_key,
    complete_key,
    consume_form_token,
    read_idempotent_request,
    record_form_result,
    storable,
    store_error,
    ttl_of,
)
from souk.models import Payment
from souk.order.repository import OrderRepository
from souk.order.schemas import OrderRead
from souk.order.service import order_service
from souk.payment.errors import PaymentNotPayable
from souk.payment.schemas import CardIn
from souk.payment.service import payment_service

log = logging.getLogger("souk.checkout")

FORM_PURPOSE = "checkout"
PAY_FORM_PURPOSE = "order-payment"


@dataclass(frozen=True)
class FormOutcome:
    """What a checkout form submission led to: the order (``order_id``) and its payment's status, or, for a
    repeated submission of the same form, where the first one went (``repeated`` with ``url``; None while the
    first is still running)."""

    order_id: int | None
    payment_status: str | None = None
    failure_message: str | None = None
    repeated: bool = False
    url: str | None = None


def _check_card(card: CardIn) -> None:
    if card.expired():
        raise invalid_field("card.exp_month", "the card has expired")


class CheckoutFlow:
    async def _charge(
        self, session: AsyncSession, order_id: int, card: CardIn, *, placed_payment_id: int | None = None
    ) -> Payment | None:
        """Step 2: the provider charges the card (its own transaction, committed); returns the payment as the
        charge left it, or None when nothing was charged. ``placed_payment_id``: the payment of an order this
        request has just placed (nothing else can have paid or closed it yet, so the order and payment are not
        read again; ``confirm`` still claims the payment atomically)."""
        payment_id = placed_payment_id
        if payment_id is None:
            order = await OrderRepository(session).order(order_id, fresh=True)
            payment = await OrderRepository(session).payment(order.payment_id if order else None)
            if order is None or payment is None or order.status != "pending_payment":
                return None
            if payment.status not in ("requires_payment", "failed"):
                return None  # charged already (a resumed flow), or being charged by a concurrent request
            payment_id = payment.id
        try:
            charged = await payment_service.confirm(session, payment_id, card)
        except PaymentNotPayable:
            await session.rollback()
            return None
        except SoukError as error:
            # the provider refused the request itself: the order stays payable from its page
            log.warning("payment of order %s could not be confirmed: %s", order_id, error.message)
            await session.rollback()
            return None
        await session.commit()
        return charged

    async def _settle(
        self,
        session: AsyncSession,
        actor: Actor,
        order_id: int,
        *,
        placed: Placed | None = None,
        charged: Payment | None = None,
    ) -> OrderRead:
        """Step 3: record the result (the caller commits). ``placed`` and ``charged``: the order this request
        has just placed and its payment as the charge left it; while the provider is still processing (its
        webhook pays the order) there is nothing to record, and the answer is built from them and from the
        lines and events the placing wrote, without reading them again."""
        if placed is not None and charged is not None and charged.status not in ("succeeded", "failed"):
            return await order_service.read_for_buyer(session, placed.order, charged, written=placed.written)
        status, order, payment = await checkout_service.settle_order(session, order_id)
        if order is not None and status not in ("succeeded", "failed", "missing"):
            # nothing changed the order since settle read it (fresh); every caller got the order id through a
            # statement scoped to the buyer (placed now, found by the buyer's token, or payable by them)
            return await order_service.read_for_buyer(session, order, payment)
        read: OrderRead = await order_service.get_for_buyer(session, actor, order_id)
        return read

    # --- the API ------------------------------------------------------------------------------------------

    async def checkout_api(
        self, session: AsyncSession, actor: Actor, request: Request, key: str | None, payload: CheckoutCreate
    ) -> JSONResponse:
        """``POST /api/v1/checkouts``: place and pay, at most once per Idempotency-Key (the same key and body
        return the first answer; another body 422)."""
        req = await read_idempotent_request(actor, request, key, required=True)
        assert req is not None
        _check_card(payload.card)
        claim = await claim_key(session, req, ttl=ttl_of(request))  # waits for a request holding the key
        if isinstance(claim, StoredResponse):
            return _with_location(claim.to_response(), claim.body)
        token = f"api:{req.key}"
        order = await checkout_service.order_by_token(session, actor, token) if claim.resumed else None
        placed: Placed | None = None  # set when this request places the order
        if order is None:
            try:
                placed = await checkout_service.place_order(session, actor, payload, token=token)
            except SoukError as error:
                if not storable(error):
                    raise
                return await self._refusal(session, request, req, error)
            order = placed.order
        order_id = order.id
        await session.commit()  # step 1 done: the key is held (in progress) with the order
        charged = await self._charge(
            session, order_id, payload.card, placed_payment_id=placed.order.payment_id if placed else None
        )
        read = await self._settle(session, actor, order_id, placed=placed, charged=charged)
        stored = await complete_key(session, claim, 201, read)
        return _with_location(stored.to_response(), stored.body)

    async def _refusal(
        self, session: AsyncSession, request: Request, req: IdempotentRequest, error: SoukError
    ) -> JSONResponse:
        """Nothing was placed: the error becomes the key's answer (a retry with the key gets it again).

        The placing runs without a savepoint (its SAVEPOINT and RELEASE would be two more round trips between
        the stock reservation and the commit, while the stock row is locked), so the transaction is rolled
        back, the key's claim with it, and the key is claimed again for the answer. A request that took the
        key in between answers for both."""
        await session.rollback()
        claim = await claim_key(session, req, ttl=ttl_of(request))
        if isinstance(claim, StoredResponse):
            return _with_location(claim.to_response(), claim.body)
        return (await store_error(session, claim, error)).to_response()

    async def pay_api(
        self, session: AsyncSession, actor: Actor, order_id: int, card: CardIn
    ) -> tuple[int, OrderRead]:
        """``POST /api/v1/orders/{id}/payments``: pay a waiting order with (another) card; for ``idempotent``."""
        return 200, await self.pay(session, actor, order_id, card)

    async def pay(self, session: AsyncSession, actor: Actor, order_id: int, card: CardIn) -> OrderRead:
        """Pay an order waiting for payment (after a declined card): steps 2 and 3."""
        await order_service.payable_order(session, actor, order_id)
        _check_card(card)
        await session.commit()
        await self._charge(session, order_id, card)
        return await self._settle(session, actor, order_id)

    # --- the web form -----------------------------------------------------------------------------------------

    async def checkout_form(
        self,
        session: AsyncSession,
        actor: Actor,
        request: Request,
        form_token: str | None,
        payload: CheckoutCreate,
    ) -> FormOutcome:
        """The checkout page's "Place order and pay": the form's one-time token makes a double click or a
        reload one order (the second submission learns the first one's order)."""
        _check_card(payload.card)
        submission: FormSubmission = await consume_form_token(
            session, request, actor, FORM_PURPOSE, form_token
        )
        if not submission.first:
            return FormOutcome(order_id=None, repeated=True, url=submission.result)
        nonce = (form_token or "").partition(".")[0]
        placed = await checkout_service.place_order(session, actor, payload, token=f"form:{nonce}")
        order_id = placed.order.id
        await record_form_result(session, submission, f"/orders/{order_id}")
        await session.commit()
        charged = await self._charge(
            session, order_id, payload.card, placed_payment_id=placed.order.payment_id
        )
        read = await self._settle(session, actor, order_id, placed=placed, charged=charged)
        payment = read.payment
        return FormOutcome(
            order_id=order_id,
            payment_status=payment.status if payment else None,
            failure_message=payment.failure_message if payment else None,
        )

    async def pay_form(
        self,
        session: AsyncSession,
        actor: Actor,
        request: Request,
        form_token: str | None,
        order_id: int,
        card: CardIn,
    ) -> FormOutcome:
        """The order page's "Pay" form (another card after a decline), once per form token."""
        submission = await consume_form_token(session, request, actor, PAY_FORM_PURPOSE, form_token)
        if not submission.first:
            return FormOutcome(order_id=order_id, repeated=True, url=submission.result)
        await record_form_result(session, submission, f"/orders/{order_id}")
        read = await self.pay(session, actor, order_id, card)
        payment = read.payment
        return FormOutcome(
            order_id=order_id,
            payment_status=payment.status if payment else None,
            failure_message=payment.failure_message if payment else None,
        )


def _with_location(response: JSONResponse, body: object) -> JSONResponse:
    encoded = jsonable_encoder(body)
    if isinstance(encoded, dict) and isinstance(encoded.get("id"), int):
        response.headers["Location"] = f"/api/v1/orders/{encoded['id']}"
    return response


checkout_flow = CheckoutFlow()
