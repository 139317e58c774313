"""JSON routes under /api/v1: the caller's address book."""

from __future__ import annotations

from fastapi import APIRouter, Response

from souk.address.schemas import AddressCreate, AddressRead, AddressUpdate
from souk.address.service import address_service
from souk.deps import ApiActor, DbSession
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.schemas import IdPath
from souk.models import Address

router = APIRouter(responses=ERROR_RESPONSES)
TAG = "Addresses"


@router.get(
    "/me/addresses",
    tags=[TAG],
    summary="My delivery addresses, the default first",
    response_model=list[AddressRead],
)
async def list_addresses(actor: ApiActor, session: DbSession) -> list[Address]:
    return await address_service.list_mine(session, actor)


@router.post(
    "/me/addresses",
    tags=[TAG],
    summary="Add an address (the first one becomes the default)",
    response_model=AddressRead,
    status_code=201,
)
async def create_address(body: AddressCreate, actor: ApiActor, session: DbSession) -> Address:
    return await address_service.create(session, actor, body)


@router.get(
    "/me/addresses/{address_id}", tags=[TAG], summary="One of my addresses", response_model=AddressRead
)
async def get_address(address_id: IdPath, actor: ApiActor, session: DbSession) -> Address:
    return await address_service.get(session, actor, address_id)


@router.patch(
    "/me/addresses/{address_id}",
    tags=[TAG],
    summary="Change the fields sent of one of my addresses",
    response_model=AddressRead,
)
async def update_address(
    address_id: IdPath, body: AddressUpdate, actor: ApiActor, session: DbSession
) -> Address:
    return await address_service.update(session, actor, address_id, body)


@router.delete(
    "/me/addresses/{address_id}",
    tags=[TAG],
    summary="Delete an address (when it was the default, the newest other address becomes the default)",
    status_code=204,
)
async def delete_address(address_id: IdPath, actor: ApiActor, session: DbSession) -> Response:
    await address_service.delete(session, actor, address_id)
    return Response(status_code=204)


@router.post(
    "/me/addresses/{address_id}/default",
    tags=[TAG],
    summary="Make an address my default",
    response_model=AddressRead,
)
async def make_default_address(address_id: IdPath, actor: ApiActor, session: DbSession) -> Address:
    return await address_service.make_default(session, actor, address_id)
