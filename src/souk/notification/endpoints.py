"""JSON routes under /api/v1: the caller's notifications."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from souk.deps import ApiActor, DbSession
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.pagination import Page
from souk.kit.schemas import IdPath
from souk.notification.schemas import MarkedRead, NotificationRead, UnreadCount
from souk.notification.service import notification_service

router = APIRouter(responses=ERROR_RESPONSES)
TAG = "Notifications"


@router.get(
    "/notifications",
    tags=[TAG],
    summary="My notifications, newest first (unread=true: only unread ones)",
    response_model=Page[NotificationRead],
)
async def list_notifications(
    actor: ApiActor,
    session: DbSession,
    unread: bool = False,
    cursor: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> Page[NotificationRead]:
    return await notification_service.list(session, actor, unread=unread, cursor=cursor, limit=limit)


@router.get(
    "/notifications/unread-count",
    tags=[TAG],
    summary="How many of my notifications are unread",
    response_model=UnreadCount,
)
async def unread_count(actor: ApiActor, session: DbSession) -> UnreadCount:
    return UnreadCount(unread=await notification_service.unread_count(session, actor))


@router.post(
    "/notifications/read-all",
    tags=[TAG],
    summary="Mark all my notifications read",
    response_model=MarkedRead,
)
async def mark_all_read(actor: ApiActor, session: DbSession) -> MarkedRead:
    return MarkedRead(marked=await notification_service.mark_all_read(session, actor))


@router.post(
    "/notifications/{notification_id}/read",
    tags=[TAG],
    summary="Mark one notification read",
    response_model=NotificationRead,
)
async def mark_read(notification_id: IdPath, actor: ApiActor, session: DbSession) -> NotificationRead:
    return await notification_service.mark_read(session, actor, notification_id)
