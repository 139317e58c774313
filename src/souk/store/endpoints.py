"""JSON routes under /api/v1: stores."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile

from souk.deps import ApiActor, DbSession, Storage
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.pagination import Page
from souk.kit.schemas import IdPath
from souk.kit.uploads import read_upload
from souk.models import Store
from souk.party.schemas import UploadIn
from souk.store.schemas import StoreCreate, StoreRead, StoreUpdate, TradeModel
from souk.store.service import store_service

router = APIRouter(responses=ERROR_RESPONSES)
TAG = "Stores"


@router.post(
    "/stores",
    tags=[TAG],
    summary="Open a store (a personal market store opens at once; an organisation's store waits for review)",
    response_model=StoreRead,
    status_code=201,
)
async def create_store(body: StoreCreate, actor: ApiActor, session: DbSession) -> Store:
    return await store_service.create(session, actor, body)


@router.get(
    "/stores",
    tags=[TAG],
    summary="Open stores, newest first",
    response_model=Page[StoreRead],
)
async def list_stores(
    session: DbSession,
    trade_model: TradeModel | None = None,
    country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    cursor: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> Page[StoreRead]:
    return await store_service.list_public(
        session, trade_model=trade_model, country=country, cursor=cursor, limit=limit
    )


@router.get(
    "/stores/mine",
    tags=[TAG],
    summary="The stores I work on (mine and my organisations'), newest first",
    response_model=Page[StoreRead],
)
async def list_my_stores(
    actor: ApiActor,
    session: DbSession,
    cursor: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> Page[StoreRead]:
    return await store_service.list_mine(session, actor, cursor=cursor, limit=limit)


@router.get(
    "/stores/{store_id:int}",  # :int: PATCH /stores/mine is a 405, not a bad store id
    tags=[TAG],
    summary="A store (open stores for everyone; others only for their people)",
    response_model=StoreRead,
)
async def get_store(store_id: IdPath, actor: ApiActor, session: DbSession) -> Store:
    return await store_service.get(session, actor, store_id)


@router.patch(
    "/stores/{store_id:int}",  # :int: PATCH /stores/mine is a 405, not a bad store id
    tags=[TAG],
    summary="Edit a store's settings (the currency is fixed once it has products)",
    response_model=StoreRead,
)
async def update_store(store_id: IdPath, body: StoreUpdate, actor: ApiActor, session: DbSession) -> Store:
    return await store_service.update(session, actor, store_id, body)


@router.post(
    "/stores/{store_id}/logo",
    tags=[TAG],
    summary="Upload the store's logo (JPEG, PNG or WebP)",
    response_model=StoreRead,
)
async def upload_logo(
    store_id: IdPath,
    actor: ApiActor,
    session: DbSession,
    storage: Storage,
    file: Annotated[UploadFile, File(description="JPEG, PNG or WebP")],
) -> Store:
    data = await read_upload(file, storage.max_bytes, "file")
    return await store_service.set_logo(
        session, actor, storage, store_id, UploadIn(data=data, filename=file.filename or ""), field="file"
    )


@router.post(
    "/stores/{store_id}/submit",
    tags=[TAG],
    summary="Send a rejected or suspended store for review again",
    response_model=StoreRead,
)
async def submit_store(store_id: IdPath, actor: ApiActor, session: DbSession) -> Store:
    return await store_service.submit(session, actor, store_id)
