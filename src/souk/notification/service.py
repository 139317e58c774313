"""In-app notifications: the rest of the system tells a person that something needs them.

```python
from souk.notification.service import notification_service

await notification_service.notify(
    session, buyer_id, "order.shipped", f"Order {number} shipped", body="Tracking: ...", link=f"/orders/{id}"
)
```
``notify`` writes the row in the caller's transaction: it exists exactly when the change it reports commits.
``notify_all(session, [Note(...), ...])`` writes several in one INSERT (with ``people_of_stores`` to address a
store's people).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import require_user, require_writer
from souk.errors import NotFound
from souk.kit.clock import utcnow
from souk.kit.pagination import Page, clamp_limit
from souk.models.notification import Notification
from souk.notification.repository import NotificationRepository
from souk.notification.schemas import NotificationRead
from souk.party.repository import id_after, page_rows

TITLE_MAX = 200
KIND_MAX = 64
LINK_MAX = 500
BODY_MAX = 2000


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _site_path(link: str | None) -> str | None:
    if link is None or link == "":
        return None
    if not link.startswith("/") or link.startswith("//") or "\\" in link or len(link) > LINK_MAX:
        raise ValueError(f"a notification links to a path on this site, not {link[:80]!r}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in link):
        raise ValueError("a notification link must not hold control characters")
    return link


@dataclass(frozen=True)
class Note:
    """One notification to write: who, what kind ("<domain>.<event>"), the title, body and site path."""

    user_id: int
    kind: str
    title: str
    body: str = ""
    link: str | None = None


def _values(note: Note, now: datetime) -> dict[str, Any]:
    """The columns of a new notification row for ``note``; ValueError for a note that is not one."""
    if not note.kind or len(note.kind) > KIND_MAX:
        raise ValueError(f"notification kind must be 1 to {KIND_MAX} characters")
    clean_title = _shorten(" ".join(note.title.split()), TITLE_MAX)
    if not clean_title:
        raise ValueError("a notification needs a title")
    return {
        "user_id": note.user_id,
        "kind": note.kind,
        "title": clean_title,
        "body": _shorten(note.body.strip(), BODY_MAX),
        "link": _site_path(note.link),
        "created_at": now,
    }


class NotificationNotFound(NotFound):
    code = "notification_not_found"


class NotificationService:
    async def notify(
        self,
        session: AsyncSession,
        user_id: int,
        kind: str,
        title: str,
        body: str = "",
        link: str | None = None,
    ) -> Notification:
        """Tell ``user_id`` about an event (``kind`` "<domain>.<event>"), in the caller's transaction.
        Long titles and bodies are shortened; ``link`` must be a path on this site ("/orders/12")."""
        row = Notification(**_values(Note(user_id, kind, title, body, link), utcnow()))
        session.add(row)
        await session.flush()
        return row

    async def notify_all(self, session: AsyncSession, notes: Sequence[Note]) -> None:
        """``notify`` for several notes (checked the same way), written in one INSERT, in their order; for
        callers that need no row back (an ORM flush would insert them one by one on SQLite, to read back
        each id)."""
        now = utcnow()
        await NotificationRepository(session).insert_all([_values(note, now) for note in notes])

    async def people_of_stores(
        self, session: AsyncSession, store_ids: Collection[int]
    ) -> dict[int, list[int]]:
        """Per store, the people to tell about its business (its owner, or its organisation's members), for
        several stores in one statement."""
        return await NotificationRepository(session).people_of_stores(store_ids)

    async def list(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        unread: bool = False,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[NotificationRead]:
        """The actor's notifications, newest first (``unread``: only those not read yet)."""
        user_id = require_user(actor)
        size = clamp_limit(limit)
        rows = await NotificationRepository(session).page_of(
            user_id, unread=unread, after=id_after(cursor), limit=size
        )
        items, next_cursor = page_rows(rows, size)
        return Page[NotificationRead](
            items=[NotificationRead.model_validate(n) for n in items], next_cursor=next_cursor
        )

    async def unread_count(self, session: AsyncSession, actor: Actor) -> int:
        """How many of the actor's notifications are unread (one COUNT query)."""
        user_id = require_user(actor)
        return await NotificationRepository(session).unread_count(user_id)

    async def mark_read(self, session: AsyncSession, actor: Actor, notification_id: int) -> NotificationRead:
        """Mark one of the actor's notifications read (again: no change). Someone else's: 404."""
        user_id = require_writer(actor)
        row = await NotificationRepository(session).get_of(user_id, notification_id)
        if row is None:
            raise NotificationNotFound("No such notification.")
        if row.read_at is None:
            row.read_at = utcnow()
            await session.flush()
        return NotificationRead.model_validate(row)

    async def mark_all_read(self, session: AsyncSession, actor: Actor) -> int:
        """Mark every unread notification of the actor read; how many were unread."""
        user_id = require_writer(actor)
        return await NotificationRepository(session).mark_all_read(user_id, utcnow())


notification_service = NotificationService()
