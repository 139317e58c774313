"""Claims after receipt (trade assurance): the same dispute engine on a completed seller order, within the claim
window, with the claim timers (answer in 3 days, the buyer may escalate from then, it escalates on its own on
day 7) and a refund clawed back from the store's balance, which may go below zero. The ledger balances and
`souk audit` passes after each test (conftest)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from fixtures.core import form, login_as
from fixtures.factories import actor_of
from fixtures.orders import seller_orders, ship
from souk.dispute.errors import DisputeNotAllowed, RefundAmountInvalid
from souk.dispute.schemas import DisputeCreate, DisputeRuling
from souk.dispute.service import dispute_service
from souk.errors import Invalid
from souk.kit.clock import clock
from souk.ledger import accounts
from souk.ledger.service import ledger_service
from souk.models import Dispute, OrderEvent, PaymentRefund, SellerOrder, User
from souk.order.service import order_service
from souk.order.views import event_text
from souk.trade.policy import policy_overridden


async def _so(session, so_id) -> SellerOrder:
    so = await session.scalar(
        select(SellerOrder).where(SellerOrder.id == so_id).execution_options(populate_existing=True)
    )
    assert so is not None
    return so


async def _payable(session, so: SellerOrder) -> int:
    return await ledger_service.balance(session, accounts.payable(so.store_id), so.currency)


async def _completed(session, market, buy, model="sourcing"):
    """A paid, shipped and received order of a store of ``model`` (the first store's seller order)."""
    clock.freeze()
    m = await market(prices=(2990,), qty=(1,), kinds=("express",), shipping=(490,), trade_model=model)
    order = await buy(m)
    so = (await seller_orders(session, order.id))[0]
    await ship(session, m, so)
    await order_service.confirm_receipt(session, m.actor, order.id, so.id)
    return m, order, so.id


def _claim(so_id, amount=None, reason="quality_mismatch"):
    return DisputeCreate(
        seller_order_id=so_id,
        reason=reason,
        amount=amount,
        message="The inspection report shows 12 % defects.",
    )


@pytest.fixture(autouse=True)
def _unfreeze():
    yield
    clock.reset()


class TestClaims:
    async def test_accepted_claim_is_clawed_back_from_the_released_balance(self, session, market, buy):
        m, order, so_id = await _completed(session, market, buy)
        so = await _so(session, so_id)
        assert so.status == "completed"
        payable_before = await _payable(session, so)
        assert payable_before > 0  # the escrow was released, minus the commission
        d = await dispute_service.open(session, m.actor, _claim(so_id, amount=1000))
        assert (d.kind, d.status, d.requested_amount) == ("claim", "awaiting_seller", 1000)
        assert d.respond_by == clock.now() + timedelta(days=3)
        assert d.escalate_by == clock.now() + timedelta(days=7)

        d = await dispute_service.accept(session, m.seller_of(so.store_id), d.id)
        assert (d.status, d.outcome, d.resolved_amount) == ("resolved", "refund_partial", 1000)
        assert await _payable(session, so) == payable_before - 1000
        assert (await _so(session, so_id)).status == "completed"
        refunds = (
            await session.scalars(select(PaymentRefund).where(PaymentRefund.payment_id == order.payment_id))
        ).all()
        assert [r.amount for r in refunds] == [1000]
        event = await session.scalar(
            select(OrderEvent).where(OrderEvent.seller_order_id == so_id, OrderEvent.kind == "dispute_opened")
        )
        assert event is not None
        assert event_text(event, so.currency) == "Claim of US$10.00 opened after receipt: quality mismatch"

    async def test_full_claim_ruled_by_an_operator_takes_the_balance_below_zero(
        self, session, market, buy, operator_factory
    ):
        m, _order, so_id = await _completed(session, market, buy)
        so = await _so(session, so_id)
        payable = await _payable(session, so)
        d = await dispute_service.open(session, m.actor, _claim(so_id, reason="late_shipment"))
        assert d.requested_amount == so.total_amount  # everything that was paid
        await dispute_service.reject(session, m.seller_of(so.store_id), d.id, "Shipped on the agreed date.")
        d = await dispute_service.escalate(session, m.actor, d.id)
        assert d.status == "escalated"
        operator = await operator_factory()
        d = await dispute_service.rule(
            session,
            actor_of(operator),
            d.id,
            DisputeRuling(outcome="refund_full", reason="Shipped 9 days late."),
        )
        assert (d.outcome, d.resolved_amount) == ("refund_full", so.total_amount)
        # the store had received total - commission; it gave back the total: the difference is owed
        assert await _payable(session, so) == payable - so.total_amount < 0
        assert (await _so(session, so_id)).status == "refunded"

    async def test_claim_timers_buyer_may_escalate_from_day_four_and_it_escalates_on_day_seven(
        self, session, market, buy, run_worker
    ):
        m, _order, so_id = await _completed(session, market, buy)
        d = await dispute_service.open(session, m.actor, _claim(so_id))
        clock.advance(timedelta(days=2, hours=23))
        await run_worker()
        with pytest.raises(DisputeNotAllowed, match="has until"):
            await dispute_service.escalate(session, m.actor, d.id)
        clock.advance(timedelta(hours=2))
        await run_worker()
        dispute = await session.get(Dispute, d.id, populate_existing=True)
        # unanswered: nothing is refunded by default; the buyer may take it to the platform
        assert dispute.status == "awaiting_buyer" and dispute.outcome is None
        clock.advance(timedelta(days=3, hours=22))
        await run_worker()
        assert (await session.get(Dispute, d.id, populate_existing=True)).status == "awaiting_buyer"
        clock.advance(timedelta(hours=2))
        await run_worker()
        dispute = await session.get(Dispute, d.id, populate_existing=True)
        assert dispute.status == "escalated" and dispute.escalated_at is not None

    async def test_buyer_escalates_an_unanswered_claim_before_the_worker_ran(self, session, market, buy):
        m, _order, so_id = await _completed(session, market, buy)
        d = await dispute_service.open(session, m.actor, _claim(so_id))
        clock.advance(timedelta(days=3, minutes=1))
        d = await dispute_service.escalate(session, m.actor, d.id)
        assert d.status == "escalated"

    async def test_rejected_claim_still_escalates_on_day_seven(self, session, market, buy, run_worker):
        m, _order, so_id = await _completed(session, market, buy)
        so = await _so(session, so_id)
        d = await dispute_service.open(session, m.actor, _claim(so_id))
        clock.advance(timedelta(days=1))
        d = await dispute_service.reject(session, m.seller_of(so.store_id), d.id, "Within tolerance.")
        assert d.escalate_by == clock.now() + timedelta(days=6)
        clock.advance(timedelta(days=6, minutes=1))
        await run_worker()
        assert (await session.get(Dispute, d.id, populate_existing=True)).status == "escalated"

    async def test_claim_window_and_limits(self, session, market, buy):
        m, _order, so_id = await _completed(session, market, buy)
        so = await _so(session, so_id)
        with pytest.raises(Invalid):
            await dispute_service.open(
                session, m.actor, DisputeCreate(seller_order_id=so_id, reason="damaged", wants_return=True)
            )
        d = await dispute_service.open(session, m.actor, _claim(so_id, amount=500))
        await dispute_service.accept(session, m.seller_of(so.store_id), d.id)
        # a second claim may ask for what is left of the total, not more
        with pytest.raises(RefundAmountInvalid):
            await dispute_service.open(session, m.actor, _claim(so_id, amount=so.total_amount))
        # the window is the order's: 30 days after receipt for sourcing
        clock.advance(timedelta(days=30, minutes=1))
        with pytest.raises(DisputeNotAllowed, match="claim window of 30 days"):
            await dispute_service.open(session, m.actor, _claim(so_id, amount=100))

    async def test_no_claim_window_means_no_claim(self, session, market, buy):
        with policy_overridden("market", claim_window_days=0):
            m, _order, so_id = await _completed(session, market, buy, model="market")
            clock.advance(timedelta(minutes=1))
            with pytest.raises(DisputeNotAllowed):
                await dispute_service.open(session, m.actor, _claim(so_id, reason="damaged"))


class TestClaimPages:
    async def test_buyer_opens_a_claim_from_the_order_page(self, client, session, market, buy):
        m, order, so_id = await _completed(session, market, buy)
        buyer = await session.get(User, m.buyer_id)
        await login_as(client, session, buyer)
        await session.commit()
        page = await client.get(f"/orders/{order.id}")
        assert "Open a claim" in page.text and "Request a refund" not in page.text
        form_page = await client.get(f"/disputes/new?seller_order_id={so_id}")
        text = form_page.text
        assert "Open a claim on" in text and "The seller has 3 days to answer" in text
        assert "The quality does not match the contract" in text and 'name="wants_return"' not in text
        r = await client.post(
            "/disputes",
            data=form(
                client,
                seller_order_id=str(so_id),
                reason="quality_mismatch",
                amount="5.00",
                message="12 % of the pieces are scratched; the inspection report is attached.",
            ),
        )
        assert r.status_code == 303, r.text
        dispute = await session.scalar(select(Dispute).where(Dispute.seller_order_id == so_id))
        assert dispute is not None and (dispute.kind, dispute.requested_amount) == ("claim", 500)
        assert "Claim opened" in (await client.get(r.headers["location"])).text
        # past the window the order page offers nothing
        clock.advance(timedelta(days=31))
        await login_as(client, session, await session.get(User, m.buyer_id))
        await session.commit()
        assert "Open a claim" not in (await client.get(f"/orders/{order.id}")).text
