"""The order and stock checks of `souk audit` find what is wrong and stay quiet when all is well."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update

from fixtures.ledger import audit_violations
from fixtures.orders import seller_orders, ship
from souk.audit import run_checks
from souk.models import Order, Payment, SellerOrder, Stock
from souk.order.service import order_service


@pytest.fixture(autouse=True)
async def _audit_after_each_test() -> AsyncIterator[None]:
    """These tests break the invariants on purpose: no audit afterwards (overrides the conftest's)."""
    yield


CHECKS = ["order.escrow_settled", "order.paid_have_payment_and_entries", "inventory.stock_matches_movements"]


async def _violations(session) -> list[str]:
    await session.flush()
    return (await run_checks(session, CHECKS)).violations


class TestOrderAudit:
    async def test_a_full_lifecycle_passes(self, session, market, buy):
        m = await market()
        order = await buy(m)
        first, second = await seller_orders(session, order.id)
        await ship(session, m, first)
        await order_service.confirm_receipt(session, m.actor, order.id, first.id)
        await order_service.cancel(session, m.actor, order.id, second.id)
        assert await audit_violations(session) == []

    async def test_escrow_left_in_a_completed_order(self, session, market, buy):
        m = await market()
        order = await buy(m)
        so = (await seller_orders(session, order.id))[0]
        await session.execute(update(SellerOrder).where(SellerOrder.id == so.id).values(status="completed"))
        found = await _violations(session)
        assert f"order.escrow_settled: {so.number} is completed but its escrow holds" in found[0]
        assert any("never released" in v and so.number in v for v in found)

    async def test_paid_without_payment(self, session, market, buy):
        m = await market()
        order = await buy(m)
        await session.execute(update(Payment).where(Payment.id == order.payment_id).values(status="failed"))
        found = await _violations(session)
        assert found == [
            f"order.paid_have_payment_and_entries: order #{order.id} is paid but its payment is failed for "
            "$64.80 (the order's total is $64.80)"
        ]
        await session.execute(update(Order).where(Order.id == order.id).values(payment_id=None))
        assert (await _violations(session)) == [
            f"order.paid_have_payment_and_entries: order #{order.id} is paid but has no payment"
        ]

    async def test_stock_that_does_not_match_its_movements(self, session, market):
        m = await market()
        await session.execute(update(Stock).where(Stock.sku_id == m.sku_ids[0]).values(on_hand=7, reserved=2))
        found = await _violations(session)
        assert found == [
            f"inventory.stock_matches_movements: SKU #{m.sku_ids[0]} has 7 on hand and 2 reserved, but its "
            "movements add up to 10 on hand and 0 reserved"
        ]
