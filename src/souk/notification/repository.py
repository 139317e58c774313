"""All SQL for notifications. No rules, no commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from souk.models.notification import Notification
from souk.party.repository import newest_first


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page_of(
        self, user_id: int, *, unread: bool, after: int | None, limit: int
    ) -> Sequence[Notification]:
        stmt = select(Notification).where(Notification.user_id == user_id)
        if unread:
            stmt = stmt.where(Notification.read_at.is_(None))
        return (await self.session.scalars(newest_first(stmt, Notification.id, after, limit))).all()

    async def get_of(self, user_id: int, notification_id: int) -> Notification | None:
        return await self.session.scalar(
            select(Notification)
            .where(Notification.id == notification_id, Notification.user_id == user_id)
            .execution_options(populate_existing=True)
        )

    async def unread_count(self, user_id: int) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        return int(count or 0)

    async def mark_all_read(self, user_id: int, now: datetime) -> int:
        result = await self.session.execute(
            update(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            .values(read_at=now),
            execution_options={"synchronize_session": False},
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
