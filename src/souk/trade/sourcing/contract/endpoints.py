"""JSON routes under /api/v1: sourcing contracts (drafted when a buyer awards a quote).

Both sides read a contract: the members of the buyer organisation and the people of the supplier store; anyone
else gets 404. ``side`` ("buyer" or "supplier") says which side the caller acts for when they are on both.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from souk.deps import ApiActor, DbSession
from souk.kit.idempotency import IdempotencyKeyHeader, idempotent
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.schemas import MAX_ID, IdPath
from souk.trade.sourcing.contract.schemas import (
    AmendmentCreate,
    ContractConfirm,
    ContractRead,
    ContractSummary,
    ContractUpdate,
    ContractVersionRead,
    Side,
)
from souk.trade.sourcing.contract.service import contract_service

router = APIRouter(responses=ERROR_RESPONSES)
TAG = "Sourcing: contracts"


@router.get(
    "/contracts",
    tags=[TAG],
    summary="Contracts: my organisations' (buyer), or a store's with `store_id` (supplier); newest first",
    description="One row per contract number, at its newest version (an amendment being confirmed shows as a "
    "draft of the next version).",
    response_model=list[ContractSummary],
)
async def list_contracts(
    actor: ApiActor,
    session: DbSession,
    store_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[ContractSummary]:
    if store_id is not None:
        return await contract_service.list_for_store(session, actor, store_id)
    return await contract_service.list_for_buyer(session, actor)


@router.get(
    "/contracts/{contract_id}", tags=[TAG], summary="One contract version", response_model=ContractRead
)
async def get_contract(
    contract_id: IdPath, actor: ApiActor, session: DbSession, side: Side | None = None
) -> ContractRead:
    return await contract_service.get(session, actor, contract_id, side)


@router.get(
    "/contracts/{contract_id}/versions",
    tags=[TAG],
    summary="Every version of the contract's number, oldest first, with what each changed",
    response_model=list[ContractVersionRead],
)
async def contract_versions(
    contract_id: IdPath, actor: ApiActor, session: DbSession, side: Side | None = None
) -> list[ContractVersionRead]:
    return await contract_service.versions(session, actor, contract_id, side)


@router.patch(
    "/contracts/{contract_id}",
    tags=[TAG],
    summary="Edit a draft: ship-by date, quality terms, specification; the buyer's shipping address",
    description="Send `based_on_updated_at` (the `updated_at` you read). Clears both confirmations. 409 "
    "`contract_outdated` when the draft changed since; 409 `contract_confirmed` once confirmed (propose an "
    "amendment instead). Quantity, price and payment plan are the agreed offer's.",
    response_model=ContractRead,
)
async def update_contract(
    contract_id: IdPath, body: ContractUpdate, actor: ApiActor, session: DbSession
) -> ContractRead:
    contract = await contract_service.update(session, actor, contract_id, body)
    return await contract_service.read(session, contract)


@router.post(
    "/contracts/{contract_id}/confirm",
    tags=[TAG],
    summary="Confirm the current draft for my side; the second confirmation places the order",
    description="The buyer picks a shipping address first (422 `shipping_address`). Confirming again is a no-op. "
    "Creates the order: send an `Idempotency-Key` header; a retry with the same key returns the first answer.",
    response_model=ContractRead,
)
async def confirm_contract(
    request: Request,
    contract_id: IdPath,
    actor: ApiActor,
    session: DbSession,
    body: ContractConfirm | None = None,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    async def compute() -> tuple[int, Any]:
        contract = await contract_service.confirm(session, actor, contract_id, body)
        return 200, await contract_service.read(session, contract)

    return await idempotent(session, actor, request, key, compute)


@router.post(
    "/contracts/{contract_id}/amendments",
    tags=[TAG],
    summary="Propose an amendment to a confirmed contract (the next version, confirmed by both sides)",
    description="Ship-by date, quality terms and specification may change until the order ships; quantity and "
    "unit price only before any milestone is paid (409 `amendment_needs_new_terms`).",
    response_model=ContractRead,
    status_code=201,
)
async def propose_amendment(
    contract_id: IdPath, body: AmendmentCreate, actor: ApiActor, session: DbSession
) -> ContractRead:
    contract = await contract_service.amend(session, actor, contract_id, body)
    return await contract_service.read(session, contract)
