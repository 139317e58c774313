"""The refund pages: the buyer asks from the order page, the seller answers in the seller centre, the operator
rules in the ops console. Every form carries the CSRF token."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from fixtures.core import form, login_as
from fixtures.orders import seller_orders, ship
from fixtures.party import png_bytes
from souk.kit.clock import clock
from souk.kit.money import format_money, from_minor
from souk.models import Dispute, SellerOrder, User
from souk.order.views import MESSAGE_LOCALE


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


async def _dispute(session, so_id) -> Dispute:
    d = await session.scalar(
        select(Dispute).where(Dispute.seller_order_id == so_id).execution_options(populate_existing=True)
    )
    assert d is not None
    return d


async def _status(session, so_id) -> str:
    return await session.scalar(
        select(SellerOrder.status).where(SellerOrder.id == so_id).execution_options(populate_existing=True)
    )


async def _setup(session, market, buy):
    clock.freeze()
    m = await market(kinds=("express", "express"))
    order = await buy(m)
    so = sorted(await seller_orders(session, order.id), key=lambda s: s.store_id)[0]
    await ship(session, m, so)
    return m, order.id, so.id, so.store_id, so.total_amount


class TestDisputePages:
    async def test_buyer_asks_seller_accepts(self, client, session, market, buy):
        m, order_id, so_id, store_id, total = await _setup(session, market, buy)
        await login_as(client, session, await session.get(User, m.buyer_id))
        await session.commit()
        page = await client.get(f"/orders/{order_id}")
        assert f'href="/disputes/new?seller_order_id={so_id}"' in page.text
        page = await client.get(f"/disputes/new?seller_order_id={so_id}")
        assert page.status_code == 200 and 'name="csrf_token"' in page.text
        # without the CSRF token: refused
        r = await client.post("/disputes", data={"seller_order_id": so_id, "reason": "damaged"})
        assert r.status_code in (400, 403)
        r = await client.post(
            "/disputes",
            data=form(
                client,
                seller_order_id=so_id,
                reason="damaged",
                amount=from_minor(total + 1, "USD"),
                message="x",
            ),
        )
        assert r.status_code == 422 and "at most" in text_of(r.text)
        # amounts are typed as decimals; anything else is named
        r = await client.post(
            "/disputes", data=form(client, seller_order_id=so_id, reason="damaged", amount="ten", message="x")
        )
        assert r.status_code == 422 and "must be an amount like 12.50" in text_of(r.text)
        r = await client.post(
            "/disputes",
            data=form(client, seller_order_id=so_id, reason="damaged", amount="", message="Cracked."),
            files=[("images", ("crack.png", png_bytes(), "image/png"))],
        )
        assert r.status_code == 303, r.text
        dispute = await _dispute(session, so_id)
        dispute_id = dispute.id
        assert r.headers["location"] == f"/disputes/{dispute_id}"
        text = text_of((await client.get(f"/disputes/{dispute_id}")).text)
        assert "Waiting for the seller" in text and "Cracked." in text
        assert f"Request #{dispute_id}" in text_of((await client.get("/disputes")).text)
        page = await client.get(f"/orders/{order_id}")
        assert f'href="/disputes/{dispute_id}"' in page.text

        seller = await session.get(User, m.seller_of(store_id).user_id)
        await login_as(client, session, seller)
        await session.commit()
        text = text_of((await client.get(f"/seller/stores/{store_id}/disputes")).text)
        assert f"Request #{dispute_id}" in text and "Refunds and disputes" in text
        page = await client.get(f"/seller/stores/{store_id}/disputes/{dispute_id}")
        assert "Accept: refund" in text_of(page.text)
        assert 'alt="Evidence photo 1"' in page.text
        thumb = re.search(r'<img src="([^"]+)" alt="Evidence photo 1"', page.text)
        assert thumb is not None and (await client.get(thumb.group(1))).status_code == 200
        r = await client.post(
            f"/seller/stores/{store_id}/disputes/{dispute_id}/messages",
            data=form(client, body="Please send one more."),
            files=[("images", (f"p{n}.png", png_bytes(), "image/png")) for n in range(4)],
        )
        assert r.status_code == 303
        assert "Send at most 3 photos" in text_of((await client.get(page.url)).text)
        page = await client.get(f"/seller/stores/{store_id}/orders/{so_id}")
        assert f'href="/seller/stores/{store_id}/disputes/{dispute_id}"' in page.text
        r = await client.post(f"/seller/stores/{store_id}/disputes/{dispute_id}/accept", data=form(client))
        assert r.status_code == 303
        assert await _status(session, so_id) == "refunded"
        assert (await _dispute(session, so_id)).outcome == "refund_full"
        # the buyer's order timeline tells each step in words
        await login_as(client, session, await session.get(User, m.buyer_id))
        await session.commit()
        text = text_of((await client.get(f"/orders/{order_id}")).text)
        asked = format_money(total, "USD", MESSAGE_LOCALE)  # no amount typed: the whole seller order
        assert f"Refund of {asked} requested: damaged" in text
        assert f"The seller refunded {asked}" in text

    async def test_reject_escalate_and_operator_rules(self, client, session, market, buy, operator_factory):
        m, order_id, so_id, store_id, total = await _setup(session, market, buy)
        operator = await operator_factory()
        operator_id = operator.id
        await login_as(client, session, await session.get(User, m.buyer_id))
        await session.commit()
        r = await client.post(
            "/disputes", data=form(client, seller_order_id=so_id, reason="not_as_described", amount="10.00")
        )
        assert r.status_code == 303
        assert (await _dispute(session, so_id)).requested_amount == 1000
        dispute_id = (await _dispute(session, so_id)).id

        await login_as(client, session, await session.get(User, m.seller_of(store_id).user_id))
        await session.commit()
        base = f"/seller/stores/{store_id}/disputes/{dispute_id}"
        r = await client.post(f"{base}/reject", data=form(client, reason="As pictured in the listing."))
        assert r.status_code == 303
        r = await client.post(f"{base}/messages", data=form(client, body="We checked it before shipping."))
        assert r.status_code == 303

        await login_as(client, session, await session.get(User, m.buyer_id))
        await session.commit()
        assert "Ask the platform to decide" in text_of((await client.get(f"/disputes/{dispute_id}")).text)
        r = await client.post(f"/disputes/{dispute_id}/escalate", data=form(client))
        assert r.status_code == 303
        assert (await _dispute(session, so_id)).status == "escalated"
        # the buyer is no operator
        assert (await client.get(f"/ops/disputes/{dispute_id}")).status_code == 403

        await login_as(client, session, await session.get(User, operator_id))
        await session.commit()
        text = text_of((await client.get("/ops")).text)
        assert "1 disputes to rule" in text
        text = text_of((await client.get("/ops/disputes")).text)
        assert f"Dispute #{dispute_id}" in text and "To rule 1" in text
        page = await client.get(f"/ops/disputes/{dispute_id}")
        text = text_of(page.text)
        assert "As pictured in the listing." in text and "We checked it before shipping." in text
        assert (
            "payment_captured" in text and "Escalated to the marketplace" in text
        )  # ledger and order timeline
        assert "Amount for a partial refund (USD)" in text
        # the amount is typed as a decimal in the dispute's currency; anything else is named
        r = await client.post(
            f"/ops/disputes/{dispute_id}/ruling",
            data=form(client, outcome="refund_partial", amount="four", reason="Partly as described."),
        )
        assert r.status_code == 303
        assert "must be an amount like 12.50" in text_of(
            (await client.get(f"/ops/disputes/{dispute_id}")).text
        )
        assert (await _dispute(session, so_id)).status == "escalated"
        r = await client.post(
            f"/ops/disputes/{dispute_id}/ruling",
            data=form(client, outcome="refund_partial", amount="4.00", reason="Partly as described."),
        )
        assert r.status_code == 303
        d = await _dispute(session, so_id)
        assert (d.outcome, d.resolved_amount) == ("refund_partial", 400)
        assert await _status(session, so_id) == "shipped"
        assert total > 400
        await login_as(client, session, await session.get(User, m.buyer_id))
        await session.commit()
        text = text_of((await client.get(f"/orders/{order_id}")).text)
        assert "Refund of US$10.00 requested: not as described" in text
        assert "The seller rejected the refund request: As pictured in the listing." in text
        assert "Escalated to the marketplace" in text and "The marketplace ruled: refund US$4.00" in text

    async def test_return_through_the_pages(self, client, session, market, buy):
        m, order_id, so_id, store_id, total = await _setup(session, market, buy)
        buyer_id, seller_id = m.buyer_id, m.seller_of(store_id).user_id
        await login_as(client, session, await session.get(User, buyer_id))
        await session.commit()
        r = await client.post(
            "/disputes", data=form(client, seller_order_id=so_id, reason="damaged", wants_return="1")
        )
        assert r.status_code == 303
        dispute_id = (await _dispute(session, so_id)).id

        await login_as(client, session, await session.get(User, seller_id))
        await session.commit()
        base = f"/seller/stores/{store_id}/disputes/{dispute_id}"
        assert "Accept the return" in text_of((await client.get(base)).text)
        r = await client.post(
            f"{base}/accept", data=form(client, return_address="Returns, 1 Main St, Berlin")
        )
        assert r.status_code == 303
        assert (await _dispute(session, so_id)).status == "awaiting_return"

        await login_as(client, session, await session.get(User, buyer_id))
        await session.commit()
        text = text_of((await client.get(f"/disputes/{dispute_id}")).text)
        assert "Returns, 1 Main St, Berlin" in text
        assert "Add the return tracking number" in text and "or the request closes without a refund" in text
        r = await client.post(
            f"/disputes/{dispute_id}/return-tracking", data=form(client, tracking_number="RT55501")
        )
        assert r.status_code == 303
        assert (await _dispute(session, so_id)).return_tracking_number == "RT55501"

        await login_as(client, session, await session.get(User, seller_id))
        await session.commit()
        r = await client.post(f"{base}/return-received", data=form(client))
        assert r.status_code == 303
        d = await _dispute(session, so_id)
        assert (d.outcome, d.resolved_amount) == ("refund_full", total)
        assert await _status(session, so_id) == "refunded"
        await login_as(client, session, await session.get(User, buyer_id))
        await session.commit()
        text = text_of((await client.get(f"/orders/{order_id}")).text)
        whole = format_money(total, "USD", MESSAGE_LOCALE)
        assert f"Refund of {whole} requested: damaged; the buyer offers to return the item" in text
        assert "Return accepted: send the item to Returns, 1 Main St, Berlin" in text
        assert "Item returned, tracking number RT55501" in text
        assert (
            f"Returned item received; the seller refunded {format_money(total, 'USD', MESSAGE_LOCALE)}"
            in text
        )
