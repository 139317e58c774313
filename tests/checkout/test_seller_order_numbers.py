"""Seller order numbers are given by the database's insert trigger ("SO-<id + 1000>"), so placing an order
needs no UPDATE of its seller orders; the migration's copy of the trigger SQL agrees with the models'."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from sqlalchemy import select

from fixtures.core import api_token_for
from souk.migrate import ROOT
from souk.models import SellerOrder, User
from souk.models import order as order_models
from souk.models.order import seller_order_number


async def test_a_checkout_s_seller_orders_are_numbered_by_their_insert(
    client, session, market, assert_ledger_balanced
) -> None:
    m = await market()
    headers = await api_token_for(session, await session.get(User, m.buyer_id))
    await session.commit()
    r = await client.post(
        "/api/v1/checkouts", json=m.body(), headers={**headers, "Idempotency-Key": "numbers-1"}
    )
    assert r.status_code == 201, r.text
    answered = {so["id"]: so["number"] for so in r.json()["seller_orders"]}
    assert len(answered) == 2
    assert answered == {so_id: seller_order_number(so_id) for so_id in answered}
    stored = dict((await session.execute(select(SellerOrder.id, SellerOrder.number))).all())
    assert stored == answered
    await assert_ledger_balanced(session)


def _migration() -> ModuleType:
    (path,) = (ROOT / "migrations" / "versions").glob("*_seller_order_number_trigger.py")
    spec = importlib.util.spec_from_file_location("seller_order_number_migration", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_and_the_models_use_the_same_trigger_sql() -> None:
    migration = _migration()
    for name in ("NUMBER_OFFSET", "SELLER_ORDER_NUMBER_SQLITE", "SELLER_ORDER_NUMBER_PG"):
        assert getattr(migration, name) == getattr(order_models, name), name


async def test_the_checkout_answer_built_from_its_writes_is_what_a_read_gives(
    client, session, market, assert_ledger_balanced
) -> None:
    """The checkout's answer is built from the rows its placing wrote (lines and events come back from their
    INSERTs, the seller orders are read once): it is exactly the order as ``GET /api/v1/orders/{id}`` reads it
    afterwards, timeline and next actions included, and the same for the web form's order page."""
    m = await market()
    headers = await api_token_for(session, await session.get(User, m.buyer_id))
    await session.commit()
    r = await client.post(
        "/api/v1/checkouts", json=m.body(), headers={**headers, "Idempotency-Key": "answer-1"}
    )
    assert r.status_code == 201, r.text
    answered = r.json()
    read = await client.get(f"/api/v1/orders/{answered['id']}", headers=headers)
    assert read.status_code == 200
    assert answered == read.json()
    assert [len(so["lines"]) for so in answered["seller_orders"]] == [1, 1]
    assert [[e["kind"] for e in so["timeline"]] for so in answered["seller_orders"]] == [
        ["placed"],
        ["placed"],
    ]
    assert all(e["actor_name"] for so in answered["seller_orders"] for e in so["timeline"])
    await assert_ledger_balanced(session)
