"""Notifications: the service other domains call, the API, the page and the header counter."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from fixtures.core import api_token_for, form, login_as
from fixtures.factories import actor_of
from souk.auth.actor import ANONYMOUS
from souk.errors import Unauthenticated
from souk.kit.clock import clock, utcnow
from souk.models import Notification, User
from souk.notification.service import notification_service
from souk.web.buyer.notifications import count_unread


async def _notify(session: AsyncSession, user: User, n: int, **kw: Any) -> Notification:
    return await notification_service.notify(
        session, user.id, kw.pop("kind", "order.shipped"), kw.pop("title", f"Order SO-{n} shipped"), **kw
    )


class TestService:
    async def test_notify_writes_in_the_callers_transaction(
        self, session: AsyncSession, user_factory
    ) -> None:
        clock.freeze()
        user = await user_factory()
        savepoint = await session.begin_nested()
        await _notify(session, user, 1)
        await savepoint.rollback()
        assert await session.scalar(select(Notification).where(Notification.user_id == user.id)) is None

        note = await notification_service.notify(
            session,
            user.id,
            "refund.requested",
            "  A buyer asked\nfor a refund  ",
            body="  Reason: damaged.\nPlease answer within 5 days. ",
            link="/seller/orders/12",
        )
        assert (note.kind, note.title, note.body, note.link) == (
            "refund.requested",
            "A buyer asked for a refund",
            "Reason: damaged.\nPlease answer within 5 days.",
            "/seller/orders/12",
        )
        assert note.created_at == utcnow() and note.read_at is None

    async def test_long_text_is_shortened(self, session: AsyncSession, user_factory) -> None:
        user = await user_factory()
        note = await _notify(session, user, 1, title="T" * 500, body="B" * 5000)
        assert len(note.title) == 200 and note.title.endswith("…")
        assert len(note.body) == 2000 and note.body.endswith("…")

    @pytest.mark.parametrize(
        "link", ["https://evil.example/x", "//evil.example", "orders/1", "/a\\b", "/a\nb"]
    )
    async def test_links_stay_on_this_site(self, session: AsyncSession, user_factory, link: str) -> None:
        user = await user_factory()
        with pytest.raises(ValueError):
            await _notify(session, user, 1, link=link)

    async def test_a_title_and_a_kind_are_needed(self, session: AsyncSession, user_factory) -> None:
        user = await user_factory()
        with pytest.raises(ValueError):
            await _notify(session, user, 1, title="   ")
        with pytest.raises(ValueError):
            await _notify(session, user, 1, kind="")

    async def test_list_unread_and_marking(self, session: AsyncSession, user_factory) -> None:
        user, other = await user_factory(), await user_factory()
        notes = [await _notify(session, user, n) for n in range(5)]
        await _notify(session, other, 99)
        actor = actor_of(user)

        page = await notification_service.list(session, actor, limit=3)
        assert [n.title for n in page.items] == [
            "Order SO-4 shipped",
            "Order SO-3 shipped",
            "Order SO-2 shipped",
        ]
        rest = await notification_service.list(session, actor, limit=3, cursor=page.next_cursor)
        assert [n.title for n in rest.items] == ["Order SO-1 shipped", "Order SO-0 shipped"]
        assert rest.next_cursor is None

        read = await notification_service.mark_read(session, actor, notes[1].id)
        assert read.read_at is not None
        again = await notification_service.mark_read(session, actor, notes[1].id)
        assert again.read_at == read.read_at  # marking twice changes nothing
        assert await notification_service.unread_count(session, actor) == 4
        unread = await notification_service.list(session, actor, unread=True)
        assert [n.id for n in unread.items] == [notes[4].id, notes[3].id, notes[2].id, notes[0].id]

        assert await notification_service.mark_all_read(session, actor) == 4
        assert await notification_service.unread_count(session, actor) == 0
        assert await notification_service.unread_count(session, actor_of(other)) == 1

    async def test_someone_elses_notification_is_not_found(self, session: AsyncSession, user_factory) -> None:
        user, other = await user_factory(), await user_factory()
        theirs = await _notify(session, other, 1)
        with pytest.raises(Exception) as found:
            await notification_service.mark_read(session, actor_of(user), theirs.id)
        assert getattr(found.value, "status_code", None) == 404
        with pytest.raises(Unauthenticated):
            await notification_service.list(session, ANONYMOUS)


class TestApi:
    async def test_list_filter_and_page(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        user = await user_factory()
        notes = [await _notify(session, user, n, link=f"/orders/{n}") for n in range(3)]
        notes[0].read_at = utcnow()
        headers = await api_token_for(session, user)
        await session.commit()

        everything = await client.get("/api/v1/notifications", headers=headers)
        assert everything.status_code == 200
        body = everything.json()
        assert [n["title"] for n in body["items"]] == [
            "Order SO-2 shipped",
            "Order SO-1 shipped",
            "Order SO-0 shipped",
        ]
        assert body["items"][0]["link"] == "/orders/2" and body["items"][0]["read_at"] is None
        assert body["items"][2]["read_at"] is not None
        assert set(body["items"][0]) == {"id", "kind", "title", "body", "link", "created_at", "read_at"}

        unread = await client.get(
            "/api/v1/notifications", params={"unread": "true", "limit": 1}, headers=headers
        )
        assert [n["title"] for n in unread.json()["items"]] == ["Order SO-2 shipped"]
        more = await client.get(
            "/api/v1/notifications",
            params={"unread": "true", "limit": 1, "cursor": unread.json()["next_cursor"]},
            headers=headers,
        )
        assert [n["title"] for n in more.json()["items"]] == ["Order SO-1 shipped"]
        assert more.json()["next_cursor"] is None

        count = await client.get("/api/v1/notifications/unread-count", headers=headers)
        assert count.json() == {"unread": 2}

    async def test_mark_one_and_all_read(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        user, other = await user_factory(), await user_factory()
        notes = [await _notify(session, user, n) for n in range(3)]
        theirs = await _notify(session, other, 9)
        ids, their_id = [n.id for n in notes], theirs.id
        headers = await api_token_for(session, user)
        other_headers = await api_token_for(session, other)
        await session.commit()

        one = await client.post(f"/api/v1/notifications/{ids[0]}/read", headers=headers)
        assert one.status_code == 200 and one.json()["id"] == ids[0] and one.json()["read_at"] is not None

        missing = await client.post(f"/api/v1/notifications/{their_id}/read", headers=headers)
        assert missing.status_code == 404 and missing.json()["error"] == "notification_not_found"

        everything = await client.post("/api/v1/notifications/read-all", headers=headers)
        assert everything.json() == {"marked": 2}
        assert (await client.get("/api/v1/notifications/unread-count", headers=headers)).json() == {
            "unread": 0
        }
        assert (await client.post("/api/v1/notifications/read-all", headers=headers)).json() == {"marked": 0}

        assert (await client.get("/api/v1/notifications/unread-count", headers=other_headers)).json() == {
            "unread": 1
        }

    async def test_read_only_tokens_and_anonymous_callers(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        user = await user_factory()
        note_id = (await _notify(session, user, 1)).id
        read_only = await api_token_for(session, user, scopes="read")
        await session.commit()

        assert (await client.get("/api/v1/notifications", headers=read_only)).status_code == 200
        refused = await client.post(f"/api/v1/notifications/{note_id}/read", headers=read_only)
        assert refused.status_code == 403
        assert (await client.post("/api/v1/notifications/read-all", headers=read_only)).status_code == 403
        for method, path in [
            ("GET", "/api/v1/notifications"),
            ("GET", "/api/v1/notifications/unread-count"),
            ("POST", "/api/v1/notifications/read-all"),
            ("POST", f"/api/v1/notifications/{note_id}/read"),
        ]:
            assert (await client.request(method, path)).status_code == 401

    async def test_bad_cursor_and_limit(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        headers = await api_token_for(session, await user_factory())
        await session.commit()
        bad = await client.get("/api/v1/notifications", params={"cursor": "nonsense"}, headers=headers)
        assert bad.status_code == 422 and "cursor" in bad.json()["fields"]
        assert (
            await client.get("/api/v1/notifications", params={"limit": 0}, headers=headers)
        ).status_code == 422


class TestPage:
    async def test_the_page_lists_and_highlights_unread(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        user = await user_factory()
        old = await _notify(session, user, 1, title="Order SO-1 delivered", link="/orders/1")
        old.read_at = utcnow()
        new = await _notify(session, user, 2, title="Refund requested on SO-2", body="Answer within 5 days")
        new_id = new.id
        await login_as(client, session, user)
        await session.commit()

        page = await client.get("/notifications")

        assert page.status_code == 200
        html = page.text
        assert "<title>Notifications" in html
        assert f'<li class="panel unread" id="notification-{new_id}">' in html
        assert '<li class="panel" id="notification-' in html
        assert '<a href="/orders/1">Order SO-1 delivered</a>' in html
        assert "Answer within 5 days" in html
        assert 'action="/notifications/read-all"' in html and "Mark all as read" in html
        assert 'name="csrf_token"' in html
        # the header badge counts the unread one
        assert (
            'href="/notifications">Notifications <span class="count-badge" aria-label="1 new">1</span>'
            in html
        )

        unread_only = await client.get("/notifications?unread=1")
        assert (
            "Refund requested on SO-2" in unread_only.text and "Order SO-1 delivered" not in unread_only.text
        )

    async def test_mark_all_and_one_from_the_page(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        user = await user_factory()
        user_id = user.id
        ids = [(await _notify(session, user, n)).id for n in range(3)]
        await login_as(client, session, user)
        await session.commit()

        one = await client.post(
            f"/notifications/{ids[0]}/read", data=form(client, next="/notifications?unread=1")
        )
        assert one.status_code == 303 and one.headers["location"] == "/notifications?unread=1"

        everything = await client.post(
            "/notifications/read-all", data=form(client, next="https://evil.example/")
        )
        assert everything.status_code == 303 and everything.headers["location"] == "/notifications"
        followed = await client.get("/notifications")
        assert "Marked 2 notifications as read" in followed.text
        assert "count-badge" not in followed.text.split("<main")[0]
        unread = await session.scalars(
            select(Notification.id).where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        assert list(unread) == []

    async def test_forms_need_csrf_and_others_notifications_are_404(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        user, other = await user_factory(), await user_factory()
        mine = (await _notify(session, user, 1)).id
        theirs = (await _notify(session, other, 2)).id
        await login_as(client, session, user)
        await session.commit()

        assert (await client.post("/notifications/read-all", data={})).status_code == 403
        assert (await client.post(f"/notifications/{mine}/read", data={})).status_code == 403
        assert (await client.post(f"/notifications/{theirs}/read", data=form(client))).status_code == 404

    async def test_empty_states_and_login(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        anonymous = await client.get("/notifications")
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login?next=/notifications"

        await login_as(client, session, await user_factory())
        await session.commit()
        empty = await client.get("/notifications")
        assert "No notifications yet." in empty.text and "Mark all as read" not in empty.text
        assert "You have read everything." in (await client.get("/notifications?unread=1")).text
        # a damaged cursor shows the first page
        assert (await client.get("/notifications?cursor=%%%")).status_code == 200

    async def test_older_notifications_page(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        user = await user_factory()
        for n in range(32):
            await _notify(session, user, n)
        await login_as(client, session, user)
        await session.commit()
        first = await client.get("/notifications")
        assert "Order SO-31 shipped" in first.text and "Order SO-1 shipped" not in first.text
        older = first.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
        second = await client.get(older)
        assert "Order SO-1 shipped" in second.text and "Order SO-0 shipped" in second.text
        assert "← Latest" in second.text


class TestCounter:
    async def test_zero_for_anonymous_without_a_query(
        self, session: AsyncSession, connection: AsyncConnection, user_factory
    ) -> None:
        user = await user_factory()
        await _notify(session, user, 1)
        await _notify(session, user, 2)
        await session.flush()
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(args[2])

        event.listen(connection.sync_connection, "before_cursor_execute", count)
        try:
            assert await count_unread(session, None, None) == 0  # type: ignore[arg-type]
            assert await count_unread(session, ANONYMOUS, None) == 0  # type: ignore[arg-type]
            assert statements == []
            assert await count_unread(session, actor_of(user), None) == 2  # type: ignore[arg-type]
        finally:
            event.remove(connection.sync_connection, "before_cursor_execute", count)
        assert len(statements) == 1 and statements[0].lstrip().upper().startswith("SELECT COUNT(*)")

    async def test_the_header_shows_the_count_on_every_page(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory
    ) -> None:
        anonymous = await client.get("/")
        assert 'href="/notifications">Notifications</a>' in anonymous.text

        user = await user_factory()
        for n in range(3):
            await _notify(session, user, n)
        await login_as(client, session, user)
        await session.commit()
        home = await client.get("/")
        assert 'aria-label="3 new">3</span>' in home.text
