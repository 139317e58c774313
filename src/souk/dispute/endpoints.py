"""JSON routes under /api/v1: refund requests and disputes, and the operators' rulings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from souk.deps import ApiActor, DbSession
from souk.dispute import tasks  # noqa: F401  (registers the dispute timers)
from souk.dispute.schemas import (
    DisputeAccept,
    DisputeCreate,
    DisputeMessage,
    DisputeRead,
    DisputeReject,
    DisputeRuling,
    DisputeStatus,
    ReturnTracking,
)
from souk.dispute.service import dispute_service
from souk.kit.idempotency import IdempotencyKeyHeader, idempotent
from souk.kit.schemas import IdPath

router = APIRouter()
TAG = "Disputes"
OPS_TAG = "Ops: disputes"
MONEY_NOTE = (
    " Moves money: send an `Idempotency-Key` header; a retry with the same key returns the first answer."
)


@router.post(
    "/disputes",
    tags=[TAG],
    summary="Ask for a refund on a paid or shipped store order of mine (pauses its receipt timer)",
    description="409 when the store order already has an open request; 422 when the amount is above what is "
    "left in escrow. Send an `Idempotency-Key` header.",
    response_model=DisputeRead,
    status_code=201,
)
async def open_dispute(
    request: Request,
    body: DisputeCreate,
    actor: ApiActor,
    session: DbSession,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    async def compute() -> tuple[int, Any]:
        return 201, await dispute_service.open(session, actor, body)

    return await idempotent(session, actor, request, key, compute)


@router.get(
    "/disputes",
    tags=[TAG],
    summary="My refund requests, newest first; with store_id: the requests on that store's orders",
    response_model=list[DisputeRead],
)
async def list_disputes(
    actor: ApiActor, session: DbSession, store_id: int | None = None
) -> list[DisputeRead]:
    if store_id is not None:
        return await dispute_service.list_for_store(session, actor, store_id)
    return await dispute_service.list_for_buyer(session, actor)


@router.get(
    "/disputes/{dispute_id}", tags=[TAG], summary="One dispute with its log", response_model=DisputeRead
)
async def get_dispute(dispute_id: IdPath, actor: ApiActor, session: DbSession) -> DisputeRead:
    return await dispute_service.get(session, actor, dispute_id)


@router.post(
    "/disputes/{dispute_id}/accept",
    tags=[TAG],
    summary="The store accepts the request: refunded from escrow now, or after the return when one was asked",
    description="A request with `wants_return` needs a `return_address`; the refund is paid when the store "
    "confirms the item arrived (or automatically 10 days after the buyer's return tracking number)."
    + MONEY_NOTE,
    response_model=DisputeRead,
)
async def accept_dispute(
    request: Request,
    dispute_id: IdPath,
    actor: ApiActor,
    session: DbSession,
    body: DisputeAccept | None = None,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    async def compute() -> tuple[int, Any]:
        address = body.return_address if body else None
        return 200, await dispute_service.accept(session, actor, dispute_id, address)

    return await idempotent(session, actor, request, key, compute)


@router.post(
    "/disputes/{dispute_id}/return-tracking",
    tags=[TAG],
    summary="The buyer gives the tracking number of the returned item",
    response_model=DisputeRead,
)
async def return_tracking(
    dispute_id: IdPath, body: ReturnTracking, actor: ApiActor, session: DbSession
) -> DisputeRead:
    return await dispute_service.add_return_tracking(session, actor, dispute_id, body.tracking_number)


@router.post(
    "/disputes/{dispute_id}/return-received",
    tags=[TAG],
    summary="The store confirms the returned item arrived: the refund is paid from escrow",
    description=MONEY_NOTE.strip(),
    response_model=DisputeRead,
)
async def return_received(
    request: Request,
    dispute_id: IdPath,
    actor: ApiActor,
    session: DbSession,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    async def compute() -> tuple[int, Any]:
        return 200, await dispute_service.confirm_return(session, actor, dispute_id)

    return await idempotent(session, actor, request, key, compute)


@router.post(
    "/disputes/{dispute_id}/reject",
    tags=[TAG],
    summary="The store rejects the request with a reason; the buyer may escalate it",
    response_model=DisputeRead,
)
async def reject_dispute(
    dispute_id: IdPath, body: DisputeReject, actor: ApiActor, session: DbSession
) -> DisputeRead:
    return await dispute_service.reject(session, actor, dispute_id, body.reason)


@router.post(
    "/disputes/{dispute_id}/escalate",
    tags=[TAG],
    summary="The buyer takes a rejected request to the platform",
    response_model=DisputeRead,
)
async def escalate_dispute(dispute_id: IdPath, actor: ApiActor, session: DbSession) -> DisputeRead:
    return await dispute_service.escalate(session, actor, dispute_id)


@router.post(
    "/disputes/{dispute_id}/messages",
    tags=[TAG],
    summary="Write in the dispute's log (buyer, store or operator)",
    response_model=DisputeRead,
    status_code=201,
)
async def post_message(
    dispute_id: IdPath, body: DisputeMessage, actor: ApiActor, session: DbSession
) -> DisputeRead:
    return await dispute_service.add_message(session, actor, dispute_id, body.body)


@router.get(
    "/ops/disputes",
    tags=[OPS_TAG],
    summary="Operators: disputes in a status (escalated by default), newest first",
    response_model=list[DisputeRead],
)
async def ops_list(
    actor: ApiActor, session: DbSession, status: DisputeStatus = "escalated"
) -> list[DisputeRead]:
    return await dispute_service.list_for_operator(session, actor, status)


@router.post(
    "/ops/disputes/{dispute_id}/ruling",
    tags=[OPS_TAG],
    summary="Operators: rule on an escalated dispute (full refund, partial refund or release to the seller)",
    description=MONEY_NOTE.strip(),
    response_model=DisputeRead,
)
async def rule(
    request: Request,
    dispute_id: IdPath,
    body: DisputeRuling,
    actor: ApiActor,
    session: DbSession,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    async def compute() -> tuple[int, Any]:
        return 200, await dispute_service.rule(session, actor, dispute_id, body)

    return await idempotent(session, actor, request, key, compute)
