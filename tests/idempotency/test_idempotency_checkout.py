"""Checkout's own key handling (three transactions around the payment call): an error answer of step 1 is stored
with the key and replayed even after the problem went away; a new key runs again. The audit stays clean."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import api_token_for
from souk.inventory.schemas import StockAdjust
from souk.inventory.service import inventory_service
from souk.models import IdempotencyKey, Order, Payment, User


async def _count(session: AsyncSession, model: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_an_out_of_stock_answer_is_replayed_after_stock_came_back(
    client: httpx.AsyncClient, session: AsyncSession, market, assert_ledger_balanced
) -> None:  # type: ignore[no-untyped-def]
    m = await market(stock=3, qty=(2, 1))
    # someone else reserved two of the first SKU after the buyer put two in the cart
    assert await inventory_service.reserve(session, m.sku_ids[0], 2)
    buyer = await session.get(User, m.buyer_id)
    assert buyer is not None
    headers = await api_token_for(session, buyer)
    await session.commit()
    sent = {**headers, "Idempotency-Key": "out-of-stock"}

    first = await client.post("/api/v1/checkouts", json=m.body(), headers=sent)
    assert first.status_code == 409 and first.json()["error"] == "insufficient_stock", first.text
    row = await session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "out-of-stock"))
    assert row is not None and (row.status, row.response_status) == ("done", 409)

    # stock arrives; the same key still answers what it answered
    await inventory_service.adjust(
        session, m.sellers[0], m.sku_ids[0], StockAdjust(delta=5, reason="delivery")
    )
    await session.commit()
    again = await client.post("/api/v1/checkouts", json=m.body(), headers=sent)
    assert (again.status_code, again.content) == (409, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert await _count(session, Order) == 0

    # a new key is a new attempt, and succeeds
    fresh = await client.post(
        "/api/v1/checkouts", json=m.body(), headers={**headers, "Idempotency-Key": "retry"}
    )
    assert fresh.status_code == 201, fresh.text
    replay = await client.post(
        "/api/v1/checkouts", json=m.body(), headers={**headers, "Idempotency-Key": "retry"}
    )
    assert (replay.status_code, replay.content) == (201, fresh.content)
    assert replay.headers["location"] == fresh.headers["location"] == f"/api/v1/orders/{fresh.json()['id']}"
    assert await _count(session, Order) == 1 and await _count(session, Payment) == 1
    await assert_ledger_balanced(session)


async def test_an_expired_card_is_request_validation_and_not_stored(
    client: httpx.AsyncClient, session: AsyncSession, market
) -> None:  # type: ignore[no-untyped-def]
    m = await market()
    buyer = await session.get(User, m.buyer_id)
    assert buyer is not None
    sent = {**await api_token_for(session, buyer), "Idempotency-Key": "old-card"}
    await session.commit()
    body = m.body()
    body["card"] = {**body["card"], "exp_year": 2020}
    r = await client.post("/api/v1/checkouts", json=body, headers=sent)
    assert r.status_code == 422, r.text
    assert await session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0
    good = await client.post("/api/v1/checkouts", json=m.body(), headers=sent)
    assert good.status_code == 201, good.text
