"""JSON routes under /api/v1: the ops console (platform operators only)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from souk.deps import ApiActor, DbSession
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.pagination import Page
from souk.kit.schemas import IdPath, OptionalIdQuery
from souk.ops.schemas import (
    OpsDecisionRead,
    OrganizationDecision,
    OrganizationReview,
    QueueCounts,
    StoreDecision,
    StoreReview,
)
from souk.ops.service import ops_service
from souk.party.schemas import OrganizationRead, OrganizationStatus
from souk.store.schemas import StoreRead, StoreStatus, TradeModel

router = APIRouter(responses=ERROR_RESPONSES)
TAG = "Ops"
Limit = Annotated[int | None, Query(ge=1, le=100)]


@router.get(
    "/ops/queue", tags=[TAG], summary="What waits for an operator, with counts", response_model=QueueCounts
)
async def queue(actor: ApiActor, session: DbSession) -> QueueCounts:
    return await ops_service.queue(session, actor)


@router.get(
    "/ops/organizations",
    tags=[TAG],
    summary="Organisations by status, newest first",
    response_model=Page[OrganizationRead],
)
async def list_organizations(
    actor: ApiActor,
    session: DbSession,
    status: OrganizationStatus | None = None,
    cursor: str | None = None,
    limit: Limit = None,
) -> Page[OrganizationRead]:
    return await ops_service.organizations(session, actor, status=status, cursor=cursor, limit=limit)


@router.get(
    "/ops/organizations/{organization_id}",
    tags=[TAG],
    summary="An organisation with its documents, members, stores and decisions",
    response_model=OrganizationReview,
)
async def organization_review(
    organization_id: IdPath, actor: ApiActor, session: DbSession
) -> OrganizationReview:
    return await ops_service.organization_review(session, actor, organization_id)


@router.post(
    "/ops/organizations/{organization_id}/decision",
    tags=[TAG],
    summary="Approve or reject an organisation (a reason is required)",
    response_model=OpsDecisionRead,
    status_code=201,
)
async def decide_organization(
    organization_id: IdPath, body: OrganizationDecision, actor: ApiActor, session: DbSession
) -> OpsDecisionRead:
    return await ops_service.decide_organization(session, actor, organization_id, body)


@router.get(
    "/ops/stores",
    tags=[TAG],
    summary="Stores by status; to_review=true keeps those waiting for a decision",
    response_model=Page[StoreRead],
)
async def list_stores(
    actor: ApiActor,
    session: DbSession,
    status: StoreStatus | None = None,
    to_review: bool = False,
    trade_model: TradeModel | None = None,
    cursor: str | None = None,
    limit: Limit = None,
) -> Page[StoreRead]:
    return await ops_service.stores(
        session,
        actor,
        status=status,
        to_review=to_review,
        trade_model=trade_model,
        cursor=cursor,
        limit=limit,
    )


@router.get(
    "/ops/stores/{store_id}",
    tags=[TAG],
    summary="A store with its organisation, brand authorisation and decisions",
    response_model=StoreReview,
)
async def store_review(store_id: IdPath, actor: ApiActor, session: DbSession) -> StoreReview:
    return await ops_service.store_review(session, actor, store_id)


@router.post(
    "/ops/stores/{store_id}/decision",
    tags=[TAG],
    summary="Approve, reject or suspend a store (a reason is required)",
    response_model=OpsDecisionRead,
    status_code=201,
)
async def decide_store(
    store_id: IdPath, body: StoreDecision, actor: ApiActor, session: DbSession
) -> OpsDecisionRead:
    return await ops_service.decide_store(session, actor, store_id, body)


@router.get(
    "/ops/decisions",
    tags=[TAG],
    summary="The decision log, newest first: organisation and store decisions and dispute rulings",
    response_model=Page[OpsDecisionRead],
)
async def list_decisions(
    actor: ApiActor,
    session: DbSession,
    subject_type: Literal["organization", "store", "dispute"] | None = None,
    subject_id: OptionalIdQuery = None,
    cursor: str | None = None,
    limit: Limit = None,
) -> Page[OpsDecisionRead]:
    return await ops_service.decisions(
        session, actor, subject_type=subject_type, subject_id=subject_id, cursor=cursor, limit=limit
    )
