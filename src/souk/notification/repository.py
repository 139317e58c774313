"""All SQL for notifications. No rules, no commit."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from souk.models import Membership, Store
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

    async def people_of_stores(self, store_ids: Collection[int]) -> dict[int, list[int]]:
        """Per store, the users who work on it (its owner, or its organisation's members in user id order),
        in one statement; the same people as ``OrderRepository.store_people`` gives one store at a time."""
        if not store_ids:
            return {}
        rows = await self.session.execute(
            select(Store.id, Store.owner_user_id, Membership.user_id)
            .outerjoin(Membership, Membership.organization_id == Store.organization_id)
            .where(Store.id.in_(sorted(store_ids)))
            .order_by(Store.id, Membership.user_id)
        )
        people: dict[int, list[int]] = {store_id: [] for store_id in store_ids}
        for store_id, owner_id, member_id in rows.all():
            user_id = owner_id if owner_id is not None else member_id
            if user_id is not None:
                people[store_id].append(user_id)
        return people

    async def insert_all(self, rows: Sequence[dict[str, Any]]) -> None:
        """Write new notifications, given as their columns, in one INSERT (an executemany)."""
        if rows:
            await self.session.execute(insert(cast(Table, Notification.__table__)), list(rows))


def unread_count_query(user_id: int) -> Select[int]:
    """The number of the user's unread notifications, as a statement another one can embed (the header's
    badge is read as a scalar subquery of the header's one statement); the same count as ``unread_count``."""
    return (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )
