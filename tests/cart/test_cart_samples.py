"""Sourcing samples in the cart: 1 piece at the sample price whatever the MOQ, a line of its own next to the
same SKU's bulk line; the API, the product page's "Request sample" button, the cart page and the guest merge."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from fixtures.core import api_token_for, form, login_as
from fixtures.factories import PASSWORD, actor_of
from souk.cart.errors import CartLineNotFound, SampleNotOffered, SampleQuantityFixed
from souk.cart.service import cart_service
from souk.errors import Conflict
from souk.models import CartLine, Product, Sku, Stock
from souk.web.buyer.cart import CART_COOKIE

SAMPLE = 4500
TIERS = [
    {"min_quantity": 500, "unit_price_amount": 900},
    {"min_quantity": 2000, "unit_price_amount": 800},
]


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture
def bulk(session, store_factory, product_factory):  # type: ignore[no-untyped-def]
    """``await bulk(sample_price_amount=4500, stock=5000)``: (product, sku id) of a sourcing product with
    MOQ 500 priced US$9.00 a piece from 500."""

    async def make(*, sample_price_amount: int | None = SAMPLE, stock: int = 5000, title: str = "Steel bolt"):  # type: ignore[no-untyped-def]
        supplier = await store_factory(trade_model="sourcing", currency="USD", name="Bolt Works")
        fields = {"sample_price_amount": sample_price_amount} if sample_price_amount is not None else {}
        product = await product_factory(
            supplier, title=title, price_amount=1000, stock=stock, moq=500, price_tiers=TIERS, **fields
        )
        sku_id = await session.scalar(select(Sku.id).where(Sku.product_id == product.id))
        return product, sku_id

    return make


def lines_of(view) -> list[tuple[int, bool, int, int]]:  # type: ignore[no-untyped-def]
    return sorted(
        (line.sku_id, line.is_sample, line.quantity, line.unit_price_amount)
        for g in view.groups
        for s in g.stores
        for line in s.lines
    )


class TestSampleService:
    async def test_sample_ignores_the_moq_and_sits_next_to_the_bulk_line(self, session, user_factory, bulk):
        buyer = actor_of(await user_factory())
        _, sku_id = await bulk()
        line = await cart_service.add(session, buyer, None, sku_id, 1, sample=True)
        assert (line.is_sample, line.quantity, line.unit_price_amount, line.line_total_amount) == (
            True,
            1,
            SAMPLE,
            SAMPLE,
        )
        assert (line.min_quantity, line.max_quantity, line.warnings, line.purchasable) == (1, 1, [], True)
        # the bulk line of the same SKU still needs the MOQ, and is priced by tier
        with pytest.raises(Exception) as caught:
            await cart_service.add(session, buyer, None, sku_id, 10)
        assert caught.value.fields == {"quantity": "the minimum order is 500 pieces"}  # type: ignore[attr-defined]
        await cart_service.add(session, buyer, None, sku_id, 500)
        # asking for the sample again keeps one piece
        again = await cart_service.add(session, buyer, None, sku_id, 1, sample=True)
        assert again.quantity == 1
        view = await cart_service.get_cart(session, buyer, None)
        assert lines_of(view) == [(sku_id, False, 500, 900), (sku_id, True, 1, SAMPLE)]
        group = view.groups[0]
        assert (group.total_amount, group.item_count, view.line_count) == (500 * 900 + SAMPLE, 501, 2)
        rows = (await session.scalars(select(CartLine).where(CartLine.sku_id == sku_id))).all()
        assert sorted((r.is_sample, r.quantity, r.unit_price_amount) for r in rows) == [
            (False, 500, 900),
            (True, 1, SAMPLE),
        ]

        # the sample's quantity cannot change; the bulk line's can, and removing one leaves the other
        with pytest.raises(SampleQuantityFixed) as fixed:
            await cart_service.set_quantity(session, buyer, None, sku_id, 3, sample=True)
        assert fixed.value.status_code == 422 and fixed.value.fields == {
            "quantity": "a sample is always 1 piece"
        }
        changed = await cart_service.set_quantity(session, buyer, None, sku_id, 2000)
        assert (changed.is_sample, changed.unit_price_amount) == (False, 800)
        await cart_service.remove(session, buyer, None, sku_id, sample=True)
        view = await cart_service.get_cart(session, buyer, None)
        assert lines_of(view) == [(sku_id, False, 2000, 800)]
        with pytest.raises(CartLineNotFound):
            await cart_service.remove(session, buyer, None, sku_id, sample=True)

    async def test_refusals(self, session, user_factory, bulk, sku_factory):
        buyer = actor_of(await user_factory())
        _, no_sample = await bulk(sample_price_amount=None)
        market = await sku_factory(price_amount=1000, on_hand=10)
        _, empty = await bulk(stock=0, title="Sold out bolt")
        _, offered = await bulk()
        with pytest.raises(SampleNotOffered) as caught:
            await cart_service.add(session, buyer, None, no_sample, 1, sample=True)
        assert caught.value.status_code == 422
        assert caught.value.fields == {"sample": "the supplier offers no sample of this product"}
        with pytest.raises(SampleNotOffered) as caught:
            await cart_service.add(session, buyer, None, market.id, 1, sample=True)
        assert caught.value.fields == {"sample": "only sourcing products are sold as samples"}
        with pytest.raises(SampleQuantityFixed):
            await cart_service.add(session, buyer, None, offered, 5, sample=True)
        with pytest.raises(Conflict) as short:
            await cart_service.add(session, buyer, None, empty, 1, sample=True)
        assert short.value.code == "insufficient_stock"
        assert lines_of(await cart_service.get_cart(session, buyer, None)) == []

    async def test_price_changes_compare_with_the_sample_price(self, session, user_factory, bulk):
        buyer = actor_of(await user_factory())
        product, sku_id = await bulk()
        await cart_service.add(session, buyer, None, sku_id, 500)
        await cart_service.add(session, buyer, None, sku_id, 1, sample=True)
        product = await session.get(Product, product.id)
        product.sample_price_amount = 5000
        await session.flush()
        view = await cart_service.get_cart(session, buyer, None)
        sample, bulk_line = sorted(view.groups[0].stores[0].lines, key=lambda line: not line.is_sample)
        [warning] = sample.warnings
        assert (warning.kind, warning.blocking) == ("price_changed", False)
        assert (warning.old_unit_price_amount, warning.new_unit_price_amount) == (SAMPLE, 5000)
        assert (sample.unit_price_amount, sample.line_total_amount) == (5000, 5000)
        assert bulk_line.warnings == [] and bulk_line.unit_price_amount == 900
        # no sample offered any more: the sample line is blocked, the bulk line is not
        product.sample_price_amount = None
        await session.flush()
        view = await cart_service.get_cart(session, buyer, None)
        sample, bulk_line = sorted(view.groups[0].stores[0].lines, key=lambda line: not line.is_sample)
        assert [(w.kind, w.blocking) for w in sample.warnings] == [("sample_unavailable", True)]
        assert sample.purchasable is False and bulk_line.purchasable is True
        assert view.groups[0].total_amount == 500 * 900

    async def test_sample_needs_a_unit_in_stock(self, session, user_factory, bulk):
        buyer = actor_of(await user_factory())
        _, sku_id = await bulk(stock=3)  # fewer than the MOQ: only a sample can be bought
        line = await cart_service.add(session, buyer, None, sku_id, 1, sample=True)
        assert line.purchasable and line.available == 3
        stock = await session.scalar(select(Stock).where(Stock.sku_id == sku_id))
        stock.reserved = 3
        await session.flush()
        view = await cart_service.get_cart(session, buyer, None)
        [line] = view.groups[0].stores[0].lines
        assert [(w.kind, w.blocking) for w in line.warnings] == [("out_of_stock", True)]


class TestSampleApi:
    async def test_add_read_change_and_remove(self, client, session, user_factory, bulk):
        headers = await api_token_for(session, await user_factory())
        _, sku_id = await bulk()
        await session.commit()

        r = await client.post("/api/v1/cart/items", json={"sku_id": sku_id, "sample": True}, headers=headers)
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["is_sample"], body["quantity"], body["unit_price_amount"], body["min_quantity"]) == (
            True,
            1,
            SAMPLE,
            1,
        )
        r = await client.post("/api/v1/cart/items", json={"sku_id": sku_id, "quantity": 500}, headers=headers)
        assert r.status_code == 201 and r.json()["is_sample"] is False
        cart = (await client.get("/api/v1/cart", headers=headers)).json()
        lines = cart["groups"][0]["stores"][0]["lines"]
        assert sorted((x["is_sample"], x["quantity"], x["line_total_amount"]) for x in lines) == [
            (False, 500, 450_000),
            (True, 1, SAMPLE),
        ]
        assert cart["groups"][0]["total_amount"] == 450_000 + SAMPLE

        r = await client.patch(
            f"/api/v1/cart/items/{sku_id}?sample=true", json={"quantity": 2}, headers=headers
        )
        assert r.status_code == 422
        assert r.json() == {
            "error": "sample_quantity",
            "message": "A sample is always one piece.",
            "fields": {"quantity": "a sample is always 1 piece"},
        }
        r = await client.patch(f"/api/v1/cart/items/{sku_id}", json={"quantity": 600}, headers=headers)
        assert r.status_code == 200 and (r.json()["is_sample"], r.json()["quantity"]) == (False, 600)
        r = await client.delete(f"/api/v1/cart/items/{sku_id}?sample=true", headers=headers)
        assert r.status_code == 204
        cart = (await client.get("/api/v1/cart", headers=headers)).json()
        lines = cart["groups"][0]["stores"][0]["lines"]
        assert [(x["is_sample"], x["quantity"]) for x in lines] == [(False, 600)]
        r = await client.delete(f"/api/v1/cart/items/{sku_id}?sample=true", headers=headers)
        assert r.status_code == 404 and r.json()["error"] == "cart_line_not_found"

    async def test_refusals(self, client, session, user_factory, bulk, sku_factory):
        headers = await api_token_for(session, await user_factory())
        _, no_sample = await bulk(sample_price_amount=None)
        market_sku = (await sku_factory(on_hand=10)).id
        _, offered = await bulk()
        await session.commit()

        r = await client.post(
            "/api/v1/cart/items", json={"sku_id": no_sample, "sample": True}, headers=headers
        )
        assert r.status_code == 422
        assert r.json()["error"] == "sample_not_offered"
        assert r.json()["fields"] == {"sample": "the supplier offers no sample of this product"}
        r = await client.post(
            "/api/v1/cart/items", json={"sku_id": market_sku, "sample": True}, headers=headers
        )
        assert r.status_code == 422
        assert r.json()["fields"] == {"sample": "only sourcing products are sold as samples"}
        r = await client.post(
            "/api/v1/cart/items", json={"sku_id": offered, "quantity": 3, "sample": True}, headers=headers
        )
        assert r.status_code == 422 and r.json()["fields"] == {"quantity": "a sample is always 1 piece"}
        r = await client.post(
            "/api/v1/cart/items", json={"sku_id": offered, "sample": "perhaps"}, headers=headers
        )
        assert r.status_code == 422 and "sample" in r.json()["fields"]
        cart = (await client.get("/api/v1/cart", headers=headers)).json()
        assert cart["groups"] == []


class TestSamplePages:
    async def test_request_sample_button_and_the_cart_line(self, client, session, user_factory, bulk):
        user = await user_factory()
        product, sku_id = await bulk()
        path = f"/p/{product.id}/{product.slug}"
        await login_as(client, session, user)
        await session.commit()

        page = await client.get(path)
        assert page.status_code == 200
        assert '<form class="sample-form" method="post" action="/cart/items">' in page.text
        assert '<input type="hidden" name="sample" value="1">' in page.text
        assert "Request sample (US$45.00)" in page.text

        r = await client.post("/cart/items", data=form(client, sku_id=sku_id, sample=1, next=path))
        assert r.status_code == 303 and r.headers["location"] == "/cart"
        assert "A sample is in your cart: Steel bolt" in text_of((await client.get("/cart")).text)
        r = await client.post("/cart/items", data=form(client, sku_id=sku_id, quantity=500, next=path))
        assert r.status_code == 303
        page = await client.get("/cart")
        text = text_of(page.text)
        # each line from its opening tag to its total
        sample_li = page.text.split(f'id="line-{sku_id}-sample"')[1].split('class="cart-line-total"')[0]
        assert '<span class="badge badge-sample">Sample</span>' in sample_li
        assert 'name="quantity"' not in sample_li and "1 sample piece" in sample_li
        assert '<input type="hidden" name="sample" value="1">' in sample_li
        assert "US$45.00" in sample_li
        bulk_li = page.text.split(f'id="line-{sku_id}"')[1].split('class="cart-line-total"')[0]
        assert f'id="qty-{sku_id}" name="quantity"' in bulk_li and "Sample" not in bulk_li
        assert "Total in USD: US$4,545.00" in text

        # the sample's form only removes it; its quantity cannot be changed
        r = await client.post(
            f"/cart/items/{sku_id}", data=form(client, sample=1, quantity=4, action="update")
        )
        assert r.status_code == 422 and "A sample is always one piece." in r.text
        assert f'<p class="error" id="e-line-{sku_id}-sample">A sample is always 1 piece</p>' in r.text
        r = await client.post(f"/cart/items/{sku_id}", data=form(client, sample=1, action="remove"))
        assert r.status_code == 303
        view = await cart_service.get_cart(session, actor_of(user), None)
        assert lines_of(view) == [(sku_id, False, 500, 900)]

    async def test_no_button_without_a_sample_price_and_refusal_goes_back(
        self, client, session, user_factory, bulk
    ):
        product, sku_id = await bulk(sample_price_amount=None)
        path = f"/p/{product.id}/{product.slug}"
        await login_as(client, session, await user_factory())
        await session.commit()
        page = await client.get(path)
        assert "Request sample" not in page.text and 'class="sample-form"' not in page.text
        r = await client.post("/cart/items", data=form(client, sku_id=sku_id, sample=1, next=path))
        assert r.status_code == 303 and r.headers["location"] == path
        page = await client.get(path)
        assert "The supplier offers no sample of this product" in page.text

    async def test_guest_merge_keeps_samples_apart(self, client, session, user_factory, bulk):
        user = await user_factory(email="sampler@example.com")
        product, sku_id = await bulk()
        _, other = await bulk(title="Brass nut")
        # the user's cart already holds a bulk line of the SKU the guest samples, and a sample of the other
        await cart_service.add(session, actor_of(user), None, sku_id, 600)
        await cart_service.add(session, actor_of(user), None, other, 1, sample=True)
        user_id = user.id
        path = f"/p/{product.id}/{product.slug}"
        await session.commit()

        await client.post("/cart/items", data=form(client, sku_id=sku_id, sample=1, next=path))
        await client.post("/cart/items", data=form(client, sku_id=sku_id, quantity=500, next=path))
        await client.post("/cart/items", data=form(client, sku_id=other, sample=1, next=path))
        assert client.cookies.get(CART_COOKIE)
        r = await client.post("/login", data=form(client, email="sampler@example.com", password=PASSWORD))
        assert r.status_code == 303

        view = await cart_service.get_cart(session, actor_of(await session.get(type(user), user_id)), None)
        # bulk quantities add up; samples stay one piece each, on their own lines
        assert lines_of(view) == sorted(
            [(sku_id, False, 1100, 900), (sku_id, True, 1, SAMPLE), (other, True, 1, SAMPLE)]
        )
