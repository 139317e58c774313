"""A confirmed contract's order through the services: placing, both payment plans end to end, the on-time
shipment guarantee, paying twice, and strangers. After each test every `souk audit` check passes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from conftest_contract_order import (
    contract_world,
    escrow_of,
    fresh_order,
    fresh_so,
    milestones_of,
    pay_milestone,
    payable_of,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.factories import actor_of
from fixtures.orders import card
from souk.kit.clock import clock
from souk.models import LedgerEntry, OrderLine, Payment
from souk.order.errors import (
    MilestoneNotDue,
    MilestoneNotFound,
    MilestoneOrderNotCancellable,
    PaymentInProgress,
    TransitionNotAllowed,
)
from souk.order.schemas import ShipCreate
from souk.order.service import order_service
from souk.payment.schemas import CardIn
from souk.trade.sourcing.contract.orders import contract_orders

TOTAL = 1000 * 250 + 30_000  # 280 000
DEPOSIT = TOTAL * 3000 // 10_000  # 84 000
BALANCE = TOTAL - DEPOSIT  # 196 000
COMMISSION = TOTAL * 300 // 10_000  # 3 % sourcing commission: 8 400


@pytest.fixture(autouse=True)
async def _audit_after_each_test(
    session: AsyncSession, assert_ledger_balanced: Callable[[AsyncSession], Awaitable[None]]
) -> AsyncIterator[None]:
    yield
    await assert_ledger_balanced(session)


@pytest.fixture
def world(
    session: AsyncSession,
    sourcing_buyer: Any,
    sourcing_supplier: Any,
    rfq_factory: Any,
    quote_factory: Any,
) -> Callable[..., Awaitable[Any]]:
    async def make(**kw: Any) -> Any:
        return await contract_world(
            session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory, **kw
        )

    return make


SHIP = ShipCreate(carrier="COSCO", tracking_number="COSU6182735490")


async def test_place_makes_the_order_line_and_milestones(session: AsyncSession, world: Any) -> None:
    w = await world()
    so = await contract_orders.place(session, w.contract)
    assert w.contract.seller_order_id == so.id
    assert so.status == "awaiting_deposit"
    assert (so.trade_model, so.commission_bps, so.shipping_kind) == ("sourcing", 300, "surface")
    assert (so.items_amount, so.shipping_amount, so.total_amount) == (250_000, 30_000, TOTAL)
    assert so.ship_by == datetime.combine(w.contract.ship_by, time(23, 59, 59), tzinfo=UTC)
    order = await fresh_order(session, so.order_id)
    assert (order.buyer_id, order.total_amount, order.status) == (w.buyer.user.id, TOTAL, "pending_payment")
    assert order.shipping_address["city"] == "Hamburg"
    line = await session.scalar(select(OrderLine).where(OrderLine.seller_order_id == so.id))
    assert line is not None
    assert (line.sku_id, line.product_id, line.sku_code, line.quantity, line.unit_price_amount) == (
        None,
        None,
        w.contract.number,
        1000,
        250,
    )
    assert line.title.startswith("Stainless steel water bottles")
    ms = await milestones_of(session, so.id)
    assert (ms["deposit"].amount, ms["deposit"].status, ms["deposit"].position) == (DEPOSIT, "due", 1)
    assert (ms["balance"].amount, ms["balance"].status, ms["balance"].position) == (BALANCE, "pending", 2)
    # placing again gives the same order
    assert (await contract_orders.place(session, w.contract)).id == so.id


async def test_zero_deposit_starts_in_production(session: AsyncSession, world: Any) -> None:
    w = await world(deposit_bps=0)
    so = await contract_orders.place(session, w.contract)
    assert so.status == "in_production"
    ms = await milestones_of(session, so.id)
    assert set(ms) == {"balance"}
    assert ms["balance"].amount == TOTAL


async def test_balance_before_shipment_end_to_end(session: AsyncSession, world: Any, run_worker: Any) -> None:
    w = await world()
    so_id = (await contract_orders.place(session, w.contract)).id
    store_id = w.store_id

    await pay_milestone(session, run_worker, w, so_id, "deposit")
    so = await fresh_so(session, so_id)
    assert so.status == "in_production"
    assert await escrow_of(session, so) == DEPOSIT
    assert (await fresh_order(session, so.order_id)).status == "paid"
    ms = await milestones_of(session, so_id)
    assert ms["deposit"].status == "paid" and ms["deposit"].paid_at is not None
    assert ms["balance"].status == "pending"

    # the supplier cannot ship before the balance is paid
    with pytest.raises(TransitionNotAllowed):
        await order_service.ship(session, w.supplier_actor, store_id, so_id, SHIP)
    view = await contract_orders.production_finished(session, w.supplier_actor, store_id, so_id)
    assert view.status == "awaiting_balance"
    assert [m.status for m in view.milestones] == ["paid", "due"]
    assert view.next_action.kind == "await_balance"

    await pay_milestone(session, run_worker, w, so_id, "balance")
    so = await fresh_so(session, so_id)
    assert so.status == "paid"
    assert await escrow_of(session, so) == TOTAL
    view = await order_service.ship(session, w.supplier_actor, store_id, so_id, SHIP)
    assert view.status == "shipped"
    assert view.auto_confirm_at is not None
    assert view.auto_confirm_at - view.shipped_at == timedelta(days=60)  # sourcing surface receipt time

    before = await payable_of(session, store_id)
    buyer_view = await order_service.confirm_receipt(session, w.buyer_actor, so.order_id, so_id)
    assert buyer_view.status == "completed"
    assert await escrow_of(session, so) == 0
    assert await payable_of(session, store_id) - before == TOTAL - COMMISSION
    captured = await session.scalars(
        select(LedgerEntry.idempotency_key).where(LedgerEntry.idempotency_key.like(f"so:{so_id}:%"))
    )
    assert sorted(captured.all()) == sorted(
        [f"so:{so_id}:captured:deposit", f"so:{so_id}:captured:balance", f"so:{so_id}:released"]
    )


async def test_balance_on_documents_end_to_end_with_auto_confirm(
    session: AsyncSession, world: Any, run_worker: Any
) -> None:
    w = await world(balance_due="on_documents")
    so_id = (await contract_orders.place(session, w.contract)).id
    store_id = w.store_id
    await pay_milestone(session, run_worker, w, so_id, "deposit")
    # "production finished" is not this plan's step: it ships with the documents
    with pytest.raises(TransitionNotAllowed):
        await contract_orders.production_finished(session, w.supplier_actor, store_id, so_id)
    view = await order_service.ship(session, w.supplier_actor, store_id, so_id, SHIP)
    assert view.status == "awaiting_balance"
    assert view.shipment is not None and view.shipment.tracking_number == "COSU6182735490"
    assert view.auto_confirm_at is None  # the receipt timer waits for the balance
    assert [m.status for m in view.milestones] == ["paid", "due"]
    # shipping again changes nothing
    again = await order_service.ship(session, w.supplier_actor, store_id, so_id, SHIP)
    assert again.status == "awaiting_balance"

    await pay_milestone(session, run_worker, w, so_id, "balance")
    so = await fresh_so(session, so_id)
    assert so.status == "shipped"
    assert so.auto_confirm_at is not None
    assert await escrow_of(session, so) == TOTAL

    before = await payable_of(session, store_id)
    clock.freeze()
    clock.advance(timedelta(days=60, minutes=1))
    await run_worker()
    so = await fresh_so(session, so_id)
    assert so.status == "completed"
    assert await escrow_of(session, so) == 0
    assert await payable_of(session, store_id) - before == TOTAL - COMMISSION


async def test_a_milestone_is_paid_once(session: AsyncSession, world: Any, run_worker: Any) -> None:
    w = await world()
    so_id = (await contract_orders.place(session, w.contract)).id
    order_id = (await fresh_so(session, so_id)).order_id
    deposit_id = (await milestones_of(session, so_id))["deposit"].id
    good = CardIn.model_validate(card())
    await contract_orders.pay(session, w.buyer_actor, deposit_id, good, order_id=order_id)
    # a second submission while the provider confirms the first
    with pytest.raises(PaymentInProgress):
        await contract_orders.pay(session, w.buyer_actor, deposit_id, good, order_id=order_id)
    await run_worker()
    await run_worker()
    with pytest.raises(MilestoneNotDue):
        await contract_orders.pay(session, w.buyer_actor, deposit_id, good, order_id=order_id)
    payments = (await session.scalars(select(Payment).where(Payment.order_id == order_id))).all()
    assert [(p.amount, p.status) for p in payments] == [(DEPOSIT, "succeeded")]
    assert await escrow_of(session, await fresh_so(session, so_id)) == DEPOSIT
    # the balance is not due yet
    balance = (await milestones_of(session, so_id))["balance"]
    with pytest.raises(MilestoneNotDue):
        await contract_orders.pay(session, w.buyer_actor, balance.id, good, order_id=order_id)


async def test_a_declined_card_leaves_the_deposit_due(
    session: AsyncSession, world: Any, run_worker: Any
) -> None:
    w = await world()
    so_id = (await contract_orders.place(session, w.contract)).id
    so = await fresh_so(session, so_id)
    deposit = (await milestones_of(session, so_id))["deposit"]
    view = await contract_orders.pay(
        session,
        w.buyer_actor,
        deposit.id,
        CardIn.model_validate(card("4000000000000002")),
        order_id=so.order_id,
    )
    await run_worker()
    assert view.milestones[0].payment_status == "failed"
    assert (await milestones_of(session, so_id))["deposit"].status == "due"
    # another card pays it
    await pay_milestone(session, run_worker, w, so_id, "deposit")
    assert (await fresh_so(session, so_id)).status == "in_production"


async def test_on_time_guarantee_refunds_the_deposit(
    session: AsyncSession, world: Any, run_worker: Any
) -> None:
    w = await world(ship_in_days=10)
    so_id = (await contract_orders.place(session, w.contract)).id
    await pay_milestone(session, run_worker, w, so_id, "deposit")
    so = await fresh_so(session, so_id)
    with pytest.raises(MilestoneOrderNotCancellable):
        await order_service.cancel(session, w.buyer_actor, so.order_id, so_id)
    clock.freeze()
    clock.advance(timedelta(days=12))
    await run_worker()
    so = await fresh_so(session, so_id)
    assert so.seller_late_at is not None
    view = await order_service.cancel(session, w.buyer_actor, so.order_id, so_id)
    assert (view.status, view.cancel_reason) == ("cancelled", "seller_late")
    assert [m.status for m in view.milestones] == ["refunded", "cancelled"]
    so = await fresh_so(session, so_id)
    assert await escrow_of(session, so) == 0
    payment = await session.scalar(select(Payment).where(Payment.order_id == so.order_id))
    assert payment is not None and (payment.status, payment.refunded_amount) == ("refunded", DEPOSIT)
    assert view.timeline[-1].data["refund_amount"] == DEPOSIT


async def test_on_time_guarantee_refunds_deposit_and_balance(
    session: AsyncSession, world: Any, run_worker: Any
) -> None:
    w = await world(ship_in_days=10)
    so_id = (await contract_orders.place(session, w.contract)).id
    store_id = w.store_id
    await pay_milestone(session, run_worker, w, so_id, "deposit")
    await contract_orders.production_finished(session, w.supplier_actor, store_id, so_id)
    await pay_milestone(session, run_worker, w, so_id, "balance")
    so = await fresh_so(session, so_id)
    assert so.status == "paid"
    clock.freeze()
    clock.advance(timedelta(days=11))
    view = await order_service.cancel(session, w.buyer_actor, so.order_id, so_id)
    assert view.status == "cancelled"
    assert [m.status for m in view.milestones] == ["refunded", "refunded"]
    assert await escrow_of(session, await fresh_so(session, so_id)) == 0
    payments = (
        await session.scalars(select(Payment).where(Payment.order_id == so.order_id).order_by(Payment.id))
    ).all()
    assert [(p.amount, p.refunded_amount, p.status) for p in payments] == [
        (DEPOSIT, DEPOSIT, "refunded"),
        (BALANCE, BALANCE, "refunded"),
    ]
    refunds = await session.scalar(
        select(func.count())
        .select_from(LedgerEntry)
        .where(LedgerEntry.idempotency_key.like(f"so:{so_id}:refund:%"))
    )
    assert refunds == 2
    # shipping a cancelled order is refused
    with pytest.raises(TransitionNotAllowed):
        await order_service.ship(session, w.supplier_actor, store_id, so_id, SHIP)


async def test_unpaid_contract_order_is_cancelled_for_nothing(session: AsyncSession, world: Any) -> None:
    w = await world()
    so = await contract_orders.place(session, w.contract)
    view = await order_service.cancel(session, w.buyer_actor, so.order_id, so.id)
    assert (view.status, view.cancel_reason) == ("cancelled", "buyer_unpaid")
    assert [m.status for m in view.milestones] == ["cancelled", "cancelled"]
    assert (await fresh_order(session, so.order_id)).status == "cancelled"


async def test_strangers_get_404(
    session: AsyncSession, world: Any, user_factory: Any, organization_factory: Any
) -> None:
    w = await world()
    so = await contract_orders.place(session, w.contract)
    deposit = (await milestones_of(session, so.id))["deposit"]
    stranger = actor_of(await user_factory())
    with pytest.raises(MilestoneNotFound):
        await contract_orders.list_milestones(session, stranger, so.order_id)
    with pytest.raises(MilestoneNotFound):
        await contract_orders.pay(
            session, stranger, deposit.id, CardIn.model_validate(card()), order_id=so.order_id
        )
    # a colleague in the buyer organisation sees the milestones
    colleague = await user_factory()
    from souk.models import Membership

    session.add(Membership(user_id=colleague.id, organization_id=w.buyer_org_id, role="staff"))
    await session.flush()
    seen = await contract_orders.list_milestones(session, actor_of(colleague), so.order_id)
    assert [(m.kind, m.amount) for m in seen] == [("deposit", DEPOSIT), ("balance", BALANCE)]
