"""Notifications: what the API returns."""

from __future__ import annotations

from datetime import datetime

from souk.kit.schemas import ReadSchema


class NotificationRead(ReadSchema):
    id: int
    kind: str
    title: str
    body: str
    link: str | None
    created_at: datetime
    read_at: datetime | None


class UnreadCount(ReadSchema):
    unread: int


class MarkedRead(ReadSchema):
    marked: int
