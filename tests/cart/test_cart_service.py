"""The cart service: adding within the rules, grouping by currency and store, warnings, guest carts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from fixtures.catalog import seller_actor
from fixtures.factories import actor_of
from souk.auth.actor import Actor
from souk.cart.errors import CartLineNotFound, CartTokenRequired, InsufficientStock, SkuNotForSale
from souk.cart.service import cart_service, new_guest_token
from souk.cart.tasks import purge_guest_carts
from souk.catalog.service import catalog_service
from souk.errors import Forbidden, Invalid
from souk.inventory.schemas import StockAdjust
from souk.inventory.service import inventory_service
from souk.kit.clock import clock, utcnow
from souk.models import Cart, CartLine, Sku
from souk.worker.timers import TIMERS

GUEST = Actor()


class TestAddAndGroup:
    async def test_two_stores_two_currencies_grouped_with_totals(
        self, session, user_factory, store_factory, sku_factory, cart_with
    ):
        buyer = await user_factory()
        usd_a = await store_factory(name="Alpha Goods", currency="USD")
        usd_b = await store_factory(name="Beta Bazaar", currency="USD")
        eur = await store_factory(name="Euro Shop", currency="EUR")
        mug = await sku_factory(usd_a, price_amount=1250, on_hand=10, title="Mug")
        cup = await sku_factory(usd_a, price_amount=300, on_hand=10, title="Cup")
        hat = await sku_factory(usd_b, price_amount=2000, on_hand=10, title="Hat")
        scarf = await sku_factory(eur, price_amount=1999, on_hand=10, title="Scarf")

        view = await cart_with(buyer, (mug, 2), (scarf, 1), (cup, 3), (hat, 1))

        assert [g.currency for g in view.groups] == ["USD", "EUR"]  # the most recently added to first
        usd, euro = view.groups
        assert [s.store_name for s in usd.stores] == ["Beta Bazaar", "Alpha Goods"]
        beta, alpha = usd.stores
        assert [line.title for line in alpha.lines] == ["Cup", "Mug"]
        assert [(line.quantity, line.unit_price_amount, line.line_total_amount) for line in alpha.lines] == [
            (3, 300, 900),
            (2, 1250, 2500),
        ]
        assert (alpha.subtotal_amount, alpha.item_count, alpha.trade_model) == (3400, 5, "market")
        assert (beta.subtotal_amount, beta.item_count) == (2000, 1)
        assert (usd.total_amount, usd.item_count, usd.line_count, usd.blocked) == (5400, 6, 3, False)
        assert (euro.total_amount, euro.stores[0].store_name, euro.line_count) == (1999, "Euro Shop", 1)
        assert (view.line_count, view.item_count) == (4, 7)
        assert "one checkout covers one currency group" in view.note
        assert view.group("EUR") is euro and view.group("GBP") is None
        assert [line.sku_id for line in usd.purchasable_lines] == [hat.id, cup.id, mug.id]
        assert all(line.warnings == [] and line.purchasable for line in usd.purchasable_lines)

    async def test_adding_again_adds_to_the_line(self, session, user_factory, sku_factory):
        buyer = actor_of(await user_factory())
        sku = await sku_factory(on_hand=10)
        await cart_service.add(session, buyer, None, sku.id, 2)
        line = await cart_service.add(session, buyer, None, sku.id, 3)
        assert line.quantity == 5
        count = await session.scalar(select(func.count()).select_from(CartLine))
        assert count == 1

    async def test_line_view_has_title_options_thumbnail_and_product_link(
        self, session, user_factory, listing_factory
    ):
        buyer = actor_of(await user_factory())
        product = await listing_factory(
            title="Linen shirt",
            skus=[{"code": "LS-R", "price": 3500, "options": {"Colour": "Red", "Size": "M"}, "stock": 9}],
            images=2,
        )
        sku_id = await session.scalar(select(Sku.id).where(Sku.product_id == product.id))
        line = await cart_service.add(session, buyer, None, sku_id, 1)
        assert (line.title, line.sku_code, line.options) == (
            "Linen shirt",
            "LS-R",
            {"Colour": "Red", "Size": "M"},
        )
        assert line.thumb_url == f"/media/products/p{product.id}/0_t.jpg"
        assert line.product_url == f"/p/{product.id}/linen-shirt?sku={sku_id}"
        assert (line.available, line.min_quantity, line.max_quantity) == (9, 1, 999)


class TestRules:
    async def test_refuses_more_than_available(self, session, user_factory, sku_factory):
        buyer = actor_of(await user_factory())
        sku = await sku_factory(on_hand=5, reserved=2)
        with pytest.raises(InsufficientStock) as caught:
            await cart_service.add(session, buyer, None, sku.id, 4)
        assert caught.value.status_code == 409 and caught.value.code == "insufficient_stock"
        assert caught.value.available == 3 and caught.value.fields == {"quantity": "only 3 available"}
        await cart_service.add(session, buyer, None, sku.id, 2)
        with pytest.raises(InsufficientStock) as again:
            await cart_service.add(session, buyer, None, sku.id, 2)
        assert "you already have 2 in your cart" in again.value.message
        with pytest.raises(InsufficientStock):
            await cart_service.set_quantity(session, buyer, None, sku.id, 4)
        assert (await cart_service.set_quantity(session, buyer, None, sku.id, 3)).quantity == 3

    async def test_quantity_limits(self, session, user_factory, sku_factory):
        buyer = actor_of(await user_factory())
        sku = await sku_factory(on_hand=5000)
        for bad in (0, -1, 1000):
            with pytest.raises(Invalid) as caught:
                await cart_service.add(session, buyer, None, sku.id, bad)
            assert "quantity" in caught.value.fields
        assert (await cart_service.add(session, buyer, None, sku.id, 999)).quantity == 999

    async def test_invisible_variants_are_not_found(
        self, session, user_factory, store_factory, product_factory, sku_factory
    ):
        buyer = actor_of(await user_factory())
        draft = await product_factory(status="draft")
        archived = await product_factory(status="archived")
        closed = await sku_factory(await store_factory(status="suspended"))
        inactive = await sku_factory()
        inactive.is_active = False
        await session.flush()
        for product_id in (draft.id, archived.id):
            sku_id = await session.scalar(select(Sku.id).where(Sku.product_id == product_id))
            with pytest.raises(SkuNotForSale):
                await cart_service.add(session, buyer, None, sku_id, 1)
        for sku_id in (closed.id, inactive.id, 2_000_000_000):
            with pytest.raises(SkuNotForSale) as caught:
                await cart_service.add(session, buyer, None, sku_id, 1)
            assert caught.value.status_code == 404
        assert await session.scalar(select(func.count()).select_from(Cart)) == 0

    async def test_sourcing_enforces_moq_and_prices_by_tier(
        self, session, user_factory, store_factory, product_factory
    ):
        buyer = actor_of(await user_factory())
        supplier = await store_factory(trade_model="sourcing", currency="CNY")
        product = await product_factory(
            supplier,
            price_amount=1000,
            stock=5000,
            moq=100,
            price_tiers=[
                {"min_quantity": 100, "unit_price_amount": 900},
                {"min_quantity": 500, "unit_price_amount": 800},
            ],
        )
        sku_id = await session.scalar(select(Sku.id).where(Sku.product_id == product.id))
        with pytest.raises(Invalid) as caught:
            await cart_service.add(session, buyer, None, sku_id, 99)
        assert caught.value.status_code == 422 and caught.value.fields == {
            "quantity": "the minimum order is 100 pieces"
        }
        line = await cart_service.add(session, buyer, None, sku_id, 100)
        assert (line.unit_price_amount, line.line_total_amount, line.min_quantity) == (900, 90_000, 100)
        line = await cart_service.set_quantity(session, buyer, None, sku_id, 1500)  # more than 999 is fine
        assert (line.unit_price_amount, line.line_total_amount, line.warnings) == (800, 1_200_000, [])
        with pytest.raises(Invalid):
            await cart_service.set_quantity(session, buyer, None, sku_id, 50)

    async def test_read_only_token_cannot_change_the_cart(self, session, user_factory, sku_factory):
        user = await user_factory()
        sku = await sku_factory()
        reader = Actor(user_id=user.id, scopes=frozenset({"read"}))
        with pytest.raises(Forbidden):
            await cart_service.add(session, reader, None, sku.id, 1)
        assert (await cart_service.get_cart(session, reader, None)).is_empty

    async def test_changing_a_line_not_in_the_cart(self, session, user_factory, sku_factory):
        buyer = actor_of(await user_factory())
        sku = await sku_factory()
        with pytest.raises(CartLineNotFound):
            await cart_service.set_quantity(session, buyer, None, sku.id, 1)
        with pytest.raises(CartLineNotFound):
            await cart_service.remove(session, buyer, None, sku.id)


class TestWarnings:
    async def test_price_change_is_shown_until_the_line_is_changed(self, session, user_factory, sku_factory):
        buyer = actor_of(await user_factory())
        sku = await sku_factory(price_amount=1000)
        await cart_service.add(session, buyer, None, sku.id, 2)
        sku.price_amount = 1200
        await session.flush()
        line = (await cart_service.get_cart(session, buyer, None)).groups[0].stores[0].lines[0]
        assert (line.seen_unit_price_amount, line.unit_price_amount, line.line_total_amount) == (
            1000,
            1200,
            2400,
        )
        [warning] = line.warnings
        assert (
            warning.kind,
            warning.blocking,
            warning.old_unit_price_amount,
            warning.new_unit_price_amount,
        ) == (
            "price_changed",
            False,
            1000,
            1200,
        )
        assert warning.message == "Price changed since you added it: US$10.00 → US$12.00."
        assert line.purchasable
        line = await cart_service.set_quantity(session, buyer, None, sku.id, 1)
        assert line.warnings == [] and line.seen_unit_price_amount == 1200

    async def test_stock_dropping_after_adding(self, session, user_factory, sku_factory):
        buyer = actor_of(await user_factory())
        sku = await sku_factory(on_hand=10, price_amount=500)
        other = await sku_factory(on_hand=10, price_amount=100)
        await cart_service.add(session, buyer, None, sku.id, 6)
        await cart_service.add(session, buyer, None, other.id, 1)
        seller = await seller_actor(session, await store_of(session, sku))

        # 4 left: fewer than the 6 in the cart; the line blocks and leaves the totals
        await inventory_service.adjust(session, seller, sku.id, StockAdjust(delta=-6, reason="broken"))
        view = await cart_service.get_cart(session, buyer, None)
        line = next(line for line in all_lines(view) if line.sku_id == sku.id)
        [warning] = line.warnings
        assert (warning.kind, warning.blocking, warning.available) == ("insufficient_stock", True, 4)
        assert warning.message == "Only 4 left: lower the quantity to 4 or less."
        assert not line.purchasable and line.available == 4
        assert view.groups[0].blocked and view.groups[0].total_amount == 100

        # enough for the line, but few left: information only
        await cart_service.set_quantity(session, buyer, None, sku.id, 3)
        line = (await cart_service.get_cart(session, buyer, None)).groups[0].stores[-1].lines[0]
        assert [(w.kind, w.message, w.blocking) for w in line.warnings] == [
            ("low_stock", "Only 4 left.", False)
        ]

        # reserved by other buyers' orders until nothing is left
        assert await inventory_service.reserve(session, sku.id, 4)
        view = await cart_service.get_cart(session, buyer, None)
        line = next(line for line in all_lines(view) if line.sku_id == sku.id)
        assert [(w.kind, w.message) for w in line.warnings] == [("out_of_stock", "Out of stock now.")]
        assert not line.purchasable

    async def test_product_no_longer_available(self, session, user_factory, sku_factory):
        buyer = actor_of(await user_factory())
        sku = await sku_factory(price_amount=700)
        await cart_service.add(session, buyer, None, sku.id, 1)
        store = await store_of(session, sku)
        await catalog_service.archive(session, await seller_actor(session, store), sku.product_id)
        view = await cart_service.get_cart(session, buyer, None)
        line = view.groups[0].stores[0].lines[0]
        assert [(w.kind, w.blocking) for w in line.warnings] == [("unavailable", True)]
        assert line.warnings[0].message == "No longer available: remove it from your cart."
        assert view.groups[0].total_amount == 0 and view.groups[0].stores[0].subtotal_amount == 0
        with pytest.raises(SkuNotForSale):
            await cart_service.set_quantity(session, buyer, None, sku.id, 2)
        await cart_service.remove(session, buyer, None, sku.id)
        assert (await cart_service.get_cart(session, buyer, None)).is_empty


class TestGuestCart:
    async def test_guest_needs_a_token(self, session, sku_factory):
        sku = await sku_factory()
        with pytest.raises(CartTokenRequired):
            await cart_service.add(session, GUEST, None, sku.id, 1)
        with pytest.raises(CartTokenRequired):
            await cart_service.add(session, GUEST, "short", sku.id, 1)
        assert (await cart_service.get_cart(session, GUEST, None)).is_empty

    async def test_guest_cart_is_found_by_its_token_only(self, session, sku_factory):
        sku = await sku_factory()
        token = new_guest_token()
        await cart_service.add(session, GUEST, token, sku.id, 2)
        cart = await session.scalar(select(Cart))
        assert cart is not None and cart.user_id is None and token not in cart.guest_token_hash
        assert len(cart.guest_token_hash) == 64
        assert (await cart_service.get_cart(session, GUEST, token)).item_count == 2
        assert (await cart_service.get_cart(session, GUEST, new_guest_token())).is_empty
        assert await cart_service.count_lines(session, GUEST, token) == 1

    async def test_merge_adds_quantities_capped_at_stock(self, session, user_factory, sku_factory):
        user = await user_factory()
        buyer = actor_of(user)
        both = await sku_factory(on_hand=5)
        guest_only = await sku_factory(on_hand=10, price_amount=2500)
        gone = await sku_factory(on_hand=10)
        await cart_service.add(session, buyer, None, both.id, 3)
        token = new_guest_token()
        await cart_service.add(session, GUEST, token, both.id, 4)
        await cart_service.add(session, GUEST, token, guest_only.id, 2)
        await cart_service.add(session, GUEST, token, gone.id, 1)
        await catalog_service.archive(
            session, await seller_actor(session, await store_of(session, gone)), gone.product_id
        )

        assert await cart_service.merge_guest(session, user.id, token) == 2
        view = await cart_service.get_cart(session, buyer, None)
        quantities = {line.sku_id: line.quantity for line in all_lines(view)}
        assert quantities == {both.id: 5, guest_only.id: 2}
        assert await session.scalar(select(func.count()).select_from(Cart)) == 1
        # the token is spent
        assert (await cart_service.get_cart(session, GUEST, token)).is_empty
        assert await cart_service.merge_guest(session, user.id, token) == 0

    async def test_merge_into_a_new_account(self, session, user_factory, sku_factory):
        sku = await sku_factory(price_amount=900)
        token = new_guest_token()
        await cart_service.add(session, GUEST, token, sku.id, 2)
        user = await user_factory()
        assert await cart_service.merge_guest(session, user.id, token) == 1
        cart = await session.scalar(select(Cart).where(Cart.user_id == user.id))
        assert cart is not None
        view = await cart_service.get_cart(session, actor_of(user), None)
        assert view.groups[0].total_amount == 1800


class TestHousekeeping:
    async def test_stale_guest_carts_are_purged_by_the_worker_timer(self, session, user_factory, sku_factory):
        assert TIMERS["cart.purge_guest_carts"].sweep is purge_guest_carts
        sku = await sku_factory()
        user = await user_factory()
        old_token, fresh_token = new_guest_token(), new_guest_token()
        await cart_service.add(session, GUEST, old_token, sku.id, 1)
        await cart_service.add(session, actor_of(user), None, sku.id, 1)
        clock.advance(timedelta(days=20))
        await cart_service.add(session, GUEST, fresh_token, sku.id, 1)
        clock.advance(timedelta(days=11))

        assert await purge_guest_carts(session, utcnow()) == 1
        assert (await cart_service.get_cart(session, GUEST, old_token)).is_empty
        assert (await cart_service.get_cart(session, GUEST, fresh_token)).item_count == 1
        assert (await cart_service.get_cart(session, actor_of(user), None)).item_count == 1
        assert await purge_guest_carts(session, utcnow()) == 0


def all_lines(view):  # type: ignore[no-untyped-def]
    return [line for group in view.groups for store in group.stores for line in store.lines]


async def store_of(session, sku):  # type: ignore[no-untyped-def]
    from souk.models import Product, Store

    product = await session.get(Product, sku.product_id)
    return await session.get(Store, product.store_id)
