from __future__ import annotations

import re

import httpx
import pytest
from messaging_support import Shop, conversation_count, make_shop, message_count
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import form, login_as
from fixtures.factories import actor_of
from fixtures.party import pdf_bytes, png_bytes
from souk.messaging.service import messaging_service
from souk.models import Conversation, MessageAttachment, User


@pytest.fixture
async def shop(user_factory, store_factory, product_factory) -> Shop:
    return await make_shop(user_factory, store_factory, product_factory)


def header_count(html: str) -> int | None:
    """The number on the header's Messages link (None when it shows no badge)."""
    match = re.search(
        r'<a class="counter" href="/messages">Messages(?: <span class="count-badge"[^>]*>(\d+)</span>)?</a>',
        html,
    )
    assert match is not None, "the header has no Messages link"
    return int(match.group(1)) if match.group(1) else None


class TestAskTheSeller:
    async def test_product_page_links_to_the_question_form(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        r = await client.get(f"/p/{shop.product.id}/stoneware-mug")
        assert r.status_code == 200
        assert f'href="/messages/new?product={shop.product.id}">Ask the seller</a>' in r.text

    async def test_anonymous_visitors_log_in_first(self, client: httpx.AsyncClient, shop: Shop) -> None:
        r = await client.get(f"/messages/new?product={shop.product.id}")
        assert r.status_code == 303
        assert r.headers["location"] == f"/login?next=/messages/new%3Fproduct%3D{shop.product.id}"
        assert (await client.get("/messages")).headers["location"] == "/login?next=/messages"

    async def test_ask_then_land_in_the_thread(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        await login_as(client, session, shop.buyer)
        product_id = shop.product.id
        page = await client.get(f"/messages/new?product={product_id}")
        assert page.status_code == 200
        assert "Ask the seller" in page.text and "Stoneware mug" in page.text and "Clay Corner" in page.text
        assert 'name="csrf_token"' in page.text and 'enctype="multipart/form-data"' in page.text
        r = await client.post(
            f"/messages/new?product={product_id}",
            data=form(client, body="Is it\ndishwasher safe?"),
            files={"images": ("photo.png", png_bytes(), "image/png")},
        )
        conversation = await session.scalar(select(Conversation))
        assert conversation is not None and conversation.subject_id == product_id
        assert r.status_code == 303 and r.headers["location"] == f"/messages/{conversation.id}#latest"
        thread = await client.get(f"/messages/{conversation.id}")
        assert "Message sent to Clay Corner" in thread.text
        assert "Is it\ndishwasher safe?" in thread.text
        assert f'href="/p/{product_id}/stoneware-mug"' in thread.text
        assert thread.text.count('class="bubble mine from-buyer"') == 1 and "/media/messages/" in thread.text
        # asking again goes to the open conversation
        again = await client.get(f"/messages/new?product={product_id}")
        assert again.status_code == 303 and again.headers["location"] == f"/messages/{conversation.id}#reply"

    async def test_errors_are_shown_and_the_question_kept(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        await login_as(client, session, shop.buyer)
        product_id = shop.product.id
        await session.commit()
        r = await client.post(f"/messages/new?product={product_id}", data=form(client, body="   "))
        assert r.status_code == 422 and 'id="e-body"' in r.text and "write a message" in r.text
        r = await client.post(
            f"/messages/new?product={product_id}",
            data=form(client, body="Kept question"),
            files={"images": ("x.pdf", pdf_bytes(), "application/pdf")},
        )
        assert r.status_code == 422 and 'id="e-images"' in r.text and "is not a valid image file" in r.text
        assert ">Kept question</textarea>" in r.text
        assert await conversation_count(session) == 0

    async def test_own_store_and_missing_csrf(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        await login_as(client, session, shop.owner)
        product_id = shop.product.id
        await session.commit()
        r = await client.get(f"/messages/new?product={product_id}")
        assert r.status_code == 422 and "your own store" in r.text
        r = await client.post(f"/messages/new?product={product_id}", data={"body": "no token"})
        assert r.status_code == 403
        assert (await client.get("/messages/new?product=99999999999999")).status_code == 422


class TestConversationPages:
    async def test_seller_answers_and_counters_move(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        asked = await messaging_service.start_inquiry(
            session, shop.customer, shop.product.id, "Dishwasher safe?"
        )
        cid, store_id = asked.view.conversation.id, shop.store.id
        await login_as(client, session, shop.owner)
        dashboard = await client.get(f"/seller/stores/{store_id}/products")
        assert header_count(dashboard.text) == 1
        assert (
            f'href="/seller/stores/{store_id}/messages" class="">Messages <span class="count-badge" aria-label="1 unread">1</span></a>'
            in dashboard.text
        )

        inbox = await client.get(f"/seller/stores/{store_id}/messages")
        assert inbox.status_code == 200
        assert (
            "Ali Buyer" in inbox.text and "Stoneware mug" in inbox.text and "Dishwasher safe?" in inbox.text
        )
        assert (
            f'href="/seller/stores/{store_id}/messages/{cid}"' in inbox.text
            and '<tr class="unread">' in inbox.text
        )

        thread = await client.get(f"/seller/stores/{store_id}/messages/{cid}")
        assert thread.status_code == 200 and 'class="bubble theirs from-buyer"' in thread.text
        assert header_count(thread.text) is None  # read now, and the header says so
        assert "Reply as Clay Corner" in thread.text

        r = await client.post(
            f"/seller/stores/{store_id}/messages/{cid}", data=form(client, body="Yes, it is.")
        )
        assert (
            r.status_code == 303
            and r.headers["location"] == f"/seller/stores/{store_id}/messages/{cid}#latest"
        )
        after = await client.get(r.headers["location"].split("#")[0])
        assert "Reply sent as Clay Corner" in after.text and 'class="bubble mine from-seller"' in after.text

        await login_as(client, session, shop.buyer)
        mine = await client.get("/messages")
        assert header_count(mine.text) == 1
        assert (
            "Clay Corner" in mine.text and "Yes, it is." in mine.text and 'aria-label="1 unread"' in mine.text
        )
        unread = await client.get("/messages?unread=1")
        assert f'href="/messages/{cid}"' in unread.text
        thread = await client.get(f"/messages/{cid}")
        assert header_count(thread.text) is None
        assert thread.text.index("Dishwasher safe?") < thread.text.index(
            "Yes, it is."
        )  # newest at the bottom
        assert "<strong>Clay Corner</strong>" in thread.text and "<strong>You</strong>" in thread.text
        assert "No unread messages" in (await client.get("/messages?unread=1")).text

    async def test_staff_reply_as_the_store(
        self,
        client: httpx.AsyncClient,
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
        staff = await member_factory(org, "staff", display_name="Sam")
        buyer = await user_factory()
        cid = (
            await messaging_service.start_inquiry(session, actor_of(buyer), product.id, "Warm?")
        ).view.conversation.id
        store_id = store.id
        await login_as(client, session, staff)
        r = await client.post(f"/seller/stores/{store_id}/messages/{cid}", data=form(client, body="2700 K"))
        assert r.status_code == 303
        await login_as(client, session, buyer)
        thread = await client.get(f"/messages/{cid}")
        assert "2700 K" in thread.text and "<strong>Lumen Official</strong>" in thread.text

    async def test_others_get_404(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop, user_factory, store_factory
    ) -> None:
        cid = (
            await messaging_service.start_inquiry(session, shop.customer, shop.product.id, "Q")
        ).view.conversation.id
        store_id, buyer_id = shop.store.id, shop.buyer.id
        other_owner = await user_factory()
        other_store = await store_factory(owner=other_owner)
        other_store_id = other_store.id
        await login_as(client, session, other_owner)
        await session.commit()
        assert (await client.get(f"/messages/{cid}")).status_code == 404
        assert (await client.get(f"/seller/stores/{store_id}/messages")).status_code == 404
        assert (await client.get(f"/seller/stores/{other_store_id}/messages/{cid}")).status_code == 404
        r = await client.post(f"/seller/stores/{other_store_id}/messages/{cid}", data=form(client, body="hi"))
        assert r.status_code == 404
        r = await client.post(f"/messages/{cid}", data=form(client, body="hi"))
        assert r.status_code == 404
        # the buyer does not reach the store's pages either
        buyer = await session.get(User, buyer_id)
        assert buyer is not None
        await login_as(client, session, buyer)
        await session.commit()
        assert (await client.get(f"/seller/stores/{store_id}/messages/{cid}")).status_code == 404
        assert await message_count(session, cid) == 1

    async def test_reply_errors_re_render_the_thread(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        cid = (
            await messaging_service.start_inquiry(session, shop.customer, shop.product.id, "Q")
        ).view.conversation.id
        await login_as(client, session, shop.buyer)
        await session.commit()
        r = await client.post(f"/messages/{cid}", data=form(client, body="x" * 4001))
        assert (
            r.status_code == 422
            and "at most 4000 characters" in r.text
            and 'class="bubble mine from-buyer"' in r.text
        )
        files = [("images", (f"{n}.png", png_bytes(), "image/png")) for n in range(4)]
        r = await client.post(f"/messages/{cid}", data=form(client, body="many"), files=files)
        assert r.status_code == 422 and "at most 3 images" in r.text
        assert await message_count(session, cid) == 1
        assert (await session.scalar(select(MessageAttachment.id))) is None

    async def test_message_text_is_escaped(
        self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop
    ) -> None:
        attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
        cid = (
            await messaging_service.start_inquiry(session, shop.customer, shop.product.id, attack)
        ).view.conversation.id
        store_id = shop.store.id
        await login_as(client, session, shop.owner)
        for url in (f"/seller/stores/{store_id}/messages", f"/seller/stores/{store_id}/messages/{cid}"):
            html = (await client.get(url)).text
            assert "<script>alert" not in html and "<img src=x" not in html
            assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
        await login_as(client, session, shop.buyer)
        html = (await client.get(f"/messages/{cid}")).text
        assert "<script>alert" not in html and "&lt;script&gt;" in html

    async def test_empty_states(self, client: httpx.AsyncClient, session: AsyncSession, shop: Shop) -> None:
        await login_as(client, session, shop.buyer)
        r = await client.get("/messages")
        assert r.status_code == 200 and "No conversations yet." in r.text and header_count(r.text) is None
        await login_as(client, session, shop.owner)
        r = await client.get(f"/seller/stores/{shop.store.id}/messages")
        assert "No messages yet." in r.text
