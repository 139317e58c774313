"""JSON routes under /api/v1: the caller's cart. API callers are users with a token; guest carts exist
only in the browser (a cookie), and are merged into the user's cart when they log in.

A SKU may be in the cart twice: its bulk line and its sample line (``"sample": true`` when adding). The
routes naming a line take ``?sample=true`` for the sample line."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from souk.auth.actor import Actor
from souk.authz import require_user
from souk.cart.schemas import CartItemCreate, CartItemUpdate, CartLineView, CartView
from souk.cart.service import cart_service
from souk.deps import ApiActor, DbSession
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.schemas import IdPath

router = APIRouter(responses=ERROR_RESPONSES)
TAG = "Cart"


async def api_user(actor: ApiActor) -> Actor:
    require_user(actor)
    return actor


ApiUser = Annotated[Actor, Depends(api_user)]
SampleLine = Annotated[bool, Query(description="the SKU's sample line rather than its bulk line")]


@router.get(
    "/cart",
    tags=[TAG],
    summary="My cart, grouped by currency and then by store, with warnings and totals",
    response_model=CartView,
)
async def get_cart(actor: ApiUser, session: DbSession) -> CartView:
    return await cart_service.get_cart(session, actor, None)


@router.post(
    "/cart/items",
    tags=[TAG],
    summary="Add units of a variant to my cart (added to the line when it is already there), or a sample",
    response_model=CartLineView,
    status_code=201,
)
async def add_cart_item(body: CartItemCreate, actor: ApiUser, session: DbSession) -> CartLineView:
    return await cart_service.add(session, actor, None, body.sku_id, body.quantity, sample=body.sample)


@router.patch(
    "/cart/items/{sku_id}",
    tags=[TAG],
    summary="Change the quantity of a variant in my cart (a sample's is always 1)",
    response_model=CartLineView,
)
async def update_cart_item(
    sku_id: IdPath, body: CartItemUpdate, actor: ApiUser, session: DbSession, sample: SampleLine = False
) -> CartLineView:
    return await cart_service.set_quantity(session, actor, None, sku_id, body.quantity, sample=sample)


@router.delete("/cart/items/{sku_id}", tags=[TAG], summary="Take a variant out of my cart", status_code=204)
async def remove_cart_item(
    sku_id: IdPath, actor: ApiUser, session: DbSession, sample: SampleLine = False
) -> Response:
    await cart_service.remove(session, actor, None, sku_id, sample=sample)
    return Response(status_code=204)
