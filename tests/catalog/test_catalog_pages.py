from __future__ import annotations

import html
import re
from typing import Any

import httpx
from catalog_support import catalog_counts, png_bytes
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import form, login_as
from souk.models import Membership, PriceTier, Product, ProductImage, Sku, Stock


async def _seller(client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, **kw: Any):  # type: ignore[no-untyped-def]
    owner = await user_factory()
    store = await store_factory(owner=owner, **kw)
    await login_as(client, session, owner)
    return store


def _value(page: str, name: str) -> str | None:
    match = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]*)"', page)
    return html.unescape(match.group(1)) if match else None


def _flash(response: httpx.Response) -> str:
    return response.headers.get("set-cookie", "")


class TestProductList:
    async def test_empty_state_and_the_pending_review_banner(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory
    ) -> None:
        store = await _seller(client, session, user_factory, store_factory, status="pending_review")
        r = await client.get(f"/seller/stores/{store.id}/products")
        assert r.status_code == 200
        assert "No products yet. <a" in r.text and "Add your first product" in r.text
        assert (
            "Pending review:</strong> buyers will see your products once an operator approves your store"
            in r.text
        )
        assert 'aria-current="page">All <span class="count">0</span>' in r.text
        archived = await client.get(f"/seller/stores/{store.id}/products", params={"status": "archived"})
        assert "No archived products." in archived.text and "Show all products" in archived.text

    async def test_table_with_status_tabs_and_counts(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, product_factory
    ) -> None:
        store = await _seller(client, session, user_factory, store_factory)
        await product_factory(store, title="Blue vase", status="draft", price_amount=4500, stock=2)
        await product_factory(
            store,
            title="Red mug",
            options=["Size"],
            skus=[
                {"option_values": {"Size": "S"}, "price_amount": 1250, "stock": 4},
                {"option_values": {"Size": "L"}, "price_amount": 1500, "stock": 6},
            ],
        )
        await product_factory(store, title="Old lamp", status="archived")

        r = await client.get(f"/seller/stores/{store.id}/products")
        assert r.status_code == 200
        assert "store-status" not in r.text
        assert [html.unescape(t) for t in re.findall(r'/edit">([^<]+)</a>', r.text)] == [
            "Old lamp",
            "Red mug",
            "Blue vase",
        ]
        assert "US$12.50 – US$15.00" in r.text and ">10</td>" in r.text and "2 variants" in r.text
        for label, number in (("All", 3), ("Drafts", 1), ("Active", 1), ("Archived", 1)):
            assert f'{label} <span class="count">{number}</span>' in r.text

        drafts = await client.get(f"/seller/stores/{store.id}/products", params={"status": "draft"})
        assert re.findall(r'/edit">([^<]+)</a>', drafts.text) == ["Blue vase"]
        assert 'class="current" aria-current="page">Drafts' in drafts.text

    async def test_pages_of_twenty(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        user_factory,
        store_factory,
        product_factory,
        category_factory,
    ) -> None:
        store = await _seller(client, session, user_factory, store_factory)
        category = await category_factory()
        for n in range(21):
            await product_factory(store, category=category, title=f"Item {n:02d}", status="draft")
        first = await client.get(f"/seller/stores/{store.id}/products")
        assert first.text.count('/edit">Item') == 20 and "Item 00" not in first.text
        next_url = html.unescape(re.search(r'href="([^"]+)" rel="next"', first.text).group(1))  # type: ignore[union-attr]
        second = await client.get(next_url)
        assert re.findall(r'/edit">([^<]+)</a>', second.text) == ["Item 00"]
        assert "First page" in second.text and 'rel="next"' not in second.text

    async def test_another_sellers_store_is_404_and_anonymous_goes_to_login(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory
    ) -> None:
        other_id = (await store_factory()).id
        await session.commit()
        anonymous = await client.get(f"/seller/stores/{other_id}/products")
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
        await _seller(client, session, user_factory, store_factory)
        await session.commit()
        assert (await client.get(f"/seller/stores/{other_id}/products")).status_code == 404
        assert (await client.get(f"/seller/stores/{other_id}/products/new")).status_code == 404
        assert (await client.get(f"/seller/stores/{other_id}/stock")).status_code == 404


class TestNewProduct:
    async def test_form_has_every_section(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, category_factory
    ) -> None:
        store = await _seller(client, session, user_factory, store_factory)
        home = await category_factory(name="Home")
        await category_factory(name="Kitchen", parent=home)
        r = await client.get(f"/seller/stores/{store.id}/products/new")
        assert r.status_code == 200
        for needle in (
            'name="title"',
            'name="category_id"',
            'name="attributes.0.name"',
            'name="options.2"',
            'name="skus.2.price_amount"',
            'name="skus.0.stock"',
            "Price (USD)",
            "Save draft",
            "Save and publish",
            "Add more rows",
            'name="csrf_token"',
        ):
            assert needle in r.text, needle
        assert "\u00a0\u00a0\u00a0Kitchen</option>" in r.text
        assert "Wholesale terms" not in r.text and 'name="moq"' not in r.text

    async def test_a_sourcing_store_gets_the_wholesale_block(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        user_factory,
        organization_factory,
        store_factory,
    ) -> None:
        owner = await user_factory()
        store = await store_factory("sourcing", organization=await organization_factory(owner=owner))
        await login_as(client, session, owner)
        r = await client.get(f"/seller/stores/{store.id}/products/new")
        assert (
            "Wholesale terms" in r.text
            and 'name="moq"' in r.text
            and 'name="price_tiers.0.unit_price_amount"' in r.text
        )

    async def test_save_a_draft_with_decimal_prices(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, category_factory
    ) -> None:
        store = await _seller(client, session, user_factory, store_factory)
        category = await category_factory()
        r = await client.post(
            f"/seller/stores/{store.id}/products/new",
            data=form(
                client,
                **{
                    "title": "Linen napkins",
                    "category_id": category.id,
                    "description": "Set of four",
                    "attributes.0.name": "Material",
                    "attributes.0.value": "Linen",
                    "options.0": "Colour",
                    "skus.0.opt.0": "Sand",
                    "skus.0.price_amount": "12.50",
                    "skus.0.stock": "8",
                    "skus.0.code": "NAP-SAND",
                    "skus.1.opt.0": "Sage",
                    "skus.1.price_amount": "1,499.99",
                    "skus.1.stock": "",
                    "skus.2.price_amount": "",
                    "action": "draft",
                },
            ),
        )
        assert r.status_code == 303, r.text
        product = await session.scalar(select(Product).where(Product.store_id == store.id))
        assert product is not None and r.headers["location"] == f"/seller/products/{product.id}/edit"
        assert (product.status, product.title, product.attributes) == (
            "draft",
            "Linen napkins",
            [{"name": "Material", "value": "Linen"}],
        )
        skus = (await session.scalars(select(Sku).where(Sku.product_id == product.id).order_by(Sku.id))).all()
        assert [(s.code, s.option_values, s.price_amount) for s in skus] == [
            ("NAP-SAND", {"Colour": "Sand"}, 1250),
            ("SKU-1", {"Colour": "Sage"}, 149999),
        ]
        assert (await session.get(Stock, skus[0].id)).on_hand == 8  # type: ignore[union-attr]
        page = await client.get(r.headers["location"])
        assert "Product saved" in page.text
        assert (
            _value(page.text, "skus.0.price_amount") == "12.50"
            and _value(page.text, "skus.1.price_amount") == "1499.99"
        )

    async def test_a_sourcing_listing_with_volume_prices(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        user_factory,
        organization_factory,
        store_factory,
        category_factory,
    ) -> None:
        owner = await user_factory()
        store = await store_factory("sourcing", organization=await organization_factory(owner=owner))
        category = await category_factory()
        await login_as(client, session, owner)
        fields = {
            "title": "Cotton tote",
            "category_id": category.id,
            "skus.0.price_amount": "2.40",
            "skus.0.stock": "20000",
            "moq": "500",
            "lead_time_days": "12",
            "sample_price_amount": "9.90",
            "price_tiers.0.min_quantity": "500",
            "price_tiers.0.unit_price_amount": "2.40",
            "price_tiers.1.min_quantity": "2000",
            "price_tiers.1.unit_price_amount": "2.10",
            "action": "publish",
        }
        r = await client.post(f"/seller/stores/{store.id}/products/new", data=form(client, **fields))
        assert r.status_code == 303, r.text
        product = await session.scalar(select(Product).where(Product.store_id == store.id))
        assert product is not None
        assert (product.moq, product.lead_time_days, product.sample_price_amount) == (500, 12, 990)
        tiers = (
            await session.scalars(
                select(PriceTier).where(PriceTier.product_id == product.id).order_by(PriceTier.min_quantity)
            )
        ).all()
        assert [(t.min_quantity, t.unit_price_amount) for t in tiers] == [(500, 240), (2000, 210)]

        page = await client.get(r.headers["location"])
        assert (
            _value(page.text, "price_tiers.1.unit_price_amount") == "2.10"
            and _value(page.text, "moq") == "500"
        )
        product_id = product.id
        await session.commit()
        rising = {**fields, "price_tiers.1.unit_price_amount": "2.50", "action": "draft"}
        r = await client.post(f"/seller/products/{product_id}/edit", data=form(client, **rising))
        assert r.status_code == 422
        assert 'id="e-price_tiers.1.unit_price_amount">must not be higher than the tier before' in r.text
        assert [
            t.unit_price_amount
            for t in (
                await session.scalars(
                    select(PriceTier)
                    .where(PriceTier.product_id == product_id)
                    .order_by(PriceTier.min_quantity)
                )
            ).all()
        ] == [240, 210]

    async def test_save_and_publish(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, category_factory
    ) -> None:
        store = await _seller(client, session, user_factory, store_factory)
        category = await category_factory()
        r = await client.post(
            f"/seller/stores/{store.id}/products/new",
            data=form(
                client,
                **{
                    "title": "Paper lantern",
                    "category_id": category.id,
                    "skus.0.price_amount": "7",
                    "skus.0.stock": "3",
                    "action": "publish",
                },
            ),
        )
        assert r.status_code == 303
        product = await session.scalar(select(Product).where(Product.store_id == store.id))
        assert product is not None and product.status == "active" and product.min_price_amount == 700
        assert "Product saved and published" in (await client.get(r.headers["location"])).text

    async def test_add_more_rows_keeps_the_values(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, category_factory
    ) -> None:
        store = await _seller(client, session, user_factory, store_factory)
        category = await category_factory()
        r = await client.post(
            f"/seller/stores/{store.id}/products/new",
            data=form(
                client,
                **{
                    "title": "Wool scarf",
                    "category_id": category.id,
                    "options.0": "Colour",
                    "extra": "3",
                    "skus.0.opt.0": "Grey",
                    "skus.0.price_amount": "30.00",
                    "skus.2.opt.0": "Navy",
                    "skus.2.price_amount": "32.00",
                    "action": "more",
                },
            ),
        )
        assert r.status_code == 200
        assert _value(r.text, "title") == "Wool scarf" and _value(r.text, "options.0") == "Colour"
        # the filled rows come first, then 6 empty ones (3 + 3 more)
        assert _value(r.text, "skus.0.opt.0") == "Grey" and _value(r.text, "skus.1.opt.0") == "Navy"
        assert 'name="skus.7.price_amount"' in r.text and 'name="skus.8.price_amount"' not in r.text
        assert _value(r.text, "extra") == "6"
        assert f'<option value="{category.id}" selected' in r.text
        assert (await catalog_counts(session))["Product"] == 0

    async def test_errors_are_shown_next_to_fields_and_nothing_is_saved(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, category_factory
    ) -> None:
        store = await _seller(client, session, user_factory, store_factory)
        category_id = (await category_factory()).id
        store_id = store.id
        await session.commit()
        before = await catalog_counts(session)
        r = await client.post(
            f"/seller/stores/{store_id}/products/new",
            data=form(
                client,
                **{
                    "title": "Clay pot",
                    "category_id": category_id,
                    "options.0": "Size",
                    "skus.0.opt.0": "S",
                    "skus.0.price_amount": "12.5x",
                    "skus.0.stock": "-4",
                    "skus.1.opt.0": "s",
                    "skus.1.price_amount": "9.99",
                    "skus.2.opt.1": "Blue",
                    "skus.2.price_amount": "3",
                    "action": "draft",
                },
            ),
        )
        assert r.status_code == 422
        assert "error-summary" in r.text
        assert 'id="e-skus.0.price_amount">enter an amount like 12.50' in r.text
        assert 'id="e-skus.2.opt.1">name option 2 first' in r.text
        assert _value(r.text, "skus.0.price_amount") == "12.5x" and _value(r.text, "title") == "Clay pot"
        assert await catalog_counts(session) == before

        r = await client.post(
            f"/seller/stores/{store_id}/products/new",
            data=form(
                client,
                **{
                    "title": "Clay pot",
                    "category_id": category_id,
                    "options.0": "Size",
                    "skus.0.opt.0": "S",
                    "skus.0.price_amount": "12.50",
                    "skus.0.stock": "-4",
                    "skus.1.opt.0": "s",
                    "skus.1.price_amount": "9.99",
                    "action": "draft",
                },
            ),
        )
        assert r.status_code == 422
        assert 'id="e-skus.0.stock">Input should be greater than or equal to 0' in r.text
        assert await catalog_counts(session) == before

        r = await client.post(
            f"/seller/stores/{store_id}/products/new",
            data=form(
                client,
                **{
                    "title": "Clay pot",
                    "category_id": "987654",
                    "options.0": "Size",
                    "skus.0.opt.0": "S",
                    "skus.0.price_amount": "12.50",
                    "skus.1.opt.0": "s",
                    "skus.1.price_amount": "9.99",
                    "action": "draft",
                },
            ),
        )
        assert r.status_code == 422
        assert 'id="e-category">unknown category' in r.text
        assert "another variant already has these options (Size: s)" in r.text
        assert await catalog_counts(session) == before

    async def test_publish_without_a_variant_saves_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, category_factory
    ) -> None:
        store = await _seller(client, session, user_factory, store_factory)
        category_id, store_id = (await category_factory()).id, store.id
        await session.commit()
        r = await client.post(
            f"/seller/stores/{store_id}/products/new",
            data=form(client, title="Nothing to sell", category_id=category_id, action="publish"),
        )
        assert r.status_code == 409 and "Add at least one variant" in r.text
        assert (await catalog_counts(session))["Product"] == 0

    async def test_csrf_is_checked(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, category_factory
    ) -> None:
        store = await _seller(client, session, user_factory, store_factory)
        category_id, store_id = (await category_factory()).id, store.id
        await session.commit()
        r = await client.post(
            f"/seller/stores/{store_id}/products/new",
            data={"title": "x", "category_id": str(category_id), "skus.0.price_amount": "1"},
        )
        assert r.status_code == 403 and (await catalog_counts(session))["Product"] == 0


class TestEditProduct:
    async def test_edit_shows_values_and_saves_changes(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, product_factory
    ) -> None:
        store = await _seller(client, session, user_factory, store_factory)
        product = await product_factory(
            store,
            title="Mug",
            options=["Colour"],
            status="draft",
            skus=[
                {"code": "R", "option_values": {"Colour": "Red"}, "price_amount": 1250, "stock": 5},
                {"code": "B", "option_values": {"Colour": "Blue"}, "price_amount": 1300, "stock": 0},
            ],
        )
        page = await client.get(f"/seller/products/{product.id}/edit")
        assert page.status_code == 200
        assert _value(page.text, "skus.0.price_amount") == "12.50" and _value(page.text, "skus.1.code") == "B"
        red_id, blue_id = _value(page.text, "skus.0.id"), _value(page.text, "skus.1.id")
        assert (
            "5 · adjust" in page.text
            and "Upload images" in page.text
            and 'enctype="multipart/form-data"' in page.text
        )

        r = await client.post(
            f"/seller/products/{product.id}/edit",
            data=form(
                client,
                **{
                    "title": "Big mug",
                    "category_id": product.category_id,
                    "options.0": "Colour",
                    "skus.0.id": red_id,
                    "skus.0.opt.0": "Red",
                    "skus.0.code": "R",
                    "skus.0.price_amount": "14.00",
                    "skus.1.id": blue_id,
                    "skus.1.opt.0": "Blue",
                    "skus.1.code": "B",
                    "skus.1.price_amount": "13.00",
                    "skus.1.remove": "1",
                    "skus.2.opt.0": "White",
                    "skus.2.price_amount": "11.00",
                    "skus.2.stock": "4",
                    "action": "publish",
                },
            ),
        )
        assert r.status_code == 303, r.text
        await session.refresh(product)
        assert (product.title, product.status, product.min_price_amount, product.max_price_amount) == (
            "Big mug",
            "active",
            1100,
            1400,
        )
        codes = (
            await session.scalars(select(Sku.code).where(Sku.product_id == product.id).order_by(Sku.id))
        ).all()
        assert list(codes) == ["R", "SKU-1"]  # blue had no stock history: deleted

    async def test_edit_errors_keep_the_typed_values(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, product_factory
    ) -> None:
        store = await _seller(client, session, user_factory, store_factory)
        product = await product_factory(store, title="Mug", price_amount=1000)
        product_id, category_id = product.id, product.category_id
        sku_id = await session.scalar(select(Sku.id).where(Sku.product_id == product_id))
        await session.commit()
        r = await client.post(
            f"/seller/products/{product_id}/edit",
            data=form(
                client,
                **{
                    "title": "Renamed",
                    "category_id": category_id,
                    "skus.0.id": sku_id,
                    "skus.0.price_amount": "0",
                    "action": "draft",
                },
            ),
        )
        assert r.status_code == 422
        assert _value(r.text, "title") == "Renamed" and _value(r.text, "skus.0.price_amount") == "0"
        assert 'id="e-skus.0.price_amount">Input should be greater than 0' in r.text
        assert "<h1>Mug" in r.text  # the header still shows the saved title
        assert (await session.get(Product, product_id)).title == "Mug"  # type: ignore[union-attr]

    async def test_archive_and_restore_buttons(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, product_factory
    ) -> None:
        store = await _seller(client, session, user_factory, store_factory)
        product = await product_factory(store)
        r = await client.post(f"/seller/products/{product.id}/archive", data=form(client))
        assert r.status_code == 303
        page = await client.get(r.headers["location"])
        assert "Product archived" in page.text and "Restore to draft" in page.text
        r = await client.post(f"/seller/products/{product.id}/restore", data=form(client))
        assert r.status_code == 303
        await session.refresh(product)
        assert product.status == "draft"
        r = await client.post(f"/seller/products/{product.id}/publish", data=form(client))
        await session.refresh(product)
        assert r.status_code == 303 and product.status == "active"

    async def test_staff_can_edit_and_another_seller_gets_404(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        user_factory,
        organization_factory,
        store_factory,
        product_factory,
    ) -> None:
        owner, staff = await user_factory(), await user_factory()
        organization = await organization_factory(owner=owner)
        session.add(Membership(organization_id=organization.id, user_id=staff.id, role="staff"))
        product = await product_factory(
            await store_factory("mall", organization=organization), status="draft"
        )
        product_id = product.id
        await login_as(client, session, staff)
        assert (await client.get(f"/seller/products/{product_id}/edit")).status_code == 200
        r = await client.post(f"/seller/products/{product_id}/archive", data=form(client))
        assert r.status_code == 303

        stranger = await user_factory()
        await login_as(client, session, stranger)
        await session.commit()
        assert (await client.get(f"/seller/products/{product_id}/edit")).status_code == 404
        r = await client.post(f"/seller/products/{product_id}/restore", data=form(client))
        assert r.status_code == 404
        assert (await session.get(Product, product_id)).status == "archived"  # type: ignore[union-attr]


class TestImagesPage:
    async def test_upload_make_primary_and_delete(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        app,
        user_factory,
        store_factory,
        product_factory,
    ) -> None:
        store = await _seller(client, session, user_factory, store_factory)
        product = await product_factory(store)
        r = await client.post(
            f"/seller/products/{product.id}/images",
            data=form(client),
            files=[
                ("files", ("a.png", png_bytes(), "image/png")),
                ("files", ("b.png", png_bytes((300, 300)), "image/png")),
            ],
        )
        assert r.status_code == 303 and r.headers["location"].endswith("/edit#images")
        page = await client.get(r.headers["location"])
        assert "2 images uploaded" in page.text and "2 of 10" in page.text and "Make primary" in page.text
        first, second = (
            await session.scalars(
                select(ProductImage)
                .where(ProductImage.product_id == product.id)
                .order_by(ProductImage.position)
            )
        ).all()
        assert app.state.storage.absolute(second.thumb_path).is_file()

        r = await client.post(f"/seller/products/{product.id}/images/{second.id}/primary", data=form(client))
        assert r.status_code == 303
        await session.refresh(first)
        await session.refresh(second)
        assert (second.position, first.position) == (0, 1)
        listing = await client.get(f"/seller/stores/{store.id}/products")
        assert f'src="/media/{second.thumb_path}"' in listing.text

        r = await client.post(f"/seller/products/{product.id}/images/{first.id}/delete", data=form(client))
        assert r.status_code == 303 and "Image deleted" in (await client.get(r.headers["location"])).text
        remaining = (
            await session.scalars(select(ProductImage.id).where(ProductImage.product_id == product.id))
        ).all()
        assert list(remaining) == [second.id]

    async def test_a_bad_file_re_renders_the_page_with_the_error(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, product_factory
    ) -> None:
        store = await _seller(client, session, user_factory, store_factory)
        product_id = (await product_factory(store, title="Vase")).id
        await session.commit()
        r = await client.post(
            f"/seller/products/{product_id}/images",
            data=form(client),
            files=[("files", ("notes.png", b"not an image at all", "image/png"))],
        )
        assert r.status_code == 422
        assert 'id="e-image">is not a valid image file' in r.text and "<h1>Vase" in r.text
        assert (await catalog_counts(session))["ProductImage"] == 0
