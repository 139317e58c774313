"""The refund and dispute engine through the service: open, accept (full, partial), reject, escalate, rulings,
the timers, the receipt timer pause, permissions and limits. Every test moves money: the ledger balances and
`souk audit` passes after each (conftest)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from fixtures.factories import actor_of
from fixtures.orders import seller_orders, ship
from souk.auth.actor import Actor
from souk.dispute.errors import DisputeAlreadyOpen, DisputeNotAllowed, DisputeNotFound, RefundAmountInvalid
from souk.dispute.schemas import DisputeCreate, DisputeRuling
from souk.dispute.service import dispute_service
from souk.errors import Forbidden, Invalid, NotFound
from souk.kit.clock import clock
from souk.ledger import accounts
from souk.ledger.service import ledger_service
from souk.models import Dispute, Notification, OrderEvent, PaymentRefund, SellerOrder, Stock
from souk.order.service import order_service
from souk.trade.policy import policy_overridden


async def _so(session, so_id) -> SellerOrder:
    so = await session.scalar(
        select(SellerOrder).where(SellerOrder.id == so_id).execution_options(populate_existing=True)
    )
    assert so is not None
    return so


async def _escrow(session, so_id):
    so = await _so(session, so_id)
    return await ledger_service.balance(session, accounts.escrow(so.store_id, so.id), so.currency)


async def _refunded(session, payment_id):
    return int(
        await session.scalar(
            select(func.coalesce(func.sum(PaymentRefund.amount), 0)).where(
                PaymentRefund.payment_id == payment_id
            )
        )
        or 0
    )


async def _events(session, so_id):
    rows = await session.scalars(
        select(OrderEvent.kind).where(OrderEvent.seller_order_id == so_id).order_by(OrderEvent.id)
    )
    return list(rows.all())


async def _on_hand(session, sku_id):
    return await session.scalar(
        select(Stock.on_hand).where(Stock.sku_id == sku_id).execution_options(populate_existing=True)
    )


async def _setup(session, market, buy, *, shipped=True):
    """A paid order from two stores; the first store's seller order (shipped unless told) is the one disputed."""
    clock.freeze()
    m = await market(kinds=("express", "express"))
    order = await buy(m)
    so = sorted(await seller_orders(session, order.id), key=lambda s: s.store_id)[0]
    if shipped:
        await ship(session, m, so)
    return m, order, so.id


def _open(so_id, amount=None, reason="damaged"):
    return DisputeCreate(seller_order_id=so_id, reason=reason, amount=amount, message="It broke in transit.")


@pytest.fixture(autouse=True)
def _unfreeze():
    yield
    clock.reset()


class TestOpenAndAccept:
    async def test_full_refund_on_shipped_order(self, session, market, buy, assert_ledger_balanced):
        m, order, so_id = await _setup(session, market, buy)
        so = await _so(session, so_id)
        total, store_id = so.total_amount, so.store_id
        d = await dispute_service.open(session, m.actor, _open(so_id))
        assert d.status == "awaiting_seller" and d.requested_amount == total
        assert d.respond_by == clock.now() + timedelta(days=5)
        so = await _so(session, so_id)
        assert so.auto_confirm_at is None and so.receipt_timer_paused
        assert await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.kind == "dispute.update")
        )
        d = await dispute_service.accept(session, m.seller_of(store_id), d.id)
        assert (d.status, d.outcome, d.resolved_amount) == ("resolved", "refund_full", total)
        assert (await _so(session, so_id)).status == "refunded"
        assert await _escrow(session, so_id) == 0
        assert await _refunded(session, order.payment_id) == total
        kinds = await _events(session, so_id)
        assert kinds[kinds.index("dispute_opened") :] == [
            "dispute_opened",
            "receipt_timer_paused",
            "dispute_accepted",
            "refunded",
        ]
        # accepting again is a no-op: one refund
        again = await dispute_service.accept(session, m.seller_of(store_id), d.id)
        assert again.resolved_amount == total
        assert await _refunded(session, order.payment_id) == total
        await assert_ledger_balanced(session)

    async def test_full_refund_before_shipping_returns_stock(self, session, market, buy):
        m, _order, so_id = await _setup(session, market, buy, shipped=False)
        so = await _so(session, so_id)
        sku_id = m.sku_ids[m.store_ids.index(so.store_id)]
        before = await _on_hand(session, sku_id)
        d = await dispute_service.open(session, m.actor, _open(so_id, reason="not_received"))
        await dispute_service.accept(session, m.seller_of(so.store_id), d.id)
        assert (await _so(session, so_id)).status == "refunded"
        assert await _on_hand(session, sku_id) == before + 1

    async def test_partial_refund_keeps_rest_in_escrow_and_resumes_timer(
        self, session, market, buy, run_worker, assert_ledger_balanced
    ):
        m, order, so_id = await _setup(session, market, buy)
        so = await _so(session, so_id)
        total, store_id, deadline = so.total_amount, so.store_id, so.auto_confirm_at
        d = await dispute_service.open(session, m.actor, _open(so_id, amount=1000, reason="not_as_described"))
        clock.advance(timedelta(days=1))
        d = await dispute_service.accept(session, m.seller_of(store_id), d.id)
        assert (d.outcome, d.resolved_amount) == ("refund_partial", 1000)
        so = await _so(session, so_id)
        assert so.status == "shipped" and not so.receipt_timer_paused
        # the paused day does not count
        assert so.auto_confirm_at == deadline + timedelta(days=1)
        assert await _escrow(session, so_id) == total - 1000
        assert await _refunded(session, order.payment_id) == 1000
        await assert_ledger_balanced(session)
        # receipt then releases what is left
        clock.advance(timedelta(days=11))
        await run_worker()
        assert (await _so(session, so_id)).status == "completed"
        assert await _escrow(session, so_id) == 0
        await assert_ledger_balanced(session)


class TestRejectEscalateRule:
    async def _escalated(self, session, market, buy, amount=None):
        m, order, so_id = await _setup(session, market, buy)
        so = await _so(session, so_id)
        d = await dispute_service.open(session, m.actor, _open(so_id, amount=amount))
        d = await dispute_service.reject(
            session, m.seller_of(so.store_id), d.id, "The photos show no damage."
        )
        assert d.status == "awaiting_buyer" and d.escalate_by is not None
        with pytest.raises(DisputeNotAllowed):
            await dispute_service.accept(session, m.seller_of(so.store_id), d.id)
        await dispute_service.add_message(session, m.actor, d.id, "Here is what I see.")
        d = await dispute_service.escalate(session, m.actor, d.id)
        assert d.status == "escalated"
        assert [e.kind for e in d.events] == ["opened", "rejected", "message", "escalated"]
        return m, order, so_id, so.total_amount, d.id

    async def test_ruling_full_refund(self, session, market, buy, operator_factory):
        m, order, so_id, total, dispute_id = await self._escalated(session, market, buy)
        op = actor_of(await operator_factory())
        with pytest.raises(Forbidden):
            await dispute_service.rule(
                session, m.actor, dispute_id, DisputeRuling(outcome="refund_full", reason="not an operator")
            )
        d = await dispute_service.rule(
            session, op, dispute_id, DisputeRuling(outcome="refund_full", reason="Damage visible on photos.")
        )
        assert (d.outcome, d.resolved_amount) == ("refund_full", total)
        assert d.events[-1].kind == "ruled" and d.events[-1].actor_role == "operator"
        assert (await _so(session, so_id)).status == "refunded"
        assert await _refunded(session, order.payment_id) == total

    async def test_ruling_partial_refund(self, session, market, buy, operator_factory):
        _m, _order, so_id, total, dispute_id = await self._escalated(session, market, buy)
        op = actor_of(await operator_factory())
        with pytest.raises(RefundAmountInvalid):
            await dispute_service.rule(
                session,
                op,
                dispute_id,
                DisputeRuling(outcome="refund_partial", amount=total + 1, reason="Too much"),
            )
        d = await dispute_service.rule(
            session,
            op,
            dispute_id,
            DisputeRuling(outcome="refund_partial", amount=500, reason="Half the damage"),
        )
        assert (d.outcome, d.resolved_amount) == ("refund_partial", 500)
        so = await _so(session, so_id)
        assert so.status == "shipped" and so.auto_confirm_at is not None
        assert await _escrow(session, so_id) == total - 500

    async def test_ruling_release_to_seller(self, session, market, buy, operator_factory):
        m, order, so_id, total, dispute_id = await self._escalated(session, market, buy)
        op = actor_of(await operator_factory())
        d = await dispute_service.rule(
            session, op, dispute_id, DisputeRuling(outcome="released", reason="The item matches the listing.")
        )
        assert (d.status, d.outcome, d.resolved_amount) == ("resolved", "released", 0)
        so = await _so(session, so_id)
        assert so.status == "shipped" and so.auto_confirm_at is not None
        assert await _escrow(session, so_id) == total
        assert await _refunded(session, order.payment_id) == 0
        with pytest.raises(DisputeNotAllowed):
            await dispute_service.rule(
                session, op, dispute_id, DisputeRuling(outcome="refund_full", reason="again")
            )
        # a new request may be opened once the first is closed
        await dispute_service.open(session, m.actor, _open(so_id, amount=100))


class TestTimers:
    async def test_no_answer_refunds_after_five_days(self, session, market, buy, run_worker):
        m, order, so_id = await _setup(session, market, buy)
        so = await _so(session, so_id)
        total = so.total_amount
        d = await dispute_service.open(session, m.actor, _open(so_id))
        clock.advance(timedelta(days=4, hours=23))
        await run_worker()
        assert (await session.get(Dispute, d.id, populate_existing=True)).status == "awaiting_seller"
        clock.advance(timedelta(hours=2))
        await run_worker()
        dispute = await session.get(Dispute, d.id, populate_existing=True)
        assert (dispute.status, dispute.outcome, dispute.resolved_amount) == (
            "resolved",
            "refund_full",
            total,
        )
        assert (await _so(session, so_id)).status == "refunded"
        assert await _refunded(session, order.payment_id) == total
        assert "dispute_auto_refunded" in await _events(session, so_id)

    async def test_unescalated_rejection_goes_to_an_operator_by_market_policy(
        self, session, market, buy, run_worker
    ):
        m, _order, so_id = await _setup(session, market, buy)
        store_id = (await _so(session, so_id)).store_id
        d = await dispute_service.open(session, m.actor, _open(so_id))
        await dispute_service.reject(session, m.seller_of(store_id), d.id, "Delivered as described.")
        clock.advance(timedelta(days=6, hours=23))
        await run_worker()
        assert (await session.get(Dispute, d.id, populate_existing=True)).status == "awaiting_buyer"
        clock.advance(timedelta(hours=2))
        await run_worker()
        dispute = await session.get(Dispute, d.id, populate_existing=True)
        assert dispute.status == "escalated" and dispute.escalated_at is not None
        assert (await _so(session, so_id)).receipt_timer_paused

    async def test_receipt_timer_paused_while_open_and_unescalated_rejection_closes(
        self, session, market, buy, run_worker
    ):
        m, order, so_id = await _setup(session, market, buy)
        store_id = (await _so(session, so_id)).store_id
        with policy_overridden("market", escalation_default="close"):
            d = await dispute_service.open(session, m.actor, _open(so_id))
            await dispute_service.reject(session, m.seller_of(store_id), d.id, "Delivered as described.")
            # past the 10-day receipt timer: nothing completes while the request is open
            clock.advance(timedelta(days=7, hours=1))
            await run_worker()
            clock.advance(timedelta(days=5))
            await run_worker()
        assert (await _so(session, so_id)).status == "shipped"
        dispute = await session.get(Dispute, d.id, populate_existing=True)
        assert (dispute.status, dispute.outcome) == ("resolved", "released")
        so = await _so(session, so_id)
        assert so.auto_confirm_at is not None and "receipt_timer_resumed" in await _events(session, so_id)
        clock.advance(timedelta(days=11))
        await run_worker()
        assert (await _so(session, so_id)).status == "completed"
        assert await _escrow(session, so_id) == 0
        assert await _refunded(session, order.payment_id) == 0


class TestRules:
    async def test_other_buyers_and_stores_get_404(self, session, market, buy, user_factory):
        m, _order, so_id = await _setup(session, market, buy)
        other = Actor(user_id=(await user_factory()).id)
        with pytest.raises(DisputeNotFound):
            await dispute_service.open(session, other, _open(so_id))
        d = await dispute_service.open(session, m.actor, _open(so_id))
        with pytest.raises(DisputeNotFound):
            await dispute_service.get(session, other, d.id)
        with pytest.raises(DisputeNotFound):
            await dispute_service.escalate(session, other, d.id)
        so = await _so(session, so_id)
        other_store = m.store_ids[1] if m.store_ids[0] == so.store_id else m.store_ids[0]
        with pytest.raises(NotFound):
            await dispute_service.accept(session, m.seller_of(other_store), d.id)
        assert (await dispute_service.get(session, m.seller_of(so.store_id), d.id)).id == d.id

    async def test_amount_limit_second_dispute_and_states(self, session, market, buy):
        m, _order, so_id = await _setup(session, market, buy)
        total = (await _so(session, so_id)).total_amount
        with pytest.raises(RefundAmountInvalid):
            await dispute_service.open(session, m.actor, _open(so_id, amount=total + 1))
        await dispute_service.open(session, m.actor, _open(so_id, amount=total))
        with pytest.raises(DisputeAlreadyOpen):
            await dispute_service.open(session, m.actor, _open(so_id, amount=1))
        # a completed order has no escrow left: past the market's 15-day claim window nothing can be opened
        # (within it, it is a claim: tests/dispute/test_dispute_claims.py)
        m2, order2, so2 = await _setup(session, market, buy)
        so = await _so(session, so2)
        await order_service.confirm_receipt(session, m2.actor, order2.id, so2)
        clock.advance(timedelta(days=15, minutes=1))
        with pytest.raises(DisputeNotAllowed, match="claim window"):
            await dispute_service.open(session, m2.actor, _open(so2))
        assert so.total_amount > 0


class TestReturns:
    async def test_return_then_seller_confirms_arrival(self, session, market, buy, assert_ledger_balanced):
        m, order, so_id = await _setup(session, market, buy)
        so = await _so(session, so_id)
        store_id, total = so.store_id, so.total_amount
        payload = DisputeCreate(seller_order_id=so_id, reason="not_as_described", wants_return=True)
        d = await dispute_service.open(session, m.actor, payload)
        seller = m.seller_of(store_id)
        with pytest.raises(Invalid):
            await dispute_service.accept(session, seller, d.id)
        with pytest.raises(DisputeNotAllowed):
            await dispute_service.confirm_return(session, seller, d.id)
        d = await dispute_service.accept(session, seller, d.id, "Shop 1, Returns desk, 1 Main St, Berlin")
        assert d.status == "awaiting_return" and d.return_address.startswith("Shop 1")
        assert await _refunded(session, order.payment_id) == 0
        d = await dispute_service.add_return_tracking(session, m.actor, d.id, "RT123456")
        assert d.return_tracking_number == "RT123456" and d.respond_by == clock.now() + timedelta(days=10)
        d = await dispute_service.confirm_return(session, seller, d.id)
        assert (d.status, d.outcome, d.resolved_amount) == ("resolved", "refund_full", total)
        assert d.return_received_at is not None
        assert (await _so(session, so_id)).status == "refunded"
        assert await _refunded(session, order.payment_id) == total
        await assert_ledger_balanced(session)

    async def test_return_refunded_automatically_after_tracking(self, session, market, buy, run_worker):
        m, order, so_id = await _setup(session, market, buy)
        store_id = (await _so(session, so_id)).store_id
        payload = DisputeCreate(seller_order_id=so_id, reason="damaged", amount=800, wants_return=True)
        d = await dispute_service.open(session, m.actor, payload)
        await dispute_service.accept(session, m.seller_of(store_id), d.id, "Returns desk, 1 Main St, Berlin")
        # without a tracking number no refund timer runs (and the 7-day return deadline is not reached yet)
        clock.advance(timedelta(days=6))
        await run_worker()
        assert (await session.get(Dispute, d.id, populate_existing=True)).status == "awaiting_return"
        await dispute_service.add_return_tracking(session, m.actor, d.id, "RT999000")
        clock.advance(timedelta(days=10, minutes=1))
        await run_worker()
        dispute = await session.get(Dispute, d.id, populate_existing=True)
        assert (dispute.status, dispute.outcome, dispute.resolved_amount) == (
            "resolved",
            "refund_partial",
            800,
        )
        assert await _refunded(session, order.payment_id) == 800
        assert (await _so(session, so_id)).status == "shipped"

    async def test_return_not_sent_by_the_deadline_closes_without_refund(
        self, session, market, buy, run_worker, assert_ledger_balanced
    ):
        m, order, so_id = await _setup(session, market, buy)
        store_id = (await _so(session, so_id)).store_id
        seller = m.seller_of(store_id)
        payload = DisputeCreate(seller_order_id=so_id, reason="damaged", wants_return=True)
        d = await dispute_service.open(session, m.actor, payload)
        d = await dispute_service.accept(session, seller, d.id, "Returns desk, 1 Main St, Berlin")
        assert d.status == "awaiting_return" and d.return_by == clock.now() + timedelta(days=7)
        assert (await _so(session, so_id)).receipt_timer_paused

        def told(user_id):
            return session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.user_id == user_id, Notification.title.contains("refund request closed"))
            )

        clock.advance(timedelta(days=7) - timedelta(minutes=1))
        await run_worker()
        assert (await session.get(Dispute, d.id, populate_existing=True)).status == "awaiting_return"
        clock.advance(timedelta(minutes=2))
        await run_worker()
        dispute = await session.get(Dispute, d.id, populate_existing=True)
        assert (dispute.status, dispute.outcome, dispute.resolved_amount) == ("resolved", "released", 0)
        assert dispute.return_by is None and "not sent back in time" in (dispute.resolution_note or "")
        assert await _refunded(session, order.payment_id) == 0
        so = await _so(session, so_id)
        assert so.status == "shipped" and not so.receipt_timer_paused and so.auto_confirm_at is not None
        events = await _events(session, so_id)
        assert "dispute_released" in events and events[-1] == "receipt_timer_resumed"
        assert await told(m.buyer_id) == 1 and await told(seller.user_id) == 1
        # a second sweep changes nothing; the receipt timer then completes the order
        await run_worker()
        assert await told(m.buyer_id) == 1
        clock.advance(timedelta(days=11))
        await run_worker()
        assert (await _so(session, so_id)).status == "completed"
        await assert_ledger_balanced(session)

    async def test_tracking_number_given_in_time_stops_the_return_deadline(
        self, session, market, buy, run_worker
    ):
        m, _order, so_id = await _setup(session, market, buy)
        store_id = (await _so(session, so_id)).store_id
        payload = DisputeCreate(seller_order_id=so_id, reason="damaged", wants_return=True)
        with policy_overridden("market", return_ship_days=2):
            d = await dispute_service.open(session, m.actor, payload)
            d = await dispute_service.accept(session, m.seller_of(store_id), d.id, "Returns desk, Berlin")
        assert d.return_by == clock.now() + timedelta(days=2)
        clock.advance(timedelta(days=1))
        d = await dispute_service.add_return_tracking(session, m.actor, d.id, "RT777")
        assert d.return_by is None
        clock.advance(timedelta(days=3))
        await run_worker()
        dispute = await session.get(Dispute, d.id, populate_existing=True)
        assert dispute.status == "awaiting_return" and dispute.return_tracking_number == "RT777"
        assert await dispute_service.expire_return(session, d.id) is False

    def test_return_window_is_a_policy_value_with_an_env_override(self):
        from souk.trade.policy import TradeModel, configure_policies, get_policy

        assert all(get_policy(model).return_ship_window == timedelta(days=7) for model in TradeModel)
        try:
            configure_policies(environ={"SOUK_POLICY_MARKET_RETURN_SHIP_DAYS": "3"})
            assert get_policy("market").return_ship_window == timedelta(days=3)
            assert get_policy("mall").return_ship_window == timedelta(days=7)
            with pytest.raises(ValueError, match="SOUK_POLICY_MARKET_RETURN_SHIP_DAYS"):
                configure_policies(environ={"SOUK_POLICY_MARKET_RETURN_SHIP_DAYS": "soon"})
            with pytest.raises(ValueError, match="return_ship_days must be at least 1"):
                configure_policies(environ={"SOUK_POLICY_MARKET_RETURN_SHIP_DAYS": "0"})
        finally:
            configure_policies(environ={})


class TestOrderMovesWhileOpen:
    async def test_shipped_while_open_pauses_and_cancelled_closes(self, session, market, buy, run_worker):
        m, _order, so_id = await _setup(session, market, buy, shipped=False)
        so = await _so(session, so_id)
        d = await dispute_service.open(session, m.actor, _open(so_id, amount=500, reason="other"))
        await ship(session, m, so)
        assert (await _so(session, so_id)).auto_confirm_at is not None
        await run_worker()
        so = await _so(session, so_id)
        assert so.receipt_timer_paused and so.auto_confirm_at is None
        # a second order: the buyer cancels before shipment, then the seller's answer is due
        m2, order2, so2 = await _setup(session, market, buy, shipped=False)
        d2 = await dispute_service.open(session, m2.actor, _open(so2, amount=500, reason="other"))
        await order_service.cancel(session, m2.actor, order2.id, so2)
        clock.advance(timedelta(days=5, minutes=1))
        await run_worker()
        closed = await session.get(Dispute, d2.id, populate_existing=True)
        assert (closed.status, closed.outcome, closed.resolved_amount) == ("resolved", "released", 0)
        assert await _refunded(session, order2.payment_id) == (await _so(session, so2)).total_amount
        # the first one is refunded by the timer (partial: the rest stays in escrow)
        first = await session.get(Dispute, d.id, populate_existing=True)
        assert (first.outcome, first.resolved_amount) == ("refund_partial", 500)
        assert (await _so(session, so_id)).auto_confirm_at is not None
