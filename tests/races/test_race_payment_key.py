"""Two payment creates with one idempotency key at the same moment (two transactions of their own on a database
of their own): one payment and one provider intent, both callers get it. The provider's intent used to be
written outside the savepoint, so on PostgreSQL the second create failed with an IntegrityError (a 500)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from fixtures.servers import OpenServers
from souk.kit.money import Money
from souk.models import Payment, SimulatedIntent
from souk.payment.service import payment_service


async def test_two_creates_with_one_key_at_once_make_one_payment(souk_servers: OpenServers) -> None:
    async with souk_servers("race_payment_key", processes=0) as servers:

        async def create(hold: float) -> int:
            async with servers.maker() as s, s.begin():
                payment = await payment_service.create(
                    s, amount=Money(1000, "USD"), reference="Order 1", idempotency_key="checkout:same"
                )
                await asyncio.sleep(hold)  # the first keeps its transaction open while the second inserts
                return payment.id

        first, second = await asyncio.gather(create(0.3), create(0.0))
        assert first == second
        async with servers.maker() as s:
            assert await s.scalar(select(func.count()).select_from(Payment)) == 1
            assert await s.scalar(select(func.count()).select_from(SimulatedIntent)) == 1
