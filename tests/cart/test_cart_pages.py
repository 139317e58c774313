"""The cart pages: add from the product page (guest or user), the cart page's forms, the guest cart merged at
login and registration, the header counter."""

from __future__ import annotations

import html
import re
from http.cookies import SimpleCookie

import httpx
from sqlalchemy import select

from fixtures.core import form, login_as
from fixtures.factories import PASSWORD
from souk.cart.service import cart_service
from souk.models import Cart, Product, Sku
from souk.web.buyer.cart import CART_COOKIE


def set_cookie(response: httpx.Response, name: str) -> SimpleCookie | None:
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        if name in cookie:
            return cookie
    return None


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def badge(page: str) -> str | None:
    match = re.search(
        r'<a class="counter" href="/cart">Cart(?: <span class="count-badge"[^>]*>(\d+)</span>)?</a>', page
    )
    assert match is not None, "no cart link in the header"
    return match.group(1)


async def product_of(session, sku: Sku) -> Product:  # type: ignore[no-untyped-def]
    product = await session.get(Product, sku.product_id)
    assert product is not None
    return product


class TestAddFromProductPage:
    async def test_guest_adds_and_sees_the_cart(self, client, session, store_factory, sku_factory):
        store = await store_factory(name="Corner Shop")
        sku = await sku_factory(store, price_amount=1250, on_hand=7, title="Clay mug")
        product = await product_of(session, sku)
        sku_id, path = sku.id, f"/p/{product.id}/{product.slug}"
        await session.commit()

        page = await client.get(path)
        assert badge(page.text) is None
        assert '<form class="buy-form" method="post" action="/cart/items">' in page.text
        assert f'<input type="hidden" name="sku_id" value="{sku_id}">' in page.text
        assert f'name="csrf_token" value="{client.csrf}"' in page.text
        assert (
            'max="7"' in page.text
            and '<button type="submit" class="button cart">Add to cart</button>' in page.text
        )

        r = await client.post("/cart/items", data=form(client, sku_id=sku_id, quantity=2, next=path))
        assert r.status_code == 303 and r.headers["location"] == "/cart"
        cookie = set_cookie(r, CART_COOKIE)
        assert cookie is not None
        morsel = cookie[CART_COOKIE]
        assert morsel["httponly"] and morsel["samesite"].lower() == "lax" and morsel["path"] == "/"
        assert morsel["max-age"] == str(30 * 24 * 3600)
        cart = await session.scalar(select(Cart).where(Cart.user_id.is_(None)))
        assert cart is not None and cart.guest_token_hash != morsel.value
        # adding again keeps the same cart and renews the cookie's lifetime
        r = await client.post("/cart/items", data=form(client, sku_id=sku_id, quantity=1, next=path))
        renewed = set_cookie(r, CART_COOKIE)
        assert renewed is not None and renewed[CART_COOKIE].value == morsel.value

        page = await client.get("/cart")
        text = text_of(page.text)
        assert page.status_code == 200 and "Added to your cart: Clay mug" in text
        assert "Corner Shop" in text and "Clay mug" in text and "US$37.50" in text
        assert 'class="badge badge-market"' in page.text
        assert "Total in USD: US$37.50" in text
        assert badge(page.text) == "1"
        # another visitor without the cookie has an empty cart
        client.cookies.delete(CART_COOKIE)
        assert "Your cart is empty. Browse the market" in text_of((await client.get("/cart")).text)

    async def test_no_variant_chosen_asks_for_the_options(self, client, session, listing_factory):
        product = await listing_factory(
            title="Linen shirt",
            skus=[
                {"code": "R", "price": 3500, "options": {"Colour": "Red"}, "stock": 3},
                {"code": "B", "price": 3600, "options": {"Colour": "Blue"}, "stock": 0},
            ],
        )
        await session.commit()
        page = await client.get(f"/p/{product.id}/linen-shirt")
        assert re.search(
            r'<button type="button" class="button cart" disabled[^>]*>Choose Colour first</button>', page.text
        )
        assert 'action="/cart/items"' not in page.text
        page = await client.get(f"/p/{product.id}/linen-shirt", params={"Colour": "Blue"})
        assert re.search(
            r'<button type="button" class="button cart" disabled[^>]*>Out of stock</button>', page.text
        )
        page = await client.get(f"/p/{product.id}/linen-shirt", params={"Colour": "Red"})
        assert 'action="/cart/items"' in page.text

    async def test_refusal_goes_back_to_the_product_page_with_the_reason(
        self, client, session, user_factory, sku_factory
    ):
        await login_as(client, session, await user_factory())
        sku = await sku_factory(on_hand=3)
        product = await product_of(session, sku)
        sku_id, path = sku.id, f"/p/{product.id}/{product.slug}"
        await session.commit()

        r = await client.post("/cart/items", data=form(client, sku_id=sku_id, quantity=5, next=path))
        assert r.status_code == 303 and r.headers["location"] == path
        page = await client.get(path)
        assert '<div class="flash error" role="status">Only 3 of this item are available.</div>' in page.text
        r = await client.post("/cart/items", data=form(client, sku_id=sku_id, quantity="two", next=path))
        assert r.status_code == 303 and r.headers["location"] == path
        assert "quantity: must be a whole number" in (await client.get(path)).text
        # a page outside the product pages is never a redirect target
        r = await client.post(
            "/cart/items", data=form(client, sku_id=sku_id, quantity=5, next="https://evil.test/")
        )
        assert r.status_code == 409
        assert await session.scalar(select(Cart.id)) is None

    async def test_unknown_variant_is_404_and_csrf_is_checked(self, client, session, sku_factory):
        sku = await sku_factory()
        sku_id = sku.id
        await session.commit()
        r = await client.post("/cart/items", data=form(client, sku_id=2_000_000_000, quantity=1))
        assert r.status_code == 404
        r = await client.post("/cart/items", data={"sku_id": str(sku_id), "quantity": "1"})
        assert r.status_code == 403 and "form expired" in r.text
        # a guest without a cart has no line to change
        r = await client.post(f"/cart/items/{sku_id}", data=form(client, quantity=1, action="update"))
        assert r.status_code == 404 and "This variant is not in your cart." in r.text
        assert await session.scalar(select(Cart.id)) is None


class TestCartPage:
    async def test_update_remove_errors_and_empty_state(
        self, app, client, session, user_factory, store_factory, sku_factory, cart_with
    ):
        user = await user_factory()
        mug = await sku_factory(
            await store_factory(currency="USD"), price_amount=1000, on_hand=4, title="Mug"
        )
        tea = await sku_factory(await store_factory(currency="EUR"), price_amount=500, on_hand=9, title="Tea")
        await cart_with(user, (mug, 1), (tea, 2))
        await login_as(client, session, user)
        mug_id, tea_id = mug.id, tea.id
        await session.commit()

        page = await client.get("/cart")
        text = text_of(page.text)
        assert "Paying in EUR" in text and "Paying in USD" in text
        assert "one checkout covers one currency group" in text and "2 currency groups: EUR, USD" in text
        # one button per currency group links to that group's checkout
        assert '<a class="button" href="/checkout?currency=EUR">Checkout (EUR)</a>' in page.text
        assert '<a class="button" href="/checkout?currency=USD">Checkout (USD)</a>' in page.text
        assert f'<form class="cart-qty" method="post" action="/cart/items/{mug_id}">' in page.text
        assert 'name="action" value="update"' in page.text and 'name="action" value="remove"' in page.text
        assert badge(page.text) == "2"

        r = await client.post(f"/cart/items/{mug_id}", data=form(client, quantity=3, action="update"))
        assert r.status_code == 303 and r.headers["location"] == "/cart"
        page = await client.get("/cart")
        assert "Quantity of Mug set to 3" in page.text and "Total in USD: US$30.00" in text_of(page.text)

        r = await client.post(f"/cart/items/{mug_id}", data=form(client, quantity=7, action="update"))
        assert r.status_code == 409
        assert f'<p class="error" id="e-line-{mug_id}">Only 4 available</p>' in r.text
        assert f'value="7" aria-invalid="true" aria-describedby="e-line-{mug_id}"' in r.text
        assert "Only 4 of this item are available" in r.text
        r = await client.post(f"/cart/items/{mug_id}", data=form(client, quantity="", action="update"))
        assert r.status_code == 422 and "must be a whole number" in r.text

        r = await client.post(f"/cart/items/{tea_id}", data=form(client, quantity=2, action="remove"))
        assert r.status_code == 303
        page = await client.get("/cart")
        assert "Removed from your cart" in page.text and f'action="/cart/items/{tea_id}"' not in page.text
        assert "Paying in EUR" not in text_of(page.text)
        r = await client.post(f"/cart/items/{tea_id}", data=form(client, action="remove"))
        assert r.status_code == 404
        await client.post(f"/cart/items/{mug_id}", data=form(client, action="remove"))
        page = await client.get("/cart")
        assert "Your cart is empty." in page.text and '<a href="/market">Browse the market</a>' in page.text
        assert badge(page.text) is None

    async def test_warnings_are_shown_next_to_the_line(
        self, client, session, user_factory, sku_factory, cart_with
    ):
        user = await user_factory()
        sku = await sku_factory(price_amount=1000, on_hand=10, title="Lamp")
        await cart_with(user, (sku, 2))
        sku.price_amount = 1500
        await session.flush()
        await login_as(client, session, user)
        await session.commit()
        page = await client.get("/cart")
        assert (
            '<li class="warning warning-price_changed">Price changed since you added it: US$10.00 → US$15.00.</li>'
            in page.text
        )
        assert '<s class="muted" title="Price when you added it">US$10.00</s>' in page.text
        assert "Total in USD: US$30.00" in text_of(page.text)

    async def test_another_users_line_is_not_there(
        self, client, session, user_factory, sku_factory, cart_with
    ):
        owner = await user_factory()
        sku = await sku_factory()
        await cart_with(owner, (sku, 1))
        await login_as(client, session, await user_factory())
        sku_id = sku.id
        await session.commit()
        r = await client.post(f"/cart/items/{sku_id}", data=form(client, quantity=2, action="update"))
        assert r.status_code == 404 and "This variant is not in your cart." in r.text


class TestMergeAtLogin:
    async def test_guest_cart_follows_the_buyer_into_their_account(
        self, client, session, user_factory, sku_factory, cart_with
    ):
        user = await user_factory(email="buyer@example.com")
        kept = await sku_factory(on_hand=10, title="Kettle")
        picked = await sku_factory(on_hand=10, price_amount=2000, title="Teapot")
        await cart_with(user, (kept, 1))
        user_id, picked_id, kept_id = user.id, picked.id, kept.id
        product = await product_of(session, picked)
        path = f"/p/{product.id}/{product.slug}"
        await session.commit()

        await client.post("/cart/items", data=form(client, sku_id=picked_id, quantity=2, next=path))
        await client.post("/cart/items", data=form(client, sku_id=kept_id, quantity=1, next=path))
        assert client.cookies.get(CART_COOKIE)
        r = await client.post("/login", data=form(client, email="buyer@example.com", password=PASSWORD))
        assert r.status_code == 303
        cleared = set_cookie(r, CART_COOKIE)
        assert (
            cleared is not None
            and cleared[CART_COOKIE].value == ""
            and cleared[CART_COOKIE]["max-age"] == "0"
        )
        assert client.cookies.get(CART_COOKIE) is None

        page = await client.get("/cart")
        text = text_of(page.text)
        assert "The 2 items you picked are in your cart" in text
        assert "Teapot" in text and "Kettle" in text and badge(page.text) == "2"
        carts = (await session.scalars(select(Cart))).all()
        assert [c.user_id for c in carts] == [user_id]
        from fixtures.factories import actor_of

        view = await cart_service.get_cart(session, actor_of(await session.get(type(user), user_id)), None)
        assert {line.sku_id: line.quantity for g in view.groups for s in g.stores for line in s.lines} == {
            picked_id: 2,
            kept_id: 2,
        }

    async def test_guest_cart_is_kept_when_registering(self, client, session, sku_factory):
        sku = await sku_factory(on_hand=10, title="Basket")
        product = await product_of(session, sku)
        sku_id, path = sku.id, f"/p/{product.id}/{product.slug}"
        await session.commit()
        await client.post("/cart/items", data=form(client, sku_id=sku_id, quantity=3, next=path))
        r = await client.post(
            "/register",
            data=form(client, email="new@example.com", display_name="New", password="long enough pw"),
        )
        assert r.status_code == 303 and set_cookie(r, CART_COOKIE) is not None
        page = await client.get("/cart")
        assert "The item you picked is in your cart" in page.text and "Basket" in page.text
        assert badge(page.text) == "1"
