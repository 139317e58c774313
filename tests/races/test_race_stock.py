"""The last units of stock: 200 buyers check out one unit each at the same moment, over several server
processes, while only 5 units are left: exactly 5 orders, 195 clear ``insufficient_stock`` refusals, and the
stock adds up (nothing oversold, nothing left reserved once the payments are recorded)."""

from __future__ import annotations

from race_kit import (
    POOL_SIZE,
    PROCESSES,
    Call,
    N,
    Stopwatch,
    assert_audit_clean,
    checkout_body,
    expect,
    fill_carts,
    fire,
    iterations,
    key,
    new_buyers,
    new_sku,
    open_shop,
)
from sqlalchemy import func, select

from fixtures.servers import OpenServers
from souk.models import Order, OrderLine, Payment, Stock
from souk.worker.runner import Worker

UNITS = 5


async def test_200_buyers_race_for_the_last_5_units(souk_servers: OpenServers) -> None:
    async with souk_servers("race_stock", processes=PROCESSES, pool_size=POOL_SIZE) as servers:
        shop = await open_shop(servers, "stock")
        buyers = await new_buyers(servers, N)
        watch = Stopwatch("stock")
        for _ in range(iterations()):
            sku_id = await new_sku(servers, shop, UNITS)
            await fill_carts(servers, buyers, sku_id)
            answers = await fire(
                servers,
                [
                    Call(
                        "POST",
                        "/api/v1/checkouts",
                        {**b.headers, "Idempotency-Key": key()},
                        checkout_body(shop, b),
                    )
                    for b in buyers
                ],
            )
            placed = expect(answers, successes=UNITS, ok_status=201, refusals={409: {"insufficient_stock"}})
            order_ids = {r.json()["id"] for r in placed}
            # while the payments are in flight the units are reserved, never more than there are
            async with servers.maker() as s:
                on_hand, reserved = (
                    await s.execute(select(Stock.on_hand, Stock.reserved).where(Stock.sku_id == sku_id))
                ).one()
                sold = await s.scalar(
                    select(func.coalesce(func.sum(OrderLine.quantity), 0)).where(OrderLine.sku_id == sku_id)
                )
            assert (on_hand, reserved, sold) == (UNITS, UNITS, UNITS)
            # the provider's confirmations arrive: five paid orders, the units leave the shelf
            stats = await Worker(servers.maker, concurrency=4).run_once()
            assert stats.jobs_failed == 0
            async with servers.maker() as s:
                on_hand, reserved = (
                    await s.execute(select(Stock.on_hand, Stock.reserved).where(Stock.sku_id == sku_id))
                ).one()
                paid = await s.scalar(
                    select(func.count())
                    .select_from(Order)
                    .where(Order.id.in_(order_ids), Order.status == "paid")
                )
                payments = await s.scalar(
                    select(func.count()).select_from(Payment).where(Payment.order_id.in_(order_ids))
                )
            assert (on_hand, reserved, paid, payments) == (0, 0, UNITS, UNITS)
            await assert_audit_clean(servers)
            watch.lap()
        print(watch.report())
