"""JSON routes under /api/v1: checkouts."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from souk.checkout.flows import checkout_flow
from souk.checkout.schemas import CheckoutCreate
from souk.deps import ApiActor, DbSession
from souk.kit.idempotency import IdempotencyKeyHeader
from souk.kit.openapi import ERROR_RESPONSES
from souk.order.schemas import OrderRead

router = APIRouter(responses=ERROR_RESPONSES)
TAG = "Checkout"


@router.post(
    "/checkouts",
    tags=[TAG],
    summary="Check out one currency group of my cart: place the order and pay it",
    description=(
        "Turns the cart's purchasable lines in `currency` into one order with one seller order per store, "
        "reserves their stock, and charges the card. Requires an `Idempotency-Key` header: a retry with the same "
        "key and body returns the first answer (never a second order or payment); the same key with another body "
        "is refused (422 `idempotency_error`); an error answer (e.g. out of stock) is replayed too. A declined "
        "card still creates the order (status `pending_payment`, "
        "`payment.status` `failed` with the reason): pay it with another card through "
        "`POST /api/v1/orders/{id}/payments` before `pay_by`. A successful charge is confirmed by the payment "
        "provider's webhook, which marks the order `paid`. Test cards: 4242424242424242 succeeds, "
        "4000000000000002 is declined, 4000000000009995 has insufficient funds."
    ),
    response_model=OrderRead,
    status_code=201,
    responses={
        409: {"description": "insufficient_stock (naming the SKU), price_changed, nothing_to_check_out"},
        422: {"description": "invalid input, idempotency_key_required, idempotency_error"},
    },
)
async def create_checkout(
    request: Request,
    body: CheckoutCreate,
    actor: ApiActor,
    session: DbSession,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    return await checkout_flow.checkout_api(session, actor, request, key, body)
