"""JSON routes under /api/v1: the buyer's orders and a store's orders."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from souk.checkout.flows import checkout_flow
from souk.deps import ApiActor, DbSession
from souk.kit.idempotency import IdempotencyKeyHeader, idempotent
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.pagination import Page
from souk.kit.schemas import IdPath
from souk.order import tasks  # noqa: F401  (registers the order timers)
from souk.order.schemas import (
    OrderPayment,
    OrderRead,
    SellerOrderRead,
    SellerOrderStatus,
    ShipCreate,
    StoreOrderRead,
)
from souk.order.service import order_service

router = APIRouter(responses=ERROR_RESPONSES)
TAG = "Orders"
STORE_TAG = "Store orders"
Limit = Annotated[int | None, Query(ge=1, le=100)]
MONEY_NOTE = (
    " Moves money: send an `Idempotency-Key` header; a retry with the same key returns the first answer."
)


# --- the buyer's orders ---------------------------------------------------------------------------------


@router.get(
    "/orders",
    tags=[TAG],
    summary="My orders, newest first (status: those with a store order in that status)",
    response_model=Page[OrderRead],
)
async def list_orders(
    actor: ApiActor,
    session: DbSession,
    status: SellerOrderStatus | None = None,
    cursor: str | None = None,
    limit: Limit = None,
) -> Page[OrderRead]:
    result = await order_service.list_for_buyer(
        session, actor, statuses=[status] if status else None, cursor=cursor, limit=limit
    )
    return result.page


@router.get(
    "/orders/{order_id}",
    tags=[TAG],
    summary="One of my orders: its store orders with lines, shipment, timeline and next action",
    response_model=OrderRead,
)
async def get_order(order_id: IdPath, actor: ApiActor, session: DbSession) -> OrderRead:
    return await order_service.get_for_buyer(session, actor, order_id)


@router.post(
    "/orders/{order_id}/payments",
    tags=[TAG],
    summary="Pay an order waiting for payment (e.g. with another card after a decline), before pay_by",
    description="Charges the card for the whole order." + MONEY_NOTE,
    response_model=OrderRead,
)
async def pay_order(
    request: Request,
    order_id: IdPath,
    body: OrderPayment,
    actor: ApiActor,
    session: DbSession,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    async def compute() -> tuple[int, Any]:
        return await checkout_flow.pay_api(session, actor, order_id, body.card)

    return await idempotent(session, actor, request, key, compute)


@router.post(
    "/orders/{order_id}/cancel",
    tags=[TAG],
    summary="Cancel an order that is not paid yet (all its store orders; the stock is released)",
    response_model=OrderRead,
)
async def cancel_order(
    request: Request, order_id: IdPath, actor: ApiActor, session: DbSession, key: IdempotencyKeyHeader = None
) -> JSONResponse:
    async def compute() -> tuple[int, Any]:
        return 200, await order_service.cancel_unpaid(session, actor, order_id)

    return await idempotent(session, actor, request, key, compute, required=False)


@router.post(
    "/orders/{order_id}/seller-orders/{seller_order_id}/cancel",
    tags=[TAG],
    summary="Cancel a paid store order before it ships: full refund from escrow, stock back on sale",
    description="Allowed until the store ships, and at once after it missed the ship-by time." + MONEY_NOTE,
    response_model=SellerOrderRead,
)
async def cancel_seller_order(
    request: Request,
    order_id: IdPath,
    seller_order_id: IdPath,
    actor: ApiActor,
    session: DbSession,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    async def compute() -> tuple[int, Any]:
        return 200, await order_service.cancel(session, actor, order_id, seller_order_id)

    return await idempotent(session, actor, request, key, compute)


@router.post(
    "/orders/{order_id}/seller-orders/{seller_order_id}/confirm-receipt",
    tags=[TAG],
    summary="Confirm receipt of a shipped store order: its escrow is released to the store",
    description="The store receives the amount minus the platform commission." + MONEY_NOTE,
    response_model=SellerOrderRead,
)
async def confirm_receipt(
    request: Request,
    order_id: IdPath,
    seller_order_id: IdPath,
    actor: ApiActor,
    session: DbSession,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    async def compute() -> tuple[int, Any]:
        return 200, await order_service.confirm_receipt(session, actor, order_id, seller_order_id)

    return await idempotent(session, actor, request, key, compute)


@router.post(
    "/orders/{order_id}/seller-orders/{seller_order_id}/extend-receipt",
    tags=[TAG],
    summary="Extend the receipt timer once by 3 days, when 3 days or fewer are left (market policy)",
    response_model=SellerOrderRead,
)
async def extend_receipt(
    request: Request,
    order_id: IdPath,
    seller_order_id: IdPath,
    actor: ApiActor,
    session: DbSession,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    async def compute() -> tuple[int, Any]:
        return 200, await order_service.extend_receipt(session, actor, order_id, seller_order_id)

    return await idempotent(session, actor, request, key, compute, required=False)


# --- a store's orders -----------------------------------------------------------------------------------


@router.get(
    "/stores/{store_id}/orders",
    tags=[STORE_TAG],
    summary="A store's orders: those to ship first (earliest ship-by first), then the rest, newest first",
    response_model=Page[StoreOrderRead],
)
async def list_store_orders(
    store_id: IdPath,
    actor: ApiActor,
    session: DbSession,
    status: SellerOrderStatus | None = None,
    cursor: str | None = None,
    limit: Limit = None,
) -> Page[StoreOrderRead]:
    result = await order_service.list_for_store(
        session, actor, store_id, status=status, cursor=cursor, limit=limit
    )
    return result.page


@router.get(
    "/stores/{store_id}/orders/{seller_order_id}",
    tags=[STORE_TAG],
    summary="One of a store's orders, with the buyer's address and the timeline",
    response_model=StoreOrderRead,
)
async def get_store_order(
    store_id: IdPath, seller_order_id: IdPath, actor: ApiActor, session: DbSession
) -> StoreOrderRead:
    return await order_service.get_for_store(session, actor, store_id, seller_order_id)


@router.post(
    "/stores/{store_id}/orders/{seller_order_id}/ship",
    tags=[STORE_TAG],
    summary="Ship a paid order with a carrier and tracking number (starts the buyer's receipt timer)",
    response_model=StoreOrderRead,
)
async def ship_order(
    request: Request,
    store_id: IdPath,
    seller_order_id: IdPath,
    body: ShipCreate,
    actor: ApiActor,
    session: DbSession,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    async def compute() -> tuple[int, Any]:
        return 200, await order_service.ship(session, actor, store_id, seller_order_id, body)

    return await idempotent(session, actor, request, key, compute, required=False)
