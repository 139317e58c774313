"""JSON routes under /api/v1: quotes on RFQs (sending one, the buyer's comparison, the supplier's list and
quota). The negotiation routes (/quotes/{id}/offers ...) live in the negotiation area's router."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import FileResponse

from souk.deps import ApiActor, DbSession, Storage
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.pagination import Page
from souk.kit.schemas import MAX_ID, IdPath
from souk.kit.uploads import read_upload
from souk.party.schemas import UploadIn
from souk.trade.sourcing.quote.schemas import (
    MAX_QUOTE_ATTACHMENTS,
    Comparison,
    QuotaRead,
    QuoteCreate,
    QuoteRead,
    SortKey,
)
from souk.trade.sourcing.quote.service import quote_read, quote_service
from souk.trade.sourcing.rfq.endpoints import AttachmentIndex, attachment_response

router = APIRouter(responses=ERROR_RESPONSES)
TAG = "Quotes"


@router.get(
    "/rfqs/{rfq_id}/quotes",
    tags=[TAG],
    summary="Compare an RFQ's quotes side by side (the buyer); sort by price, landed, lead_time, rating, response",
    response_model=Comparison,
)
async def compare_quotes(
    rfq_id: IdPath, actor: ApiActor, session: DbSession, sort: SortKey = "price"
) -> Comparison:
    return await quote_service.comparison(session, actor, rfq_id, sort)


@router.post(
    "/rfqs/{rfq_id}/quotes",
    tags=[TAG],
    summary="Quote an RFQ from one of your sourcing stores (once per store; counts against the monthly quota)",
    response_model=QuoteRead,
    status_code=201,
)
async def create_quote(rfq_id: IdPath, body: QuoteCreate, actor: ApiActor, session: DbSession) -> QuoteRead:
    quote = await quote_service.create(session, actor, rfq_id, body)
    return quote_read(quote)


@router.get(
    "/quotes",
    tags=[TAG],
    summary="A supplier store's quotes, newest first",
    response_model=Page[QuoteRead],
)
async def list_quotes(
    actor: ApiActor,
    session: DbSession,
    store_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    cursor: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> Page[QuoteRead]:
    return await quote_service.list_for_store(session, actor, store_id, cursor=cursor, limit=limit)


@router.get(
    "/quotes/{quote_id}",
    tags=[TAG],
    summary="One quote (the buyer's organisation or the quoting store)",
    response_model=QuoteRead,
)
async def get_quote(quote_id: IdPath, actor: ApiActor, session: DbSession) -> QuoteRead:
    return await quote_service.get(session, actor, quote_id)


@router.post(
    "/quotes/{quote_id}/attachments",
    tags=[TAG],
    summary=f"Attach a document (PDF or image) to your quote (at most {MAX_QUOTE_ATTACHMENTS})",
    response_model=QuoteRead,
    status_code=201,
)
async def add_quote_attachment(
    quote_id: IdPath,
    actor: ApiActor,
    session: DbSession,
    storage: Storage,
    file: Annotated[UploadFile, File(description="PDF, JPEG, PNG or WebP")],
) -> QuoteRead:
    data = await read_upload(file, storage.max_bytes, "file")
    return await quote_service.add_attachments(
        session, actor, storage, quote_id, [UploadIn(data=data, filename=file.filename or "")]
    )


@router.get(
    "/quotes/{quote_id}/attachments/{index}",
    tags=[TAG],
    summary="Download a quote attachment (the buyer's organisation and the quoting store)",
    response_class=FileResponse,
    responses={200: {"content": {"application/pdf": {}, "image/*": {}}}},
)
async def download_quote_attachment(
    quote_id: IdPath, index: AttachmentIndex, actor: ApiActor, session: DbSession, storage: Storage
) -> FileResponse:
    attachment, path = await quote_service.attachment_file(session, actor, storage, quote_id, index)
    return attachment_response(attachment, path)


@router.get(
    "/stores/{store_id}/quote-quota",
    tags=[TAG],
    summary="The store's organisation's quotes this month: quota, used, left",
    response_model=QuotaRead,
)
async def quote_quota(store_id: IdPath, actor: ApiActor, session: DbSession) -> QuotaRead:
    return await quote_service.quota(session, actor, store_id)
