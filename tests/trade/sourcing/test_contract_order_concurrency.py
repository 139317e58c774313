"""The deposit of a contract order paid twice at the same moment (real parallel PostgreSQL connections, through
the app on a database of its own), with two Idempotency-Keys and with the same key: the card is charged once, one
payment succeeds, one ledger entry ``so:<id>:captured:deposit`` puts the deposit in escrow, and the ledger
balances."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from fixtures.orders import card
from fixtures.parallel import POSTGRES_ONLY, OpenParallelApp, ParallelApp, drafted_contract, quoted_rfq
from souk.audit import run_checks
from souk.kit.clock import utcnow
from souk.ledger import accounts
from souk.ledger.service import ledger_service
from souk.models import (
    LedgerEntry,
    Order,
    Payment,
    PaymentMilestone,
    SellerOrder,
    SimulatedIntent,
    WebhookEvent,
)
from souk.trade.sourcing.contract.orders import contract_orders
from souk.worker.runner import Worker

pytestmark = POSTGRES_ONLY

ROUNDS = 5  # orders paid with two keys, and as many paid twice with one key
RACERS = 2
# 1000 x 2.50 + 300.00 shipping = 2800.00; deposit 30 %
DEPOSIT = 84_000


@dataclass
class Placed:
    order_id: int
    seller_order_id: int
    deposit_id: int


@dataclass
class World:
    par: ParallelApp
    buyer: dict[str, str]
    store_id: int
    orders: list[Placed]  # placed contract orders, the deposit due


@pytest.fixture
async def world(parallel_app: OpenParallelApp) -> AsyncIterator[World]:
    async with parallel_app("contract_order_race", pool_size=2 * RACERS + 5) as par:
        async with par.maker() as s, s.begin():
            buyer, rfq, supplier = await quoted_rfq(s)
            assert supplier.store is not None
            orders = []
            for _ in range(2 * ROUNDS):
                contract = await drafted_contract(s, rfq, buyer, supplier)
                # both sides confirmed it: it is in force and becomes an order
                now = utcnow()
                contract.buyer_confirmed_at = contract.supplier_confirmed_at = contract.confirmed_at = now
                contract.status = "confirmed"
                await s.flush()
                so = await contract_orders.place(s, contract)
                deposit = await s.scalar(
                    select(PaymentMilestone.id).where(
                        PaymentMilestone.seller_order_id == so.id, PaymentMilestone.kind == "deposit"
                    )
                )
                assert deposit is not None
                orders.append(Placed(so.order_id, so.id, deposit))
        yield World(par, buyer.headers, supplier.store.id, orders)


async def _pay_at_once(world: World, placed: Placed, keys: list[str]) -> list[tuple[int, str]]:
    url = f"/api/v1/orders/{placed.order_id}/milestones/{placed.deposit_id}/pay"
    async with world.par.client() as client:
        responses = await asyncio.gather(
            *(
                client.post(url, json={"card": card()}, headers={**world.buyer, "Idempotency-Key": k})
                for k in keys
            )
        )
    return [(r.status_code, r.json().get("error", "") if r.status_code != 200 else "") for r in responses]


async def test_deposit_paid_twice_at_once_is_captured_once(world: World) -> None:
    two_keys, one_key = world.orders[:ROUNDS], world.orders[ROUNDS:]
    for n, placed in enumerate(two_keys):
        answers = await _pay_at_once(world, placed, [f"deposit-{n}-{i}" for i in range(RACERS)])
        # the second either found the payment already claimed (409) or found nothing left to charge (200)
        assert any(code == 200 for code, _ in answers), answers
        assert {error for code, error in answers if code != 200} <= {"payment_in_progress"}, answers
    for n, placed in enumerate(one_key):
        answers = await _pay_at_once(world, placed, [f"same-{n}"] * RACERS)
        # the same key: one runs, the other is told it is still running (or replays its answer)
        assert any(code == 200 for code, _ in answers), answers
        assert {error for code, error in answers if code != 200} <= {"idempotency_in_progress"}, answers
    # the provider's confirmations arrive (one per charge)
    stats = await Worker(world.par.maker, concurrency=4).run_once()
    assert stats.jobs_failed == 0
    async with world.par.maker() as s:
        for placed in world.orders:
            payments = (await s.scalars(select(Payment).where(Payment.order_id == placed.order_id))).all()
            assert [(p.amount, p.status) for p in payments] == [(DEPOSIT, "succeeded")]
            payment = payments[0]
            intents = (
                await s.scalars(select(SimulatedIntent).where(SimulatedIntent.id == payment.intent_id))
            ).all()
            assert [(i.amount, i.status) for i in intents] == [(DEPOSIT, "succeeded")]
            # the card was charged once: one confirmation, one webhook applied
            webhooks = (
                await s.scalars(
                    select(WebhookEvent.outcome).where(WebhookEvent.intent_id == payment.intent_id)
                )
            ).all()
            assert list(webhooks) == ["applied"]
            milestone = await s.get(PaymentMilestone, placed.deposit_id)
            assert milestone is not None
            assert (milestone.status, milestone.payment_id) == ("paid", payment.id)
            so_id = placed.seller_order_id
            captured = (
                await s.scalars(
                    select(LedgerEntry.idempotency_key).where(
                        LedgerEntry.kind == "payment_captured",
                        LedgerEntry.reference_type == "seller_order",
                        LedgerEntry.reference_id == so_id,
                    )
                )
            ).all()
            assert list(captured) == [f"so:{so_id}:captured:deposit"]
            assert await ledger_service.balance(s, accounts.escrow(world.store_id, so_id), "USD") == DEPOSIT
            status = await s.scalar(select(SellerOrder.status).where(SellerOrder.id == so_id))
            order_status = await s.scalar(select(Order.status).where(Order.id == placed.order_id))
            assert (status, order_status) == ("in_production", "paid")
        intents_total = await s.scalar(select(func.count()).select_from(SimulatedIntent))
        assert intents_total == 2 * ROUNDS
        assert (await run_checks(s)).violations == []
