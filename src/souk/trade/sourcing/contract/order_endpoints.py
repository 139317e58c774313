"""JSON API: a confirmed contract's order (payment milestones, production, shipment). Shipping uses the store
order route ``POST /api/v1/stores/{store_id}/orders/{seller_order_id}/ship``, which knows contract orders (from
``in_production`` when the balance is due on the shipping documents)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from souk.deps import ApiActor, DbSession
from souk.kit.idempotency import IdempotencyKeyHeader
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.schemas import IdPath
from souk.order.schemas import MilestoneRead, OrderPayment, SellerOrderRead, StoreOrderRead
from souk.trade.sourcing.contract.orders import contract_orders

router = APIRouter(responses=ERROR_RESPONSES)
TAG = "Contract orders"


@router.get(
    "/orders/{order_id}/milestones",
    tags=[TAG],
    summary="The payment milestones (deposit, balance) of one of my contract orders",
    response_model=list[MilestoneRead],
)
async def list_milestones(order_id: IdPath, actor: ApiActor, session: DbSession) -> list[MilestoneRead]:
    return await contract_orders.list_milestones(session, actor, order_id)


@router.post(
    "/orders/{order_id}/milestones/{milestone_id}/pay",
    tags=[TAG],
    summary="Pay a due milestone (deposit or balance) with a card; the money is held in escrow",
    description="Moves money: send an `Idempotency-Key` header; a retry with the same key returns the first "
    "answer. The payment provider confirms the payment (the milestone's `payment_status` is `processing` "
    "until then).",
    response_model=SellerOrderRead,
)
async def pay_milestone(
    request: Request,
    order_id: IdPath,
    milestone_id: IdPath,
    body: OrderPayment,
    actor: ApiActor,
    session: DbSession,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    return await contract_orders.pay_api(session, actor, request, key, order_id, milestone_id, body.card)


@router.post(
    "/stores/{store_id}/orders/{seller_order_id}/production-finished",
    tags=[TAG],
    summary="Production of a contract order is finished: its balance becomes due (balance before shipment)",
    response_model=StoreOrderRead,
)
async def production_finished(
    store_id: IdPath, seller_order_id: IdPath, actor: ApiActor, session: DbSession
) -> StoreOrderRead:
    return await contract_orders.production_finished(session, actor, store_id, seller_order_id)
