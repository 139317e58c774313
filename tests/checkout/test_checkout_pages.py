"""The checkout page: what it shows, placing the order with a one-time form token, declines, errors."""

from __future__ import annotations

import html
import re

from sqlalchemy import func, select

from fixtures.core import form, login_as
from fixtures.orders import CARD_DECLINED, CARD_OK
from souk.kit.clock import utcnow
from souk.models import Order, User


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def form_token(page: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', page)
    assert match is not None, "no one-time token in the form"
    return html.unescape(match.group(1))


def place_fields(client, m, page: str, number: str = CARD_OK, **extra: object) -> dict[str, str]:
    total = re.search(r'name="expected_total_amount" value="(\d+)"', page)
    fields: dict[str, object] = {
        "currency": "USD",
        "form_token": form_token(page),
        "expected_total_amount": total.group(1) if total else "",
        "address_id": str(m.address_id),
        "card_number": number,
        "card_exp_month": "12",
        "card_exp_year": str(utcnow().year + 2),
        "card_cvc": "123",
        "action": "place",
        **{f"shipping.{s}": str(meth) for s, meth in zip(m.store_ids, m.method_ids, strict=True)},
        **extra,
    }
    return form(client, **fields)


async def _orders(session) -> int:
    return int(await session.scalar(select(func.count()).select_from(Order)) or 0)


class TestCheckoutPage:
    async def test_page_shows_stores_shipping_totals_and_test_cards(self, client, session, market):
        m = await market(prices=(2990, 1500), qty=(1, 2), shipping=(490, 0))
        await login_as(client, session, await session.get(User, m.buyer_id))
        await session.commit()
        cart = await client.get("/cart")
        assert '<a class="button" href="/checkout?currency=USD">Checkout (USD)</a>' in cart.text
        r = await client.get("/checkout?currency=USD")
        assert r.status_code == 200
        text = text_of(r.text)
        assert "Checkout · paying in USD" in text
        assert "Shop 1" in text and "Shop 2" in text
        assert "Express · express — US$4.90" in text and "Surface · surface mail — free" in text
        assert "Total to pay US$64.80" in text
        assert "4242 4242 4242 4242 succeeds" in text and "4000 0000 0000 0002 is declined" in text
        assert "Place order and pay US$64.80" in text
        assert "Bea Buyer" in text and 'name="address_id" value="new"' in r.text

    async def test_place_order_and_double_submit_shows_the_same_order(
        self, client, session, market, run_worker, assert_ledger_balanced
    ):
        m = await market()
        await login_as(client, session, await session.get(User, m.buyer_id))
        await session.commit()
        page = (await client.get("/checkout?currency=USD")).text
        fields = place_fields(client, m, page)
        r = await client.post("/checkout", data=fields)
        assert r.status_code == 303
        target = r.headers["location"]
        assert re.fullmatch(r"/orders/\d+", target)
        # the same form again (a double click, or back and submit): the same order, not a second one
        again = await client.post("/checkout", data=fields)
        assert again.status_code == 303 and again.headers["location"] == target
        assert await _orders(session) == 1
        detail = await client.get(target)
        text = text_of(detail.text)
        assert "This order was placed already" in text
        assert "The payment provider is confirming your payment" in text
        assert '<meta http-equiv="refresh" content="3">' in detail.text
        await run_worker()
        detail = text_of((await client.get(target)).text)
        assert "Waiting for the seller to ship — due in 3 days" in detail
        assert "Cancel and get US$34.80 back" in detail
        assert (await client.get("/cart")).text.count('class="cart-line') == 0
        await assert_ledger_balanced(session)

    async def test_declined_card_then_pay_from_the_order_page(self, client, session, market, run_worker):
        m = await market()
        await login_as(client, session, await session.get(User, m.buyer_id))
        await session.commit()
        page = (await client.get("/checkout?currency=USD")).text
        r = await client.post("/checkout", data=place_fields(client, m, page, CARD_DECLINED))
        assert r.status_code == 303
        order_url = r.headers["location"]
        detail = await client.get(order_url)
        text = text_of(detail.text)
        assert "Order placed, but the payment failed: The card was declined." in text
        assert "The last payment failed" in text and "Pay US$64.80 — closes in 30 minutes" in text
        pay_token = form_token(detail.text)
        pay = form(
            client,
            form_token=pay_token,
            card_number="4242 4242 4242 4242",
            card_exp_month="12",
            card_exp_year=str(utcnow().year + 1),
            card_cvc="321",
        )
        r = await client.post(f"{order_url}/pay", data=pay)
        assert r.status_code == 303
        assert "Payment sent" in text_of((await client.get(order_url)).text)
        r = await client.post(f"{order_url}/pay", data=pay)
        assert r.status_code == 303
        await run_worker()
        text = text_of((await client.get(order_url)).text)
        assert "Succeeded · Visa ending 4242" in text
        assert await _orders(session) == 1

    async def test_errors_keep_the_form_and_place_nothing(self, client, session, market):
        m = await market()
        await login_as(client, session, await session.get(User, m.buyer_id))
        await session.commit()
        page = (await client.get("/checkout?currency=USD")).text
        r = await client.post("/checkout", data=place_fields(client, m, page, "1234"))
        assert r.status_code == 422
        assert "enter the 12 to 19 digits of the card number" in text_of(r.text)
        assert 'value="1234"' not in r.text  # card numbers are never echoed back
        fields = place_fields(client, m, page, address_id="new")
        r = await client.post("/checkout", data=fields)
        assert r.status_code == 422 and 'id="e-full_name"' in r.text
        fields = place_fields(client, m, page, expected_total_amount="100")
        r = await client.post("/checkout", data=fields)
        assert r.status_code == 409 and "A price changed since you looked" in text_of(r.text)
        assert await _orders(session) == 0

    async def test_update_totals_places_nothing(self, client, session, market, shipping_method_factory):
        m = await market()
        from souk.models import Store

        store = await session.get(Store, m.store_ids[1])
        pricey = await shipping_method_factory(store, name="Courier", kind="express", price_amount=1500)
        pricey_id = pricey.id
        await login_as(client, session, await session.get(User, m.buyer_id))
        await session.commit()
        page = (await client.get("/checkout?currency=USD")).text
        fields = place_fields(
            client, m, page, action="update", **{f"shipping.{m.store_ids[1]}": str(pricey_id)}
        )
        r = await client.post("/checkout", data=fields)
        assert r.status_code == 200
        assert "Total to pay US$79.80" in text_of(r.text)
        assert await _orders(session) == 0

    async def test_guests_log_in_first_and_empty_groups_go_back_to_the_cart(
        self, client, session, user_factory
    ):
        r = await client.get("/checkout?currency=USD")
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
        await login_as(client, session, await user_factory())
        await session.commit()
        r = await client.get("/checkout?currency=USD")
        assert r.status_code == 303 and r.headers["location"] == "/cart"
        r = await client.get("/checkout?currency=XXX")
        assert r.status_code == 303 and r.headers["location"] == "/cart"
