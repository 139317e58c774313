"""JSON routes under /api/v1: requests for quotation (the buyer's, and the supplier's RFQ board)."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, UploadFile
from fastapi.responses import FileResponse

from souk.deps import ApiActor, DbSession, Storage
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.pagination import Page
from souk.kit.schemas import MAX_ID, IdPath
from souk.kit.uploads import read_upload
from souk.party.schemas import UploadIn
from souk.trade.sourcing.rfq.schemas import MAX_ATTACHMENTS, RfqCreate, RfqRead, RfqStatus
from souk.trade.sourcing.rfq.service import rfq_service

router = APIRouter(responses=ERROR_RESPONSES)
TAG = "RFQs"
AttachmentIndex = Annotated[int, Path(ge=0, le=MAX_ATTACHMENTS)]


def attachment_response(attachment: dict[str, Any], path: FilePath) -> FileResponse:
    """A private attachment, sent inline with headers that keep the browser from running anything in it."""
    return FileResponse(
        str(path),
        media_type=str(attachment.get("content_type") or "application/octet-stream"),
        filename=str(attachment.get("filename") or "attachment"),
        content_disposition_type="inline",
        headers={"Content-Security-Policy": "sandbox", "Cache-Control": "private, no-store"},
    )


@router.post(
    "/rfqs",
    tags=[TAG],
    summary="Post a request for quotation for one of your organisations",
    response_model=RfqRead,
    status_code=201,
)
async def create_rfq(body: RfqCreate, actor: ApiActor, session: DbSession) -> RfqRead:
    rfq = await rfq_service.create(session, actor, body)
    return (await rfq_service.reads(session, [rfq], buyer=True))[0]


@router.get(
    "/rfqs",
    tags=[TAG],
    summary="My organisations' RFQs, newest first; with board_store_id: the RFQ board of that supplier store",
    response_model=Page[RfqRead],
)
async def list_rfqs(
    actor: ApiActor,
    session: DbSession,
    board_store_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    q: Annotated[str, Query(max_length=200)] = "",
    all_categories: bool = False,
    status: RfqStatus | None = None,
    cursor: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> Page[RfqRead]:
    if board_store_id is not None:
        board = await rfq_service.board(
            session, actor, board_store_id, q=q, all_categories=all_categories, cursor=cursor, limit=limit
        )
        return board.page
    return await rfq_service.list_mine(session, actor, status=status, cursor=cursor, limit=limit)


@router.get(
    "/rfqs/{rfq_id}",
    tags=[TAG],
    summary="One RFQ (its buyer organisation, or a supplier whose store may see it)",
    response_model=RfqRead,
)
async def get_rfq(rfq_id: IdPath, actor: ApiActor, session: DbSession) -> RfqRead:
    return await rfq_service.get(session, actor, rfq_id)


@router.post(
    "/rfqs/{rfq_id}/close",
    tags=[TAG],
    summary="Stop taking quotes now (the buyer)",
    response_model=RfqRead,
)
async def close_rfq(rfq_id: IdPath, actor: ApiActor, session: DbSession) -> RfqRead:
    rfq = await rfq_service.close(session, actor, rfq_id)
    return (await rfq_service.reads(session, [rfq], buyer=True))[0]


@router.post(
    "/rfqs/{rfq_id}/attachments",
    tags=[TAG],
    summary=f"Attach a document (PDF or image) to an open RFQ (at most {MAX_ATTACHMENTS})",
    response_model=RfqRead,
    status_code=201,
)
async def add_rfq_attachment(
    rfq_id: IdPath,
    actor: ApiActor,
    session: DbSession,
    storage: Storage,
    file: Annotated[UploadFile, File(description="PDF, JPEG, PNG or WebP")],
) -> RfqRead:
    data = await read_upload(file, storage.max_bytes, "file")
    rfq = await rfq_service.add_attachments(
        session, actor, storage, rfq_id, [UploadIn(data=data, filename=file.filename or "")]
    )
    return (await rfq_service.reads(session, [rfq], buyer=True))[0]


@router.get(
    "/rfqs/{rfq_id}/attachments/{index}",
    tags=[TAG],
    summary="Download an RFQ attachment (the buyer's organisation and suppliers who may see the RFQ)",
    response_class=FileResponse,
    responses={200: {"content": {"application/pdf": {}, "image/*": {}}}},
)
async def download_rfq_attachment(
    rfq_id: IdPath, index: AttachmentIndex, actor: ApiActor, session: DbSession, storage: Storage
) -> FileResponse:
    attachment, path = await rfq_service.attachment_file(session, actor, storage, rfq_id, index)
    return attachment_response(attachment, path)
