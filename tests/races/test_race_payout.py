"""Payouts against the available balance: a store holds exactly 7 payouts' worth; 200 payout requests of one
payout each at the same moment, over several server processes: exactly 7 are taken, 193 clear
``payout_above_available`` refusals, the balance never goes below zero and every payout has its ledger entry."""

from __future__ import annotations

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
    open_shop,
)
from sqlalchemy import func, select

from fixtures.ledger import fund_store
from fixtures.servers import OpenServers
from fixtures.shops import market_store
from souk.ledger import accounts
from souk.ledger.service import ledger_service
from souk.models import Payout
from souk.worker.runner import Worker

PAYOUT = 2_000  # 20.00 USD, above the market's minimum payout
FITS = 7


async def test_200_payouts_race_for_a_balance_of_7(souk_servers: OpenServers) -> None:
    async with souk_servers("race_payout", processes=PROCESSES, pool_size=POOL_SIZE) as servers:
        shop = await open_shop(servers, "payout")
        watch = Stopwatch("payout")
        for i in range(iterations()):
            async with servers.maker() as s, s.begin():
                store_id = (await market_store(s, shop.owner_id, f"payout-{i}", f"Payout {i}")).id
                await fund_store(s, store_id, PAYOUT * FITS)
            body = {"store_id": store_id, "currency": "USD", "amount": PAYOUT}
            answers = await fire(
                servers,
                [
                    Call("POST", "/api/v1/payouts", {**shop.owner_headers, "Idempotency-Key": key()}, body)
                    for _ in range(N)
                ],
            )
            expect(answers, successes=FITS, ok_status=201, refusals={422: {"payout_above_available"}})
            stats = await Worker(servers.maker, concurrency=4).run_once()
            assert stats.jobs_failed == 0
            async with servers.maker() as s:
                balance = await ledger_service.balance(s, accounts.payable(store_id), "USD")
                count, total = (
                    await s.execute(
                        select(func.count(), func.coalesce(func.sum(Payout.amount), 0)).where(
                            Payout.store_id == store_id
                        )
                    )
                ).one()
            assert (balance, count, total) == (0, FITS, PAYOUT * FITS)
            await assert_audit_clean(servers)
            watch.lap()
        print(watch.report())
