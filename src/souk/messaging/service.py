"""Conversations: a buyer and a store talk about a product (inquiries), a seller order (order chat) or
anything else; later quotes and disputes reuse the same threads.

Who may do what: a conversation is read and answered by its buyer and, for the store, by anyone with
``store:read`` on it (owner, admins, staff); everyone else gets 404. Writing needs credentials that may write.
Each side has a read mark: posting marks the thread read for the poster's side and adds one unread message
for the other side; opening the thread (``get``) or ``mark_read`` clears the viewer's side. The first message
the other side has not read yet also sends its people an in-app notification.
Flushes, never commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import get_store_for, require_user, require_writer, store_ids
from souk.catalog.errors import ProductNotFound
from souk.catalog.repository import ProductRepository
from souk.errors import NotFound, invalid_field
from souk.kit.clock import utcnow
from souk.kit.pagination import clamp_limit, decode_cursor, encode_cursor
from souk.kit.uploads import MediaStorage, StoredImage
from souk.messaging.errors import ConversationNotFound, OwnStoreInquiry
from souk.messaging.repository import ConversationRepository, ConversationRow, unread_total_query
from souk.messaging.schemas import MAX_ATTACHMENTS, Side
from souk.models import Conversation, Message, MessageAttachment, Product, Store, User
from souk.models.messaging import MAX_BODY, PREVIEW_LENGTH, SUBJECT_TYPES
from souk.notification.service import notification_service

MAX_TITLE = 200
THREAD_PAGE = 50


@dataclass
class ConversationView:
    """A conversation as one side sees it."""

    conversation: Conversation
    store_name: str
    store_slug: str
    buyer_name: str
    side: Side

    @property
    def unread_count(self) -> int:
        c = self.conversation
        return c.buyer_unread_count if self.side == "buyer" else c.seller_unread_count


@dataclass
class MessageView:
    message: Message
    sender_name: str
    attachments: list[MessageAttachment] = field(default_factory=list)


@dataclass
class ProductCard:
    id: int
    title: str
    slug: str
    thumb_path: str | None
    currency: str
    min_price_amount: int | None
    max_price_amount: int | None

    @property
    def url(self) -> str:
        return f"/p/{self.id}/{self.slug}"


@dataclass
class ThreadView:
    view: ConversationView
    messages: list[MessageView]  # newest first
    next_cursor: str | None  # older messages
    product: ProductCard | None


@dataclass
class ConversationPage:
    items: list[ConversationView]
    next_cursor: str | None
    store: Store | None = None


@dataclass
class InquiryDraft:
    """What the "Ask the seller" form shows, and the conversation already open about the product."""

    product: ProductCard
    store_name: str
    existing_conversation_id: int | None


@dataclass
class Posted:
    view: ConversationView
    message: MessageView


@dataclass
class UnreadCounts:
    total: int  # conversations with unread messages, as buyer or for a store, each counted once
    per_store: dict[int, int]  # store id -> conversations unread by the store


def clean_body(text: str) -> str:
    """The message as stored: line breaks normalised, surrounding blanks removed, 1 to 4000 characters."""
    body = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not body:
        raise invalid_field("body", "write a message")
    if len(body) > MAX_BODY:
        raise invalid_field("body", f"must be at most {MAX_BODY} characters (this one has {len(body)})")
    if "\x00" in body:
        raise invalid_field("body", "contains a character that cannot be stored")
    return body


def preview_of(body: str) -> str:
    flat = " ".join(body.split())
    return flat if len(flat) <= PREVIEW_LENGTH else flat[: PREVIEW_LENGTH - 1] + "…"


def _list_cursor(cursor: str | None, with_flag: bool) -> tuple[int, datetime, int] | None:
    values = decode_cursor(cursor)
    if values is None:
        return None
    try:
        flag, at, last_id = values if with_flag else [0, *values]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (flag, last_id)):
            raise ValueError
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError
    except (ValueError, TypeError) as exc:
        raise invalid_field("cursor", "is not a cursor this API issued") from exc
    return flag, moment, last_id


def _before_id(cursor: str | None) -> int | None:
    values = decode_cursor(cursor)
    if values is None:
        return None
    if len(values) != 1 or not isinstance(values[0], int) or isinstance(values[0], bool):
        raise invalid_field("cursor", "is not a cursor this API issued")
    return values[0]


def _view(row: ConversationRow, side: Side) -> ConversationView:
    return ConversationView(row.conversation, row.store_name, row.store_slug, row.buyer_name, side)


def _choose_side(row: ConversationRow, requested: Side | None) -> Side:
    """The side the actor acts on: the one asked for, else buyer when they are the buyer, else the store."""
    if (requested == "buyer" and not row.is_buyer) or (requested == "seller" and not row.is_seller):
        raise ConversationNotFound()
    if requested is not None:
        return requested
    return "buyer" if row.is_buyer else "seller"


def _remove_files(storage: MediaStorage, stored: Sequence[StoredImage]) -> None:
    for image in stored:
        for path in (image.path, image.thumb_path):
            storage.absolute(path).unlink(missing_ok=True)


class MessagingService:
    # --- reading ------------------------------------------------------------------------------------

    async def _scoped(
        self,
        session: AsyncSession,
        actor: Actor,
        conversation_id: int,
        side: Side | None,
        store_id: int | None,
    ) -> tuple[ConversationRow, Side]:
        require_user(actor)
        row = await ConversationRepository(session).scoped(actor, conversation_id, store_id=store_id)
        if row is None:
            raise ConversationNotFound()
        return row, _choose_side(row, side)

    async def _product_card(self, session: AsyncSession, actor: Actor, product_id: int) -> ProductCard | None:
        product = await ProductRepository(session).readable(actor, product_id)
        if product is None:
            return None
        return self._card(product, await self._thumb(session, product))

    async def _thumb(self, session: AsyncSession, product: Product) -> str | None:
        images = await ProductRepository(session).images(product.id)
        return images[0].thumb_path if images else None

    def _card(self, product: Product, thumb_path: str | None) -> ProductCard:
        return ProductCard(
            id=product.id,
            title=product.title,
            slug=product.slug,
            thumb_path=thumb_path,
            currency=product.currency,
            min_price_amount=product.min_price_amount,
            max_price_amount=product.max_price_amount,
        )

    async def get(
        self,
        session: AsyncSession,
        actor: Actor,
        conversation_id: int,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        side: Side | None = None,
        store_id: int | None = None,
        mark_read: bool = True,
    ) -> ThreadView:
        """The conversation with a page of its messages (newest first; ``cursor`` for older ones) and the
        product it is about. Marks the thread read for the viewer's side unless ``mark_read`` is False
        (or the credentials are read-only). ``side`` picks the side of a user who is on both;
        ``store_id`` limits to one store's conversations (the seller centre). 404 for anyone else."""
        size = clamp_limit(limit)
        before = _before_id(cursor)
        row, chosen = await self._scoped(session, actor, conversation_id, side, store_id)
        repo = ConversationRepository(session)
        if mark_read and actor.can_write():
            # before loading the messages: what arrives after this point stays unread
            await repo.mark_read(row.conversation, chosen, utcnow())
        rows = await repo.messages_page(row.conversation.id, before, size)
        next_cursor = None
        if len(rows) > size:
            rows = rows[:size]
            next_cursor = encode_cursor([rows[-1][0].id])
        attachments = await repo.attachments([m.id for m, _ in rows])
        messages = [MessageView(m, name, attachments[m.id]) for m, name in rows]
        conversation = row.conversation
        product = None
        if conversation.subject_type == "product" and conversation.subject_id is not None:
            product = await self._product_card(session, actor, conversation.subject_id)
        return ThreadView(_view(row, chosen), messages, next_cursor, product)

    async def list_for_buyer(
        self,
        session: AsyncSession,
        actor: Actor,
        cursor: str | None = None,
        *,
        unread_only: bool = False,
        limit: int | None = None,
    ) -> ConversationPage:
        """The actor's conversations as a buyer, latest activity first."""
        user_id = require_user(actor)
        size = clamp_limit(limit)
        after = _list_cursor(cursor, with_flag=False)
        rows = await ConversationRepository(session).buyer_page(
            user_id, unread_only=unread_only, after=(after[1], after[2]) if after else None, limit=size
        )
        next_cursor = None
        if len(rows) > size:
            rows = rows[:size]
            last = rows[-1].conversation
            next_cursor = encode_cursor([last.last_message_at.isoformat(), last.id])
        return ConversationPage([_view(r, "buyer") for r in rows], next_cursor)

    async def list_for_store(
        self,
        session: AsyncSession,
        actor: Actor,
        store_id: int,
        cursor: str | None = None,
        unread_only: bool = False,
        *,
        limit: int | None = None,
    ) -> ConversationPage:
        """A store's inbox for its people (``store:read``): unread conversations first, then latest
        activity first. 404 for other stores."""
        store = await get_store_for(session, actor, store_id, "store:read")
        size = clamp_limit(limit)
        after = _list_cursor(cursor, with_flag=True)
        rows = await ConversationRepository(session).store_page(
            store.id, unread_only=unread_only, after=after, limit=size
        )
        next_cursor = None
        if len(rows) > size:
            rows = rows[:size]
            last = rows[-1].conversation
            flag = 1 if last.seller_unread_count > 0 else 0
            next_cursor = encode_cursor([flag, last.last_message_at.isoformat(), last.id])
        return ConversationPage([_view(r, "seller") for r in rows], next_cursor, store)

    async def unread_counts(self, session: AsyncSession, user_id: int) -> UnreadCounts:
        total, per_store = await ConversationRepository(session).unread_counts(Actor(user_id=user_id))
        return UnreadCounts(total, per_store)

    def unread_total_query(self, user_id: int) -> Select[int]:
        """``unread_counts(...).total`` as a statement another one can embed (the header's badge)."""
        return unread_total_query(Actor(user_id=user_id))

    async def unread_per_store(self, session: AsyncSession, user_id: int) -> dict[int, int]:
        """``unread_counts(...).per_store``: per store the user works on, its conversations unread by the
        store. One query."""
        return await ConversationRepository(session).unread_per_store(Actor(user_id=user_id))

    async def unread_count_for_user(self, session: AsyncSession, user_id: int) -> int:
        """Conversations with messages the user has not read: as a buyer, and for every store they work
        on (``store:read``); a conversation counts once."""
        return (await self.unread_counts(session, user_id)).total

    async def mark_read(
        self, session: AsyncSession, actor: Actor, conversation_id: int, *, side: Side | None = None
    ) -> ConversationView:
        """Mark the conversation read for the actor's side."""
        require_writer(actor)
        row, chosen = await self._scoped(session, actor, conversation_id, side, None)
        await ConversationRepository(session).mark_read(row.conversation, chosen, utcnow())
        return _view(row, chosen)

    # --- starting and answering ---------------------------------------------------------------------

    async def prepare_inquiry(self, session: AsyncSession, actor: Actor, product_id: int) -> InquiryDraft:
        """For the "Ask the seller" form: the product (404 when buyers cannot see it; 422 for the actor's
        own store) and the conversation the buyer already has about it."""
        user_id = require_user(actor)
        product, store = await self._inquiry_target(session, actor, product_id)
        existing = await ConversationRepository(session).find_subject(
            store.id, user_id, "product", product.id
        )
        return InquiryDraft(
            product=self._card(product, await self._thumb(session, product)),
            store_name=store.name,
            existing_conversation_id=existing.id if existing else None,
        )

    async def _inquiry_target(
        self, session: AsyncSession, actor: Actor, product_id: int
    ) -> tuple[Product, Store]:
        repo = ProductRepository(session)
        product = await repo.readable(actor, product_id)
        if product is None:
            raise ProductNotFound()
        own = await session.scalar(
            select(literal(True)).where(literal(product.store_id).in_(store_ids(actor, "store:read")))
        )
        if own:
            raise OwnStoreInquiry()
        return product, await repo.store(product.store_id)

    async def start_inquiry(
        self,
        session: AsyncSession,
        actor: Actor,
        product_id: int,
        body: str,
        attachments: Sequence[bytes] = (),
        *,
        storage: MediaStorage | None = None,
    ) -> Posted:
        """A buyer asks a store about a product buyers can see (404 otherwise). The question joins the
        conversation the buyer already has about that product, or opens one. A store's own people cannot
        inquire (422 ``own_store``)."""
        user_id = require_writer(actor)
        text = clean_body(body)
        self._check_attachments(attachments, storage)
        product, store = await self._inquiry_target(session, actor, product_id)
        conversation = await self._open(session, store.id, user_id, "product", product.id, product.title)
        row = ConversationRow(conversation, store.name, store.slug, actor.display_name, is_buyer=True)
        if not row.buyer_name:
            row.buyer_name = (await ConversationRepository(session).names(conversation.id))[2]
        return await self._post(session, actor, row, "buyer", text, attachments, storage)

    async def open_thread(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        store_id: int,
        buyer_user_id: int,
        subject_type: str,
        subject_id: int | None,
        title: str,
    ) -> Conversation:
        """The conversation between ``buyer_user_id`` and ``store_id`` about one subject (``"product"``,
        ``"seller_order"`` or ``"general"``), opened when there is none yet: calling it again returns the
        same conversation (also when two calls race). ``title`` is the subject's title as shown in inboxes
        (kept as a snapshot, shortened to 200 characters). The actor must be that buyer, one of the store's people, or an operator
        (404 otherwise). No message is posted; use ``post`` for that."""
        user_id = require_user(actor)
        if subject_type not in SUBJECT_TYPES:
            raise invalid_field("subject_type", f"must be one of {', '.join(SUBJECT_TYPES)}")
        if subject_type != "general" and subject_id is None:
            raise invalid_field("subject_id", f"a {subject_type} thread needs the id of its subject")
        clean_title = " ".join(title.split())
        if not clean_title:
            raise invalid_field("title", "name the subject of the conversation")
        if len(clean_title) > MAX_TITLE:
            clean_title = clean_title[: MAX_TITLE - 1] + "…"
        allowed = (
            actor.is_operator
            or user_id == buyer_user_id
            or await session.scalar(
                select(literal(True)).where(literal(store_id).in_(store_ids(actor, "store:read")))
            )
        )
        if not allowed or await session.get(Store, store_id) is None:
            raise NotFound("No such store.", code="store_not_found")
        if await session.get(User, buyer_user_id) is None:
            raise NotFound("No such buyer.", code="user_not_found")
        return await self._open(session, store_id, buyer_user_id, subject_type, subject_id, clean_title)

    async def _open(
        self,
        session: AsyncSession,
        store_id: int,
        buyer_user_id: int,
        subject_type: str,
        subject_id: int | None,
        title: str,
    ) -> Conversation:
        repo = ConversationRepository(session)
        existing = await repo.find_subject(store_id, buyer_user_id, subject_type, subject_id)
        if existing is not None:
            return existing
        now = utcnow()
        conversation = Conversation(
            store_id=store_id,
            buyer_user_id=buyer_user_id,
            subject_type=subject_type,
            subject_id=subject_id,
            subject_title=title[:MAX_TITLE],
            created_at=now,
            last_message_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(conversation)
                await session.flush()
        except IntegrityError:  # opened by a concurrent request since the look-up above
            existing = await repo.find_subject(store_id, buyer_user_id, subject_type, subject_id)
            if existing is None:
                raise
            return existing
        return conversation

    async def post(
        self,
        session: AsyncSession,
        actor: Actor,
        conversation_id: int,
        body: str,
        attachments: Sequence[bytes] = (),
        *,
        storage: MediaStorage | None = None,
        side: Side | None = None,
        store_id: int | None = None,
    ) -> Posted:
        """Add a message (1 to 4000 characters, up to 3 images checked by ``MediaStorage.save_image``;
        ``storage`` is needed when there are images) as the conversation's buyer, or for the store by anyone
        with ``store:read`` on it. 404 for anyone else."""
        require_writer(actor)
        text = clean_body(body)
        self._check_attachments(attachments, storage)
        row, chosen = await self._scoped(session, actor, conversation_id, side, store_id)
        return await self._post(session, actor, row, chosen, text, attachments, storage)

    async def post_for_subject(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        side: Side,
        store_id: int,
        buyer_user_id: int,
        subject_type: str,
        subject_id: int,
        title: str,
        body: str,
    ) -> Posted:
        """Post on the thread of a subject whose own service has already decided that ``actor`` speaks for
        ``side`` (a quote's negotiation: any member of the buyer organisation speaks for the buyer, whose
        thread is the RFQ author's). Opens the thread when there is none yet."""
        require_writer(actor)
        if subject_type not in SUBJECT_TYPES:
            raise invalid_field("subject_type", f"must be one of {', '.join(SUBJECT_TYPES)}")
        text = clean_body(body)
        clean_title = " ".join(title.split())[:MAX_TITLE] or subject_type
        conversation = await self._open(
            session, store_id, buyer_user_id, subject_type, subject_id, clean_title
        )
        store_name, store_slug, buyer_name = await ConversationRepository(session).names(conversation.id)
        row = ConversationRow(
            conversation,
            store_name,
            store_slug,
            buyer_name,
            is_buyer=side == "buyer",
            is_seller=side == "seller",
        )
        return await self._post(session, actor, row, side, text, (), None)

    def _check_attachments(self, attachments: Sequence[bytes], storage: MediaStorage | None) -> None:
        if len(attachments) > MAX_ATTACHMENTS:
            raise invalid_field(
                "images",
                f"send at most {MAX_ATTACHMENTS} images with a message",
                code="too_many_images",
            )
        if attachments and storage is None:
            raise ValueError("images need the media storage")

    async def _post(
        self,
        session: AsyncSession,
        actor: Actor,
        row: ConversationRow,
        side: Side,
        text: str,
        attachments: Sequence[bytes],
        storage: MediaStorage | None,
    ) -> Posted:
        assert actor.user_id is not None
        conversation = row.conversation
        for data in attachments:  # every file is checked before any is stored
            await asyncio.to_thread(storage.decode_image, data, "images")  # type: ignore[union-attr]
        now = utcnow()
        message = Message(
            conversation_id=conversation.id,
            sender_user_id=actor.user_id,
            sender_side=side,
            body=text,
            created_at=now,
        )
        session.add(message)
        await session.flush()
        stored: list[StoredImage] = []
        try:
            for data in attachments:
                stored.append(
                    await asyncio.to_thread(
                        storage.save_image,  # type: ignore[union-attr]
                        data,
                        subdir="messages",
                        field="images",
                    )
                )
            saved = [
                MessageAttachment(
                    message_id=message.id,
                    position=n,
                    path=s.path,
                    thumb_path=s.thumb_path,
                    width=s.width,
                    height=s.height,
                    content_type=s.content_type,
                    size_bytes=s.size_bytes,
                    created_at=now,
                )
                for n, s in enumerate(stored)
            ]
            session.add_all(saved)
            await session.flush()
            await ConversationRepository(session).record_message(conversation, side, preview_of(text), now)
        except BaseException:
            if stored:
                await asyncio.to_thread(_remove_files, storage, stored)  # type: ignore[arg-type]
            raise
        sender = row.buyer_name if side == "buyer" else actor.display_name
        if not sender:
            sender = await session.scalar(select(User.display_name).where(User.id == actor.user_id)) or ""
        await self._notify(session, actor, row, side, text)
        return Posted(_view(row, side), MessageView(message, sender, saved))

    async def _notify(
        self, session: AsyncSession, actor: Actor, row: ConversationRow, side: Side, text: str
    ) -> None:
        """Tell the other side about the first message it has not read (not about every message of a
        burst: once it has read the thread, the next message notifies again)."""
        c = row.conversation
        if side == "buyer":
            if c.seller_unread_count != 1:
                return
            recipients = await ConversationRepository(session).store_people(c.store_id)
            title = f"New message from {row.buyer_name} about {c.subject_title}"
            link = f"/seller/stores/{c.store_id}/messages/{c.id}"
        else:
            if c.buyer_unread_count != 1:
                return
            recipients = [c.buyer_user_id]
            title = f"New message from {row.store_name} about {c.subject_title}"
            link = f"/messages/{c.id}"
        for user_id in recipients:
            if user_id != actor.user_id:
                await notification_service.notify(
                    session, user_id, "message.received", title, body=preview_of(text), link=link
                )


messaging_service = MessagingService()
