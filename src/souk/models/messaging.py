"""Conversations between a buyer and a store, their messages and image attachments.

One model serves every thread: product inquiries (``subject_type="product"``), the chat of a seller order
(``"seller_order"``) and general questions to a store (``"general"``); disputes and quotes reuse it later.
Each side keeps its own read mark: the number of messages it has not read yet and when it last read.
The last message is summarised on the conversation so inboxes list without touching the messages table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from souk.models.base import Base, _now

SUBJECT_TYPES = ("product", "seller_order", "quote", "general")
SIDES = ("buyer", "seller")
MAX_BODY = 4000
PREVIEW_LENGTH = 200


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    buyer_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int | None]
    # the subject's title when the thread was opened (a product may be renamed or removed later)
    subject_title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=_now)
    last_message_at: Mapped[datetime] = mapped_column(default=_now)
    last_message_preview: Mapped[str] = mapped_column(String(PREVIEW_LENGTH), default="")
    last_sender_side: Mapped[str | None] = mapped_column(String(10))
    message_count: Mapped[int] = mapped_column(default=0)
    # read marks per side: messages of the other side not read yet, and when the side last read the thread
    buyer_unread_count: Mapped[int] = mapped_column(default=0)
    seller_unread_count: Mapped[int] = mapped_column(default=0)
    buyer_last_read_at: Mapped[datetime | None]
    seller_last_read_at: Mapped[datetime | None]

    __table_args__ = (
        # one thread per subject: a buyer's inquiry about a product, the chat of a seller order
        UniqueConstraint("store_id", "buyer_user_id", "subject_type", "subject_id"),
        Index("ix_conversations_buyer_user_id_last_message_at", "buyer_user_id", "last_message_at"),
        Index("ix_conversations_store_id_last_message_at", "store_id", "last_message_at"),
        CheckConstraint(
            "subject_type IN ('product', 'seller_order', 'quote', 'general')", name="subject_type"
        ),
        CheckConstraint("subject_type = 'general' OR subject_id IS NOT NULL", name="subject_id"),
        CheckConstraint(
            "last_sender_side IS NULL OR last_sender_side IN ('buyer', 'seller')", name="last_sender_side"
        ),
        CheckConstraint("buyer_unread_count >= 0 AND seller_unread_count >= 0", name="unread_counts"),
        CheckConstraint("message_count >= 0", name="message_count"),
    )


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    sender_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    sender_side: Mapped[str] = mapped_column(String(10))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=_now)

    __table_args__ = (
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        CheckConstraint("sender_side IN ('buyer', 'seller')", name="sender_side"),
        CheckConstraint(f"length(body) BETWEEN 1 AND {MAX_BODY}", name="body_length"),
    )


class MessageAttachment(Base):
    """An image sent with a message (checked, re-encoded and thumbnailed by ``MediaStorage.save_image``)."""

    __tablename__ = "message_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    path: Mapped[str] = mapped_column(String(300))
    thumb_path: Mapped[str] = mapped_column(String(300))
    width: Mapped[int]
    height: Mapped[int]
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=_now)
