"""JSON routes under /api/v1: a store's balances and its ledger movements."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from souk.deps import ApiActor, DbSession
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.schemas import MAX_ID
from souk.ledger.schemas import BalanceRead, MovementPage, MovementRead, StoreBalancesRead
from souk.ledger.service import ledger_service

router = APIRouter(responses=ERROR_RESPONSES)
TAG = "Balance"

StoreQuery = Annotated[int, Query(ge=1, le=MAX_ID, description="the store's id")]


@router.get(
    "/balance",
    tags=[TAG],
    summary="A store's money per currency: escrow pending, available, paid out (minor units)",
    response_model=StoreBalancesRead,
)
async def get_balance(store_id: StoreQuery, actor: ApiActor, session: DbSession) -> StoreBalancesRead:
    store, balances = await ledger_service.store_balances(session, actor, store_id)
    return StoreBalancesRead(store_id=store.id, balances=[BalanceRead.of(b) for b in balances.values()])


@router.get(
    "/balance/movements",
    tags=[TAG],
    summary="Every ledger movement on a store's escrows and available balance, newest first",
    response_model=MovementPage,
)
async def list_movements(
    store_id: StoreQuery,
    actor: ApiActor,
    session: DbSession,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int | None, Query(ge=1, le=100, description="page size (default 20)")] = None,
) -> MovementPage:
    page = await ledger_service.movements(session, actor, store_id, cursor=cursor, limit=limit)
    return MovementPage(items=[MovementRead.of(m) for m in page.items], next_cursor=page.next_cursor)
