"""JSON routes under /api/v1: conversations between buyers and stores (product inquiries, order chat).

Messages are sent as JSON (``POST /conversations/{id}/messages``) or, with up to 3 images, as a multipart form
(``POST /conversations/{id}/messages/with-images``: a ``body`` field and ``images`` files). Reading a
conversation does not change its read mark; ``POST /conversations/{id}/read`` does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile

from souk.deps import ApiActor, DbSession, Storage
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.schemas import MAX_ID, IdPath, LimitQuery
from souk.kit.uploads import read_upload
from souk.messaging.schemas import (
    MAX_ATTACHMENTS,
    ConversationDetail,
    ConversationPageRead,
    ConversationRead,
    InquiryCreate,
    InquiryStarted,
    MessageCreate,
    MessageRead,
    Side,
)
from souk.messaging.service import messaging_service
from souk.models.messaging import MAX_BODY

router = APIRouter(tags=["conversations"], responses=ERROR_RESPONSES)

Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]
Limit = LimitQuery
SideQuery = Annotated[
    Side | None,
    Query(description="for someone who is both the buyer and one of the store's people: which side acts"),
]


@router.get(
    "/conversations",
    summary="My conversations as a buyer, or a store's inbox with `store_id`",
    response_model=ConversationPageRead,
)
async def list_conversations(
    actor: ApiActor,
    session: DbSession,
    store_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="a store you work on: its inbox, unread first")
    ] = None,
    unread: Annotated[bool, Query(description="only conversations with unread messages")] = False,
    cursor: Cursor = None,
    limit: Limit = None,
) -> ConversationPageRead:
    if store_id is not None:
        page = await messaging_service.list_for_store(
            session, actor, store_id, cursor, unread_only=unread, limit=limit
        )
    else:
        page = await messaging_service.list_for_buyer(session, actor, cursor, unread_only=unread, limit=limit)
    return ConversationPageRead.of(page)


@router.post(
    "/conversations",
    summary="Ask a store about a product (joins the conversation already open about it)",
    status_code=201,
    response_model=InquiryStarted,
)
async def start_inquiry(
    body: InquiryCreate, actor: ApiActor, session: DbSession, storage: Storage
) -> InquiryStarted:
    posted = await messaging_service.start_inquiry(
        session, actor, body.product_id, body.body, storage=storage
    )
    return InquiryStarted.of_posted(posted, storage)


@router.get(
    "/conversations/{conversation_id}",
    summary="A conversation with its messages, newest first",
    response_model=ConversationDetail,
)
async def get_conversation(
    conversation_id: IdPath,
    actor: ApiActor,
    session: DbSession,
    storage: Storage,
    cursor: Cursor = None,
    limit: Limit = None,
    side: SideQuery = None,
) -> ConversationDetail:
    thread = await messaging_service.get(
        session, actor, conversation_id, cursor=cursor, limit=limit, side=side, mark_read=False
    )
    return ConversationDetail.of_thread(thread, storage)


@router.post(
    "/conversations/{conversation_id}/messages",
    summary="Send a message",
    status_code=201,
    response_model=MessageRead,
)
async def post_message(
    conversation_id: IdPath,
    body: MessageCreate,
    actor: ApiActor,
    session: DbSession,
    storage: Storage,
    side: SideQuery = None,
) -> MessageRead:
    posted = await messaging_service.post(session, actor, conversation_id, body.body, side=side)
    return MessageRead.of(posted.message, storage)


@router.post(
    "/conversations/{conversation_id}/messages/with-images",
    summary=f"Send a message with up to {MAX_ATTACHMENTS} images (multipart form)",
    status_code=201,
    response_model=MessageRead,
    responses={413: {"description": "a file is larger than the upload limit"}},
)
async def post_message_with_images(
    conversation_id: IdPath,
    body: Annotated[str, Form(description=f"the message, 1 to {MAX_BODY} characters")],
    images: Annotated[list[UploadFile], File(description="JPEG, PNG or WebP images")],
    actor: ApiActor,
    session: DbSession,
    storage: Storage,
    side: SideQuery = None,
) -> MessageRead:
    data = [await read_upload(f, storage.max_bytes, "images") for f in images[: MAX_ATTACHMENTS + 1]]
    posted = await messaging_service.post(
        session, actor, conversation_id, body, data, storage=storage, side=side
    )
    return MessageRead.of(posted.message, storage)


@router.post(
    "/conversations/{conversation_id}/read",
    summary="Mark a conversation read for my side",
    response_model=ConversationRead,
)
async def mark_read(
    conversation_id: IdPath, actor: ApiActor, session: DbSession, side: SideQuery = None
) -> ConversationRead:
    return ConversationRead.of(await messaging_service.mark_read(session, actor, conversation_id, side=side))
