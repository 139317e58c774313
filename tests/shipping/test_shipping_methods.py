"""Shipping methods per store: service rules and quotes, the API, the seller page, the product page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fixtures.catalog import seller_actor
from fixtures.core import api_token_for, form, login_as
from fixtures.factories import actor_of
from souk.errors import Forbidden, Invalid, NotFound
from souk.models import Product, ShippingMethod
from souk.shipping.schemas import ShippingMethodCreate, ShippingMethodUpdate
from souk.shipping.service import ShippingMethodNotFound, quote, shipping_service


class TestService:
    async def test_crud_and_what_buyers_see(self, session, store_factory):
        store = await store_factory(currency="USD")
        owner = await seller_actor(session, store)
        standard = await shipping_service.create(
            session,
            owner,
            store.id,
            ShippingMethodCreate(
                name="Standard", kind="surface", price_amount=490, free_over_amount=5000, position=2
            ),
        )
        express = await shipping_service.create(
            session,
            owner,
            store.id,
            ShippingMethodCreate(name="Express", kind="express", price_amount=1290, position=1),
        )
        hidden = await shipping_service.create(
            session,
            owner,
            store.id,
            ShippingMethodCreate(name="Pallet", kind="surface", price_amount=0, active=False),
        )
        assert (standard.currency, standard.active) == ("USD", True)
        offered = await shipping_service.methods_for_store(session, store.id)
        assert [m.name for m in offered] == ["Express", "Standard"]
        assert [m.name for m in (await shipping_service.seller_view(session, owner, store.id)).methods] == [
            "Pallet",
            "Express",
            "Standard",
        ]
        assert (await shipping_service.methods_for_stores(session, [store.id, 999]))[999] == []

        updated = await shipping_service.update(
            session,
            owner,
            store.id,
            standard.id,
            ShippingMethodUpdate.model_validate({"free_over_amount": None, "price_amount": 590}),
        )
        assert (updated.free_over_amount, updated.price_amount, updated.name) == (None, 590, "Standard")
        with pytest.raises(Invalid) as caught:
            await shipping_service.update(
                session, owner, store.id, standard.id, ShippingMethodUpdate.model_validate({"name": None})
            )
        assert caught.value.fields == {"name": "must not be empty"}

        assert (await shipping_service.method_for_checkout(session, store.id, express.id)).id == express.id
        with pytest.raises(ShippingMethodNotFound):
            await shipping_service.method_for_checkout(session, store.id, hidden.id)
        deleted = await shipping_service.delete(session, owner, store.id, express.id)
        assert deleted.name == "Express" and await session.get(ShippingMethod, express.id) is None

    async def test_quote_is_free_over_the_threshold(self):
        method = ShippingMethod(
            name="Standard", kind="surface", price_amount=490, currency="USD", free_over_amount=5000
        )
        assert [quote(method, subtotal) for subtotal in (0, 4999, 5000, 12000)] == [490, 490, 0, 0]
        flat = ShippingMethod(
            name="Flat", kind="express", price_amount=990, currency="USD", free_over_amount=None
        )
        assert quote(flat, 10**9) == 990

    async def test_roles(self, session, store_factory, organization_factory, member_factory, user_factory):
        org = await organization_factory()
        store = await store_factory(trade_model="crossborder", organization=org)
        staff = actor_of(await member_factory(org, "staff"))
        admin = actor_of(await member_factory(org, "admin"))
        stranger = actor_of(await user_factory())
        payload = ShippingMethodCreate(name="Standard", kind="surface", price_amount=490)
        with pytest.raises(Forbidden):
            await shipping_service.create(session, staff, store.id, payload)
        with pytest.raises(NotFound):
            await shipping_service.create(session, stranger, store.id, payload)
        method = await shipping_service.create(session, admin, store.id, payload)
        view = await shipping_service.seller_view(session, staff, store.id)
        assert view.can_manage is False and [m.id for m in view.methods] == [method.id]
        assert (await shipping_service.seller_view(session, admin, store.id)).can_manage is True
        with pytest.raises(Forbidden):
            await shipping_service.update(
                session, staff, store.id, method.id, ShippingMethodUpdate(price_amount=1)
            )
        with pytest.raises(Forbidden):
            await shipping_service.delete(session, staff, store.id, method.id)
        other = await store_factory(trade_model="crossborder", organization=org)
        with pytest.raises(ShippingMethodNotFound):
            await shipping_service.update(
                session, admin, other.id, method.id, ShippingMethodUpdate(price_amount=1)
            )

    async def test_store_currency_change_needs_a_new_price(self, session, store_factory):
        store = await store_factory(currency="USD")
        owner = await seller_actor(session, store)
        method = await shipping_service.create(
            session,
            owner,
            store.id,
            ShippingMethodCreate(name="Std", kind="surface", price_amount=490, free_over_amount=5000),
        )
        store.currency = "EUR"
        await session.flush()
        assert await shipping_service.methods_for_store(session, store.id) == []
        with pytest.raises(Invalid) as caught:
            await shipping_service.update(
                session, owner, store.id, method.id, ShippingMethodUpdate(name="Standard")
            )
        assert "price_amount" in caught.value.fields
        method = await shipping_service.update(
            session, owner, store.id, method.id, ShippingMethodUpdate(price_amount=450)
        )
        assert (method.currency, method.price_amount, method.free_over_amount) == ("EUR", 450, None)
        assert [m.id for m in await shipping_service.methods_for_store(session, store.id)] == [method.id]


class TestApi:
    async def test_crud_and_public_list(
        self, client, session, store_factory, organization_factory, member_factory, user_factory
    ):
        boss = await user_factory()
        org = await organization_factory(owner=boss)
        store = await store_factory(trade_model="crossborder", organization=org, currency="EUR")
        owner = await api_token_for(session, boss)
        staff = await api_token_for(session, await member_factory(org, "staff"))
        stranger = await api_token_for(session, await user_factory())
        store_id = store.id
        await session.commit()
        base = f"/api/v1/stores/{store_id}/shipping-methods"

        r = await client.post(
            base, json={"name": "Standard", "kind": "surface", "price_amount": 490}, headers=owner
        )
        assert r.status_code == 201, r.text
        standard = r.json()
        assert (standard["currency"], standard["free_over_amount"], standard["active"]) == ("EUR", None, True)
        r = await client.post(
            base,
            json={"name": "Express", "kind": "express", "price_amount": 990, "active": False},
            headers=owner,
        )
        express = r.json()
        r = await client.post(
            base, json={"name": "X", "kind": "air", "price_amount": -1, "free_over_amount": 0}, headers=owner
        )
        assert r.status_code == 422 and set(r.json()["fields"]) == {
            "kind",
            "price_amount",
            "free_over_amount",
        }
        r = await client.post(
            base, json={"name": "Y", "kind": "surface", "price_amount": "4.90"}, headers=owner
        )
        assert r.status_code == 422

        public = await client.get(base)
        assert public.status_code == 200 and [m["name"] for m in public.json()] == ["Standard"]
        r = await client.get(base, params={"include_inactive": "true"}, headers=staff)
        assert [m["name"] for m in r.json()] == ["Standard", "Express"]
        assert (
            await client.get(base, params={"include_inactive": "true"}, headers=stranger)
        ).status_code == 404

        r = await client.patch(
            f"{base}/{express['id']}", json={"active": True, "free_over_amount": 3000}, headers=owner
        )
        assert r.status_code == 200 and (r.json()["active"], r.json()["free_over_amount"]) == (True, 3000)
        r = await client.patch(f"{base}/{express['id']}", json={"price_amount": 1}, headers=staff)
        assert r.status_code == 403 and r.json()["error"] == "role_forbids"
        r = await client.post(base, json={"name": "Z", "kind": "surface", "price_amount": 1}, headers=staff)
        assert r.status_code == 403
        r = await client.delete(f"{base}/{express['id']}", headers=stranger)
        assert r.status_code == 404
        r = await client.delete(f"{base}/{express['id']}", headers=owner)
        assert r.status_code == 204
        r = await client.patch(f"{base}/{express['id']}", json={"price_amount": 1}, headers=owner)
        assert r.status_code == 404 and r.json()["error"] == "shipping_method_not_found"
        assert (
            await client.post(base, json={"name": "A", "kind": "surface", "price_amount": 1})
        ).status_code == 401

    async def test_store_not_open_is_hidden(self, client, session, store_factory):
        store = await store_factory(status="suspended")
        store_id = store.id
        await session.commit()
        r = await client.get(f"/api/v1/stores/{store_id}/shipping-methods")
        assert r.status_code == 404


class TestPages:
    async def test_seller_adds_edits_and_deletes(self, client, session, user_factory, store_factory):
        owner = await user_factory()
        store = await store_factory(owner=owner, currency="USD", name="Tea Corner")
        await login_as(client, session, owner)
        store_id = store.id
        await session.commit()
        base = f"/seller/stores/{store_id}/shipping"

        page = await client.get(base)
        assert page.status_code == 200
        assert (
            "No shipping methods yet." in page.text
            and f'name="csrf_token" value="{client.csrf}"' in page.text
        )
        assert f'href="{base}" class="current">Shipping</a>' in page.text
        assert ">Add shipping method</button>" in page.text

        r = await client.post(
            base,
            data=form(
                client,
                name="Standard",
                kind="surface",
                price_amount="4.90",
                free_over_amount="50",
                active="on",
            ),
        )
        assert r.status_code == 303 and r.headers["location"] == base
        method = await session.scalar(select(ShippingMethod).where(ShippingMethod.store_id == store_id))
        assert method is not None
        assert (method.price_amount, method.free_over_amount, method.kind, method.active) == (
            490,
            5000,
            "surface",
            True,
        )
        method_id = method.id
        page = await client.get(base)
        assert "Shipping method “Standard” added" in page.text
        assert "US$4.90" in page.text and "US$50.00" in page.text

        edit = await client.get(f"{base}/{method_id}/edit")
        assert (
            'value="4.90"' in edit.text
            and 'value="50.00"' in edit.text
            and 'name="active" checked' in edit.text
        )
        r = await client.post(
            f"{base}/{method_id}/edit",
            data=form(client, name="Standard", kind="express", price_amount="0", free_over_amount=""),
        )
        assert r.status_code == 303
        await session.refresh(method)
        assert (method.kind, method.price_amount, method.free_over_amount, method.active) == (
            "express",
            0,
            None,
            False,
        )
        r = await client.post(f"{base}/{method_id}/delete", data=form(client))
        assert r.status_code == 303
        assert "Shipping method “Standard” deleted" in (await client.get(base)).text
        assert await session.scalar(select(ShippingMethod.id)) is None

    async def test_errors_rerender_with_values(
        self, client, session, user_factory, store_factory, shipping_method_factory
    ):
        owner = await user_factory()
        store = await store_factory(owner=owner, currency="JPY")
        method = await shipping_method_factory(store, price_amount=500)
        await login_as(client, session, owner)
        store_id, method_id = store.id, method.id
        await session.commit()
        base = f"/seller/stores/{store_id}/shipping"

        r = await client.post(base, data=form(client, name="", kind="surface", price_amount="4.90"))
        assert r.status_code == 422
        assert 'id="e-price_amount"' in r.text and "enter an amount like 490" in r.text
        assert 'value="4.90"' in r.text and 'class="error-summary"' in r.text
        r = await client.post(base, data=form(client, name="", kind="surface", price_amount="500"))
        assert r.status_code == 422 and 'id="e-name"' in r.text
        r = await client.post(
            f"{base}/{method_id}/edit", data=form(client, name="Std", kind="boat", price_amount="500")
        )
        assert r.status_code == 422 and 'id="e-kind"' in r.text and 'value="Std"' in r.text
        assert (await session.get(ShippingMethod, method_id)).kind == "surface"  # type: ignore[union-attr]

    async def test_staff_sees_the_table_without_forms(
        self, client, session, organization_factory, member_factory, store_factory, shipping_method_factory
    ):
        org = await organization_factory()
        store = await store_factory(trade_model="sourcing", organization=org)
        method = await shipping_method_factory(store, name="Sea freight")
        staff = await member_factory(org, "staff")
        await login_as(client, session, staff)
        store_id, method_id = store.id, method.id
        await session.commit()
        base = f"/seller/stores/{store_id}/shipping"
        page = await client.get(base)
        assert page.status_code == 200 and "Sea freight" in page.text
        assert "Add shipping method" not in page.text and f"{base}/{method_id}/edit" not in page.text
        assert (
            await client.post(base, data=form(client, name="X", kind="surface", price_amount="1"))
        ).status_code == 403
        assert (await client.get(f"{base}/{method_id}/edit")).status_code == 403
        assert (await client.post(f"{base}/{method_id}/delete", data=form(client))).status_code == 403

    async def test_product_page_shows_the_stores_methods(
        self, client, session, store_factory, sku_factory, shipping_method_factory
    ):
        store = await store_factory(currency="USD")
        sku = await sku_factory(store)
        await shipping_method_factory(
            store, name="Standard", kind="surface", price_amount=490, free_over_amount=5000
        )
        await shipping_method_factory(store, name="Express", kind="express", price_amount=1500, position=1)
        await shipping_method_factory(store, name="Hidden", active=False)
        product = await session.get(Product, sku.product_id)
        path = f"/p/{product.id}/{product.slug}"  # type: ignore[union-attr]
        await session.commit()
        page = await client.get(path)
        assert (
            '<p class="store-shipping">Shipping: Standard (surface) US$4.90, free over US$50.00; '
            "Express (express) US$15.00</p>"
        ) in page.text
        assert "Hidden" not in page.text
