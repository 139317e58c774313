from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import api_token_for
from souk.models import Category


async def _tree(session: AsyncSession, category_factory) -> dict[str, Category]:
    home = await category_factory(name="Home", slug="home", position=1)
    fashion = await category_factory(name="Fashion", slug="fashion", position=0)
    kitchen = await category_factory(name="Kitchen", slug="kitchen", parent=home)
    mugs = await category_factory(name="Mugs", slug="mugs", parent=kitchen)
    garden = await category_factory(name="Garden", slug="garden", parent=home)
    return {"home": home, "fashion": fashion, "kitchen": kitchen, "mugs": mugs, "garden": garden}


class TestRead:
    async def test_the_whole_tree_nested_in_order(
        self, client: httpx.AsyncClient, session: AsyncSession, category_factory
    ) -> None:
        c = await _tree(session, category_factory)
        r = await client.get("/api/v1/categories")
        assert r.status_code == 200
        tree = r.json()
        assert [n["slug"] for n in tree] == ["fashion", "home"]
        home = tree[1]
        assert [n["name"] for n in home["children"]] == ["Garden", "Kitchen"]
        kitchen = home["children"][1]
        assert kitchen["parent_id"] == c["home"].id
        assert [(n["name"], n["children"]) for n in kitchen["children"]] == [("Mugs", [])]

    async def test_one_category_with_its_path_and_children(
        self, client: httpx.AsyncClient, session: AsyncSession, category_factory
    ) -> None:
        c = await _tree(session, category_factory)
        r = await client.get(f"/api/v1/categories/{c['kitchen'].id}")
        assert r.status_code == 200
        body = r.json()
        assert (body["name"], body["slug"]) == ("Kitchen", "kitchen")
        assert [p["slug"] for p in body["path"]] == ["home"]
        assert [ch["slug"] for ch in body["children"]] == ["mugs"]
        deep = (await client.get(f"/api/v1/categories/{c['mugs'].id}")).json()
        assert [p["slug"] for p in deep["path"]] == ["home", "kitchen"] and deep["children"] == []

    async def test_unknown_category_is_404(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/v1/categories/987654")
        assert r.status_code == 404 and r.json()["error"] == "category_not_found"


class TestWrite:
    async def test_operator_creates_renames_and_moves(
        self, client: httpx.AsyncClient, session: AsyncSession, operator_factory, category_factory
    ) -> None:
        c = await _tree(session, category_factory)
        home_id, fashion_id, kitchen_id = c["home"].id, c["fashion"].id, c["kitchen"].id
        headers = await api_token_for(session, await operator_factory())

        r = await client.post(
            "/api/v1/categories", headers=headers, json={"name": "Tea & Coffee", "parent_id": kitchen_id}
        )
        assert r.status_code == 201
        created = r.json()
        assert (created["slug"], created["parent_id"]) == ("tea-coffee", kitchen_id)
        again = await client.post("/api/v1/categories", headers=headers, json={"name": "Tea & Coffee"})
        assert again.status_code == 201 and again.json()["slug"] == "tea-coffee-2"

        r = await client.patch(
            f"/api/v1/categories/{kitchen_id}",
            headers=headers,
            json={"name": "Kitchen and dining", "slug": "kitchen-dining"},
        )
        assert r.status_code == 200 and (r.json()["name"], r.json()["slug"]) == (
            "Kitchen and dining",
            "kitchen-dining",
        )

        r = await client.patch(
            f"/api/v1/categories/{kitchen_id}", headers=headers, json={"parent_id": fashion_id}
        )
        assert r.status_code == 200 and r.json()["parent_id"] == fashion_id
        r = await client.patch(f"/api/v1/categories/{kitchen_id}", headers=headers, json={"parent_id": None})
        assert r.status_code == 200 and r.json()["parent_id"] is None
        tree = (await client.get("/api/v1/categories")).json()
        assert "kitchen-dining" in [n["slug"] for n in tree]
        assert "kitchen-dining" not in [
            n["slug"] for n in next(t for t in tree if t["id"] == home_id)["children"]
        ]

    @pytest.mark.parametrize(
        ("target", "body", "field", "code"),
        [
            ("home", {"parent_id": "mugs"}, "parent_id", "category_cycle"),
            ("home", {"parent_id": "home"}, "parent_id", "category_cycle"),
            ("kitchen", {"slug": "garden"}, "slug", "slug_taken"),
            ("kitchen", {"slug": "Not A Slug"}, "slug", "invalid"),
            ("kitchen", {"parent_id": 987654}, "parent_id", "unknown_category"),
            ("kitchen", {"name": ""}, "name", "invalid"),
        ],
    )
    async def test_bad_changes_are_refused(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        operator_factory,
        category_factory,
        target,
        body,
        field,
        code,
    ) -> None:
        c = await _tree(session, category_factory)
        ids = {k: v.id for k, v in c.items()}
        headers = await api_token_for(session, await operator_factory())
        if isinstance(body.get("parent_id"), str):
            body = {"parent_id": ids[body["parent_id"]]}
        await session.commit()  # the setup survives the refused request's rollback
        r = await client.patch(f"/api/v1/categories/{ids[target]}", headers=headers, json=body)
        assert r.status_code == 422, r.text
        assert r.json()["error"] == code and field in r.json()["fields"]
        parents = dict((await session.execute(select(Category.slug, Category.parent_id))).all())
        assert parents["home"] is None and parents["kitchen"] == ids["home"]

    async def test_slug_must_be_unique_on_create(
        self, client: httpx.AsyncClient, session: AsyncSession, operator_factory, category_factory
    ) -> None:
        await category_factory(name="Toys", slug="toys")
        headers = await api_token_for(session, await operator_factory())
        await session.commit()
        before = await session.scalar(select(func.count()).select_from(Category))
        r = await client.post("/api/v1/categories", headers=headers, json={"name": "Toys", "slug": "toys"})
        assert r.status_code == 422 and r.json()["fields"] == {"slug": "is already used by another category"}
        r = await client.post(
            "/api/v1/categories", headers=headers, json={"name": "Toys", "parent_id": 987654}
        )
        assert r.status_code == 422 and r.json()["fields"] == {"parent_id": "unknown category"}
        assert await session.scalar(select(func.count()).select_from(Category)) == before

    async def test_only_operators_with_a_write_token(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        user_factory,
        operator_factory,
        category_factory,
    ) -> None:
        category_id = (await category_factory(name="Books")).id
        seller = await api_token_for(session, await user_factory())
        reader = await api_token_for(session, await operator_factory(), scopes="read")
        await session.commit()
        r = await client.post("/api/v1/categories", json={"name": "Anonymous"})
        assert r.status_code == 401
        r = await client.post("/api/v1/categories", headers=seller, json={"name": "Sellers"})
        assert r.status_code == 403 and r.json()["error"] == "operator_only"
        r = await client.patch(
            f"/api/v1/categories/{category_id}", headers=reader, json={"name": "Read only"}
        )
        assert r.status_code == 403 and r.json()["error"] == "token_read_only"
        assert (await session.get(Category, category_id)).name == "Books"  # type: ignore[union-attr]
