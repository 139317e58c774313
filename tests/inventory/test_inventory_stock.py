from __future__ import annotations

import html
import re

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.catalog import seller_actor
from fixtures.core import api_token_for, form, login_as
from fixtures.factories import actor_of
from souk.auth.actor import Actor
from souk.errors import Forbidden, Invalid
from souk.inventory.errors import StockBelowReserved, StockNotFound
from souk.inventory.schemas import StockAdjust
from souk.inventory.service import inventory_service
from souk.kit.clock import clock
from souk.models import Membership, Product, Sku, Stock, StockMovement, Store


async def _levels(session: AsyncSession, sku_id: int) -> tuple[int, int]:
    row = (await session.execute(select(Stock.on_hand, Stock.reserved).where(Stock.sku_id == sku_id))).one()
    return row[0], row[1]


async def _movements(session: AsyncSession, sku_id: int) -> list[tuple[str, int, int, str]]:
    rows = await session.scalars(
        select(StockMovement).where(StockMovement.sku_id == sku_id).order_by(StockMovement.id)
    )
    return [(m.kind, m.delta, m.on_hand_after, m.reason) for m in rows]


async def _owner_of(session: AsyncSession, sku: Sku) -> Actor:
    store = await session.scalar(
        select(Store).join(Product, Product.store_id == Store.id).where(Product.id == sku.product_id)
    )
    assert store is not None
    return await seller_actor(session, store)


class TestAdjust:
    async def test_adjust_writes_a_movement_and_the_history_is_newest_first(
        self, session: AsyncSession, sku_factory
    ) -> None:
        sku = await sku_factory(on_hand=10)
        actor = await _owner_of(session, sku)

        info = await inventory_service.adjust(session, actor, sku.id, StockAdjust(delta=5, reason="delivery"))
        assert (info.on_hand, info.reserved, info.available) == (15, 0, 15)
        info = await inventory_service.adjust(
            session, actor, sku.id, StockAdjust(delta=-3, reason=" damaged ")
        )
        assert (info.on_hand, info.available) == (12, 12)

        assert await _movements(session, sku.id) == [
            ("initial", 10, 10, "initial stock"),
            ("adjustment", 5, 15, "delivery"),
            ("adjustment", -3, 12, "damaged"),
        ]
        page = await inventory_service.history(session, actor, sku.id, limit=2)
        assert [(r.movement.delta, r.actor_name is not None) for r in page.items] == [(-3, True), (5, True)]
        older = await inventory_service.history(session, actor, sku.id, cursor=page.next_cursor, limit=2)
        assert [r.movement.kind for r in older.items] == ["initial"] and older.next_cursor is None

    async def test_history_orders_by_time_then_id(self, session: AsyncSession, sku_factory) -> None:
        sku = await sku_factory(on_hand=1)
        actor = await _owner_of(session, sku)
        clock.freeze()
        for n in range(3):
            await inventory_service.adjust(session, actor, sku.id, StockAdjust(delta=1, reason=f"count {n}"))
        page = await inventory_service.history(session, actor, sku.id, limit=2)
        rest = await inventory_service.history(session, actor, sku.id, cursor=page.next_cursor, limit=2)
        assert [r.movement.reason for r in page.items + rest.items] == [
            "count 2",
            "count 1",
            "count 0",
            "initial stock",
        ]

    async def test_cannot_go_below_reserved(self, session: AsyncSession, sku_factory) -> None:
        sku = await sku_factory(on_hand=5, reserved=4)
        actor = await _owner_of(session, sku)
        with pytest.raises(StockBelowReserved) as caught:
            await inventory_service.adjust(session, actor, sku.id, StockAdjust(delta=-2, reason="count"))
        assert caught.value.status_code == 409 and caught.value.code == "stock_below_reserved"
        assert "4 are reserved" in caught.value.fields["delta"]
        assert await _levels(session, sku.id) == (5, 4)
        assert [m[0] for m in await _movements(session, sku.id)] == ["initial", "reservation"]
        info = await inventory_service.adjust(session, actor, sku.id, StockAdjust(delta=-1, reason="count"))
        assert (info.on_hand, info.reserved, info.available) == (4, 4, 0)

    async def test_cannot_exceed_the_maximum(self, session: AsyncSession, sku_factory) -> None:
        sku = await sku_factory(on_hand=10**7)
        with pytest.raises(Invalid) as caught:
            await inventory_service.adjust(
                session, await _owner_of(session, sku), sku.id, StockAdjust(delta=1, reason="more")
            )
        assert "delta" in caught.value.fields and await _levels(session, sku.id) == (10**7, 0)

    async def test_people_of_other_stores_get_404_staff_may_adjust(
        self, session: AsyncSession, user_factory, organization_factory, store_factory, sku_factory
    ) -> None:
        owner, staff, stranger = await user_factory(), await user_factory(), await user_factory()
        organization = await organization_factory(owner=owner)
        session.add(Membership(organization_id=organization.id, user_id=staff.id, role="staff"))
        sku = await sku_factory(await store_factory("sourcing", organization=organization), on_hand=3)

        with pytest.raises(StockNotFound):
            await inventory_service.adjust(
                session, actor_of(stranger), sku.id, StockAdjust(delta=1, reason="x")
            )
        with pytest.raises(StockNotFound):
            await inventory_service.history(session, actor_of(stranger), sku.id)
        info = await inventory_service.adjust(
            session, actor_of(staff), sku.id, StockAdjust(delta=2, reason="found")
        )
        assert info.on_hand == 5
        reader = actor_of(owner)
        object.__setattr__(reader, "scopes", frozenset({"read"}))
        with pytest.raises(Forbidden):
            await inventory_service.adjust(session, reader, sku.id, StockAdjust(delta=1, reason="x"))
        assert (await inventory_service.get_stock(session, reader, sku.id)).on_hand == 5


class TestReservations:
    async def test_reserve_and_release_never_oversell(self, session: AsyncSession, sku_factory) -> None:
        sku = await sku_factory(on_hand=5)
        assert await inventory_service.reserve(session, sku.id, 3)
        assert not await inventory_service.reserve(session, sku.id, 3)
        assert await inventory_service.reserve(session, sku.id, 2)
        assert not await inventory_service.reserve(session, sku.id, 1)
        assert await _levels(session, sku.id) == (5, 5)
        assert not await inventory_service.release(session, sku.id, 6)
        assert await inventory_service.release(session, sku.id, 4)
        assert await _levels(session, sku.id) == (5, 1)
        assert [(k, d, after) for k, d, after, _ in await _movements(session, sku.id)] == [
            ("initial", 5, 5),
            ("reservation", 3, 5),
            ("reservation", 2, 5),
            ("release", -4, 5),
        ]
        with pytest.raises(Invalid):
            await inventory_service.reserve(session, sku.id, 0)
        stock = await session.get(Stock, sku.id)
        await session.refresh(stock)
        assert stock is not None and stock.reserved == 1


class TestApi:
    async def test_adjust_read_and_history(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, sku_factory
    ) -> None:
        owner = await user_factory()
        sku = await sku_factory(await store_factory(owner=owner), on_hand=5, reserved=2)
        sku_id, code = sku.id, sku.code
        headers = await api_token_for(session, owner)
        await session.commit()

        r = await client.post(
            f"/api/v1/skus/{sku_id}/stock-adjustments",
            headers=headers,
            json={"delta": 7, "reason": "delivery from the workshop"},
        )
        assert r.status_code == 201
        assert r.json() == {
            "sku_id": sku_id,
            "product_id": sku.product_id,
            "code": code,
            "on_hand": 12,
            "reserved": 2,
            "available": 10,
        }
        r = await client.get(f"/api/v1/skus/{sku_id}/stock", headers=headers)
        assert (r.json()["on_hand"], r.json()["available"]) == (12, 10)

        r = await client.post(
            f"/api/v1/skus/{sku_id}/stock-adjustments",
            headers=headers,
            json={"delta": -11, "reason": "count"},
        )
        assert (
            r.status_code == 409
            and r.json()["error"] == "stock_below_reserved"
            and "delta" in r.json()["fields"]
        )

        r = await client.get(f"/api/v1/skus/{sku_id}/stock-movements", headers=headers, params={"limit": 2})
        body = r.json()
        assert [(m["kind"], m["delta"], m["on_hand_after"]) for m in body["items"]] == [
            ("adjustment", 7, 12),
            ("reservation", 2, 5),
        ]
        assert (
            body["items"][0]["reason"] == "delivery from the workshop"
            and body["items"][0]["actor_id"] == owner.id
        )
        r = await client.get(
            f"/api/v1/skus/{sku_id}/stock-movements", headers=headers, params={"cursor": body["next_cursor"]}
        )
        assert [m["kind"] for m in r.json()["items"]] == ["initial"] and r.json()["next_cursor"] is None
        bad = await client.get(
            f"/api/v1/skus/{sku_id}/stock-movements", headers=headers, params={"cursor": "eA"}
        )
        assert bad.status_code == 422 and "cursor" in bad.json()["fields"]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"delta": 0, "reason": "nothing"}, "delta"),
            ({"delta": "5", "reason": "text"}, "delta"),
            ({"delta": 2.5, "reason": "half"}, "delta"),
            ({"delta": 5}, "reason"),
            ({"delta": 5, "reason": "   "}, "reason"),
            ({"delta": 10**7 + 1, "reason": "lots"}, "delta"),
        ],
    )
    async def test_bad_adjustments_are_422_and_change_nothing(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        user_factory,
        store_factory,
        sku_factory,
        body,
        field,
    ) -> None:
        owner = await user_factory()
        sku_id = (await sku_factory(await store_factory(owner=owner), on_hand=5)).id
        headers = await api_token_for(session, owner)
        await session.commit()
        r = await client.post(f"/api/v1/skus/{sku_id}/stock-adjustments", headers=headers, json=body)
        assert r.status_code == 422 and field in r.json()["fields"], r.text
        assert await _levels(session, sku_id) == (5, 0)

    async def test_others_get_404_and_read_only_tokens_403(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, sku_factory
    ) -> None:
        owner = await user_factory()
        sku_id = (await sku_factory(await store_factory(owner=owner), on_hand=5)).id
        stranger = await api_token_for(session, await user_factory())
        reader = await api_token_for(session, owner, scopes="read")
        await session.commit()
        for method, url in (("POST", "stock-adjustments"), ("GET", "stock"), ("GET", "stock-movements")):
            r = await client.request(
                method,
                f"/api/v1/skus/{sku_id}/{url}",
                headers=stranger,
                json={"delta": 1, "reason": "x"} if method == "POST" else None,
            )
            assert r.status_code == 404, url
        assert (await client.get(f"/api/v1/skus/{sku_id}/stock")).status_code == 401
        r = await client.post(
            f"/api/v1/skus/{sku_id}/stock-adjustments", headers=reader, json={"delta": 1, "reason": "x"}
        )
        assert r.status_code == 403 and r.json()["error"] == "token_read_only"
        assert (await client.get(f"/api/v1/skus/{sku_id}/stock", headers=reader)).status_code == 200
        assert await _levels(session, sku_id) == (5, 0)


class TestPages:
    async def test_store_stock_table_and_adjust_from_a_row(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, product_factory
    ) -> None:
        owner = await user_factory()
        store = await store_factory(owner=owner)
        product = await product_factory(
            store,
            title="Mug",
            options=["Colour"],
            skus=[
                {"code": "MUG-R", "option_values": {"Colour": "Red"}, "price_amount": 900, "stock": 4},
                {"code": "MUG-B", "option_values": {"Colour": "Blue"}, "price_amount": 900, "stock": 0},
            ],
        )
        red_id = await session.scalar(select(Sku.id).where(Sku.product_id == product.id, Sku.code == "MUG-R"))
        await login_as(client, session, owner)

        page = await client.get(f"/seller/stores/{store.id}/stock")
        assert page.status_code == 200
        assert "MUG-R" in page.text and "Colour: Blue" in page.text and 'name="delta"' in page.text
        here = html.unescape(re.search(r'name="next" value="([^"]+)"', page.text).group(1))  # type: ignore[union-attr]
        assert here == f"/seller/stores/{store.id}/stock"

        r = await client.post(
            f"/seller/skus/{red_id}/stock", data=form(client, delta="+5", reason="delivery", next=here)
        )
        assert r.status_code == 303 and r.headers["location"] == here
        page = await client.get(here)
        assert "Stock of SKU MUG-R adjusted by +5" in page.text
        assert await _levels(session, red_id) == (9, 0)

    async def test_history_page_and_errors_re_render_the_form(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, sku_factory
    ) -> None:
        owner = await user_factory()
        sku = await sku_factory(await store_factory(owner=owner), on_hand=5, reserved=4)
        sku_id, code = sku.id, sku.code
        await login_as(client, session, owner)
        await session.commit()

        page = await client.get(f"/seller/skus/{sku_id}/stock")
        assert page.status_code == 200 and f"Stock of SKU {code}" in page.text
        assert "<dt>Available</dt><dd><strong>1</strong></dd>" in page.text
        assert "Reservation" in page.text and "initial stock" in page.text

        r = await client.post(f"/seller/skus/{sku_id}/stock", data=form(client, delta="-3", reason="count"))
        assert r.status_code == 409
        assert 'id="e-delta">would leave 2 on hand, but 4 are reserved' in r.text
        assert 'value="-3"' in r.text and 'value="count"' in r.text
        r = await client.post(f"/seller/skus/{sku_id}/stock", data=form(client, delta="three", reason=""))
        assert (
            r.status_code == 422
            and 'id="e-delta">must be a whole number' in r.text
            and 'id="e-reason"' in r.text
        )
        assert await _levels(session, sku_id) == (5, 4)

        r = await client.post(
            f"/seller/skus/{sku_id}/stock",
            data=form(client, delta="-1", reason="count", next="https://evil.example/"),
        )
        assert r.status_code == 303 and r.headers["location"] == f"/seller/skus/{sku_id}/stock"
        assert await _levels(session, sku_id) == (4, 4)

    async def test_another_seller_gets_404(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, sku_factory
    ) -> None:
        sku_id = (await sku_factory(on_hand=5)).id
        await login_as(client, session, await user_factory())
        await session.commit()
        assert (await client.get(f"/seller/skus/{sku_id}/stock")).status_code == 404
        r = await client.post(f"/seller/skus/{sku_id}/stock", data=form(client, delta="5", reason="mine"))
        assert r.status_code == 404
        assert await _levels(session, sku_id) == (5, 0)

    async def test_csrf_is_checked(
        self, client: httpx.AsyncClient, session: AsyncSession, user_factory, store_factory, sku_factory
    ) -> None:
        owner = await user_factory()
        sku_id = (await sku_factory(await store_factory(owner=owner), on_hand=5)).id
        await login_as(client, session, owner)
        await session.commit()
        r = await client.post(f"/seller/skus/{sku_id}/stock", data={"delta": "5", "reason": "no token"})
        assert r.status_code == 403 and await _levels(session, sku_id) == (5, 0)
