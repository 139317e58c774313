from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.factories import actor_of
from fixtures.party import pdf_bytes, png_bytes
from souk.auth.actor import ANONYMOUS, Actor
from souk.errors import Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, Unauthenticated
from souk.models import Membership, OrganizationDocument, Product, SearchDocument, Sku, Store
from souk.party.schemas import UploadIn
from souk.party.service import party_service
from souk.search.indexing import index_products
from souk.store.schemas import StoreCreate, StoreUpdate
from souk.store.service import store_service


def market(**kw: object) -> StoreCreate:
    data: dict[str, object] = {
        "name": "Lantern Corner",
        "country": "CN",
        "currency": "CNY",
        "trade_model": "market",
    }
    data.update(kw)
    return StoreCreate.model_validate(data)


async def add_product(
    session: AsyncSession, store: Store, category_id: int, title: str = "Paper lantern"
) -> Product:
    product = Product(
        store_id=store.id,
        category_id=category_id,
        title=title,
        slug="lantern",
        currency=store.currency,
        status="active",
    )
    session.add(product)
    await session.flush()
    session.add(
        Sku(product_id=product.id, code=f"SKU-{product.id}", price_amount=1500, currency=store.currency)
    )
    await session.flush()
    await index_products(session, [product.id])
    return product


class TestOpenMarketStore:
    async def test_personal_market_store_is_active_at_once(self, session, user_factory, app):
        user = await user_factory()
        store = await store_service.create(
            session,
            actor_of(user),
            market(description="Hand-made lanterns"),
            storage=app.state.storage,
            logo=UploadIn(png_bytes(), "logo.png"),
        )
        assert store.status == "active"
        assert store.owner_user_id == user.id and store.organization_id is None
        assert store.slug == "lantern-corner"
        assert store.currency == "CNY" and store.country == "CN"
        assert store.logo_path is not None and store.logo_path.startswith("stores/")
        assert app.state.storage.absolute(store.logo_path).is_file()

    async def test_slug_gets_a_suffix_on_clash(self, session, user_factory):
        first = await store_service.create(session, actor_of(await user_factory()), market(name="Tea House"))
        second = await store_service.create(
            session, actor_of(await user_factory()), market(name="Tea  house!")
        )
        third = await store_service.create(session, actor_of(await user_factory()), market(name="TEA HOUSE"))
        assert [first.slug, second.slug, third.slug] == ["tea-house", "tea-house-2", "tea-house-3"]

    async def test_slug_with_like_wildcards_is_matched_literally(self, session, user_factory, store_factory):
        await store_factory(slug="a_b-2")
        store = await store_service.create(session, actor_of(await user_factory()), market(name="a_b"))
        assert store.slug == "a_b"

    async def test_bad_codes_and_empty_name_name_the_field(self):
        with pytest.raises(ValidationError) as err:
            market(country="XX")
        assert err.value.errors()[0]["loc"] == ("country",)
        with pytest.raises(ValidationError) as err:
            market(currency="ABC")
        assert err.value.errors()[0]["loc"] == ("currency",)
        with pytest.raises(ValidationError) as err:
            market(name="   ")
        assert err.value.errors()[0]["loc"] == ("name",)
        assert market(country="de", currency="eur").country == "DE"

    async def test_a_person_cannot_open_a_sourcing_store(self, session, user_factory):
        with pytest.raises(Invalid) as err:
            await store_service.create(
                session, actor_of(await user_factory()), market(trade_model="sourcing")
            )
        assert "organization_id" in err.value.fields

    async def test_anonymous_cannot_open_a_store(self, session):
        with pytest.raises(Unauthenticated):
            await store_service.create(session, ANONYMOUS, market())

    async def test_logo_that_is_not_an_image_is_refused_and_nothing_written(self, session, user_factory, app):
        user = await user_factory()
        with pytest.raises(Invalid) as err:
            await store_service.create(
                session,
                actor_of(user),
                market(),
                storage=app.state.storage,
                logo=UploadIn(b"not an image", "x.png"),
            )
        assert "logo" in err.value.fields
        assert (await session.scalar(select(Store).where(Store.owner_user_id == user.id))) is None


class TestOrganisationStores:
    async def test_organisation_store_waits_for_review(self, session, organization_factory, user_factory):
        owner = await user_factory()
        org = await organization_factory(owner=owner, status="pending_review")
        store = await store_service.create(
            session,
            actor_of(owner),
            market(name="Bulk Lanterns", trade_model="sourcing", organization_id=org.id),
        )
        assert store.status == "pending_review"
        assert store.organization_id == org.id and store.owner_user_id is None

    async def test_even_an_approved_organisations_new_store_is_reviewed(
        self, session, organization_factory, user_factory
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner, status="approved")
        store = await store_service.create(
            session,
            actor_of(owner),
            market(trade_model="crossborder", organization_id=org.id, currency="USD"),
        )
        assert store.status == "pending_review"

    async def test_mall_store_needs_a_brand(self, session, organization_factory, user_factory):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        with pytest.raises(Invalid) as err:
            await store_service.create(
                session, actor_of(owner), market(trade_model="mall", organization_id=org.id)
            )
        assert err.value.fields == {"brand_name": "a mall store needs the name of the brand it sells"}

    async def test_only_mall_stores_have_a_brand(self, session, organization_factory, user_factory):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        with pytest.raises(Invalid) as err:
            await store_service.create(
                session,
                actor_of(owner),
                market(trade_model="sourcing", organization_id=org.id, brand_name="Acme"),
            )
        assert "brand_name" in err.value.fields

    async def test_mall_store_with_its_brand_authorisation(
        self, session, organization_factory, user_factory, app
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        store = await store_service.create(
            session,
            actor_of(owner),
            market(trade_model="mall", organization_id=org.id, brand_name="Lumen"),
            storage=app.state.storage,
            brand_document=UploadIn(pdf_bytes(), "authorisation.pdf"),
        )
        doc = await session.scalar(
            select(OrganizationDocument).where(OrganizationDocument.store_id == store.id)
        )
        assert store.status == "pending_review" and store.brand_name == "Lumen"
        assert doc is not None and doc.kind == "brand_authorization" and doc.content_type == "application/pdf"
        assert doc.filename == "authorisation.pdf" and doc.organization_id == org.id

    async def test_not_a_member_gets_404(self, session, organization_factory, user_factory):
        org = await organization_factory()
        with pytest.raises(NotFound):
            await store_service.create(
                session,
                actor_of(await user_factory()),
                market(trade_model="sourcing", organization_id=org.id),
            )

    async def test_staff_cannot_open_stores(self, session, organization_factory, member_factory):
        org = await organization_factory()
        staff = await member_factory(org, "staff")
        with pytest.raises(Forbidden):
            await store_service.create(
                session, actor_of(staff), market(trade_model="sourcing", organization_id=org.id)
            )

    async def test_admin_can_open_stores(self, session, organization_factory, member_factory):
        org = await organization_factory()
        admin = await member_factory(org, "admin")
        store = await store_service.create(
            session, actor_of(admin), market(trade_model="market", organization_id=org.id)
        )
        assert store.status == "pending_review" and store.organization_id == org.id


class TestSettings:
    async def test_update_name_and_description_reindexes(self, session, store_factory, category_factory):
        store = await store_factory()
        product = await add_product(session, store, (await category_factory()).id)
        owner = Actor(user_id=store.owner_user_id)
        updated = await store_service.update(
            session, owner, store.id, StoreUpdate(name="Moonlight Lanterns", description="New text")
        )
        assert updated.name == "Moonlight Lanterns" and updated.description == "New text"
        doc = await session.get(SearchDocument, product.id, populate_existing=True)
        assert doc is not None and "moonlight" in doc.body

    async def test_currency_is_fixed_once_products_exist(self, session, store_factory, category_factory):
        store = await store_factory(currency="USD")
        owner = Actor(user_id=store.owner_user_id)
        assert (
            await store_service.update(session, owner, store.id, StoreUpdate(currency="EUR"))
        ).currency == "EUR"
        await add_product(session, store, (await category_factory()).id)
        with pytest.raises(Conflict) as err:
            await store_service.update(session, owner, store.id, StoreUpdate(currency="GBP"))
        assert err.value.code == "currency_locked" and "currency" in err.value.fields
        assert store.currency == "EUR"

    async def test_staff_cannot_change_settings(
        self, session, store_factory, organization_factory, member_factory
    ):
        org = await organization_factory()
        store = await store_factory(trade_model="sourcing", organization=org)
        staff = await member_factory(org, "staff")
        with pytest.raises(Forbidden):
            await store_service.update(session, actor_of(staff), store.id, StoreUpdate(name="Mine now"))

    async def test_another_user_gets_404(self, session, store_factory, user_factory):
        store = await store_factory()
        with pytest.raises(NotFound):
            await store_service.update(
                session, actor_of(await user_factory()), store.id, StoreUpdate(name="x")
            )

    async def test_brand_is_fixed_after_approval(
        self, session, store_factory, organization_factory, user_factory
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        store = await store_factory(trade_model="mall", organization=org, brand_name="Lumen", status="active")
        with pytest.raises(Conflict) as err:
            await store_service.update(session, actor_of(owner), store.id, StoreUpdate(brand_name="Other"))
        assert err.value.code == "brand_locked"

    async def test_logo_upload_and_limits(self, session, store_factory, app):
        store = await store_factory()
        owner = Actor(user_id=store.owner_user_id)
        storage = app.state.storage
        updated = await store_service.set_logo(
            session, owner, storage, store.id, UploadIn(png_bytes(300, 200), "l.png")
        )
        assert updated.logo_path and storage.absolute(updated.logo_path).is_file()
        with pytest.raises(Invalid) as err:
            await store_service.set_logo(session, owner, storage, store.id, UploadIn(pdf_bytes(), "l.pdf"))
        assert "logo" in err.value.fields
        with pytest.raises(PayloadTooLarge) as too_big:
            await store_service.set_logo(
                session,
                owner,
                storage,
                store.id,
                UploadIn(b"\x89PNG" + b"0" * (storage.max_bytes + 1), "big.png"),
            )
        assert too_big.value.code == "file_too_large"


class TestSubmit:
    async def test_rejected_store_goes_back_to_review(
        self, session, store_factory, organization_factory, user_factory
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        store = await store_factory(
            trade_model="sourcing", organization=org, status="rejected", review_reason="Blurry licence"
        )
        submitted = await store_service.submit(session, actor_of(owner), store.id)
        assert submitted.status == "pending_review" and submitted.review_reason is None

    async def test_only_rejected_or_suspended_stores(self, session, store_factory):
        store = await store_factory(status="active")
        with pytest.raises(Conflict) as err:
            await store_service.submit(session, Actor(user_id=store.owner_user_id), store.id)
        assert err.value.code == "not_rejected"

    async def test_mall_store_needs_its_brand_authorisation(
        self, session, store_factory, organization_factory, user_factory, app
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        store = await store_factory(
            trade_model="mall", organization=org, brand_name="Lumen", status="rejected"
        )
        with pytest.raises(Invalid) as err:
            await store_service.submit(session, actor_of(owner), store.id)
        assert err.value.code == "brand_authorization_missing" and "brand_document" in err.value.fields
        await party_service.upload_document(
            session,
            actor_of(owner),
            app.state.storage,
            org.id,
            kind="brand_authorization",
            upload=UploadIn(png_bytes(), "brand.png"),
            store_id=store.id,
        )
        assert (await store_service.submit(session, actor_of(owner), store.id)).status == "pending_review"


class TestReading:
    async def test_pending_store_is_visible_only_to_its_people(
        self, session, store_factory, organization_factory, user_factory, member_factory
    ):
        org = await organization_factory()
        store = await store_factory(trade_model="sourcing", organization=org, status="pending_review")
        staff = await member_factory(org, "staff")
        assert (await store_service.get(session, actor_of(staff), store.id)).id == store.id
        with pytest.raises(NotFound):
            await store_service.get(session, actor_of(await user_factory()), store.id)
        with pytest.raises(NotFound):
            await store_service.get(session, ANONYMOUS, store.id)

    async def test_active_store_is_public(self, session, store_factory):
        store = await store_factory()
        assert (await store_service.get(session, ANONYMOUS, store.id)).name == store.name

    async def test_public_list_filters_and_pages(self, session, store_factory):
        ids = [(await store_factory(country="VN", trade_model="market")).id for _ in range(3)]
        await store_factory(country="VN", status="suspended")
        await store_factory(country="TH")
        first = await store_service.list_public(session, country="vn", trade_model="market", limit=2)
        assert [s.id for s in first.items] == [ids[2], ids[1]] and first.next_cursor
        second = await store_service.list_public(
            session, country="VN", trade_model="market", cursor=first.next_cursor, limit=2
        )
        assert [s.id for s in second.items] == [ids[0]] and second.next_cursor is None

    async def test_bad_cursor_is_422(self, session):
        with pytest.raises(Invalid) as err:
            await store_service.list_public(session, cursor="nonsense!")
        assert "cursor" in err.value.fields

    async def test_my_stores_include_organisation_stores(
        self, session, store_factory, organization_factory, user_factory
    ):
        me = await user_factory()
        own = await store_factory(owner=me)
        org = await organization_factory()
        org_store = await store_factory(trade_model="sourcing", organization=org, status="pending_review")
        await store_factory()  # someone else's
        mine = await store_service.list_mine(session, actor_of(me))
        assert [s.id for s in mine.items] == [own.id]
        session.add(Membership(organization_id=org.id, user_id=me.id, role="staff"))
        await session.flush()
        views = await store_service.my_store_views(session, actor_of(me))
        assert {v.store.id: v.can_manage for v in views} == {own.id: True, org_store.id: False}
        assert [v.note for v in views if v.store.id == org_store.id] == [
            "Waiting for review by the marketplace team."
        ]
