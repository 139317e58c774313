"""Both sides confirm a contract draft at the same moment (real parallel PostgreSQL connections, through the app on
a database of its own), 20 times over: each time exactly one of the confirmations makes the move to
``confirmed`` and places the seller order (``contract_orders.place`` runs once per contract), whichever side's
statement comes second; a side confirming twice at once changes nothing more."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.parallel import POSTGRES_ONLY, OpenParallelApp, ParallelApp, drafted_contract, quoted_rfq
from souk.audit import run_checks
from souk.models import Contract, Notification, Order, PaymentMilestone, SellerOrder
from souk.trade.sourcing.contract.orders import contract_orders

pytestmark = POSTGRES_ONLY

ROUNDS = 20


@dataclass
class World:
    par: ParallelApp
    buyer: dict[str, str]
    supplier: dict[str, str]
    contracts: list[int]  # drafts, the buyer's shipping address picked, nobody confirmed yet


@pytest.fixture
async def world(parallel_app: OpenParallelApp) -> AsyncIterator[World]:
    async with parallel_app("contract_race", pool_size=12) as par:
        async with par.maker() as s, s.begin():
            buyer, rfq, supplier = await quoted_rfq(s)
            contracts = [(await drafted_contract(s, rfq, buyer, supplier)).id for _ in range(ROUNDS)]
        yield World(par, buyer.headers, supplier.headers, contracts)


@pytest.fixture
def placed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids of the contracts ``contract_orders.place`` was called for, one entry per call."""
    calls: list[int] = []
    place = contract_orders.place

    async def counting(session: AsyncSession, contract: Contract) -> Any:
        calls.append(contract.id)
        return await place(session, contract)

    monkeypatch.setattr(contract_orders, "place", counting)
    return calls


async def test_both_sides_confirm_at_once_place_one_order(world: World, placed: list[int]) -> None:
    async with world.par.client() as client:
        for n, contract_id in enumerate(world.contracts):
            url = f"/api/v1/contracts/{contract_id}/confirm"
            # every other round each side also sends its confirmation twice (its own key each time)
            senders = [("buyer", world.buyer), ("supplier", world.supplier)] * (2 if n % 2 else 1)
            responses = await asyncio.gather(
                *(
                    client.post(url, headers={**headers, "Idempotency-Key": f"confirm-{n}-{side}-{i}"})
                    for i, (side, headers) in enumerate(senders)
                )
            )
            assert [r.status_code for r in responses] == [200] * len(senders), [r.text for r in responses]
            statuses = sorted(r.json()["status"] for r in responses)
            if len(senders) == 2:
                # the first to commit answered with its side confirmed; the second made the move
                assert statuses == ["confirmed", "draft"], statuses
            else:
                assert "confirmed" in statuses, statuses
    # contract_orders.place ran once per contract, never twice
    assert Counter(placed) == Counter(world.contracts)
    async with world.par.maker() as s:
        rows = (await s.scalars(select(Contract).where(Contract.id.in_(world.contracts)))).all()
        assert len(rows) == ROUNDS
        for contract in rows:
            assert contract.status == "confirmed"
            assert contract.buyer_confirmed_at is not None and contract.supplier_confirmed_at is not None
            assert contract.confirmed_at is not None and contract.seller_order_id is not None
            so = await s.get(SellerOrder, contract.seller_order_id)
            assert so is not None
            assert (so.status, so.total_amount, so.trade_model) == (
                "awaiting_deposit",
                contract.total_amount,
                "sourcing",
            )
            order_count = await s.scalar(
                select(func.count())
                .select_from(Order)
                .where(Order.checkout_token == f"contract:{contract.number}")
            )
            assert order_count == 1
            milestones = (
                await s.execute(
                    select(PaymentMilestone.kind, PaymentMilestone.amount)
                    .where(PaymentMilestone.seller_order_id == so.id)
                    .order_by(PaymentMilestone.position)
                )
            ).all()
            assert [tuple(m) for m in milestones] == [
                ("deposit", contract.deposit_amount),
                ("balance", contract.balance_amount),
            ]
        assert await s.scalar(select(func.count()).select_from(SellerOrder)) == ROUNDS
        assert await s.scalar(select(func.count()).select_from(Order)) == ROUNDS
        # "contract is confirmed" went out once per contract, to the buyer and the supplier's one person
        confirmed_notes = await s.scalar(
            select(func.count()).select_from(Notification).where(Notification.kind == "contract.confirmed")
        )
        assert confirmed_notes == 2 * ROUNDS
        assert (await run_checks(s)).violations == []
