"""Seller centre pages for conversations: a store's inbox (unread first) and replying as the store.
They call the same messaging service as the JSON API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from souk.authz import get_store_for
from souk.deps import DbSession, Storage
from souk.kit.schemas import IdPath
from souk.messaging.service import messaging_service
from souk.web.buyer.messages import (
    FORM_ERRORS,
    form_images,
    form_text,
    inbox_rows,
    pager,
    refresh_counter,
    thread_context,
)
from souk.web.deps import UserPage
from souk.web.render import checked_form, flash, form_error, form_values, redirect, render
from souk.web.seller.catalog import store_info

router = APIRouter()

INBOX_TEMPLATE = "seller/messages.html"
THREAD_TEMPLATE = "seller/messages_thread.html"


@router.get("/seller/stores/{store_id}/messages", name="seller:messages")
async def inbox_page(
    request: Request,
    store_id: IdPath,
    actor: UserPage,
    session: DbSession,
    unread: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    page = await messaging_service.list_for_store(session, actor, store_id, cursor, unread_only=bool(unread))
    assert page.store is not None
    return render(
        request,
        INBOX_TEMPLATE,
        {
            "store": store_info(page.store),
            "section": "messages",
            "rows": inbox_rows(page),
            "unread_only": bool(unread),
            **pager(request, cursor, page.next_cursor),
        },
    )


@router.get("/seller/stores/{store_id}/messages/{conversation_id}", name="seller:thread")
async def thread_page(
    request: Request,
    store_id: IdPath,
    conversation_id: IdPath,
    actor: UserPage,
    session: DbSession,
    storage: Storage,
    cursor: str | None = None,
) -> HTMLResponse:
    store = store_info(await get_store_for(session, actor, store_id, "store:read"))
    thread = await messaging_service.get(
        session, actor, conversation_id, cursor=cursor, limit=50, side="seller", store_id=store_id
    )
    await refresh_counter(request, session, actor)
    ctx = thread_context(request, thread, storage, actor, cursor)
    return render(request, THREAD_TEMPLATE, {**ctx, "store": store, "section": "messages"})


@router.post("/seller/stores/{store_id}/messages/{conversation_id}")
async def reply(
    request: Request,
    store_id: IdPath,
    conversation_id: IdPath,
    actor: UserPage,
    session: DbSession,
    storage: Storage,
) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    store = store_info(await get_store_for(session, actor, store_id, "store:read"))
    try:
        images = await form_images(form, storage)
        await messaging_service.post(
            session,
            actor,
            conversation_id,
            form_text(form),
            images,
            storage=storage,
            side="seller",
            store_id=store_id,
        )
    except FORM_ERRORS as error:
        await session.rollback()
        thread = await messaging_service.get(
            session, actor, conversation_id, limit=50, side="seller", store_id=store_id, mark_read=False
        )
        ctx = {**thread_context(request, thread, storage, actor, None), "store": store, "section": "messages"}
        return await form_error(request, session, THREAD_TEMPLATE, error, {**ctx, "values": values})
    flash(request, f"Reply sent as {store['name']}")
    return redirect(f"/seller/stores/{store_id}/messages/{conversation_id}#latest")
