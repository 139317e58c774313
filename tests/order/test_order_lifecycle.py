"""The seller order state machine: ship, receipt (manual, automatic, extended), cancel, timers, permissions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from fixtures.orders import CARD_DECLINED, seller_orders, ship
from souk.auth.actor import Actor
from souk.errors import Forbidden, NotFound
from souk.kit.clock import clock
from souk.ledger import accounts
from souk.ledger.service import ledger_service
from souk.models import LedgerEntry, Notification, OrderEvent, Payment, Shipment, Stock, StockMovement
from souk.order.errors import ReceiptExtensionRefused, TransitionNotAllowed
from souk.order.schemas import ShipCreate
from souk.order.service import order_service
from souk.trade.policy import policy_overridden


async def _stock(session, sku_id):
    row = (
        await session.execute(
            select(Stock.on_hand, Stock.reserved)
            .where(Stock.sku_id == sku_id)
            .execution_options(populate_existing=True)
        )
    ).one()
    return tuple(row)


async def _events(session, so_id):
    rows = await session.scalars(
        select(OrderEvent.kind).where(OrderEvent.seller_order_id == so_id).order_by(OrderEvent.id)
    )
    return list(rows.all())


async def _entries(session, kind):
    return int(
        await session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == kind))
        or 0
    )


def _by_store(sos):
    return sorted(sos, key=lambda so: so.store_id)


class TestShipAndAutoConfirm:
    async def test_express_auto_confirms_after_ten_days_minus_two_percent(
        self, session, market, buy, run_worker, assert_ledger_balanced
    ):
        m = await market(prices=(2990, 1500), qty=(1, 2), shipping=(490, 0), kinds=("express", "surface"))
        order = await buy(m)
        express, surface = _by_store(await seller_orders(session, order.id))
        await ship(session, m, express, "JD 0146-000062")
        await ship(session, m, surface, "RR123456785CN")
        express, surface = _by_store(await seller_orders(session, order.id))
        assert express.status == "shipped" and express.auto_confirm_at == express.shipped_at + timedelta(
            days=10
        )
        assert surface.auto_confirm_at == surface.shipped_at + timedelta(days=30)
        shipment = await session.scalar(select(Shipment).where(Shipment.seller_order_id == express.id))
        assert (shipment.carrier, shipment.tracking_number, shipment.tracking_key) == (
            "DHL",
            "JD 0146-000062",
            "JD0146000062",
        )
        # nothing happens before the deadline
        clock.advance(timedelta(days=9, hours=23))
        await run_worker()
        assert (await seller_orders(session, order.id))[0].status == "shipped"
        clock.advance(timedelta(hours=2))
        await run_worker()
        express, surface = _by_store(await seller_orders(session, order.id))
        assert (express.status, surface.status) == ("completed", "shipped")
        # 3480 at 200 bps: 69.6 -> the largest remainder gives the platform 70, the store 3410
        escrow = accounts.escrow(express.store_id, express.id)
        assert await ledger_service.balance(session, escrow, "USD") == 0
        assert await ledger_service.balance(session, accounts.payable(express.store_id), "USD") == 3410
        assert await ledger_service.balance(session, accounts.COMMISSION, "USD") == 70
        assert (await _events(session, express.id))[-1] == "completed"
        event = await session.scalar(
            select(OrderEvent).where(OrderEvent.seller_order_id == express.id, OrderEvent.kind == "completed")
        )
        assert event.data == {"auto": True, "amount": 3480, "commission": 70, "released": 3410}
        assert event.actor_role == "system"
        await run_worker()
        assert await _entries(session, "escrow_released") == 1
        await assert_ledger_balanced(session)

    async def test_commission_is_snapshotted_at_checkout(self, session, market, buy, run_worker):
        m = await market(prices=(10000,), qty=(1,), shipping=(0,), kinds=("express",))
        order = await buy(m)
        (so,) = await seller_orders(session, order.id)
        with policy_overridden("market", commission_bps=1000):
            await ship(session, m, so)
            await order_service.confirm_receipt(session, m.actor, order.id, so.id)
        # placed at 2 %: the store gets 9800 although the policy now says 10 %
        assert await ledger_service.balance(session, accounts.payable(so.store_id), "USD") == 9800

    async def test_ship_rules(self, session, market, buy, user_factory):
        m = await market()
        order = await buy(m, number=CARD_DECLINED)
        so = _by_store(await seller_orders(session, order.id))[0]
        seller = m.seller_of(so.store_id)
        payload = ShipCreate(carrier="DHL", tracking_number="JD0146000062")
        with pytest.raises(TransitionNotAllowed):
            await order_service.ship(session, seller, so.store_id, so.id, payload)
        stranger = Actor(user_id=(await user_factory()).id)
        with pytest.raises(NotFound):
            await order_service.ship(session, stranger, so.store_id, so.id, payload)
        # a store's people only see their own store's orders
        other_so = _by_store(await seller_orders(session, order.id))[1]
        with pytest.raises(NotFound):
            await order_service.get_for_store(session, seller, so.store_id, other_so.id)
        with pytest.raises(NotFound):
            await order_service.get_for_store(session, seller, other_so.store_id, other_so.id)
        read_only = Actor(user_id=seller.user_id, scopes=frozenset({"read"}))
        with pytest.raises(Forbidden):
            await order_service.ship(session, read_only, so.store_id, so.id, payload)

    async def test_shipping_twice_is_a_no_op(self, session, market, buy):
        m = await market()
        order = await buy(m)
        so = (await seller_orders(session, order.id))[0]
        await ship(session, m, so)
        view = await order_service.ship(
            session,
            m.seller_of(so.store_id),
            so.store_id,
            so.id,
            ShipCreate(carrier="UPS", tracking_number="1Z999"),
        )
        assert view.shipment.carrier == "DHL" and view.status == "shipped"
        assert (await _events(session, so.id)).count("shipped") == 1
        buyer_notes = await session.scalars(
            select(Notification.title).where(
                Notification.user_id == m.buyer_id, Notification.kind == "order.shipped"
            )
        )
        assert list(buyer_notes.all()) == [f"Order {so.number} shipped"]


class TestConfirmAndExtend:
    async def test_confirm_receipt_releases_escrow_once(self, session, market, buy, assert_ledger_balanced):
        m = await market()
        order = await buy(m)
        so = _by_store(await seller_orders(session, order.id))[1]  # 3000, surface, free shipping
        with pytest.raises(TransitionNotAllowed):
            await order_service.confirm_receipt(session, m.actor, order.id, so.id)
        await ship(session, m, so)
        view = await order_service.confirm_receipt(session, m.actor, order.id, so.id)
        assert view.status == "completed" and view.next_action.kind == "none"
        again = await order_service.confirm_receipt(session, m.actor, order.id, so.id)
        assert again.status == "completed"
        assert await _entries(session, "escrow_released") == 1
        assert await ledger_service.balance(session, accounts.payable(so.store_id), "USD") == 2940
        note = await session.scalar(select(Notification.body).where(Notification.kind == "order.completed"))
        assert "2,940.00" not in note and "US$29.40" in note
        with pytest.raises(TransitionNotAllowed):
            await order_service.cancel(session, m.actor, order.id, so.id)
        await assert_ledger_balanced(session)

    async def test_extend_once_in_the_last_three_days(self, session, market, buy, run_worker):
        m = await market(kinds=("express", "express"))
        order = await buy(m)
        so = (await seller_orders(session, order.id))[0]
        await ship(session, m, so)
        so = (await seller_orders(session, order.id))[0]
        deadline = so.auto_confirm_at
        with pytest.raises(ReceiptExtensionRefused, match="3 days or fewer"):
            await order_service.extend_receipt(session, m.actor, order.id, so.id)
        clock.advance(timedelta(days=7, hours=1))
        view = await order_service.extend_receipt(session, m.actor, order.id, so.id)
        assert view.auto_confirm_at == deadline + timedelta(days=3) and view.receipt_extended
        assert "extend_receipt" not in view.next_action.actions
        with pytest.raises(ReceiptExtensionRefused, match="only once"):
            await order_service.extend_receipt(session, m.actor, order.id, so.id)
        # the old deadline passes without effect; the new one confirms
        clock.advance(timedelta(days=3))
        await run_worker()
        assert (await seller_orders(session, order.id))[0].status == "shipped"
        clock.advance(timedelta(days=3))
        await run_worker()
        assert (await seller_orders(session, order.id))[0].status == "completed"

    async def test_paused_timer_does_not_fire(self, session, market, buy, run_worker):
        clock.freeze()
        m = await market(kinds=("express", "express"))
        order = await buy(m)
        so = (await seller_orders(session, order.id))[0]
        await ship(session, m, so)
        clock.advance(timedelta(days=4))
        assert await order_service.pause_receipt_timer(session, so.id, reason="refund request")
        paused = (await seller_orders(session, order.id))[0]
        assert paused.auto_confirm_at is None and paused.auto_confirm_remaining_seconds == 6 * 86400
        clock.advance(timedelta(days=20))
        await run_worker()
        assert (await seller_orders(session, order.id))[0].status == "shipped"
        assert await order_service.resume_receipt_timer(session, so.id)
        resumed = (await seller_orders(session, order.id))[0]
        assert resumed.auto_confirm_at is not None and resumed.auto_confirm_remaining_seconds is None
        clock.advance(timedelta(days=6, seconds=1))
        await run_worker()
        assert (await seller_orders(session, order.id))[0].status == "completed"

    async def test_other_buyers_get_404(self, session, market, buy, user_factory):
        m = await market()
        order = await buy(m)
        so_id = (await seller_orders(session, order.id))[0].id
        stranger = Actor(user_id=(await user_factory()).id)
        with pytest.raises(NotFound):
            await order_service.get_for_buyer(session, stranger, order.id)
        with pytest.raises(NotFound):
            await order_service.cancel(session, stranger, order.id, so_id)
        other = await buy(await market())
        with pytest.raises(NotFound):  # a seller order of another order
            await order_service.cancel(session, m.actor, other.id, so_id)


class TestCancel:
    async def test_cancel_before_shipment_refunds_and_restocks(
        self, session, market, buy, assert_ledger_balanced
    ):
        m = await market()
        order = await buy(m)
        so = _by_store(await seller_orders(session, order.id))[0]
        assert await _stock(session, m.sku_ids[0]) == (9, 0)
        view = await order_service.cancel(session, m.actor, order.id, so.id)
        assert view.status == "cancelled" and view.cancel_reason == "buyer"
        assert await _stock(session, m.sku_ids[0]) == (10, 0)
        last = await session.scalar(
            select(StockMovement)
            .where(StockMovement.sku_id == m.sku_ids[0])
            .order_by(StockMovement.id.desc())
        )
        assert (last.kind, last.delta) == ("return", 1)
        assert await ledger_service.balance(session, accounts.escrow(so.store_id, so.id), "USD") == 0
        payment = await session.get(Payment, order.payment_id)
        await session.refresh(payment)
        assert payment.refunded_amount == 3480 and payment.status == "succeeded"
        # again: nothing more happens
        await order_service.cancel(session, m.actor, order.id, so.id)
        assert await _entries(session, "refund") == 1
        assert (await _events(session, so.id)) == ["placed", "paid", "cancelled"]
        note = await session.scalar(select(Notification).where(Notification.kind == "order.cancelled"))
        assert note.user_id == m.seller_of(so.store_id).user_id
        await assert_ledger_balanced(session)

    async def test_cancel_after_shipment_is_refused(self, session, market, buy):
        m = await market()
        order = await buy(m)
        so = (await seller_orders(session, order.id))[0]
        await ship(session, m, so)
        with pytest.raises(TransitionNotAllowed, match="refund"):
            await order_service.cancel(session, m.actor, order.id, so.id)

    async def test_late_seller_lets_the_buyer_cancel_at_once(
        self, session, market, buy, run_worker, assert_ledger_balanced
    ):
        m = await market()
        order = await buy(m)
        clock.advance(timedelta(days=3, minutes=1))
        await run_worker()
        sos = await seller_orders(session, order.id)
        assert all(so.seller_late_at is not None for so in sos)
        view = await order_service.get_for_buyer(session, m.actor, order.id)
        assert view.seller_orders[0].next_action.kind == "seller_late"
        assert view.seller_orders[0].next_action.actions == ["cancel"]
        first_id = sos[0].id
        await run_worker()
        assert (await _events(session, first_id)).count("seller_late") == 1
        cancelled = await order_service.cancel(session, m.actor, order.id, first_id)
        assert cancelled.cancel_reason == "seller_late"
        await assert_ledger_balanced(session)


class TestUnpaid:
    async def test_unpaid_order_closes_and_releases_stock(self, session, market, buy, run_worker):
        m = await market(qty=(3, 1))
        order = await buy(m, number=CARD_DECLINED)
        assert await _stock(session, m.sku_ids[0]) == (10, 3)
        clock.advance(timedelta(minutes=29))
        await run_worker()
        assert (await seller_orders(session, order.id))[0].status == "pending_payment"
        clock.advance(timedelta(minutes=2))
        await run_worker()
        sos = await seller_orders(session, order.id)
        assert {so.status for so in sos} == {"cancelled"} and {so.cancel_reason for so in sos} == {"unpaid"}
        assert await _stock(session, m.sku_ids[0]) == (10, 0)
        view = await order_service.get_for_buyer(session, m.actor, order.id)
        assert view.status == "cancelled" and view.closed_at is not None
        assert view.seller_orders[0].timeline[-1].text == "Closed: not paid in time"
        note = await session.scalar(select(Notification).where(Notification.kind == "order.closed"))
        assert note.user_id == m.buyer_id

    async def test_buyer_cancels_an_unpaid_order(self, session, market, buy):
        m = await market()
        order = await buy(m, number=CARD_DECLINED)
        view = await order_service.cancel_unpaid(session, m.actor, order.id)
        assert view.status == "cancelled"
        assert await _stock(session, m.sku_ids[1]) == (10, 0)
        paid_market = await market()
        paid = await buy(paid_market)
        with pytest.raises(TransitionNotAllowed):
            await order_service.cancel_unpaid(session, paid_market.actor, paid.id)

    async def test_payment_after_close_is_refunded(
        self, session, market, buy, run_worker, assert_ledger_balanced
    ):
        m = await market()
        order = await buy(m, deliver=False)  # the card is charged; the webhook has not arrived yet
        order_id = order.id
        # the timer waits for a payment being confirmed ...
        clock.advance(timedelta(minutes=31))
        from souk.order.tasks import close_unpaid

        assert await close_unpaid(session, clock.now()) == 0
        # ... but closes the order when the confirmation is very late
        clock.advance(timedelta(hours=1))
        assert await close_unpaid(session, clock.now()) == 1
        await run_worker()  # now the webhook arrives
        sos = await seller_orders(session, order_id)
        assert {so.status for so in sos} == {"cancelled"}
        payment = await session.scalar(select(Payment).execution_options(populate_existing=True))
        assert payment.status == "refunded" and payment.refunded_amount == payment.amount
        assert "late_payment_refunded" in await _events(session, sos[0].id)
        await assert_ledger_balanced(session)
