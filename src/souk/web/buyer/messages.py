"""Buyer pages for conversations: the inbox, one thread with its reply form, and "Ask the seller" about a
product. They call the same messaging service as the JSON API. Also the header's unread counter."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from souk.auth.actor import Actor
from souk.deps import DbSession, Storage
from souk.errors import Invalid, PayloadTooLarge
from souk.kit.schemas import MAX_ID, IdPath
from souk.kit.uploads import MediaStorage, read_upload
from souk.messaging.schemas import MAX_ATTACHMENTS, Side
from souk.messaging.service import ConversationPage, ProductCard, ThreadView, messaging_service
from souk.models.messaging import MAX_BODY
from souk.web.deps import UserPage
from souk.web.render import (
    checked_form,
    flash,
    form_error,
    form_files,
    form_values,
    price_range,
    redirect,
    register_nav_counter,
    render,
    url_with,
    visitor_locale,
)

router = APIRouter()

LIST_TEMPLATE = "buyer/messages.html"
THREAD_TEMPLATE = "buyer/messages_thread.html"
NEW_TEMPLATE = "buyer/messages_new.html"
# errors shown next to the form's fields; not-found and not-allowed become error pages
FORM_ERRORS = (ValidationError, Invalid, PayloadTooLarge)


# --- the header counter -----------------------------------------------------------------------------


async def count_unread(session: AsyncSession, actor: Any, request: Request) -> int:
    """Conversations with unread messages (as a buyer and for the user's stores). The per-store numbers
    are kept on the request for the seller centre's sidebar."""
    if actor is None or actor.user_id is None:
        return 0
    counts = await messaging_service.unread_counts(session, actor.user_id)
    request.state.seller_unread = counts.per_store
    return counts.total


def _unread_column(actor: Any, request: Request) -> ColumnElement[int] | None:
    """``count_unread`` as a scalar subquery of the header's statement (None for anonymous visitors)."""
    if actor is None or actor.user_id is None:
        return None
    return messaging_service.unread_total_query(actor.user_id).scalar_subquery()


async def _per_store(session: AsyncSession, actor: Any, request: Request, total: int) -> None:
    """After the header's statement: the per-store numbers ``count_unread`` keeps on the request, read only
    when something is unread."""
    request.state.seller_unread = (
        await messaging_service.unread_per_store(session, actor.user_id) if total else {}
    )


register_nav_counter("messages", count_unread, column=_unread_column, then=_per_store)


async def refresh_counter(request: Request, session: AsyncSession, actor: Actor) -> None:
    """Recount after a page marked a thread read (the header was loaded before)."""
    nav = getattr(request.state, "nav", None)
    if nav is not None and "messages" in nav.get("counts", {}):
        nav["counts"]["messages"] = await count_unread(session, actor, request)


# --- shared with the seller pages -------------------------------------------------------------------


async def form_images(form: FormData, storage: MediaStorage) -> list[bytes]:
    """The images chosen in the form's ``images`` field (one more than allowed is read, so that the
    service can say there are too many)."""
    files = form_files(form, "images")[: MAX_ATTACHMENTS + 1]
    return [await read_upload(f, storage.max_bytes, "images") for f in files]


def product_info(request: Request, card: ProductCard | None, storage: MediaStorage) -> dict[str, Any] | None:
    if card is None:
        return None
    return {
        "id": card.id,
        "title": card.title,
        "url": card.url,
        "thumb_url": storage.url(card.thumb_path),
        "price": price_range(
            card.min_price_amount, card.max_price_amount, card.currency, visitor_locale(request)
        ),
    }


def thread_context(
    request: Request, thread: ThreadView, storage: MediaStorage, actor: Actor, cursor: str | None
) -> dict[str, Any]:
    """A thread as plain data for the templates (it survives the rollback of a failed reply), oldest
    message first so that the newest is at the bottom."""
    view, c = thread.view, thread.view.conversation
    side: Side = view.side

    def sender(sender_side: str, user_id: int, name: str) -> str:
        if sender_side == side:
            return "You" if user_id == actor.user_id else f"{name} ({view.store_name})"
        return view.store_name if sender_side == "seller" else name

    return {
        "conversation": {
            "id": c.id,
            "store_id": c.store_id,
            "store_name": view.store_name,
            "store_slug": view.store_slug,
            "buyer_name": view.buyer_name,
            "subject_type": c.subject_type,
            "subject_title": c.subject_title,
            "created_at": c.created_at,
            "side": side,
        },
        "product": product_info(request, thread.product, storage),
        "messages": [
            {
                "id": m.message.id,
                "mine": m.message.sender_side == side,
                "side": m.message.sender_side,
                "sender": sender(m.message.sender_side, m.message.sender_user_id, m.sender_name),
                "body": m.message.body,
                "at": m.message.created_at,
                "images": [
                    {"url": storage.url(a.path), "thumb_url": storage.url(a.thumb_path)}
                    for a in m.attachments
                ],
            }
            for m in reversed(thread.messages)
        ],
        "earlier_url": url_with(request, cursor=thread.next_cursor) if thread.next_cursor else None,
        "latest_url": url_with(request, cursor=None) if cursor else None,
        "max_body": MAX_BODY,
        "max_images": MAX_ATTACHMENTS,
    }


def inbox_rows(page: ConversationPage) -> list[dict[str, Any]]:
    return [
        {
            "id": v.conversation.id,
            "store_name": v.store_name,
            "buyer_name": v.buyer_name,
            "subject_title": v.conversation.subject_title,
            "subject_type": v.conversation.subject_type,
            "preview": v.conversation.last_message_preview,
            "last_mine": v.conversation.last_sender_side == v.side,
            "last_at": v.conversation.last_message_at,
            "unread": v.unread_count,
        }
        for v in page.items
    ]


def pager(request: Request, cursor: str | None, next_cursor: str | None) -> dict[str, str | None]:
    return {
        "first_url": url_with(request, cursor=None) if cursor else None,
        "next_url": url_with(request, cursor=next_cursor) if next_cursor else None,
    }


# --- the inbox --------------------------------------------------------------------------------------


@router.get("/messages", name="buyer:messages")
async def messages_page(
    request: Request,
    actor: UserPage,
    session: DbSession,
    unread: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    page = await messaging_service.list_for_buyer(session, actor, cursor, unread_only=bool(unread))
    return render(
        request,
        LIST_TEMPLATE,
        {
            "rows": inbox_rows(page),
            "unread_only": bool(unread),
            **pager(request, cursor, page.next_cursor),
        },
    )


# --- asking about a product -------------------------------------------------------------------------


async def _new_context(
    request: Request, session: AsyncSession, actor: Actor, product_id: int, storage: MediaStorage
) -> tuple[dict[str, Any], int | None]:
    draft = await messaging_service.prepare_inquiry(session, actor, product_id)
    ctx = {
        "product": product_info(request, draft.product, storage),
        "store_name": draft.store_name,
        "max_body": MAX_BODY,
        "max_images": MAX_ATTACHMENTS,
    }
    return ctx, draft.existing_conversation_id


@router.get("/messages/new", name="buyer:new_message")
async def new_message_page(
    request: Request,
    actor: UserPage,
    session: DbSession,
    storage: Storage,
    product: Annotated[int, Query(ge=1, le=MAX_ID)],
) -> Response:
    ctx, existing = await _new_context(request, session, actor, product, storage)
    if existing is not None:
        return redirect(f"/messages/{existing}#reply")
    return render(request, NEW_TEMPLATE, ctx)


@router.post("/messages/new")
async def send_inquiry(
    request: Request,
    actor: UserPage,
    session: DbSession,
    storage: Storage,
    product: Annotated[int, Query(ge=1, le=MAX_ID)],
) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    ctx, _ = await _new_context(request, session, actor, product, storage)
    try:
        images = await form_images(form, storage)
        posted = await messaging_service.start_inquiry(
            session, actor, product, form_text(form), images, storage=storage
        )
    except FORM_ERRORS as error:
        return await form_error(request, session, NEW_TEMPLATE, error, {**ctx, "values": values})
    flash(request, f"Message sent to {posted.view.store_name}")
    return redirect(f"/messages/{posted.view.conversation.id}#latest")


def form_text(form: FormData) -> str:
    """The message as typed (line breaks kept; the service trims it)."""
    body = form.get("body")
    return body if isinstance(body, str) else ""


# --- one thread -------------------------------------------------------------------------------------


@router.get("/messages/{conversation_id}", name="buyer:thread")
async def thread_page(
    request: Request,
    conversation_id: IdPath,
    actor: UserPage,
    session: DbSession,
    storage: Storage,
    cursor: str | None = None,
) -> HTMLResponse:
    thread = await messaging_service.get(
        session, actor, conversation_id, cursor=cursor, limit=50, side="buyer"
    )
    await refresh_counter(request, session, actor)
    return render(request, THREAD_TEMPLATE, thread_context(request, thread, storage, actor, cursor))


@router.post("/messages/{conversation_id}")
async def reply(
    request: Request, conversation_id: IdPath, actor: UserPage, session: DbSession, storage: Storage
) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    try:
        images = await form_images(form, storage)
        await messaging_service.post(
            session, actor, conversation_id, form_text(form), images, storage=storage, side="buyer"
        )
    except FORM_ERRORS as error:
        await session.rollback()
        thread = await messaging_service.get(
            session, actor, conversation_id, limit=50, side="buyer", mark_read=False
        )
        ctx = thread_context(request, thread, storage, actor, None)
        return await form_error(request, session, THREAD_TEMPLATE, error, {**ctx, "values": values})
    flash(request, "Message sent")
    return redirect(f"/messages/{conversation_id}#latest")
