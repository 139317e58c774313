from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from catalog_support import catalog_counts, two_colours
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import api_token_for
from souk.models import Membership, SearchDocument, Sku, Stock


async def _seller(
    session: AsyncSession, user_factory, store_factory, **store_kw: Any
) -> tuple[int, dict[str, str]]:
    owner = await user_factory()
    store = await store_factory(owner=owner, **store_kw)
    return store.id, await api_token_for(session, owner)


class TestCreateAndPublish:
    async def test_create_two_variants_publish_and_list(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, category_factory
    ) -> None:
        store_id, headers = await _seller(session, user_factory, store_factory)
        category_id = (await category_factory(name="Kitchen")).id

        r = await client.post(
            f"/api/v1/stores/{store_id}/products", headers=headers, json=two_colours(category_id)
        )
        assert r.status_code == 201, r.text
        product = r.json()
        assert (product["status"], product["currency"], product["trade_model"]) == ("draft", "USD", "market")
        assert (product["min_price_amount"], product["max_price_amount"]) == (1250, 1500)
        assert [
            (s["code"], s["price_amount"], s["currency"], s["on_hand"], s["available"])
            for s in product["skus"]
        ] == [
            ("MUG-RED", 1250, "USD", 5, 5),
            ("MUG-BLUE", 1500, "USD", 3, 3),
        ]
        pid = product["id"]

        assert (await client.get("/api/v1/products")).json()["items"] == []
        assert (await client.get(f"/api/v1/products/{pid}")).status_code == 404
        mine = await client.get(f"/api/v1/stores/{store_id}/products", headers=headers)
        assert [p["id"] for p in mine.json()["items"]] == [pid]
        assert (await client.get(f"/api/v1/products/{pid}", headers=headers)).json()["status"] == "draft"

        r = await client.post(f"/api/v1/products/{pid}/publish", headers=headers)
        assert r.status_code == 200 and r.json()["status"] == "active"
        public = await client.get("/api/v1/products", params={"store_id": store_id})
        assert [p["id"] for p in public.json()["items"]] == [pid]
        assert (await client.get(f"/api/v1/products/{pid}")).json()["title"] == "Stoneware mug"
        skus = await client.get(f"/api/v1/products/{pid}/skus")
        assert [s["code"] for s in skus.json()] == ["MUG-RED", "MUG-BLUE"]

        drafts = await client.get(
            f"/api/v1/stores/{store_id}/products", headers=headers, params={"status": "draft"}
        )
        assert drafts.json()["items"] == []

    async def test_a_store_under_review_publishes_but_buyers_do_not_see_it(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, category_factory
    ) -> None:
        store_id, headers = await _seller(session, user_factory, store_factory, status="pending_review")
        category_id = (await category_factory()).id
        r = await client.post(
            f"/api/v1/stores/{store_id}/products", headers=headers, json=two_colours(category_id)
        )
        pid = r.json()["id"]
        r = await client.post(f"/api/v1/products/{pid}/publish", headers=headers)
        assert r.status_code == 200 and r.json()["status"] == "active"
        assert (await client.get("/api/v1/products")).json()["items"] == []
        assert (await client.get(f"/api/v1/products/{pid}")).status_code == 404
        assert (await client.get(f"/api/v1/products/{pid}", headers=headers)).status_code == 200
        assert (await session.get(SearchDocument, pid)).visible is False  # type: ignore[union-attr]

    async def test_filters_and_cursor_pages(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        store_factory,
        category_factory,
        product_factory,
    ) -> None:
        home = await category_factory(name="Home")
        kitchen = await category_factory(name="Kitchen", parent=home)
        other = await category_factory(name="Toys")
        store = await store_factory()
        ids = [(await product_factory(store, category=kitchen, title=f"Mug {n}")).id for n in range(3)] + [
            (await product_factory(category=other, title="Kite")).id
        ]
        home_id, store_id = home.id, store.id

        first = await client.get("/api/v1/products", params={"category_id": home_id, "limit": 2})
        assert [p["title"] for p in first.json()["items"]] == ["Mug 2", "Mug 1"]
        cursor = first.json()["next_cursor"]
        second = await client.get(
            "/api/v1/products", params={"category_id": home_id, "limit": 2, "cursor": cursor}
        )
        assert [p["title"] for p in second.json()["items"]] == ["Mug 0"] and second.json()[
            "next_cursor"
        ] is None
        everything = await client.get("/api/v1/products")
        assert [p["id"] for p in everything.json()["items"]] == sorted(ids, reverse=True)
        by_store = await client.get("/api/v1/products", params={"store_id": store_id})
        assert len(by_store.json()["items"]) == 3

        bad = await client.get("/api/v1/products", params={"cursor": "not-a-cursor"})
        assert bad.status_code == 422 and "cursor" in bad.json()["fields"]
        bad = await client.get("/api/v1/products", params={"limit": 500})
        assert bad.status_code == 422 and "limit" in bad.json()["fields"]

    async def test_archive_and_restore(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, product_factory
    ) -> None:
        owner = await user_factory()
        product_id = (await product_factory(await store_factory(owner=owner))).id
        headers = await api_token_for(session, owner)
        await session.commit()
        r = await client.post(f"/api/v1/products/{product_id}/archive", headers=headers)
        assert r.status_code == 200 and r.json()["status"] == "archived"
        assert (await client.get(f"/api/v1/products/{product_id}")).status_code == 404
        r = await client.post(f"/api/v1/products/{product_id}/publish", headers=headers)
        assert r.status_code == 409 and r.json()["error"] == "invalid_status"
        r = await client.post(f"/api/v1/products/{product_id}/restore", headers=headers)
        assert r.status_code == 200 and r.json()["status"] == "draft"
        r = await client.post(f"/api/v1/products/{product_id}/restore", headers=headers)
        assert r.status_code == 409

    async def test_publishing_without_variants_is_refused(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, category_factory
    ) -> None:
        store_id, headers = await _seller(session, user_factory, store_factory)
        category_id = (await category_factory()).id
        r = await client.post(
            f"/api/v1/stores/{store_id}/products",
            headers=headers,
            json={"title": "Empty", "category_id": category_id},
        )
        assert r.status_code == 201 and r.json()["min_price_amount"] is None
        r = await client.post(f"/api/v1/products/{r.json()['id']}/publish", headers=headers)
        assert r.status_code == 409 and r.json()["error"] == "no_active_sku" and "skus" in r.json()["fields"]


class TestWhoMay:
    async def test_another_sellers_product_is_404_everywhere(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, product_factory
    ) -> None:
        victim_store = await store_factory()
        draft = await product_factory(victim_store, status="draft", title="Secret draft")
        sku_id = await session.scalar(select(Sku.id).where(Sku.product_id == draft.id))
        draft_id, victim_store_id = draft.id, victim_store.id
        headers = await api_token_for(session, await user_factory())
        await session.commit()

        calls = [
            ("GET", f"/api/v1/products/{draft_id}", None),
            ("PATCH", f"/api/v1/products/{draft_id}", {"title": "Hijacked"}),
            ("POST", f"/api/v1/products/{draft_id}/publish", None),
            ("POST", f"/api/v1/products/{draft_id}/archive", None),
            ("GET", f"/api/v1/products/{draft_id}/skus", None),
            ("POST", f"/api/v1/products/{draft_id}/skus", {"price_amount": 100}),
            ("PATCH", f"/api/v1/products/{draft_id}/skus/{sku_id}", {"price_amount": 1}),
            ("DELETE", f"/api/v1/products/{draft_id}/skus/{sku_id}", None),
            ("PUT", f"/api/v1/products/{draft_id}/price-tiers", {"tiers": []}),
            ("DELETE", f"/api/v1/products/{draft_id}/images/1", None),
            ("GET", f"/api/v1/stores/{victim_store_id}/products", None),
            ("POST", f"/api/v1/stores/{victim_store_id}/products", {"title": "x", "category_id": 1}),
        ]
        for method, url, body in calls:
            r = await client.request(method, url, headers=headers, json=body)
            assert r.status_code == 404, (method, url, r.status_code)
            assert "Secret draft" not in r.text
        assert (await client.get(f"/api/v1/products/{draft_id}")).status_code == 404
        product = await client.get(
            f"/api/v1/products/{draft_id}", headers=await _owner_headers(session, victim_store_id)
        )
        assert product.json()["title"] == "Secret draft" and product.json()["status"] == "draft"

    async def test_staff_may_edit_and_a_read_only_token_may_not(
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
        store = await store_factory("mall", organization=organization)
        product_id, store_id = (await product_factory(store)).id, store.id
        staff_headers = await api_token_for(session, staff)
        read_only = await api_token_for(session, owner, scopes="read")
        await session.commit()

        r = await client.patch(
            f"/api/v1/products/{product_id}", headers=staff_headers, json={"title": "Staff edit"}
        )
        assert r.status_code == 200 and r.json()["title"] == "Staff edit"

        r = await client.patch(f"/api/v1/products/{product_id}", headers=read_only, json={"title": "Nope"})
        assert r.status_code == 403 and r.json()["error"] == "token_read_only"
        r = await client.post(
            f"/api/v1/stores/{store_id}/products", headers=read_only, json={"title": "Nope", "category_id": 1}
        )
        assert r.status_code == 403
        r = await client.get(f"/api/v1/stores/{store_id}/products", headers=read_only)
        assert r.status_code == 200 and r.json()["items"][0]["title"] == "Staff edit"

    async def test_anonymous_cannot_create(
        self, client: httpx.AsyncClient, session: AsyncSession, store_factory
    ) -> None:
        store_id = (await store_factory()).id
        await session.commit()
        r = await client.post(f"/api/v1/stores/{store_id}/products", json={"title": "x", "category_id": 1})
        assert r.status_code == 401


BAD_INPUT = [
    ("zero price", lambda p: p["skus"][0].update(price_amount=0), "skus.0.price_amount"),
    ("negative price", lambda p: p["skus"][0].update(price_amount=-100), "skus.0.price_amount"),
    ("absurd price", lambda p: p["skus"][0].update(price_amount=10**11 + 1), "skus.0.price_amount"),
    ("price as a float", lambda p: p["skus"][0].update(price_amount=12.5), "skus.0.price_amount"),
    ("price as a string", lambda p: p["skus"][0].update(price_amount="1250"), "skus.0.price_amount"),
    ("price as a boolean", lambda p: p["skus"][0].update(price_amount=True), "skus.0.price_amount"),
    ("wrong currency", lambda p: p.update(currency="EUR"), "currency"),
    ("wrong variant currency", lambda p: p["skus"][1].update(currency="GBP"), "skus.1.currency"),
    ("unknown category", lambda p: p.update(category_id=987654), "category"),
    (
        "duplicate option combination",
        lambda p: p["skus"][1].update(option_values={"Colour": "Red"}),
        "skus.1.option_values",
    ),
    ("missing option value", lambda p: p["skus"][1].update(option_values={}), "skus.1.option_values"),
    (
        "unknown option",
        lambda p: p["skus"][1].update(option_values={"Colour": "Blue", "Size": "M"}),
        "skus.1.option_values",
    ),
    ("duplicate code", lambda p: p["skus"][1].update(code="MUG-RED"), "skus.1.code"),
    ("negative stock", lambda p: p["skus"][0].update(stock=-1), "skus.0.stock"),
    ("absurd stock", lambda p: p["skus"][0].update(stock=10**7 + 1), "skus.0.stock"),
    ("four options", lambda p: p.update(options=["A", "B", "C", "D"]), "options"),
    ("option named twice", lambda p: p.update(options=["Colour", "colour"]), "options"),
    (
        "tiers on a market store",
        lambda p: p.update(price_tiers=[{"min_quantity": 10, "unit_price_amount": 900}]),
        "price_tiers",
    ),
    ("moq on a market store", lambda p: p.update(moq=10), "moq"),
    ("empty title", lambda p: p.update(title="  "), "title"),
    ("unknown field", lambda p: p.update(colour="red"), "colour"),
]


class TestBadInput:
    @pytest.mark.parametrize(("case", "change", "field"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
    async def test_each_is_422_with_the_field_and_writes_nothing(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        user_factory,
        store_factory,
        category_factory,
        case,
        change,
        field,
    ) -> None:
        store_id, headers = await _seller(session, user_factory, store_factory)
        payload = copy.deepcopy(two_colours((await category_factory()).id))
        change(payload)
        await session.commit()
        before = await catalog_counts(session)

        r = await client.post(f"/api/v1/stores/{store_id}/products", headers=headers, json=payload)

        assert r.status_code == 422, (case, r.text)
        assert field in r.json()["fields"], (case, r.json())
        assert await catalog_counts(session) == before

    @pytest.mark.parametrize(
        ("tiers", "field"),
        [
            (
                [
                    {"min_quantity": 100, "unit_price_amount": 200},
                    {"min_quantity": 500, "unit_price_amount": 250},
                ],
                "price_tiers.1.unit_price_amount",
            ),
            ([{"min_quantity": 10, "unit_price_amount": 200}], "price_tiers.0.min_quantity"),
            ([{"min_quantity": 100, "unit_price_amount": 0}], "price_tiers.0.unit_price_amount"),
        ],
    )
    async def test_bad_tiers_on_a_sourcing_store(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        user_factory,
        organization_factory,
        store_factory,
        category_factory,
        tiers,
        field,
    ) -> None:
        owner = await user_factory()
        store_id = (await store_factory("sourcing", organization=await organization_factory(owner=owner))).id
        headers = await api_token_for(session, owner)
        payload = {
            "title": "Tote",
            "category_id": (await category_factory()).id,
            "moq": 100,
            "skus": [{"price_amount": 250}],
            "price_tiers": tiers,
        }
        await session.commit()
        before = await catalog_counts(session)
        r = await client.post(f"/api/v1/stores/{store_id}/products", headers=headers, json=payload)
        assert r.status_code == 422 and field in r.json()["fields"], r.text
        assert await catalog_counts(session) == before

    async def test_bad_status_filter(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory
    ) -> None:
        store_id, headers = await _seller(session, user_factory, store_factory)
        r = await client.get(
            f"/api/v1/stores/{store_id}/products", headers=headers, params={"status": "sold"}
        )
        assert r.status_code == 422 and "status" in r.json()["fields"]


class TestVariantsAndTiers:
    async def test_variant_endpoints(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, category_factory
    ) -> None:
        store_id, headers = await _seller(session, user_factory, store_factory)
        category_id = (await category_factory()).id
        pid = (
            await client.post(
                f"/api/v1/stores/{store_id}/products", headers=headers, json=two_colours(category_id)
            )
        ).json()["id"]

        r = await client.post(
            f"/api/v1/products/{pid}/skus",
            headers=headers,
            json={"option_values": {"Colour": "Green"}, "price_amount": 990, "code": "MUG-GREEN"},
        )
        assert r.status_code == 201 and (r.json()["code"], r.json()["on_hand"]) == ("MUG-GREEN", 0)
        green_id = r.json()["id"]
        r = await client.post(
            f"/api/v1/products/{pid}/skus",
            headers=headers,
            json={"option_values": {"Colour": "GREEN"}, "price_amount": 990},
        )
        assert r.status_code == 422 and "option_values" in r.json()["fields"]

        r = await client.patch(
            f"/api/v1/products/{pid}/skus/{green_id}", headers=headers, json={"price_amount": 2500}
        )
        assert r.status_code == 200 and r.json()["price_amount"] == 2500
        product = (await client.get(f"/api/v1/products/{pid}", headers=headers)).json()
        assert (product["min_price_amount"], product["max_price_amount"]) == (1250, 2500)

        r = await client.delete(f"/api/v1/products/{pid}/skus/{green_id}", headers=headers)
        assert r.status_code == 200 and r.json() == {"id": green_id, "outcome": "deleted"}
        red_id = product["skus"][0]["id"]
        r = await client.delete(f"/api/v1/products/{pid}/skus/{red_id}", headers=headers)
        assert r.json() == {"id": red_id, "outcome": "deactivated"}
        skus = (await client.get(f"/api/v1/products/{pid}/skus", headers=headers)).json()
        assert [(s["code"], s["is_active"]) for s in skus] == [("MUG-RED", False), ("MUG-BLUE", True)]
        product = (await client.get(f"/api/v1/products/{pid}", headers=headers)).json()
        assert (product["min_price_amount"], product["max_price_amount"]) == (1500, 1500)
        assert (
            await client.delete(f"/api/v1/products/{pid}/skus/987654", headers=headers)
        ).status_code == 404

    async def test_patch_with_the_full_variant_list(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, category_factory
    ) -> None:
        store_id, headers = await _seller(session, user_factory, store_factory)
        category_id = (await category_factory()).id
        product = (
            await client.post(
                f"/api/v1/stores/{store_id}/products", headers=headers, json=two_colours(category_id)
            )
        ).json()
        red = product["skus"][0]
        r = await client.patch(
            f"/api/v1/products/{product['id']}",
            headers=headers,
            json={
                "description": "Now bigger",
                "skus": [
                    {"id": red["id"], "option_values": {"Colour": "Red"}, "price_amount": 1400},
                    {"option_values": {"Colour": "White"}, "price_amount": 1100, "stock": 9},
                ],
            },
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["description"] == "Now bigger"
        active = [(s["code"], s["price_amount"], s["on_hand"]) for s in body["skus"] if s["is_active"]]
        assert active == [("MUG-RED", 1400, 5), ("SKU-1", 1100, 9)]
        r = await client.patch(
            f"/api/v1/products/{product['id']}",
            headers=headers,
            json={
                "skus": [
                    {"id": red["id"], "option_values": {"Colour": "Red"}, "price_amount": 1400, "stock": 50}
                ]
            },
        )
        assert r.status_code == 422 and "skus.0.stock" in r.json()["fields"]
        assert (await session.get(Stock, red["id"])).on_hand == 5  # type: ignore[union-attr]

    async def test_price_tiers_on_sourcing_and_not_on_market(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        user_factory,
        organization_factory,
        store_factory,
        product_factory,
    ) -> None:
        owner = await user_factory()
        supplier = await store_factory("sourcing", organization=await organization_factory(owner=owner))
        bulk_id = (await product_factory(supplier, moq=100, price_amount=300, lead_time_days=20)).id
        market_owner = await user_factory()
        market_id = (await product_factory(await store_factory(owner=market_owner))).id
        headers = await api_token_for(session, owner)
        market_headers = await api_token_for(session, market_owner)
        await session.commit()

        tiers = {
            "tiers": [
                {"min_quantity": 100, "unit_price_amount": 300},
                {"min_quantity": 1000, "unit_price_amount": 260},
            ]
        }
        r = await client.put(f"/api/v1/products/{bulk_id}/price-tiers", headers=headers, json=tiers)
        assert r.status_code == 200, r.text
        assert (r.json()["moq"], r.json()["lead_time_days"]) == (100, 20)
        assert r.json()["price_tiers"] == tiers["tiers"]
        rising = {
            "tiers": [
                {"min_quantity": 100, "unit_price_amount": 300},
                {"min_quantity": 1000, "unit_price_amount": 310},
            ]
        }
        r = await client.put(f"/api/v1/products/{bulk_id}/price-tiers", headers=headers, json=rising)
        assert r.status_code == 422 and "tiers.1.unit_price_amount" in r.json()["fields"]
        r = await client.put(f"/api/v1/products/{market_id}/price-tiers", headers=market_headers, json=tiers)
        assert r.status_code == 422 and r.json()["error"] == "sourcing_only"
        assert (await client.get(f"/api/v1/products/{bulk_id}")).json()["price_tiers"] == tiers["tiers"]


async def _owner_headers(session: AsyncSession, store_id: int) -> dict[str, str]:
    from fixtures.catalog import seller_actor
    from souk.models import Store, User

    store = await session.get(Store, store_id)
    assert store is not None
    user = await session.get(User, (await seller_actor(session, store)).user_id)
    assert user is not None
    return await api_token_for(session, user)
