from __future__ import annotations

import pytest
from catalog_support import catalog_counts, two_colours
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.catalog import seller_actor
from fixtures.factories import actor_of
from souk.auth.actor import ANONYMOUS, Actor
from souk.catalog.categories import category_service
from souk.catalog.errors import NoActiveSku, ProductNotFound, StatusChangeNotAllowed
from souk.catalog.schemas import (
    CategoryUpdate,
    PriceTiersPut,
    ProductCreate,
    ProductUpdate,
    SkuCreate,
    SkuUpdate,
)
from souk.catalog.service import catalog_service
from souk.errors import Forbidden, Invalid
from souk.inventory.schemas import StockAdjust
from souk.inventory.service import inventory_service
from souk.models import Membership, SearchDocument, Sku, Stock, StockMovement, Store


async def _skus(session: AsyncSession, product_id: int) -> list[Sku]:
    return list(
        (await session.scalars(select(Sku).where(Sku.product_id == product_id).order_by(Sku.id))).all()
    )


class TestCreate:
    async def test_two_variants_with_stock_and_a_search_document(
        self, session: AsyncSession, user_factory, store_factory, category_factory
    ) -> None:
        owner = await user_factory()
        store = await store_factory(owner=owner)
        category = await category_factory(name="Kitchen")

        view = await catalog_service.create(
            session, actor_of(owner), store.id, ProductCreate.model_validate(two_colours(category.id))
        )

        product = view.product
        assert (product.status, product.currency, product.slug) == ("draft", "USD", "stoneware-mug")
        assert (product.min_price_amount, product.max_price_amount) == (1250, 1500)
        assert product.attributes == [{"name": "Material", "value": "Stoneware"}]
        assert [(s.sku.code, s.sku.option_values, s.on_hand, s.reserved) for s in view.skus] == [
            ("MUG-RED", {"Colour": "Red"}, 5, 0),
            ("MUG-BLUE", {"Colour": "Blue"}, 3, 0),
        ]
        movements = (await session.scalars(select(StockMovement).order_by(StockMovement.id))).all()
        assert [(m.kind, m.delta, m.on_hand_after, m.actor_id) for m in movements] == [
            ("initial", 5, 5, owner.id),
            ("initial", 3, 3, owner.id),
        ]
        doc = await session.get(SearchDocument, product.id)
        assert doc is not None and not doc.visible and doc.min_price_amount == 1250
        assert "kitchen" in doc.body and "stoneware" in doc.body

    async def test_codes_are_made_up_when_left_out(
        self, session: AsyncSession, user_factory, store_factory, category_factory
    ) -> None:
        owner = await user_factory()
        store = await store_factory(owner=owner)
        category = await category_factory()
        payload = ProductCreate.model_validate(
            {
                "title": "Tea towel",
                "category_id": category.id,
                "options": ["Size"],
                "skus": [
                    {"option_values": {"Size": "S"}, "price_amount": 500},
                    {"code": "SKU-1", "option_values": {"Size": "M"}, "price_amount": 600},
                    {"option_values": {"Size": "L"}, "price_amount": 700},
                ],
            }
        )
        view = await catalog_service.create(session, actor_of(owner), store.id, payload)
        assert [s.sku.code for s in view.skus] == ["SKU-2", "SKU-1", "SKU-3"]
        assert [s.on_hand for s in view.skus] == [0, 0, 0]
        # no initial stock, no movement
        assert (await catalog_counts(session))["StockMovement"] == 0

    async def test_every_problem_is_reported_and_nothing_is_written(
        self, session: AsyncSession, user_factory, store_factory, category_factory
    ) -> None:
        owner = await user_factory()
        store = await store_factory(owner=owner)
        category = await category_factory()
        before = await catalog_counts(session)
        payload = two_colours(category.id + 1000, currency="EUR", moq=10)
        payload["skus"][1]["option_values"] = {"Colour": "red"}
        payload["skus"].append({"code": "mug-red", "option_values": {}, "price_amount": 900})

        with pytest.raises(Invalid) as caught:
            await catalog_service.create(
                session, actor_of(owner), store.id, ProductCreate.model_validate(payload)
            )

        assert caught.value.status_code == 422
        assert caught.value.fields == {
            "category": "unknown category",
            "currency": "must be the store's currency, USD",
            "skus.1.option_values": "another variant already has these options (Colour: red)",
            "skus.2.code": "'mug-red' is already used by another variant of this product",
            "skus.2.option_values": "needs a value for Colour",
            "moq": "only sourcing stores sell with a minimum order quantity, volume prices, lead times and "
            "samples",
        }
        assert await catalog_counts(session) == before

    async def test_sourcing_listing_with_moq_and_tiers(
        self, session: AsyncSession, user_factory, organization_factory, store_factory, category_factory
    ) -> None:
        owner = await user_factory()
        store = await store_factory("sourcing", organization=await organization_factory(owner=owner))
        category = await category_factory()
        payload = ProductCreate.model_validate(
            {
                "title": "Cotton tote bag",
                "category_id": category.id,
                "skus": [{"price_amount": 250, "stock": 10000}],
                "moq": 500,
                "lead_time_days": 15,
                "sample_price_amount": 900,
                "price_tiers": [
                    {"min_quantity": 500, "unit_price_amount": 250},
                    {"min_quantity": 2000, "unit_price_amount": 210},
                    {"min_quantity": 10000, "unit_price_amount": 210},
                ],
            }
        )
        view = await catalog_service.create(session, actor_of(owner), store.id, payload)
        assert (view.product.moq, view.product.lead_time_days, view.product.sample_price_amount) == (
            500,
            15,
            900,
        )
        assert [(t.min_quantity, t.unit_price_amount) for t in view.tiers] == [
            (500, 250),
            (2000, 210),
            (10000, 210),
        ]

    @pytest.mark.parametrize(
        ("tiers", "moq", "fields"),
        [
            (
                [
                    {"min_quantity": 100, "unit_price_amount": 200},
                    {"min_quantity": 500, "unit_price_amount": 210},
                ],
                100,
                {
                    "price_tiers.1.unit_price_amount": "must not be higher than the tier before: larger orders cannot "
                    "cost more per unit"
                },
            ),
            (
                [{"min_quantity": 50, "unit_price_amount": 200}],
                100,
                {"price_tiers.0.min_quantity": "must be at least the minimum order quantity (100)"},
            ),
            (
                [
                    {"min_quantity": 500, "unit_price_amount": 200},
                    {"min_quantity": 500, "unit_price_amount": 190},
                ],
                1,
                {"price_tiers.1.min_quantity": "must be more than the tier before (500)"},
            ),
        ],
    )
    async def test_bad_tiers_are_refused(
        self,
        session: AsyncSession,
        user_factory,
        organization_factory,
        store_factory,
        category_factory,
        tiers,
        moq,
        fields,
    ) -> None:
        owner = await user_factory()
        store = await store_factory("sourcing", organization=await organization_factory(owner=owner))
        category = await category_factory()
        payload = ProductCreate.model_validate(
            {
                "title": "Tote",
                "category_id": category.id,
                "skus": [{"price_amount": 250}],
                "moq": moq,
                "price_tiers": tiers,
            }
        )
        with pytest.raises(Invalid) as caught:
            await catalog_service.create(session, actor_of(owner), store.id, payload)
        assert caught.value.fields == fields


class TestStatus:
    async def test_publish_archive_restore(self, session: AsyncSession, product_factory) -> None:
        product = await product_factory(status="draft")
        actor = await _owner(session, product.store_id)

        assert (await catalog_service.publish(session, actor, product.id)).product.status == "active"
        assert (await session.get(SearchDocument, product.id)).visible  # type: ignore[union-attr]
        assert (await catalog_service.publish(session, actor, product.id)).product.status == "active"
        assert (await catalog_service.archive(session, actor, product.id)).product.status == "archived"
        assert not (await session.get(SearchDocument, product.id)).visible  # type: ignore[union-attr]
        with pytest.raises(StatusChangeNotAllowed) as caught:
            await catalog_service.publish(session, actor, product.id)
        assert caught.value.status_code == 409 and "Restore it to draft first" in caught.value.message
        assert (await catalog_service.restore(session, actor, product.id)).product.status == "draft"
        with pytest.raises(StatusChangeNotAllowed):
            await catalog_service.restore(session, actor, product.id)

    async def test_publish_needs_an_active_variant(self, session: AsyncSession, product_factory) -> None:
        product = await product_factory(status="draft", skus=[])
        with pytest.raises(NoActiveSku):
            await catalog_service.publish(session, await _owner(session, product.store_id), product.id)
        assert product.status == "draft"

    async def test_visible_to_buyers_only_when_the_store_is_active(
        self, session: AsyncSession, store_factory, product_factory
    ) -> None:
        live = await product_factory(await store_factory(status="active"), title="Live")
        waiting = await product_factory(await store_factory(status="pending_review"), title="Waiting")

        assert waiting.status == "active"
        page = await catalog_service.list_visible(session)
        assert [v.product.title for v in page.items] == ["Live"]
        assert (await session.get(SearchDocument, waiting.id)).visible is False  # type: ignore[union-attr]
        with pytest.raises(ProductNotFound):
            await catalog_service.get_product(session, ANONYMOUS, waiting.id)
        seller = await _owner(session, waiting.store_id)
        assert (await catalog_service.get_product(session, seller, waiting.id)).product.id == waiting.id
        assert (await catalog_service.get_product(session, ANONYMOUS, live.id)).product.id == live.id


class TestPeople:
    async def test_another_seller_gets_404_and_staff_can_edit(
        self, session: AsyncSession, user_factory, organization_factory, store_factory, product_factory
    ) -> None:
        owner, staff, stranger = await user_factory(), await user_factory(), await user_factory()
        organization = await organization_factory(owner=owner)
        session.add(Membership(organization_id=organization.id, user_id=staff.id, role="staff"))
        store = await store_factory("crossborder", organization=organization)
        product = await product_factory(store, status="draft", title="Draft lamp")

        with pytest.raises(ProductNotFound):
            await catalog_service.get_for_seller(session, actor_of(stranger), product.id)
        with pytest.raises(ProductNotFound):
            await catalog_service.update(
                session, actor_of(stranger), product.id, ProductUpdate(title="Mine now")
            )
        with pytest.raises(ProductNotFound):
            await catalog_service.get_product(session, actor_of(stranger), product.id)

        view = await catalog_service.update(
            session, actor_of(staff), product.id, ProductUpdate(title="Desk lamp")
        )
        assert (view.product.title, view.product.slug) == ("Desk lamp", "desk-lamp")

    async def test_read_only_token_cannot_write(
        self, session: AsyncSession, user_factory, store_factory, product_factory
    ) -> None:
        owner = await user_factory()
        product = await product_factory(await store_factory(owner=owner))
        reader = actor_of(owner)
        object.__setattr__(reader, "scopes", frozenset({"read"}))
        with pytest.raises(Forbidden):
            await catalog_service.update(session, reader, product.id, ProductUpdate(title="Changed"))
        assert (await catalog_service.get_for_seller(session, reader, product.id)).product.title != "Changed"


class TestVariants:
    async def test_update_replaces_the_variant_list(
        self, session: AsyncSession, user_factory, store_factory, category_factory
    ) -> None:
        owner = await user_factory()
        actor = actor_of(owner)
        store = await store_factory(owner=owner)
        category = await category_factory()
        payload = two_colours(category.id)
        payload["skus"].append(
            {"code": "MUG-GREEN", "option_values": {"Colour": "Green"}, "price_amount": 1100}
        )
        view = await catalog_service.create(session, actor, store.id, ProductCreate.model_validate(payload))
        red, _blue, _green = (s.sku for s in view.skus)

        update = ProductUpdate.model_validate(
            {
                "options": ["Colour", "Size"],
                "skus": [
                    {"id": red.id, "option_values": {"Colour": "Red", "Size": "L"}, "price_amount": 1300},
                    {"option_values": {"Colour": "Black", "Size": "L"}, "price_amount": 1800, "stock": 7},
                ],
            }
        )
        view = await catalog_service.update(session, actor, view.product.id, update)

        skus = {s.code: s for s in await _skus(session, view.product.id)}
        assert set(skus) == {"MUG-RED", "MUG-BLUE", "SKU-1"}  # green had no history: deleted
        assert skus["MUG-BLUE"].is_active is False  # blue had an initial stock movement: kept, inactive
        assert skus["MUG-RED"].price_amount == 1300 and skus["MUG-RED"].option_values == {
            "Colour": "Red",
            "Size": "L",
        }
        assert (await session.get(Stock, skus["SKU-1"].id)).on_hand == 7  # type: ignore[union-attr]
        assert (await session.get(Stock, red.id)).on_hand == 5  # type: ignore[union-attr]
        assert (view.product.min_price_amount, view.product.max_price_amount) == (1300, 1800)

    async def test_option_values_must_cover_the_options(self, session: AsyncSession, product_factory) -> None:
        product = await product_factory(
            options=["Colour"], skus=[{"option_values": {"Colour": "Red"}, "price_amount": 100}]
        )
        actor = await _owner(session, product.store_id)
        with pytest.raises(Invalid) as caught:
            await catalog_service.update(
                session, actor, product.id, ProductUpdate(options=["Colour", "Size"])
            )
        assert caught.value.fields["options"].endswith("needs a value for Size")

    async def test_codes_can_be_swapped(
        self, session: AsyncSession, user_factory, store_factory, category_factory
    ) -> None:
        owner = await user_factory()
        store = await store_factory(owner=owner)
        view = await catalog_service.create(
            session,
            actor_of(owner),
            store.id,
            ProductCreate.model_validate(two_colours((await category_factory()).id)),
        )
        red, blue = (s.sku for s in view.skus)
        update = ProductUpdate.model_validate(
            {
                "skus": [
                    {
                        "id": red.id,
                        "code": "MUG-BLUE",
                        "option_values": {"Colour": "Red"},
                        "price_amount": 1250,
                    },
                    {
                        "id": blue.id,
                        "code": "MUG-RED",
                        "option_values": {"Colour": "Blue"},
                        "price_amount": 1500,
                    },
                ]
            }
        )
        view = await catalog_service.update(session, actor_of(owner), view.product.id, update)
        assert [(s.sku.id, s.sku.code) for s in view.skus] == [(red.id, "MUG-BLUE"), (blue.id, "MUG-RED")]

    async def test_add_edit_and_remove_single_variants(self, session: AsyncSession, product_factory) -> None:
        product = await product_factory(
            options=["Size"],
            skus=[{"code": "S", "option_values": {"Size": "S"}, "price_amount": 900, "stock": 2}],
        )
        actor = await _owner(session, product.store_id)

        m = await catalog_service.add_sku(
            session, actor, product.id, SkuCreate(option_values={"Size": "M"}, price_amount=1100)
        )
        assert (m.sku.code, m.on_hand) == ("SKU-1", 0)
        with pytest.raises(Invalid) as caught:
            await catalog_service.add_sku(
                session, actor, product.id, SkuCreate(option_values={"Size": "m"}, price_amount=1100)
            )
        assert caught.value.fields == {"option_values": "another variant already has these options (Size: m)"}

        edited = await catalog_service.update_sku(
            session, actor, product.id, m.sku.id, SkuUpdate(price_amount=700)
        )
        assert edited.sku.price_amount == 700
        assert (product.min_price_amount, product.max_price_amount) == (700, 900)

        small = next(s for s in await _skus(session, product.id) if s.code == "S")
        assert await catalog_service.remove_sku(session, actor, product.id, small.id) == "deactivated"
        with pytest.raises(NoActiveSku):
            await catalog_service.remove_sku(session, actor, product.id, m.sku.id)
        await catalog_service.archive(session, actor, product.id)
        assert await catalog_service.remove_sku(session, actor, product.id, m.sku.id) == "deleted"
        assert [s.code for s in await _skus(session, product.id)] == ["S"]

    async def test_price_tiers_only_for_sourcing(
        self, session: AsyncSession, product_factory, organization_factory, store_factory, user_factory
    ) -> None:
        market = await product_factory()
        with pytest.raises(Invalid) as caught:
            await catalog_service.set_price_tiers(
                session,
                await _owner(session, market.store_id),
                market.id,
                PriceTiersPut.model_validate({"tiers": [{"min_quantity": 10, "unit_price_amount": 900}]}),
            )
        assert caught.value.code == "sourcing_only" and "tiers" in caught.value.fields

        owner = await user_factory()
        supplier = await store_factory("sourcing", organization=await organization_factory(owner=owner))
        bulk = await product_factory(supplier, moq=10, price_amount=1000)
        view = await catalog_service.set_price_tiers(
            session,
            actor_of(owner),
            bulk.id,
            PriceTiersPut.model_validate(
                {
                    "tiers": [
                        {"min_quantity": 10, "unit_price_amount": 900},
                        {"min_quantity": 100, "unit_price_amount": 800},
                    ]
                }
            ),
        )
        assert [(t.min_quantity, t.unit_price_amount) for t in view.tiers] == [(10, 900), (100, 800)]
        view = await catalog_service.set_price_tiers(
            session, actor_of(owner), bulk.id, PriceTiersPut(tiers=[])
        )
        assert view.tiers == []


class TestCategories:
    async def test_renaming_a_category_reindexes_its_products(
        self, session: AsyncSession, operator_factory, category_factory, product_factory
    ) -> None:
        parent = await category_factory(name="Home")
        child = await category_factory(name="Kitchen", parent=parent)
        product = await product_factory(category=child)
        await category_service.update(
            session, actor_of(await operator_factory()), parent.id, CategoryUpdate(name="Home and garden")
        )
        doc = await session.get(SearchDocument, product.id)
        await session.refresh(doc)
        assert doc is not None and "home and garden" in doc.body


async def test_stock_adjustment_keeps_the_catalog_intact(session: AsyncSession, product_factory) -> None:
    product = await product_factory(stock=4)
    actor = await _owner(session, product.store_id)
    (sku,) = await _skus(session, product.id)
    info = await inventory_service.adjust(session, actor, sku.id, StockAdjust(delta=6, reason="delivery"))
    assert (info.on_hand, info.reserved) == (10, 0)
    view = await catalog_service.get_for_seller(session, actor, product.id)
    assert [s.on_hand for s in view.skus] == [10]


async def _owner(session: AsyncSession, store_id: int) -> Actor:
    store = await session.get(Store, store_id)
    assert store is not None
    return await seller_actor(session, store)
