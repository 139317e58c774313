"""JSON routes under /api/v1: payouts of a store's available balance."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from souk.deps import ApiActor, DbSession
from souk.kit.idempotency import IdempotencyKeyHeader, idempotent
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.pagination import Page
from souk.kit.schemas import MAX_ID, IdPath
from souk.models import Payout
from souk.payout import tasks  # noqa: F401  (registers the payout jobs)
from souk.payout.schemas import PayoutCreate, PayoutRead
from souk.payout.service import payout_service

router = APIRouter(responses=ERROR_RESPONSES)
TAG = "Balance"


@router.post(
    "/payouts",
    tags=[TAG],
    summary="Pay out a store's available balance (all of it unless an amount is given)",
    description=(
        "Needs an `Idempotency-Key` header: the same key and body return the first answer (with "
        "`Idempotent-Replayed: true`) and make no second payout; the same key with another body is refused "
        "with 422 `idempotency_error`. The amount must be at least the store's minimum payout (its trade "
        "policy) and at most the available balance."
    ),
    status_code=201,
    response_model=PayoutRead,
    responses={
        422: {
            "description": "payout_below_minimum, payout_above_available, idempotency_key_required, "
            "idempotency_error"
        }
    },
)
async def request_payout(
    request: Request, body: PayoutCreate, actor: ApiActor, session: DbSession, key: IdempotencyKeyHeader
) -> Response:
    async def compute() -> tuple[int, Any]:
        payout = await payout_service.request(
            session, actor, body.store_id, body.currency, body.amount, idempotency_key=f"api:{key}"
        )
        return 201, PayoutRead.model_validate(payout)

    return await idempotent(session, actor, request, key, compute)


@router.get(
    "/payouts", tags=[TAG], summary="A store's payouts, newest first", response_model=Page[PayoutRead]
)
async def list_payouts(
    store_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    actor: ApiActor,
    session: DbSession,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> Page[PayoutRead]:
    page = await payout_service.list(session, actor, store_id, cursor=cursor, limit=limit)
    return Page(items=[PayoutRead.model_validate(p) for p in page.items], next_cursor=page.next_cursor)


@router.get("/payouts/{payout_id}", tags=[TAG], summary="One payout", response_model=PayoutRead)
async def get_payout(payout_id: IdPath, actor: ApiActor, session: DbSession) -> Payout:
    return await payout_service.get(session, actor, payout_id)
