"""The notifications page (``/notifications``) and the header's unread counter. Same service as the API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from souk.deps import DbSession
from souk.errors import SoukError
from souk.kit.schemas import IdPath
from souk.notification.repository import unread_count_query
from souk.notification.service import notification_service
from souk.web.deps import UserPage
from souk.web.render import checked_form, flash, redirect, register_nav_counter, render, url_with

router = APIRouter()

TEMPLATE = "buyer/notifications.html"
PAGE_SIZE = 30


async def count_unread(session: AsyncSession, actor: Any, request: Request) -> int:
    """Unread notifications of the visitor (0 for anonymous visitors, without a query)."""
    if actor is None or actor.user_id is None:
        return 0
    return await notification_service.unread_count(session, actor)


def _unread_column(actor: Any, request: Request) -> ColumnElement[int] | None:
    """``count_unread`` as a scalar subquery of the header's statement (None for anonymous visitors)."""
    if actor is None or actor.user_id is None:
        return None
    return unread_count_query(actor.user_id).scalar_subquery()


register_nav_counter("notifications", count_unread, column=_unread_column)


def _back(form_value: object) -> str:
    """Where to go after marking: the list the form was on (a /notifications address only)."""
    if isinstance(form_value, str) and (
        form_value == "/notifications" or form_value.startswith("/notifications?")
    ):
        return form_value
    return "/notifications"


@router.get("/notifications")
async def notifications_page(request: Request, actor: UserPage, session: DbSession) -> Response:
    unread_only = request.query_params.get("unread") in ("1", "true")
    cursor = request.query_params.get("cursor") or None
    try:
        page = await notification_service.list(
            session, actor, unread=unread_only, cursor=cursor, limit=PAGE_SIZE
        )
    except SoukError:  # a damaged cursor in the address: show the first page
        cursor = None
        page = await notification_service.list(session, actor, unread=unread_only, limit=PAGE_SIZE)
    unread_total = request.state.nav["counts"].get("notifications", 0)
    return render(
        request,
        TEMPLATE,
        {
            "items": page.items,
            "unread_only": unread_only,
            "unread_total": unread_total,
            "next_url": url_with(request, cursor=page.next_cursor) if page.next_cursor else None,
            "first_url": url_with(request, cursor=None) if cursor else None,
            "here": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        },
    )


@router.post("/notifications/read-all")
async def mark_all_read(request: Request, actor: UserPage, session: DbSession) -> Response:
    form = await checked_form(request)
    marked = await notification_service.mark_all_read(session, actor)
    flash(
        request,
        f"Marked {marked} notification{'s' if marked != 1 else ''} as read"
        if marked
        else "Nothing new to mark",
    )
    return redirect(_back(form.get("next")))


@router.post("/notifications/{notification_id}/read")
async def mark_read(
    request: Request, notification_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    form = await checked_form(request)
    await notification_service.mark_read(session, actor, notification_id)
    return redirect(_back(form.get("next")))
