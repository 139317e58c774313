"""JSON routes under /api/v1: the shipping methods of a store."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from souk.deps import ApiActor, DbSession
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.schemas import IdPath
from souk.models import ShippingMethod
from souk.shipping.schemas import ShippingMethodCreate, ShippingMethodRead, ShippingMethodUpdate
from souk.shipping.service import shipping_service

router = APIRouter(responses=ERROR_RESPONSES)
TAG = "Shipping methods"


@router.get(
    "/stores/{store_id}/shipping-methods",
    tags=[TAG],
    summary="The shipping methods buyers can choose for a store (active ones, in display order)",
    response_model=list[ShippingMethodRead],
)
async def list_shipping_methods(
    store_id: IdPath,
    actor: ApiActor,
    session: DbSession,
    include_inactive: Annotated[
        bool, Query(description="every method, inactive ones too (the store's people only)")
    ] = False,
) -> list[ShippingMethod]:
    return await shipping_service.list_for_store(session, actor, store_id, include_inactive=include_inactive)


@router.post(
    "/stores/{store_id}/shipping-methods",
    tags=[TAG],
    summary="Add a shipping method (priced in the store's currency)",
    response_model=ShippingMethodRead,
    status_code=201,
)
async def create_shipping_method(
    store_id: IdPath, body: ShippingMethodCreate, actor: ApiActor, session: DbSession
) -> ShippingMethod:
    return await shipping_service.create(session, actor, store_id, body)


@router.patch(
    "/stores/{store_id}/shipping-methods/{method_id}",
    tags=[TAG],
    summary="Change the fields sent of a shipping method",
    response_model=ShippingMethodRead,
)
async def update_shipping_method(
    store_id: IdPath, method_id: IdPath, body: ShippingMethodUpdate, actor: ApiActor, session: DbSession
) -> ShippingMethod:
    return await shipping_service.update(session, actor, store_id, method_id, body)


@router.delete(
    "/stores/{store_id}/shipping-methods/{method_id}",
    tags=[TAG],
    summary="Delete a shipping method (orders keep the copy they were placed with)",
    status_code=204,
)
async def delete_shipping_method(
    store_id: IdPath, method_id: IdPath, actor: ApiActor, session: DbSession
) -> Response:
    await shipping_service.delete(session, actor, store_id, method_id)
    return Response(status_code=204)
