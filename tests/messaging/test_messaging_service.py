from __future__ import annotations

from datetime import timedelta

import pytest
from messaging_support import Shop, conversation_count, make_shop, message_count
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.factories import actor_of
from fixtures.party import png_bytes
from souk.auth.actor import Actor
from souk.errors import Invalid, NotFound, PayloadTooLarge, Unauthenticated
from souk.kit.clock import clock
from souk.kit.uploads import MediaStorage
from souk.messaging.service import clean_body, messaging_service, preview_of
from souk.models import Conversation, Membership, MessageAttachment
from souk.models.notification import Notification


@pytest.fixture
async def shop(user_factory, store_factory, product_factory) -> Shop:
    return await make_shop(user_factory, store_factory, product_factory)


@pytest.fixture
def storage(app) -> MediaStorage:  # type: ignore[no-untyped-def]
    return app.state.storage


class TestInquiry:
    async def test_creates_a_conversation_then_reuses_it(self, session: AsyncSession, shop: Shop) -> None:
        first = await messaging_service.start_inquiry(
            session, shop.customer, shop.product.id, "  Is it dishwasher safe?\r\nThanks  "
        )
        c = first.view.conversation
        assert (c.store_id, c.buyer_user_id, c.subject_type, c.subject_id, c.subject_title) == (
            shop.store.id,
            shop.buyer.id,
            "product",
            shop.product.id,
            "Stoneware mug",
        )
        assert first.message.message.body == "Is it dishwasher safe?\nThanks"
        assert (first.message.message.sender_side, first.message.sender_name) == ("buyer", "Ali Buyer")
        assert (c.message_count, c.seller_unread_count, c.buyer_unread_count) == (1, 1, 0)
        assert c.last_message_preview == "Is it dishwasher safe? Thanks"
        assert c.last_sender_side == "buyer"

        second = await messaging_service.start_inquiry(
            session, shop.customer, shop.product.id, "And in blue?"
        )
        assert second.view.conversation.id == c.id
        assert await conversation_count(session) == 1
        assert await message_count(session, c.id) == 2
        await session.refresh(c)
        assert (c.message_count, c.seller_unread_count, c.last_message_preview) == (2, 2, "And in blue?")

    async def test_another_product_opens_another_conversation(
        self, session: AsyncSession, shop: Shop, product_factory
    ) -> None:
        other = await product_factory(shop.store, title="Teapot")
        a = await messaging_service.start_inquiry(session, shop.customer, shop.product.id, "Mug?")
        b = await messaging_service.start_inquiry(session, shop.customer, other.id, "Teapot?")
        assert a.view.conversation.id != b.view.conversation.id
        assert b.view.conversation.subject_title == "Teapot"

    async def test_a_seller_cannot_inquire_to_their_own_store(
        self, session: AsyncSession, shop: Shop
    ) -> None:
        with pytest.raises(Invalid) as caught:
            await messaging_service.start_inquiry(session, shop.seller, shop.product.id, "Hello me")
        assert caught.value.code == "own_store" and "product_id" in caught.value.fields
        assert caught.value.status_code == 422
        assert await conversation_count(session) == 0

    async def test_products_buyers_cannot_see_are_404(
        self, session: AsyncSession, shop: Shop, product_factory, store_factory
    ) -> None:
        draft = await product_factory(shop.store, status="draft")
        closed = await product_factory(await store_factory(status="suspended"))
        for product_id in (draft.id, closed.id, 2_000_000_000):
            with pytest.raises(NotFound):
                await messaging_service.start_inquiry(session, shop.customer, product_id, "Available?")
        assert await conversation_count(session) == 0

    async def test_anonymous_and_read_only_callers_cannot_write(
        self, session: AsyncSession, shop: Shop
    ) -> None:
        with pytest.raises(Unauthenticated):
            await messaging_service.start_inquiry(session, Actor(), shop.product.id, "Hi")
        read_only = Actor(user_id=shop.buyer.id, scopes=frozenset({"read"}))
        with pytest.raises(Exception) as caught:
            await messaging_service.start_inquiry(session, read_only, shop.product.id, "Hi")
        assert getattr(caught.value, "code", None) == "token_read_only"

    @pytest.mark.parametrize(
        ("body", "problem"),
        [("", "write a message"), ("   \n  ", "write a message"), ("x" * 4001, "at most 4000 characters")],
    )
    async def test_body_must_be_1_to_4000_characters(
        self, session: AsyncSession, shop: Shop, body: str, problem: str
    ) -> None:
        with pytest.raises(Invalid) as caught:
            await messaging_service.start_inquiry(session, shop.customer, shop.product.id, body)
        assert caught.value.status_code == 422 and problem in caught.value.fields["body"]
        assert await conversation_count(session) == 0

    async def test_exactly_4000_characters_is_fine(self, session: AsyncSession, shop: Shop) -> None:
        posted = await messaging_service.start_inquiry(session, shop.customer, shop.product.id, "y" * 4000)
        assert len(posted.message.message.body) == 4000
        assert len(posted.view.conversation.last_message_preview) == 200
        assert posted.view.conversation.last_message_preview.endswith("…")


class TestReplies:
    async def test_seller_replies_and_unread_counts_move_on_each_side(
        self, session: AsyncSession, shop: Shop
    ) -> None:
        clock.freeze()
        asked = await messaging_service.start_inquiry(session, shop.customer, shop.product.id, "Dishwasher?")
        cid = asked.view.conversation.id
        assert await messaging_service.unread_count_for_user(session, shop.owner.id) == 1
        assert await messaging_service.unread_count_for_user(session, shop.buyer.id) == 0

        inbox = await messaging_service.list_for_store(session, shop.seller, shop.store.id)
        assert [(v.conversation.id, v.side, v.unread_count, v.buyer_name) for v in inbox.items] == [
            (cid, "seller", 1, "Ali Buyer")
        ]
        thread = await messaging_service.get(session, shop.seller, cid)
        assert thread.view.side == "seller" and thread.view.unread_count == 0
        assert [m.message.body for m in thread.messages] == ["Dishwasher?"]
        assert thread.product is not None and thread.product.url == f"/p/{shop.product.id}/stoneware-mug"
        assert await messaging_service.unread_count_for_user(session, shop.owner.id) == 0

        clock.advance(timedelta(minutes=5))
        replied = await messaging_service.post(session, shop.seller, cid, "Yes, it is.")
        assert (replied.message.message.sender_side, replied.message.sender_name) == (
            "seller",
            "Mei the potter",
        )
        assert replied.view.conversation.buyer_unread_count == 1
        assert await messaging_service.unread_count_for_user(session, shop.buyer.id) == 1
        mine = await messaging_service.list_for_buyer(session, shop.customer)
        assert [(v.conversation.id, v.unread_count, v.store_name) for v in mine.items] == [
            (cid, 1, "Clay Corner")
        ]
        assert mine.items[0].conversation.last_sender_side == "seller"

        thread = await messaging_service.get(session, shop.customer, cid)
        assert [(m.message.sender_side, m.message.body) for m in thread.messages] == [
            ("seller", "Yes, it is."),
            ("buyer", "Dishwasher?"),
        ]
        assert await messaging_service.unread_count_for_user(session, shop.buyer.id) == 0
        conversation = await session.get(Conversation, cid)
        assert conversation is not None and conversation.buyer_last_read_at == clock.now()

    async def test_reading_without_marking_and_mark_read(self, session: AsyncSession, shop: Shop) -> None:
        cid = (
            await messaging_service.start_inquiry(session, shop.customer, shop.product.id, "Q")
        ).view.conversation.id
        await messaging_service.get(session, shop.seller, cid, mark_read=False)
        assert await messaging_service.unread_count_for_user(session, shop.owner.id) == 1
        read_only = Actor(user_id=shop.owner.id, scopes=frozenset({"read"}))
        await messaging_service.get(session, read_only, cid)
        assert await messaging_service.unread_count_for_user(session, shop.owner.id) == 1
        view = await messaging_service.mark_read(session, shop.seller, cid)
        assert view.side == "seller" and view.unread_count == 0
        assert await messaging_service.unread_count_for_user(session, shop.owner.id) == 0

    async def test_other_buyers_and_other_stores_get_404(
        self, session: AsyncSession, shop: Shop, user_factory, store_factory
    ) -> None:
        cid = (
            await messaging_service.start_inquiry(session, shop.customer, shop.product.id, "Q")
        ).view.conversation.id
        stranger = actor_of(await user_factory())
        other_seller_user = await user_factory()
        other_store = await store_factory(owner=other_seller_user)
        other_seller = actor_of(other_seller_user)
        for actor in (stranger, other_seller):
            with pytest.raises(NotFound):
                await messaging_service.get(session, actor, cid)
            with pytest.raises(NotFound):
                await messaging_service.post(session, actor, cid, "Let me in")
            with pytest.raises(NotFound):
                await messaging_service.mark_read(session, actor, cid)
        with pytest.raises(NotFound):
            await messaging_service.list_for_store(session, stranger, shop.store.id)
        with pytest.raises(NotFound):  # the right conversation through the wrong store
            await messaging_service.get(session, other_seller, cid, store_id=other_store.id)
        with pytest.raises(NotFound):  # the buyer is not the store's side
            await messaging_service.post(session, shop.customer, cid, "as the store", side="seller")
        assert await message_count(session, cid) == 1
        assert (await messaging_service.list_for_buyer(session, stranger)).items == []

    async def test_staff_of_the_store_can_answer(
        self,
        session: AsyncSession,
        user_factory,
        organization_factory,
        store_factory,
        product_factory,
        member_factory,
    ) -> None:
        org = await organization_factory()
        store = await store_factory(trade_model="mall", organization=org, name="Lumen Official")
        product = await product_factory(store, title="Desk lamp")
        staff = await member_factory(org, "staff", display_name="Sam from support")
        buyer = await user_factory()
        cid = (
            await messaging_service.start_inquiry(session, actor_of(buyer), product.id, "Warm light?")
        ).view.conversation.id
        assert await messaging_service.unread_count_for_user(session, staff.id) == 1
        answer = await messaging_service.post(session, actor_of(staff), cid, "Yes, 2700 K.")
        assert (
            answer.message.message.sender_side == "seller"
            and answer.message.sender_name == "Sam from support"
        )
        assert answer.message.message.sender_user_id == staff.id
        assert await messaging_service.unread_count_for_user(session, buyer.id) == 1
        inbox = await messaging_service.list_for_store(session, actor_of(staff), store.id)
        assert [v.conversation.id for v in inbox.items] == [cid]

    async def test_attachments_are_checked_images(
        self, session: AsyncSession, shop: Shop, storage: MediaStorage
    ) -> None:
        cid = (
            await messaging_service.start_inquiry(session, shop.customer, shop.product.id, "Q")
        ).view.conversation.id
        posted = await messaging_service.post(
            session, shop.seller, cid, "Here it is", [png_bytes(), png_bytes(32, 48)], storage=storage
        )
        saved = posted.message.attachments
        assert [(a.position, a.content_type, a.width, a.height) for a in saved] == [
            (0, "image/jpeg", 64, 64),
            (1, "image/jpeg", 32, 48),
        ]
        assert all(
            storage.absolute(a.path).is_file() and storage.absolute(a.thumb_path).is_file() for a in saved
        )
        thread = await messaging_service.get(session, shop.customer, cid)
        assert [len(m.attachments) for m in thread.messages] == [2, 0]

        before = await message_count(session, cid)
        with pytest.raises(Invalid) as caught:
            await messaging_service.post(
                session, shop.seller, cid, "Oops", [b"%PDF-1.4 not an image"], storage=storage
            )
        assert caught.value.fields == {"images": "is not a valid image file"}
        with pytest.raises(Invalid) as caught:
            await messaging_service.post(
                session, shop.seller, cid, "Many", [png_bytes()] * 4, storage=storage
            )
        assert caught.value.code == "too_many_images" and "images" in caught.value.fields
        with pytest.raises(PayloadTooLarge):
            big = MediaStorage(storage.root, max_bytes=100, max_pixels=storage.max_pixels)
            await messaging_service.post(session, shop.seller, cid, "Big", [png_bytes()], storage=big)
        assert await message_count(session, cid) == before
        rows = await session.scalars(select(MessageAttachment).order_by(MessageAttachment.id))
        assert [a.message_id for a in rows.all()] == [posted.message.message.id] * 2


class TestNotifications:
    async def test_the_first_unread_message_notifies_the_other_side(
        self,
        session: AsyncSession,
        organization_factory,
        store_factory,
        product_factory,
        member_factory,
        user_factory,
    ) -> None:
        org = await organization_factory()
        owner_id = await session.scalar(
            select(Membership.user_id).where(Membership.organization_id == org.id)
        )
        store = await store_factory(trade_model="mall", organization=org, name="Lumen Official")
        product = await product_factory(store, title="Desk lamp")
        staff = await member_factory(org, "staff")
        buyer = await user_factory(display_name="Ali Buyer")
        asked = await messaging_service.start_inquiry(session, actor_of(buyer), product.id, "Warm light?")
        cid = asked.view.conversation.id
        await messaging_service.start_inquiry(session, actor_of(buyer), product.id, "And dimmable?")

        rows = (await session.scalars(select(Notification).order_by(Notification.user_id))).all()
        assert sorted(n.user_id for n in rows) == sorted([owner_id, staff.id])  # once, not per message
        assert {(n.kind, n.title, n.body, n.link) for n in rows} == {
            (
                "message.received",
                "New message from Ali Buyer about Desk lamp",
                "Warm light?",
                f"/seller/stores/{store.id}/messages/{cid}",
            )
        }

        await messaging_service.post(session, actor_of(staff), cid, "Yes, both.")
        for_buyer = (
            await session.scalars(select(Notification).where(Notification.user_id == buyer.id))
        ).all()
        assert [(n.title, n.link) for n in for_buyer] == [
            ("New message from Lumen Official about Desk lamp", f"/messages/{cid}")
        ]
        # the staff member answered, so nobody on the store side is told about their own reply
        assert await session.scalar(select(func.count()).select_from(Notification)) == 3

        # once the store has read the thread, the buyer's next message notifies again
        await messaging_service.post(session, actor_of(buyer), cid, "Thanks!")
        assert await session.scalar(select(func.count()).select_from(Notification)) == 5


class TestLists:
    async def test_store_inbox_puts_unread_first_and_pages(
        self, session: AsyncSession, shop: Shop, user_factory, product_factory
    ) -> None:
        ids = []
        for n in range(3):
            buyer = await user_factory(display_name=f"Buyer {n}")
            clock.advance(timedelta(minutes=1))
            posted = await messaging_service.start_inquiry(session, actor_of(buyer), shop.product.id, f"Q{n}")
            ids.append(posted.view.conversation.id)
        clock.advance(timedelta(minutes=1))
        await messaging_service.get(session, shop.seller, ids[2])  # the newest is read
        await messaging_service.post(session, shop.seller, ids[2], "Answered")

        inbox = await messaging_service.list_for_store(session, shop.seller, shop.store.id)
        assert [v.conversation.id for v in inbox.items] == [ids[1], ids[0], ids[2]]
        assert [v.unread_count for v in inbox.items] == [1, 1, 0]
        unread = await messaging_service.list_for_store(session, shop.seller, shop.store.id, unread_only=True)
        assert [v.conversation.id for v in unread.items] == [ids[1], ids[0]]

        seen: list[int] = []
        cursor = None
        while True:
            page = await messaging_service.list_for_store(
                session, shop.seller, shop.store.id, cursor, limit=1
            )
            seen += [v.conversation.id for v in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == [ids[1], ids[0], ids[2]]

    async def test_buyer_list_is_latest_first_and_pages(
        self, session: AsyncSession, shop: Shop, product_factory, store_factory
    ) -> None:
        ids = []
        for n in range(3):
            product = await product_factory(await store_factory(name=f"Shop {n}"))
            clock.advance(timedelta(minutes=1))
            ids.append(
                (
                    await messaging_service.start_inquiry(session, shop.customer, product.id, "Q")
                ).view.conversation.id
            )
        clock.advance(timedelta(minutes=1))
        await messaging_service.start_inquiry(
            session, shop.customer, (await session.get(Conversation, ids[0])).subject_id, "Again"
        )  # type: ignore[union-attr]
        first = await messaging_service.list_for_buyer(session, shop.customer, limit=2)
        assert [v.conversation.id for v in first.items] == [ids[0], ids[2]]
        rest = await messaging_service.list_for_buyer(session, shop.customer, first.next_cursor, limit=2)
        assert [v.conversation.id for v in rest.items] == [ids[1]] and rest.next_cursor is None
        with pytest.raises(Invalid) as caught:
            await messaging_service.list_for_buyer(session, shop.customer, "bm9wZQ")
        assert "cursor" in caught.value.fields

    async def test_thread_messages_page_newest_first(self, session: AsyncSession, shop: Shop) -> None:
        cid = (
            await messaging_service.start_inquiry(session, shop.customer, shop.product.id, "m0")
        ).view.conversation.id
        for n in range(1, 5):
            await messaging_service.post(session, shop.seller if n % 2 else shop.customer, cid, f"m{n}")
        first = await messaging_service.get(session, shop.customer, cid, limit=3)
        assert [m.message.body for m in first.messages] == ["m4", "m3", "m2"]
        older = await messaging_service.get(session, shop.customer, cid, cursor=first.next_cursor, limit=3)
        assert [m.message.body for m in older.messages] == ["m1", "m0"] and older.next_cursor is None

    async def test_unread_count_covers_buyer_and_seller_sides(
        self, session: AsyncSession, shop: Shop, user_factory, store_factory, product_factory
    ) -> None:
        # the store's owner also buys from another store, which answers
        other_owner = await user_factory()
        elsewhere = await product_factory(await store_factory(owner=other_owner))
        asked = await messaging_service.start_inquiry(session, shop.seller, elsewhere.id, "Hi")
        await messaging_service.post(session, actor_of(other_owner), asked.view.conversation.id, "Hello back")
        # and a buyer asks the owner's store
        await messaging_service.start_inquiry(session, shop.customer, shop.product.id, "Q")
        counts = await messaging_service.unread_counts(session, shop.owner.id)
        assert counts.total == 2 and counts.per_store == {shop.store.id: 1}
        assert await messaging_service.unread_count_for_user(session, other_owner.id) == 0
        assert await messaging_service.unread_count_for_user(session, 2_000_000_000) == 0


class TestOpenThread:
    async def test_is_idempotent_per_subject(self, session: AsyncSession, shop: Shop) -> None:
        kwargs = {
            "store_id": shop.store.id,
            "buyer_user_id": shop.buyer.id,
            "subject_type": "seller_order",
            "subject_id": 42,
            "title": "Order SO-42",
        }
        first = await messaging_service.open_thread(session, shop.customer, **kwargs)  # type: ignore[arg-type]
        again = await messaging_service.open_thread(session, shop.seller, **kwargs)  # type: ignore[arg-type]
        assert first.id == again.id and first.subject_title == "Order SO-42" and first.message_count == 0
        other = await messaging_service.open_thread(session, shop.seller, **{**kwargs, "subject_id": 43})  # type: ignore[arg-type]
        assert other.id != first.id
        posted = await messaging_service.post(session, shop.seller, first.id, "Shipped today")
        assert posted.view.conversation.buyer_unread_count == 1
        mine = await messaging_service.list_for_buyer(session, shop.customer)
        assert {v.conversation.subject_type for v in mine.items} == {"seller_order"}

    async def test_refuses_bad_subjects_and_outsiders(
        self, session: AsyncSession, shop: Shop, user_factory
    ) -> None:
        base = {"store_id": shop.store.id, "buyer_user_id": shop.buyer.id, "subject_id": 1, "title": "T"}
        with pytest.raises(Invalid) as caught:
            await messaging_service.open_thread(session, shop.seller, **{**base, "subject_type": "rfq"})  # type: ignore[arg-type]
        assert "subject_type" in caught.value.fields
        with pytest.raises(Invalid) as caught:
            await messaging_service.open_thread(
                session,
                shop.seller,
                **{**base, "subject_type": "seller_order", "subject_id": None},  # type: ignore[arg-type]
            )
        assert "subject_id" in caught.value.fields
        with pytest.raises(Invalid) as caught:
            await messaging_service.open_thread(
                session, shop.seller, **{**base, "subject_type": "general", "title": " "}
            )  # type: ignore[arg-type]
        assert "title" in caught.value.fields
        stranger = actor_of(await user_factory())
        with pytest.raises(NotFound):
            await messaging_service.open_thread(session, stranger, **{**base, "subject_type": "general"})  # type: ignore[arg-type]
        assert await conversation_count(session) == 0


def test_clean_body_and_preview() -> None:
    assert clean_body("\r\n  a\r\nb \n") == "a\nb"
    with pytest.raises(Invalid):
        clean_body("nul\x00")
    assert preview_of("a\n\n  b") == "a b"
