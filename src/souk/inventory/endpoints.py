"""JSON routes under /api/v1: stock levels, adjustments and their history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from souk.deps import ApiActor, DbSession
from souk.inventory.schemas import StockAdjust, StockMovementPage, StockMovementRead, StockRead
from souk.inventory.service import inventory_service
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.schemas import IdPath, LimitQuery

router = APIRouter(responses=ERROR_RESPONSES)


@router.post(
    "/skus/{sku_id}/stock-adjustments",
    tags=["stock"],
    summary="Add or remove units of a variant, with a reason",
    status_code=201,
    response_model=StockRead,
    responses={409: {"description": "stock_below_reserved: fewer units would be left than are reserved"}},
)
async def adjust_stock(sku_id: IdPath, body: StockAdjust, actor: ApiActor, session: DbSession) -> StockRead:
    return StockRead.of(await inventory_service.adjust(session, actor, sku_id, body))


@router.get(
    "/skus/{sku_id}/stock",
    tags=["stock"],
    summary="A variant's units on hand, reserved and available",
    response_model=StockRead,
)
async def get_stock(sku_id: IdPath, actor: ApiActor, session: DbSession) -> StockRead:
    return StockRead.of(await inventory_service.get_stock(session, actor, sku_id))


@router.get(
    "/skus/{sku_id}/stock-movements",
    tags=["stock"],
    summary="A variant's stock history, newest first",
    response_model=StockMovementPage,
)
async def stock_movements(
    sku_id: IdPath,
    actor: ApiActor,
    session: DbSession,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: LimitQuery = None,
) -> StockMovementPage:
    page = await inventory_service.history(session, actor, sku_id, cursor=cursor, limit=limit)
    return StockMovementPage(
        items=[StockMovementRead.of(row) for row in page.items], next_cursor=page.next_cursor
    )
