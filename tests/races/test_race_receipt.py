"""Confirm receipt against the auto-confirm timer: a shipped order whose receipt time has run out; 200 buyer
confirmations at the same moment, over several server processes, while the timer sweep runs in this process:
the order completes once and its escrow is released once (whoever comes first; the others see it completed)."""

from __future__ import annotations

from datetime import timedelta

from race_kit import (
    POOL_SIZE,
    PROCESSES,
    Call,
    N,
    Stopwatch,
    assert_audit_clean,
    expect,
    fire,
    iterations,
    key,
    new_buyers,
    open_shop,
    paid_seller_order,
    ship_once,
)
from sqlalchemy import func, select, update

from fixtures.servers import OpenServers
from souk.kit.clock import utcnow
from souk.ledger import accounts
from souk.ledger.service import ledger_service
from souk.models import LedgerEntry, SellerOrder
from souk.worker.runner import Worker


async def test_200_confirmations_and_the_timer_complete_once(souk_servers: OpenServers) -> None:
    async with souk_servers("race_receipt", processes=PROCESSES, pool_size=POOL_SIZE) as servers:
        shop = await open_shop(servers, "receipt")
        (buyer,) = await new_buyers(servers, 1)
        watch = Stopwatch("receipt")
        timer_runs: list[int] = []
        for _ in range(iterations()):
            order_id, so_id = await paid_seller_order(servers, shop, buyer)
            await ship_once(servers, shop, so_id)
            async with servers.maker() as s, s.begin():  # the receipt time ran out a moment ago
                await s.execute(
                    update(SellerOrder)
                    .where(SellerOrder.id == so_id)
                    .values(auto_confirm_at=utcnow() - timedelta(seconds=1))
                )

            async def timer() -> None:
                stats = await Worker(servers.maker).run_timers()
                timer_runs.append(stats.jobs_failed)

            url = f"/api/v1/orders/{order_id}/seller-orders/{so_id}/confirm-receipt"
            answers = await fire(
                servers,
                [Call("POST", url, {**buyer.headers, "Idempotency-Key": key()}) for _ in range(N)],
                alongside=timer,
            )
            done = expect(answers, successes=N, ok_status=200, refusals={})
            assert {r.json()["status"] for r in done} == {"completed"}
            async with servers.maker() as s:
                status = await s.scalar(select(SellerOrder.status).where(SellerOrder.id == so_id))
                released = await s.scalar(
                    select(func.count())
                    .select_from(LedgerEntry)
                    .where(
                        LedgerEntry.kind == "escrow_released",
                        LedgerEntry.idempotency_key == f"so:{so_id}:released",
                    )
                )
                escrow = await ledger_service.balance(s, accounts.escrow(shop.store_id, so_id), "USD")
            assert (status, released, escrow) == ("completed", 1, 0)
            await assert_audit_clean(servers)
            watch.lap()
        assert timer_runs == [0] * len(watch.laps)
        print(watch.report())
