"""JSON routes under /api/v1: a quote's negotiation (its offers, the supplier's revision, counter-offers,
accepting, declining, the award) and its message thread. ``GET /quotes/{id}`` and the lists belong to the
quote area."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from souk.deps import ApiActor, DbSession
from souk.kit.idempotency import IdempotencyKeyHeader, idempotent
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.schemas import IdPath
from souk.trade.sourcing.negotiation.schemas import (
    AwardRead,
    CounterCreate,
    MessageCreate,
    MessageRead,
    NegotiationRead,
    RevisionCreate,
)
from souk.trade.sourcing.negotiation.service import negotiation_service

router = APIRouter(responses=ERROR_RESPONSES)
TAG = "Sourcing: negotiation"
SideQuery = Literal["buyer", "supplier"] | None
SIDE_HELP = "the side you act on, needed only when you are on both sides"


@router.get(
    "/quotes/{quote_id}/offers",
    tags=[TAG],
    summary="A quote with its RFQ, every offer version (newest first), the thread and what you may do now",
    response_model=NegotiationRead,
)
async def negotiation(
    quote_id: IdPath,
    actor: ApiActor,
    session: DbSession,
    side: SideQuery = Query(default=None, description=SIDE_HELP),
) -> NegotiationRead:
    return await negotiation_service.view(session, actor, quote_id, side=side)


@router.post(
    "/quotes/{quote_id}/revisions",
    tags=[TAG],
    summary="Revise my quote's terms (the supplier; once, before the buyer answers)",
    description="409 `revision_not_allowed` when the revisions are used up or the buyer answered; "
    "`offer_outdated` when `based_on_version` is not the quote's version any more.",
    response_model=NegotiationRead,
    status_code=201,
)
async def revise(
    quote_id: IdPath, body: RevisionCreate, actor: ApiActor, session: DbSession
) -> NegotiationRead:
    return await negotiation_service.revise(session, actor, quote_id, body)


@router.post(
    "/quotes/{quote_id}/offers",
    tags=[TAG],
    summary="Make a counter-offer (either side) based on the version you saw",
    description="Terms left out keep the newest offer's values. 409 `offer_outdated` when a newer offer came "
    "in since `based_on_version`.",
    response_model=NegotiationRead,
    status_code=201,
)
async def counter(
    quote_id: IdPath, body: CounterCreate, actor: ApiActor, session: DbSession
) -> NegotiationRead:
    return await negotiation_service.counter(session, actor, quote_id, body)


@router.post(
    "/quotes/{quote_id}/offers/{offer_id}/accept",
    tags=[TAG],
    summary="Accept the other side's latest offer",
    description="409 `own_offer` for your own offer, `offer_outdated` when it is not the latest open one.",
    response_model=NegotiationRead,
)
async def accept(
    quote_id: IdPath,
    offer_id: IdPath,
    actor: ApiActor,
    session: DbSession,
    side: SideQuery = Query(default=None, description=SIDE_HELP),
) -> NegotiationRead:
    return await negotiation_service.accept(session, actor, quote_id, offer_id, side=side)


@router.post(
    "/quotes/{quote_id}/decline",
    tags=[TAG],
    summary="Decline a quote (the buyer)",
    response_model=NegotiationRead,
)
async def decline(quote_id: IdPath, actor: ApiActor, session: DbSession) -> NegotiationRead:
    return await negotiation_service.decline(session, actor, quote_id)


@router.post(
    "/quotes/{quote_id}/award",
    tags=[TAG],
    summary="Award the RFQ to this quote (the buyer): the other quotes are declined, a contract is drafted",
    description="Send an `Idempotency-Key` header; a retry with the same key returns the first answer. 409 "
    "`rfq_already_awarded` for a second award, `offer_not_agreed` when your own counter-offer is the newest.",
    response_model=AwardRead,
    status_code=201,
)
async def award(
    request: Request, quote_id: IdPath, actor: ApiActor, session: DbSession, key: IdempotencyKeyHeader = None
) -> JSONResponse:
    async def compute() -> tuple[int, Any]:
        return 201, await negotiation_service.award(session, actor, quote_id)

    return await idempotent(session, actor, request, key, compute)


@router.get(
    "/quotes/{quote_id}/messages",
    tags=[TAG],
    summary="The quote's thread, oldest first",
    response_model=list[MessageRead],
)
async def messages(
    quote_id: IdPath,
    actor: ApiActor,
    session: DbSession,
    side: SideQuery = Query(default=None, description=SIDE_HELP),
) -> list[MessageRead]:
    return await negotiation_service.messages(session, actor, quote_id, side=side)


@router.post(
    "/quotes/{quote_id}/messages",
    tags=[TAG],
    summary="Post a message on the quote's thread",
    response_model=MessageRead,
    status_code=201,
)
async def post_message(
    quote_id: IdPath,
    body: MessageCreate,
    actor: ApiActor,
    session: DbSession,
    side: SideQuery = Query(default=None, description=SIDE_HELP),
) -> MessageRead:
    return await negotiation_service.post_message(session, actor, quote_id, body.body, side=side)
