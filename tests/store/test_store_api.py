from __future__ import annotations

from fixtures.core import api_token_for
from fixtures.party import pdf_bytes, png_bytes
from souk.models import Product, User

STORE = {
    "name": "Jade Teapots",
    "description": "Yixing clay",
    "country": "CN",
    "currency": "CNY",
    "trade_model": "market",
}


class TestCreate:
    async def test_market_store_opens_at_once(self, client, session, user_factory):
        headers = await api_token_for(session, await user_factory())
        await session.commit()
        r = await client.post("/api/v1/stores", json=STORE, headers=headers)
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["status"], body["slug"], body["trade_model"], body["url"]) == (
            "active",
            "jade-teapots",
            "market",
            "/s/jade-teapots",
        )
        assert body["organization_id"] is None and body["logo_url"] is None
        again = await client.post("/api/v1/stores", json=STORE, headers=headers)
        assert again.json()["slug"] == "jade-teapots-2"

    async def test_organisation_stores(
        self, client, session, user_factory, organization_factory, member_factory
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner, status="pending_review")
        org_id = org.id
        headers = await api_token_for(session, owner)
        staff = await api_token_for(session, await member_factory(org, "staff"))
        stranger = await api_token_for(session, await user_factory())
        await session.commit()

        r = await client.post(
            "/api/v1/stores",
            json={**STORE, "trade_model": "sourcing", "organization_id": org_id},
            headers=headers,
        )
        assert (
            r.status_code == 201
            and r.json()["status"] == "pending_review"
            and r.json()["organization_id"] == org_id
        )

        r = await client.post(
            "/api/v1/stores",
            json={**STORE, "trade_model": "mall", "organization_id": org_id},
            headers=headers,
        )
        assert r.status_code == 422 and "brand_name" in r.json()["fields"]
        r = await client.post(
            "/api/v1/stores",
            json={**STORE, "trade_model": "mall", "organization_id": org_id, "brand_name": "Jade"},
            headers=headers,
        )
        assert r.status_code == 201 and r.json()["brand_name"] == "Jade"

        r = await client.post(
            "/api/v1/stores",
            json={**STORE, "trade_model": "sourcing", "organization_id": org_id},
            headers=staff,
        )
        assert r.status_code == 403
        r = await client.post(
            "/api/v1/stores",
            json={**STORE, "trade_model": "sourcing", "organization_id": org_id},
            headers=stranger,
        )
        assert r.status_code == 404
        r = await client.post("/api/v1/stores", json={**STORE, "trade_model": "sourcing"}, headers=headers)
        assert r.status_code == 422 and "organization_id" in r.json()["fields"]

    async def test_bad_input(self, client, session, user_factory):
        headers = await api_token_for(session, await user_factory())
        await session.commit()
        for change, field in [
            ({"country": "QQ"}, "country"),
            ({"currency": "XYZ"}, "currency"),
            ({"name": ""}, "name"),
            ({"trade_model": "bazaar"}, "trade_model"),
            ({"organization_id": True}, "organization_id"),
        ]:
            r = await client.post("/api/v1/stores", json={**STORE, **change}, headers=headers)
            assert r.status_code == 422 and field in r.json()["fields"], (change, r.text)
        assert (await client.post("/api/v1/stores", json=STORE)).status_code == 401


class TestRead:
    async def test_public_list_and_filters(self, client, session, store_factory, organization_factory):
        market = await store_factory(country="MY")
        org = await organization_factory()
        sourcing = await store_factory(trade_model="sourcing", organization=org, country="MY")
        pending = await store_factory(
            trade_model="sourcing", organization=org, status="pending_review", country="MY"
        )
        ids = market.id, sourcing.id, pending.id
        await session.commit()
        r = await client.get("/api/v1/stores", params={"country": "MY"})
        assert [s["id"] for s in r.json()["items"]] == [ids[1], ids[0]]
        r = await client.get("/api/v1/stores", params={"country": "MY", "trade_model": "sourcing"})
        assert [s["id"] for s in r.json()["items"]] == [ids[1]]
        r = await client.get("/api/v1/stores", params={"country": "MY", "limit": 1})
        assert [s["id"] for s in r.json()["items"]] == [ids[1]]
        r = await client.get(
            "/api/v1/stores", params={"country": "MY", "limit": 1, "cursor": r.json()["next_cursor"]}
        )
        assert [s["id"] for s in r.json()["items"]] == [ids[0]]
        assert (await client.get("/api/v1/stores", params={"trade_model": "bazaar"})).status_code == 422
        assert (await client.get("/api/v1/stores", params={"limit": 0})).status_code == 422

    async def test_pending_store_only_for_its_people(
        self, client, session, store_factory, organization_factory, member_factory, user_factory
    ):
        org = await organization_factory()
        store = await store_factory(trade_model="sourcing", organization=org, status="pending_review")
        store_id = store.id
        staff = await api_token_for(session, await member_factory(org, "staff"))
        stranger = await api_token_for(session, await user_factory())
        await session.commit()
        assert (await client.get(f"/api/v1/stores/{store_id}")).status_code == 404
        assert (await client.get(f"/api/v1/stores/{store_id}", headers=stranger)).status_code == 404
        r = await client.get(f"/api/v1/stores/{store_id}", headers=staff)
        assert r.status_code == 200 and r.json()["status"] == "pending_review"
        mine = await client.get("/api/v1/stores/mine", headers=staff)
        assert [s["id"] for s in mine.json()["items"]] == [store_id]


class TestChange:
    async def test_patch_and_currency_lock(self, client, session, store_factory, category_factory):
        store = await store_factory(currency="USD")
        store_id = store.id
        category = await category_factory()
        owner = await session.get(User, store.owner_user_id)
        assert owner is not None
        headers = await api_token_for(session, owner)
        await session.commit()
        r = await client.patch(
            f"/api/v1/stores/{store_id}", json={"name": "Renamed", "currency": "EUR"}, headers=headers
        )
        assert r.status_code == 200 and (r.json()["name"], r.json()["currency"]) == ("Renamed", "EUR")
        assert r.json()["slug"] == store.slug  # addresses stay stable
        session.add(
            Product(
                store_id=store_id,
                category_id=category.id,
                title="Cup",
                slug="cup",
                currency="EUR",
                status="draft",
            )
        )
        await session.commit()
        r = await client.patch(f"/api/v1/stores/{store_id}", json={"currency": "GBP"}, headers=headers)
        assert r.status_code == 409 and r.json()["fields"] == {
            "currency": "is fixed once the store has products"
        }
        r = await client.patch(f"/api/v1/stores/{store_id}", json={"country": "Atlantis"}, headers=headers)
        assert r.status_code == 422 and "country" in r.json()["fields"]

    async def test_logo(self, client, session, store_factory, user_factory, app):
        owner = await user_factory()
        store = await store_factory(owner=owner)
        store_id = store.id
        headers = await api_token_for(session, owner)
        stranger = await api_token_for(session, await user_factory())
        await session.commit()
        url = f"/api/v1/stores/{store_id}/logo"
        r = await client.post(url, files={"file": ("logo.png", png_bytes(), "image/png")}, headers=headers)
        assert r.status_code == 200 and r.json()["logo_url"].startswith("/media/stores/")
        image = await client.get(r.json()["logo_url"])
        assert image.status_code == 200 and image.headers["content-type"] in ("image/jpeg", "image/png")
        r = await client.post(
            url, files={"file": ("logo.pdf", pdf_bytes(), "application/pdf")}, headers=headers
        )
        assert r.status_code == 422 and r.json()["fields"] == {"file": "is not a valid image file"}
        big = b"\x89PNG" + b"0" * app.state.storage.max_bytes
        r = await client.post(url, files={"file": ("big.png", big, "image/png")}, headers=headers)
        assert r.status_code == 413 and r.json()["error"] == "file_too_large"
        r = await client.post(url, files={"file": ("logo.png", png_bytes(), "image/png")}, headers=stranger)
        assert r.status_code == 404

    async def test_submit_after_rejection(
        self, client, session, store_factory, organization_factory, user_factory
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner)
        store = await store_factory(
            trade_model="sourcing", organization=org, status="rejected", review_reason="No photos"
        )
        store_id = store.id
        headers = await api_token_for(session, owner)
        await session.commit()
        r = await client.get(f"/api/v1/stores/{store_id}", headers=headers)
        assert (r.json()["status"], r.json()["review_reason"]) == ("rejected", "No photos")
        r = await client.post(f"/api/v1/stores/{store_id}/submit", headers=headers)
        assert r.status_code == 200 and r.json()["status"] == "pending_review"
        r = await client.post(f"/api/v1/stores/{store_id}/submit", headers=headers)
        assert r.status_code == 409 and r.json()["error"] == "not_rejected"
