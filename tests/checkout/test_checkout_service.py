"""Checkout in three steps on the service level: the pending order, the charge, the result."""

from __future__ import annotations

from sqlalchemy import func, select

from fixtures.orders import CARD_DECLINED, CARD_NO_FUNDS, seller_orders
from souk.checkout.service import checkout_service
from souk.ledger import accounts
from souk.ledger.service import ledger_service
from souk.models import LedgerEntry, OrderEvent, OrderLine, Payment, Stock, StockMovement
from souk.order.service import order_service


async def _stock(session, sku_id):
    row = (
        await session.execute(
            select(Stock.on_hand, Stock.reserved)
            .where(Stock.sku_id == sku_id)
            .execution_options(populate_existing=True)
        )
    ).one()
    return tuple(row)


class TestCheckoutTwoStores:
    async def test_one_order_two_seller_orders_paid_into_escrow(
        self, session, market, buy, assert_ledger_balanced
    ):
        m = await market(prices=(2990, 1500), qty=(1, 2), shipping=(490, 0))
        order = await buy(m)
        assert order.status == "paid"
        assert (order.items_amount, order.shipping_amount, order.total_amount) == (5990, 490, 6480)
        assert order.shipping_address["city"] == "Berlin"
        # one seller order per store, in the cart's order (the store added last first)
        sos = sorted(await seller_orders(session, order.id), key=lambda so: so.store_id)
        assert [so.store_id for so in sos] == m.store_ids
        assert [(so.items_amount, so.shipping_amount, so.total_amount) for so in sos] == [
            (2990, 490, 3480),
            (3000, 0, 3000),
        ]
        assert all(so.status == "paid" and so.ship_by is not None for so in sos)
        assert [so.number for so in sos] == [f"SO-{so.id + 1000}" for so in sos]
        assert [so.commission_bps for so in sos] == [200, 200]
        assert [(so.shipping_kind, so.auto_confirm_days) for so in sos] == [("express", 10), ("surface", 30)]
        lines = (await session.scalars(select(OrderLine).order_by(OrderLine.sku_id))).all()
        assert [(line.sku_id, line.quantity, line.unit_price_amount) for line in lines] == [
            (m.sku_ids[0], 1, 2990),
            (m.sku_ids[1], 2, 1500),
        ]
        # reservations became sales: on hand went down, nothing stays reserved
        assert await _stock(session, m.sku_ids[0]) == (9, 0)
        assert await _stock(session, m.sku_ids[1]) == (8, 0)
        kinds = (
            await session.scalars(
                select(StockMovement.kind)
                .where(StockMovement.sku_id == m.sku_ids[1])
                .order_by(StockMovement.id)
            )
        ).all()
        assert kinds == ["initial", "reservation", "sale"]
        # one payment for the whole order, and each seller order's share in its escrow
        payment = await session.get(Payment, order.payment_id)
        assert (payment.status, payment.amount) == ("succeeded", 6480)
        for so in sos:
            assert await ledger_service.balance(session, accounts.escrow(so.store_id, so.id), "USD") == (
                so.total_amount
            )
        assert await ledger_service.balance(session, accounts.PSP_CLEARING, "USD") == -6480
        # the cart lost the bought lines; the timeline says what happened
        from souk.cart.service import cart_service

        assert (await cart_service.get_cart(session, m.actor, None)).is_empty
        events = (
            await session.scalars(
                select(OrderEvent.kind).where(OrderEvent.seller_order_id == sos[0].id).order_by(OrderEvent.id)
            )
        ).all()
        assert events == ["placed", "paid"]
        await assert_ledger_balanced(session)

    async def test_webhook_and_checkout_converge_and_pay_once(
        self, session, market, buy, run_worker, assert_ledger_balanced
    ):
        m = await market()
        order = await buy(m)
        order_id, payment_id = order.id, order.payment_id
        # the checkout's own step 3 and the provider's webhook both reach mark_paid: only the first acts
        payment = await session.get(Payment, payment_id)
        assert await order_service.mark_paid(session, payment) is False
        assert await checkout_service.settle(session, order_id) == "succeeded"
        await run_worker()
        captured = await session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "payment_captured")
        )
        assert captured == 2
        assert await _stock(session, m.sku_ids[0]) == (9, 0)
        await assert_ledger_balanced(session)


class TestDeclinedCard:
    async def test_declined_card_leaves_the_order_waiting(self, session, market, buy, assert_ledger_balanced):
        m = await market()
        order = await buy(m, number=CARD_DECLINED)
        assert order.status == "pending_payment"
        payment = await session.get(Payment, order.payment_id)
        assert (payment.status, payment.failure_code) == ("failed", "card_declined")
        sos = await seller_orders(session, order.id)
        assert all(so.status == "pending_payment" for so in sos)
        # stock stays reserved for the buyer until pay_by
        assert await _stock(session, m.sku_ids[0]) == (10, 1)
        event = await session.scalar(
            select(OrderEvent).where(
                OrderEvent.seller_order_id == sos[0].id, OrderEvent.kind == "payment_failed"
            )
        )
        assert event.data["code"] == "card_declined"
        assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
        await assert_ledger_balanced(session)

    async def test_insufficient_funds(self, session, market, buy):
        m = await market()
        order = await buy(m, number=CARD_NO_FUNDS)
        payment = await session.get(Payment, order.payment_id)
        assert (order.status, payment.failure_code) == ("pending_payment", "insufficient_funds")
