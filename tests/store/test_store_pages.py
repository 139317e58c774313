from __future__ import annotations

from sqlalchemy import select

from fixtures.core import form, login_as
from fixtures.party import pdf_bytes, png_bytes
from souk.models import OrganizationDocument, Store


class TestDashboard:
    async def test_anonymous_is_sent_to_login(self, client):
        r = await client.get("/seller")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/seller"

    async def test_empty_state_tells_the_next_step(self, client, session, user_factory):
        await login_as(client, session, await user_factory())
        r = await client.get("/seller")
        assert r.status_code == 200
        assert "You have no store yet." in r.text
        assert 'href="/seller/stores/new"' in r.text and 'href="/seller/organizations/new"' in r.text

    async def test_lists_stores_with_status_and_reason(
        self, client, session, user_factory, organization_factory, store_factory
    ):
        me = await user_factory()
        org = await organization_factory(owner=me, legal_name="Acme Trading Ltd")
        own = await store_factory(owner=me, name="Corner Shop")
        rejected = await store_factory(
            trade_model="sourcing",
            organization=org,
            name="Acme Bulk",
            status="rejected",
            review_reason="Add a return policy",
        )
        await login_as(client, session, me)
        r = await client.get("/seller")
        assert "Corner Shop" in r.text and "Acme Bulk" in r.text and "Acme Trading Ltd" in r.text
        assert "Reason: Add a return policy" in r.text
        assert f'href="/seller/stores/{own.id}/products"' in r.text
        assert f'href="/seller/stores/{rejected.id}/settings"' in r.text
        assert 'class="badge badge-sourcing"' in r.text


class TestOpenStore:
    async def test_form_and_market_store(self, client, session, user_factory):
        me = await user_factory()
        await login_as(client, session, me)
        page = await client.get("/seller/stores/new")
        assert page.status_code == 200 and '<option value="CN"' in page.text and "Open store" in page.text
        r = await client.post(
            "/seller/stores/new",
            data=form(
                client,
                name="Tea Corner",
                description="Oolong",
                country="TW",
                currency="TWD",
                trade_model="market",
            ),
            files={"logo": ("logo.png", png_bytes(), "image/png")},
        )
        store = await session.scalar(select(Store).where(Store.owner_user_id == me.id))
        assert (
            store is not None and store.status == "active" and store.slug == "tea-corner" and store.logo_path
        )
        assert r.status_code == 303 and r.headers["location"] == f"/seller/stores/{store.id}/products"
        dashboard = await client.get("/seller")
        assert "Your store Tea Corner is open" in dashboard.text and "Tea Corner" in dashboard.text

    async def test_errors_are_shown_next_to_fields_and_values_kept(self, client, session, user_factory):
        me = await user_factory()
        me_id = me.id
        await login_as(client, session, me)
        await session.commit()
        r = await client.post(
            "/seller/stores/new",
            data=form(
                client, name="", description="Kept text", country="", currency="CNY", trade_model="market"
            ),
        )
        assert r.status_code == 422
        assert 'id="e-name"' in r.text and 'id="e-country"' in r.text
        assert "Kept text" in r.text and '<option value="CNY" selected' in r.text
        assert (await session.scalar(select(Store).where(Store.owner_user_id == me_id))) is None

    async def test_mall_store_asks_for_brand_and_document(
        self, client, session, user_factory, organization_factory
    ):
        me = await user_factory()
        org = await organization_factory(owner=me)
        org_id = org.id
        await login_as(client, session, me)
        await session.commit()
        page = await client.get(f"/seller/stores/new?organization_id={org_id}")
        assert f'<option value="{org_id}" selected' in page.text and "Brand authorisation" in page.text
        fields = {
            "name": "Lumen Official",
            "country": "CN",
            "currency": "CNY",
            "trade_model": "mall",
            "organization_id": org_id,
        }
        r = await client.post("/seller/stores/new", data=form(client, **fields))
        assert r.status_code == 422 and "a mall store needs the name of the brand it sells" in r.text
        r = await client.post(
            "/seller/stores/new",
            data=form(client, brand_name="Lumen", **fields),
            files={"brand_document": ("letter.pdf", pdf_bytes(), "application/pdf")},
        )
        store = await session.scalar(select(Store).where(Store.organization_id == org_id))
        assert store is not None and store.status == "pending_review" and store.brand_name == "Lumen"
        assert r.status_code == 303 and r.headers["location"] == f"/seller/stores/{store.id}/settings"
        doc = await session.scalar(
            select(OrganizationDocument).where(OrganizationDocument.store_id == store.id)
        )
        assert doc is not None and doc.kind == "brand_authorization"
        settings = await client.get(r.headers["location"])
        assert "letter.pdf" in settings.text
        assert "The brand authorisation is waiting for review" in settings.text

    async def test_bad_logo_is_refused(self, client, session, user_factory):
        me = await user_factory()
        me_id = me.id
        await login_as(client, session, me)
        await session.commit()
        r = await client.post(
            "/seller/stores/new",
            data=form(client, name="Shop", country="CN", currency="CNY", trade_model="market"),
            files={"logo": ("logo.png", b"plain text", "image/png")},
        )
        assert r.status_code == 422 and 'id="e-logo"' in r.text
        assert (await session.scalar(select(Store).where(Store.owner_user_id == me_id))) is None

    async def test_csrf_is_required(self, client, session, user_factory):
        await login_as(client, session, await user_factory())
        r = await client.post("/seller/stores/new", data={"name": "X", "country": "CN", "currency": "CNY"})
        assert r.status_code == 403 and "Reload the page" in r.text


class TestSettings:
    async def test_edit_settings(self, client, session, user_factory, store_factory):
        me = await user_factory()
        store = await store_factory(owner=me, name="Old Name", currency="USD")
        store_id = store.id
        await login_as(client, session, me)
        await session.commit()
        page = await client.get(f"/seller/stores/{store_id}/settings")
        assert page.status_code == 200 and 'value="Old Name"' in page.text
        r = await client.post(
            f"/seller/stores/{store_id}/settings",
            data=form(client, name="New Name", description="Better", country="DE", currency="EUR"),
            files={"logo": ("l.png", png_bytes(), "image/png")},
        )
        assert r.status_code == 303
        await session.refresh(store)
        assert (store.name, store.country, store.currency) == ("New Name", "DE", "EUR") and store.logo_path
        r = await client.post(
            f"/seller/stores/{store_id}/settings", data=form(client, name="", country="DE", currency="EUR")
        )
        assert r.status_code == 422 and 'id="e-name"' in r.text

    async def test_staff_and_strangers(
        self, client, session, organization_factory, store_factory, member_factory, user_factory
    ):
        org = await organization_factory()
        store = await store_factory(trade_model="sourcing", organization=org)
        store_id = store.id
        staff = await member_factory(org, "staff")
        stranger = await user_factory()
        await login_as(client, session, staff)
        await session.commit()
        r = await client.get(f"/seller/stores/{store_id}/settings")
        assert r.status_code == 403 and "Not allowed" in r.text
        assert (await session.get(Store, store_id)) is not None  # setup survived the failed request
        await session.refresh(stranger)
        await login_as(client, session, stranger)
        await session.commit()
        assert (await client.get(f"/seller/stores/{store_id}/settings")).status_code == 404

    async def test_rejected_store_shows_reason_and_resubmits(
        self, client, session, user_factory, organization_factory, store_factory
    ):
        me = await user_factory()
        org = await organization_factory(owner=me)
        store = await store_factory(
            trade_model="mall",
            organization=org,
            brand_name="Lumen",
            status="rejected",
            review_reason="Letter expired",
        )
        store_id = store.id
        await login_as(client, session, me)
        await session.commit()
        page = await client.get(f"/seller/stores/{store_id}/settings")
        assert "Letter expired" in page.text and "Send for review again" in page.text
        r = await client.post(f"/seller/stores/{store_id}/submit", data=form(client))
        assert r.status_code == 422 and "upload the brand authorisation document first" in r.text
        r = await client.post(
            f"/seller/stores/{store_id}/brand-document",
            data=form(client),
            files={"brand_document": ("new-letter.png", png_bytes(), "image/png")},
        )
        assert r.status_code == 303
        r = await client.post(f"/seller/stores/{store_id}/submit", data=form(client))
        assert r.status_code == 303
        await session.refresh(store)
        assert store.status == "pending_review" and store.review_reason is None
        page = await client.get(f"/seller/stores/{store_id}/settings")
        assert "new-letter.png" in page.text and "was sent for review" in page.text
