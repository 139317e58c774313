"""JSON routes under /api/v1: refund requests and disputes, and the operators' rulings.

Evidence (up to 3 JPEG, PNG or WebP photos as ``images`` parts and up to 3 PDF documents as ``documents`` parts)
goes with a multipart form: ``POST /disputes/with-images`` (the fields of ``DisputeCreate``) and
``POST /disputes/{id}/messages/with-images`` (``body``). Opening a request moves money later and takes an
``Idempotency-Key``; as a multipart body's bytes differ between retries (the boundary), its request hash is the
sha256 of the canonical JSON ``{"fields": <the DisputeCreate values>, "images": [<sha256 hex of each file, in
order>]}``, with ``"documents": [{"sha256": <hex>, "filename": <name>}, ...]`` added when there are documents.
Documents are private: ``GET /disputes/{id}/documents/{event_id}/{index}`` sends one to the dispute's buyer, the
store's people and operators (404 to anyone else).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile as StarletteUploadFile

from souk.deps import ApiActor, DbSession, Storage
from souk.dispute import tasks  # noqa: F401  (registers the dispute timers)
from souk.dispute.evidence import MAX_DOCUMENTS, MAX_IMAGES
from souk.dispute.schemas import (
    DisputeAccept,
    DisputeCreate,
    DisputeMessage,
    DisputeRead,
    DisputeReject,
    DisputeRuling,
    DisputeStatus,
    ReturnTracking,
)
from souk.dispute.service import dispute_service
from souk.kit.idempotency import IdempotencyKeyHeader, idempotent
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.schemas import MAX_ID, IdPath, OptionalIdQuery
from souk.kit.uploads import read_upload
from souk.party.schemas import UploadIn

router = APIRouter(responses=ERROR_RESPONSES)
TAG = "Disputes"
OPS_TAG = "Ops: disputes"
MONEY_NOTE = (
    " Moves money: send an `Idempotency-Key` header; a retry with the same key returns the first answer."
)


@router.post(
    "/disputes",
    tags=[TAG],
    summary="Ask for a refund on a paid or shipped store order of mine (pauses its receipt timer)",
    description="409 when the store order already has an open request; 422 when the amount is above what is "
    "left in escrow. Send an `Idempotency-Key` header.",
    response_model=DisputeRead,
    status_code=201,
)
async def open_dispute(
    request: Request,
    body: DisputeCreate,
    actor: ApiActor,
    session: DbSession,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    async def compute() -> tuple[int, Any]:
        return 201, await dispute_service.open(session, actor, body)

    return await idempotent(session, actor, request, key, compute)


def multipart_hash(
    fields: dict[str, Any], images: list[bytes], documents: list[UploadIn] | None = None
) -> str:
    """The idempotency hash of a multipart request: its validated fields and the digests of its files."""
    value: dict[str, Any] = {
        "fields": fields,
        "images": [hashlib.sha256(data).hexdigest() for data in images],
    }
    if documents:
        value["documents"] = [
            {"sha256": hashlib.sha256(d.data).hexdigest(), "filename": d.filename} for d in documents
        ]
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


ImageFiles = Annotated[
    list[UploadFile] | None, File(description=f"up to {MAX_IMAGES} evidence photos (JPEG, PNG or WebP)")
]
DocumentFiles = Annotated[
    list[UploadFile] | None,
    File(description=f"up to {MAX_DOCUMENTS} evidence documents (PDF), an inspection report say"),
]
DocumentIndex = Annotated[int, Path(ge=0, le=MAX_ID, description="the document's place in the event, from 0")]


async def _read_images(images: list[UploadFile] | None, storage: Storage) -> list[bytes]:
    # one past the limit is read so that the service refuses "too many" with a 422 naming ``images``
    return [await read_upload(f, storage.max_bytes, "images") for f in (images or [])[: MAX_IMAGES + 1]]


async def read_documents(files: Sequence[StarletteUploadFile], max_bytes: int) -> list[UploadIn]:
    """The uploaded documents read with the size limit (one past the limit is read so that the service refuses
    "too many" with a 422 naming ``documents``); for the API and the pages."""
    return [
        UploadIn(await read_upload(f, max_bytes, "documents"), f.filename or "")
        for f in files[: MAX_DOCUMENTS + 1]
    ]


def document_response(document: dict[str, Any], path: FilePath) -> FileResponse:
    """A private evidence document, sent inline with headers that keep the browser from running anything in it
    and from keeping a copy."""
    return FileResponse(
        str(path),
        media_type=str(document.get("content_type") or "application/pdf"),
        filename=str(document.get("filename") or "document.pdf"),
        content_disposition_type="inline",
        headers={
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post(
    "/disputes/with-images",
    tags=[TAG],
    summary=f"Ask for a refund or open a claim with up to {MAX_IMAGES} evidence photos and {MAX_DOCUMENTS} "
    "PDF documents (multipart form)",
    description="The fields of the JSON route as form fields, `images` files and `documents` files (an "
    "inspection report, say). 422 naming `images` for a file that is not an image or more than 3, naming "
    "`documents` for a file that is not a PDF or more than 3; 413 for a file above the upload limit. Send an "
    "`Idempotency-Key` header: the request hash covers the form fields and the files' sha256 digests.",
    response_model=DisputeRead,
    status_code=201,
    responses={413: {"description": "a file is larger than the upload limit"}},
)
async def open_dispute_with_images(
    request: Request,
    seller_order_id: Annotated[str, Form(description="the store order")],
    reason: Annotated[str, Form(description="not_received, not_as_described, damaged or other")],
    actor: ApiActor,
    session: DbSession,
    storage: Storage,
    amount: Annotated[str | None, Form(description="minor units; omitted: everything not refunded")] = None,
    message: Annotated[str, Form()] = "",
    wants_return: Annotated[str | None, Form(description="true: send the item back")] = None,
    images: ImageFiles = None,
    documents: DocumentFiles = None,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    raw: dict[str, Any] = {"seller_order_id": seller_order_id, "reason": reason, "message": message}
    if amount not in (None, ""):
        raw["amount"] = amount
    if wants_return not in (None, ""):
        raw["wants_return"] = wants_return
    try:
        body = DisputeCreate.model_validate(raw)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        ) from error
    data = await _read_images(images, storage)
    files = await read_documents(documents or [], storage.max_bytes)

    async def compute() -> tuple[int, Any]:
        return 201, await dispute_service.open(session, actor, body, data, storage=storage, documents=files)

    digest = multipart_hash(body.model_dump(mode="json"), data, files)
    return await idempotent(session, actor, request, key, compute, request_hash=digest)


@router.get(
    "/disputes",
    tags=[TAG],
    summary="My refund requests, newest first; with store_id: the requests on that store's orders",
    response_model=list[DisputeRead],
)
async def list_disputes(
    actor: ApiActor, session: DbSession, store_id: OptionalIdQuery = None
) -> list[DisputeRead]:
    if store_id is not None:
        return await dispute_service.list_for_store(session, actor, store_id)
    return await dispute_service.list_for_buyer(session, actor)


@router.get(
    "/disputes/{dispute_id:int}", tags=[TAG], summary="One dispute with its log", response_model=DisputeRead
)
async def get_dispute(dispute_id: IdPath, actor: ApiActor, session: DbSession) -> DisputeRead:
    return await dispute_service.get(session, actor, dispute_id)


@router.get(
    "/disputes/{dispute_id}/documents/{event_id}/{index}",
    tags=[TAG],
    summary="Download an evidence document (the buyer, the store's people and operators; 404 to anyone else)",
    description="`event_id` is the log entry and `index` the document's place in its `documents`; both are "
    "in the `url` of each document the dispute lists.",
    response_class=FileResponse,
    responses={200: {"content": {"application/pdf": {}}}, 404: {"description": "no such document here"}},
)
async def download_document(
    dispute_id: IdPath,
    event_id: IdPath,
    index: DocumentIndex,
    actor: ApiActor,
    session: DbSession,
    storage: Storage,
) -> FileResponse:
    document, path = await dispute_service.document_file(session, actor, storage, dispute_id, event_id, index)
    return document_response(document, path)


@router.post(
    "/disputes/{dispute_id}/accept",
    tags=[TAG],
    summary="The store accepts the request: refunded from escrow now, or after the return when one was asked",
    description="A request with `wants_return` needs a `return_address`; the refund is paid when the store "
    "confirms the item arrived (or automatically 10 days after the buyer's return tracking number)."
    + MONEY_NOTE,
    response_model=DisputeRead,
)
async def accept_dispute(
    request: Request,
    dispute_id: IdPath,
    actor: ApiActor,
    session: DbSession,
    body: DisputeAccept | None = None,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    async def compute() -> tuple[int, Any]:
        address = body.return_address if body else None
        return 200, await dispute_service.accept(session, actor, dispute_id, address)

    return await idempotent(session, actor, request, key, compute)


@router.post(
    "/disputes/{dispute_id}/return-tracking",
    tags=[TAG],
    summary="The buyer gives the tracking number of the returned item",
    response_model=DisputeRead,
)
async def return_tracking(
    dispute_id: IdPath, body: ReturnTracking, actor: ApiActor, session: DbSession
) -> DisputeRead:
    return await dispute_service.add_return_tracking(session, actor, dispute_id, body.tracking_number)


@router.post(
    "/disputes/{dispute_id}/return-received",
    tags=[TAG],
    summary="The store confirms the returned item arrived: the refund is paid from escrow",
    description=MONEY_NOTE.strip(),
    response_model=DisputeRead,
)
async def return_received(
    request: Request,
    dispute_id: IdPath,
    actor: ApiActor,
    session: DbSession,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    async def compute() -> tuple[int, Any]:
        return 200, await dispute_service.confirm_return(session, actor, dispute_id)

    return await idempotent(session, actor, request, key, compute)


@router.post(
    "/disputes/{dispute_id}/reject",
    tags=[TAG],
    summary="The store rejects the request with a reason; the buyer may escalate it",
    response_model=DisputeRead,
)
async def reject_dispute(
    dispute_id: IdPath, body: DisputeReject, actor: ApiActor, session: DbSession
) -> DisputeRead:
    return await dispute_service.reject(session, actor, dispute_id, body.reason)


@router.post(
    "/disputes/{dispute_id}/escalate",
    tags=[TAG],
    summary="The buyer takes a rejected request to the platform",
    response_model=DisputeRead,
)
async def escalate_dispute(dispute_id: IdPath, actor: ApiActor, session: DbSession) -> DisputeRead:
    return await dispute_service.escalate(session, actor, dispute_id)


@router.post(
    "/disputes/{dispute_id}/messages",
    tags=[TAG],
    summary="Write in the dispute's log (buyer, store or operator)",
    response_model=DisputeRead,
    status_code=201,
)
async def post_message(
    dispute_id: IdPath, body: DisputeMessage, actor: ApiActor, session: DbSession
) -> DisputeRead:
    return await dispute_service.add_message(session, actor, dispute_id, body.body)


@router.post(
    "/disputes/{dispute_id}/messages/with-images",
    tags=[TAG],
    summary=f"Write in the dispute's log with up to {MAX_IMAGES} evidence photos and {MAX_DOCUMENTS} PDF "
    "documents (multipart form)",
    description="A `body` field, `images` files and `documents` files. 422 naming `images` for a file that is "
    "not an image or more than 3, naming `documents` for a file that is not a PDF or more than 3; 413 for a "
    "file above the upload limit.",
    response_model=DisputeRead,
    status_code=201,
    responses={413: {"description": "a file is larger than the upload limit"}},
)
async def post_message_with_images(
    dispute_id: IdPath,
    body: Annotated[str, Form(description="the message")],
    actor: ApiActor,
    session: DbSession,
    storage: Storage,
    images: ImageFiles = None,
    documents: DocumentFiles = None,
) -> DisputeRead:
    try:
        text = DisputeMessage.model_validate({"body": body}).body
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        ) from error
    data = await _read_images(images, storage)
    files = await read_documents(documents or [], storage.max_bytes)
    return await dispute_service.add_message(
        session, actor, dispute_id, text, data, storage=storage, documents=files
    )


@router.get(
    "/ops/disputes",
    tags=[OPS_TAG],
    summary="Operators: disputes in a status (escalated by default), newest first",
    response_model=list[DisputeRead],
)
async def ops_list(
    actor: ApiActor, session: DbSession, status: DisputeStatus = "escalated"
) -> list[DisputeRead]:
    return await dispute_service.list_for_operator(session, actor, status)


@router.post(
    "/ops/disputes/{dispute_id}/ruling",
    tags=[OPS_TAG],
    summary="Operators: rule on an escalated dispute (full refund, partial refund or release to the seller)",
    description=MONEY_NOTE.strip(),
    response_model=DisputeRead,
)
async def rule(
    request: Request,
    dispute_id: IdPath,
    body: DisputeRuling,
    actor: ApiActor,
    session: DbSession,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    async def compute() -> tuple[int, Any]:
        return 200, await dispute_service.rule(session, actor, dispute_id, body)

    return await idempotent(session, actor, request, key, compute)
