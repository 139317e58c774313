"""JSON routes under /api/v1: reviews, seller replies and store reputation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile

from souk.deps import ApiActor, DbSession, Storage
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.pagination import Page
from souk.kit.schemas import MAX_ID, IdPath, LimitQuery
from souk.kit.uploads import read_upload
from souk.review.schemas import ReplyCreate, Reputation, ReviewCreate, ReviewRead
from souk.review.service import review_service

router = APIRouter(responses=ERROR_RESPONSES)
TAG = "Reviews"


@router.post(
    "/reviews",
    tags=[TAG],
    summary="Review one line of my completed order (and rate the store once per seller order)",
    response_model=ReviewRead,
    status_code=201,
)
async def create_review(body: ReviewCreate, actor: ApiActor, session: DbSession) -> ReviewRead:
    return await review_service.create(session, actor, body)


@router.post(
    "/reviews/{review_id}/photos",
    tags=[TAG],
    summary="Add photos to my review (JPEG, PNG or WebP; at most 3 per review)",
    response_model=ReviewRead,
    status_code=201,
    responses={413: {"description": "a file is larger than the upload limit"}},
)
async def add_review_photos(
    review_id: IdPath,
    files: Annotated[list[UploadFile], File(description="image files")],
    actor: ApiActor,
    session: DbSession,
    storage: Storage,
) -> ReviewRead:
    data = [await read_upload(f, storage.max_bytes, "photos") for f in files[:4]]
    return await review_service.add_photos(session, actor, review_id, data, storage=storage)


@router.get("/reviews", tags=[TAG], summary="Reviews, newest first", response_model=Page[ReviewRead])
async def list_reviews(
    session: DbSession,
    product_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    store_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    rating: Annotated[int | None, Query(ge=1, le=5)] = None,
    cursor: str | None = None,
    limit: LimitQuery = None,
) -> Page[ReviewRead]:
    return await review_service.browse(
        session, product_id=product_id, store_id=store_id, rating=rating, cursor=cursor, limit=limit
    )


@router.post(
    "/reviews/{review_id}/reply",
    tags=[TAG],
    summary="The store's one reply to a review",
    response_model=ReviewRead,
    status_code=201,
)
async def reply_to_review(
    review_id: IdPath, body: ReplyCreate, actor: ApiActor, session: DbSession
) -> ReviewRead:
    return await review_service.reply(session, actor, review_id, body)


@router.get(
    "/stores/{store_id}/reputation",
    tags=[TAG],
    summary="A store's seller credit (points, level) and rating averages",
    response_model=Reputation,
)
async def store_reputation(store_id: IdPath, session: DbSession) -> Reputation:
    return await review_service.reputation(session, store_id)
