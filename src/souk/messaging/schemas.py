"""Conversation payloads and read models.

A conversation is read from one side: ``side`` says whether the caller reads it as the buyer or as the
store, and ``unread_count`` is that side's number of messages not read yet.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, Field

from souk.kit.schemas import ReadSchema, Schema, StrictId, Trimmed
from souk.models.messaging import MAX_BODY

if TYPE_CHECKING:
    from souk.kit.uploads import MediaStorage
    from souk.messaging.service import (
        ConversationPage,
        ConversationView,
        MessageView,
        Posted,
        ProductCard,
        ThreadView,
    )

MAX_ATTACHMENTS = 3
Side = Literal["buyer", "seller"]
SubjectType = Literal["product", "seller_order", "general"]
Body = Annotated[
    str,
    Trimmed(MAX_BODY, min_length=1),
    Field(description=f"the message, 1 to {MAX_BODY} characters; line breaks are kept"),
]
Id = StrictId


class InquiryCreate(Schema):
    """Ask a store about one of its products. A second question about the same product joins the
    conversation already open."""

    product_id: Id
    body: Body


class MessageCreate(Schema):
    body: Body


class AttachmentRead(ReadSchema):
    id: int
    url: str
    thumb_url: str
    width: int
    height: int
    content_type: str
    size_bytes: int


class MessageRead(ReadSchema):
    id: int
    conversation_id: int
    sender_user_id: int
    sender_side: Side
    sender_name: str
    body: str
    created_at: datetime
    attachments: list[AttachmentRead]

    @classmethod
    def of(cls, view: MessageView, storage: MediaStorage) -> MessageRead:
        m = view.message
        return cls(
            id=m.id,
            conversation_id=m.conversation_id,
            sender_user_id=m.sender_user_id,
            sender_side=m.sender_side,  # type: ignore[arg-type]
            sender_name=view.sender_name,
            body=m.body,
            created_at=m.created_at,
            attachments=[
                AttachmentRead(
                    id=a.id,
                    url=storage.url(a.path) or "",
                    thumb_url=storage.url(a.thumb_path) or "",
                    width=a.width,
                    height=a.height,
                    content_type=a.content_type,
                    size_bytes=a.size_bytes,
                )
                for a in view.attachments
            ],
        )


class ConversationRead(ReadSchema):
    id: int
    store_id: int
    store_name: str
    buyer_user_id: int
    buyer_name: str
    subject_type: SubjectType
    subject_id: int | None
    subject_title: str
    created_at: datetime
    last_message_at: datetime
    last_message_preview: str
    last_sender_side: Side | None
    message_count: int
    side: Side = Field(description="the side the caller reads this conversation from")
    unread_count: int = Field(description="messages of the other side the caller has not read yet")

    @classmethod
    def fields_of(cls, view: ConversationView) -> dict[str, object]:
        c = view.conversation
        return {
            "id": c.id,
            "store_id": c.store_id,
            "store_name": view.store_name,
            "buyer_user_id": c.buyer_user_id,
            "buyer_name": view.buyer_name,
            "subject_type": c.subject_type,
            "subject_id": c.subject_id,
            "subject_title": c.subject_title,
            "created_at": c.created_at,
            "last_message_at": c.last_message_at,
            "last_message_preview": c.last_message_preview,
            "last_sender_side": c.last_sender_side,
            "message_count": c.message_count,
            "side": view.side,
            "unread_count": view.unread_count,
        }

    @classmethod
    def of(cls, view: ConversationView) -> ConversationRead:
        return cls.model_validate(cls.fields_of(view))


class ConversationPageRead(BaseModel):
    items: list[ConversationRead]
    next_cursor: str | None = None

    @classmethod
    def of(cls, page: ConversationPage) -> ConversationPageRead:
        return cls(items=[ConversationRead.of(v) for v in page.items], next_cursor=page.next_cursor)


class ProductCardRead(BaseModel):
    """The product a conversation is about, as the caller may see it."""

    id: int
    title: str
    url: str
    thumb_url: str | None
    currency: str
    min_price_amount: int | None
    max_price_amount: int | None

    @classmethod
    def of(cls, card: ProductCard, storage: MediaStorage) -> ProductCardRead:
        return cls(
            id=card.id,
            title=card.title,
            url=card.url,
            thumb_url=storage.url(card.thumb_path),
            currency=card.currency,
            min_price_amount=card.min_price_amount,
            max_price_amount=card.max_price_amount,
        )


class MessagePageRead(BaseModel):
    """Newest first; pass ``next_cursor`` back as ``cursor`` for older messages."""

    items: list[MessageRead]
    next_cursor: str | None = None


class ConversationDetail(ConversationRead):
    product: ProductCardRead | None = Field(
        description="the product of a product inquiry, when the caller can still see it"
    )
    messages: MessagePageRead

    @classmethod
    def of_thread(cls, thread: ThreadView, storage: MediaStorage) -> ConversationDetail:
        return cls.model_validate(
            {
                **ConversationRead.fields_of(thread.view),
                "product": ProductCardRead.of(thread.product, storage) if thread.product else None,
                "messages": MessagePageRead(
                    items=[MessageRead.of(m, storage) for m in thread.messages],
                    next_cursor=thread.next_cursor,
                ),
            }
        )


class InquiryStarted(ConversationRead):
    """The conversation (new, or the one already open about this product) and the message just sent."""

    message: MessageRead

    @classmethod
    def of_posted(cls, posted: Posted, storage: MediaStorage) -> InquiryStarted:
        return cls.model_validate(
            {**ConversationRead.fields_of(posted.view), "message": MessageRead.of(posted.message, storage)}
        )
