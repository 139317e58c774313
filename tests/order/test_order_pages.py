"""The buyer's order pages and the seller centre's order pages."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from fixtures.core import api_token_for, form, login_as
from fixtures.orders import CARD_DECLINED, seller_orders, ship
from souk.kit.clock import clock
from souk.models import User


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _by_store(sos):
    return sorted(sos, key=lambda so: so.store_id)


class TestBuyerOrderPages:
    async def test_list_tabs_and_detail_with_actions(
        self, client, session, market, buy, assert_ledger_balanced
    ):
        clock.freeze()
        m = await market(kinds=("express", "surface"))
        paid = await buy(m)
        buyer = await session.get(User, m.buyer_id)
        unpaid = await buy(await market(buyer_id=m.buyer_id), number=CARD_DECLINED)
        buyer = await session.get(User, m.buyer_id, populate_existing=True)
        express, surface = _by_store(await seller_orders(session, paid.id))
        express_id, surface_id, surface_number = express.id, surface.id, surface.number
        await ship(session, m, express)
        await login_as(client, session, buyer)
        await session.commit()

        text = text_of((await client.get("/orders")).text)
        assert f"Order O-{unpaid.id + 1000}" in text and f"Order O-{paid.id + 1000}" in text
        assert "To pay (2)" in text and "To ship (1)" in text and "Shipped (1)" in text
        assert "Pay for this order — closes in 30 minutes Pay now" in text
        text = text_of((await client.get("/orders?tab=shipped")).text)
        assert f"Order O-{paid.id + 1000}" in text and f"Order O-{unpaid.id + 1000}" not in text
        assert "Confirm receipt — auto-confirms in 10 days" in text
        assert "No orders here." in text_of((await client.get("/orders?tab=cancelled")).text)

        page = await client.get(f"/orders/{paid.id}")
        text = text_of(page.text)
        assert "Confirm receipt — auto-confirms in 10 days" in text
        assert "DHL, tracking number JD0146000062" in text
        assert "Waiting for the seller to ship — due in 3 days" in text
        assert f'action="/orders/{paid.id}/seller-orders/{express_id}/confirm-receipt"' in page.text
        assert "Extend the receipt time" not in text  # only in the last 3 days

        clock.advance(timedelta(days=8))
        await login_as(client, session, await session.get(User, m.buyer_id))  # a fresh web session
        await session.commit()
        page = await client.get(f"/orders/{paid.id}")
        assert "Extend the receipt time" in text_of(page.text)
        r = await client.post(
            f"/orders/{paid.id}/seller-orders/{express_id}/extend-receipt", data=form(client)
        )
        assert r.status_code == 303
        text = text_of((await client.get(f"/orders/{paid.id}")).text)
        assert "Receipt time of order" in text and "Receipt timer extended by 3 days" in text
        r = await client.post(
            f"/orders/{paid.id}/seller-orders/{express_id}/extend-receipt", data=form(client)
        )
        assert "extended already" in text_of((await client.get(r.headers["location"])).text)
        r = await client.post(
            f"/orders/{paid.id}/seller-orders/{express_id}/confirm-receipt", data=form(client)
        )
        text = text_of((await client.get(r.headers["location"])).text)
        assert "confirmed; the seller gets paid" in text and "Receipt confirmed by the buyer" in text
        r = await client.post(f"/orders/{paid.id}/seller-orders/{surface_id}/cancel", data=form(client))
        text = text_of((await client.get(r.headers["location"])).text)
        assert f"Order {surface_number} cancelled; US$30.00 is refunded to your card" in text
        assert "Cancelled by the buyer after the seller missed the ship-by time; US$30.00 refunded" in text
        # the form needs its CSRF token
        r = await client.post(f"/orders/{paid.id}/seller-orders/{surface_id}/cancel", data={})
        assert r.status_code == 403
        await assert_ledger_balanced(session)

    async def test_timeline_amounts_follow_the_visitors_locale(self, client, session, market, buy):
        m = await market()
        order = await buy(m)
        await login_as(client, session, await session.get(User, m.buyer_id))
        headers = await api_token_for(session, await session.get(User, m.buyer_id))
        await session.commit()
        us = text_of((await client.get(f"/orders/{order.id}", headers={"Accept-Language": "en-US"})).text)
        assert "Paid $" in us and "Paid US$" not in us
        de = text_of((await client.get(f"/orders/{order.id}", headers={"Accept-Language": "de-DE"})).text)
        assert "Paid " in de and "$; the money is held in escrow" in de.replace("\xa0", " ")
        api = (
            await client.get(f"/api/v1/orders/{order.id}", headers={**headers, "Accept-Language": "en-US"})
        ).json()
        paid = [e for so in api["seller_orders"] for e in so["timeline"] if e["kind"] == "paid"]
        assert paid and paid[0]["text"].startswith("Paid US$")

    async def test_cancel_unpaid_and_other_buyers_404(self, client, session, market, buy, user_factory):
        m = await market()
        order = await buy(m, number=CARD_DECLINED)
        await login_as(client, session, await session.get(User, m.buyer_id))
        await session.commit()
        r = await client.post(f"/orders/{order.id}/cancel", data=form(client))
        text = text_of((await client.get(r.headers["location"])).text)
        assert (
            "cancelled; the items went back on sale" in text
            and "Cancelled by the buyer before paying" in text
        )
        await login_as(client, session, await user_factory())
        await session.commit()
        assert (await client.get(f"/orders/{order.id}")).status_code == 404
        assert "No orders yet." in text_of((await client.get("/orders")).text)


class TestSellerOrderPages:
    async def test_to_ship_with_address_and_ship_form(self, client, session, market, buy, user_factory):
        m = await market()
        order = await buy(m)
        so = _by_store(await seller_orders(session, order.id))[0]
        so_id, number, store_id = so.id, so.number, so.store_id
        other_store = m.store_ids[1]
        await login_as(client, session, await session.get(User, m.seller_of(store_id).user_id))
        await session.commit()
        page = await client.get(f"/seller/stores/{store_id}/orders")
        assert page.status_code == 200
        text = text_of(page.text)
        assert number in text and "Bea Buyer" in text and "Berlin" in text and "Due in 3 days" in text
        assert f'href="/seller/stores/{store_id}/orders" class="current"' in page.text
        # a bad tracking number keeps the form with the error
        r = await client.post(
            f"/seller/stores/{store_id}/orders/{so_id}/ship",
            data=form(client, carrier="DHL", tracking_number="!", **{"from": "list"}),
        )
        assert r.status_code == 422 and "Tracking number:" in text_of(r.text)
        r = await client.post(
            f"/seller/stores/{store_id}/orders/{so_id}/ship",
            data=form(client, carrier="DHL", tracking_number="JD0146000062", **{"from": "list"}),
        )
        assert r.status_code == 303 and r.headers["location"] == f"/seller/stores/{store_id}/orders"
        assert f"Order {number} shipped with DHL" in text_of((await client.get(r.headers["location"])).text)
        detail = text_of((await client.get(f"/seller/stores/{store_id}/orders/{so_id}")).text)
        assert "Waiting for the buyer to confirm receipt — auto-confirms in 10 days" in detail
        assert "Shipped with DHL, tracking number JD0146000062" in detail and "2.00 %" in detail
        # another store's order, through this store or the other one
        assert (await client.get(f"/seller/stores/{store_id}/orders/{so_id + 1}")).status_code == 404
        assert (await client.get(f"/seller/stores/{other_store}/orders")).status_code == 404
        await login_as(client, session, await user_factory())
        await session.commit()
        assert (await client.get(f"/seller/stores/{store_id}/orders/{so_id}")).status_code == 404


class TestOrderConversation:
    async def test_buyer_and_seller_reach_the_same_thread(self, client, session, market, buy):
        m = await market()
        order = await buy(m)
        so = (await seller_orders(session, order.id))[0]
        so_id, store_id, number = so.id, so.store_id, so.number
        seller_id = m.seller_of(store_id).user_id
        await login_as(client, session, await session.get(User, m.buyer_id))
        await session.commit()
        r = await client.post(f"/orders/{order.id}/seller-orders/{so_id}/messages", data=form(client))
        assert r.status_code == 303
        thread = r.headers["location"]
        assert re.fullmatch(r"/messages/\d+", thread)
        page = await client.get(thread)
        assert page.status_code == 200 and f"Order {number}" in text_of(page.text)
        again = await client.post(f"/orders/{order.id}/seller-orders/{so_id}/messages", data=form(client))
        assert again.headers["location"] == thread
        await login_as(client, session, await session.get(User, seller_id))
        await session.commit()
        r = await client.post(f"/seller/stores/{store_id}/orders/{so_id}/messages", data=form(client))
        assert r.headers["location"] == f"/seller/stores/{store_id}/messages/{thread.rsplit('/', 1)[1]}"
        assert (await client.get(r.headers["location"])).status_code == 200
        # a seller cannot open the thread of an order through the buyer's pages
        r = await client.post(f"/orders/{order.id}/seller-orders/{so_id}/messages", data=form(client))
        assert r.status_code == 404
