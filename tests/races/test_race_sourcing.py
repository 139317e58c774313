"""Sourcing races, 200 requests at the same moment over several server processes, per iteration:

- the quote cap: 200 suppliers quote one RFQ that takes 10 quotes: exactly 10 are taken, 190 clear
  ``rfq_not_taking_quotes`` refusals, and no refused supplier's monthly quota is charged;
- the monthly quota: one supplier with 7 quotes left this month quotes 200 RFQs at once: exactly 7 are taken,
  193 clear ``quote_quota_exhausted`` refusals, and no refused RFQ counts a quote;
- the award: 100 award requests for each of two quotes of one RFQ: exactly one award (one contract, the other
  quote declined); the rest see ``rfq_already_awarded`` (or the quote already awarded, answered again).
"""

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
)
from sqlalchemy import delete, func, select, update

from fixtures.parallel import open_rfq, race_buyer, race_supplier
from fixtures.servers import OpenServers
from souk.kit.clock import utcnow
from souk.models import Contract, Quote, QuoteQuotaUse, Rfq
from souk.trade.policy import get_policy
from souk.trade.sourcing.quote.service import period_of

CAP = 10
LEFT = 7
QUOTE = {"unit_price_amount": 250, "moq": 100, "lead_time_days": 20, "incoterm": "FOB"}


async def test_quote_cap_quota_and_award_races(souk_servers: OpenServers) -> None:
    async with souk_servers("race_sourcing", processes=PROCESSES, pool_size=POOL_SIZE) as servers:
        async with servers.maker() as s, s.begin():
            buyer = await race_buyer(s)
            suppliers = [await race_supplier(s, n) for n in range(1, N + 1)]
        quota = get_policy("sourcing").quote_quota_per_month
        watch = Stopwatch("sourcing (3 races)")
        for _ in range(iterations()):
            # --- the quote cap -----------------------------------------------------------------------
            async with servers.maker() as s, s.begin():
                await s.execute(delete(QuoteQuotaUse))
                rfq_id = (await open_rfq(s, buyer)).id
            answers = await fire(
                servers,
                [
                    Call(
                        "POST",
                        f"/api/v1/rfqs/{rfq_id}/quotes",
                        {**sup.headers, "Idempotency-Key": key()},
                        {**QUOTE, "store_id": sup.store.id},
                    )  # type: ignore[union-attr]
                    for sup in suppliers
                ],
            )
            taken = expect(answers, successes=CAP, ok_status=201, refusals={409: {"rfq_not_taking_quotes"}})
            async with servers.maker() as s:
                count = await s.scalar(select(Rfq.quote_count).where(Rfq.id == rfq_id))
                quotes = await s.scalar(select(func.count()).select_from(Quote).where(Quote.rfq_id == rfq_id))
                used = await s.scalar(select(func.coalesce(func.sum(QuoteQuotaUse.used), 0)))
            assert (count, quotes, used) == (CAP, CAP, CAP)

            # --- the monthly quota ---------------------------------------------------------------------
            supplier = suppliers[0]
            assert supplier.store is not None
            async with servers.maker() as s, s.begin():
                await s.execute(delete(QuoteQuotaUse))
                s.add(
                    QuoteQuotaUse(
                        organization_id=supplier.organization.id,
                        period=period_of(utcnow().date()),
                        used=quota - LEFT,
                    )
                )
                rfq_ids = [(await open_rfq(s, buyer)).id for _ in range(N)]
            answers = await fire(
                servers,
                [
                    Call(
                        "POST",
                        f"/api/v1/rfqs/{r}/quotes",
                        {**supplier.headers, "Idempotency-Key": key()},
                        {**QUOTE, "store_id": supplier.store.id},
                    )
                    for r in rfq_ids
                ],
            )
            expect(answers, successes=LEFT, ok_status=201, refusals={409: {"quote_quota_exhausted"}})
            async with servers.maker() as s:
                used = await s.scalar(
                    select(QuoteQuotaUse.used).where(
                        QuoteQuotaUse.organization_id == supplier.organization.id
                    )
                )
                counted = await s.scalar(
                    select(func.coalesce(func.sum(Rfq.quote_count), 0)).where(Rfq.id.in_(rfq_ids))
                )
            assert (used, counted) == (quota, LEFT)

            # --- the award: two quotes of one RFQ ------------------------------------------------------
            quote_ids = [r.json()["id"] for r in taken[:2]]
            answers = await fire(
                servers,
                [
                    Call("POST", f"/api/v1/quotes/{q}/award", {**buyer.headers, "Idempotency-Key": key()})
                    for _ in range(N // 2)
                    for q in quote_ids
                ],
            )
            awarded = expect(
                answers,
                successes=range(1, N // 2 + 1),
                ok_status=201,
                refusals={409: {"rfq_already_awarded", "quote_not_open", "rfq_not_open"}},
            )
            async with servers.maker() as s:
                contracts = list(
                    (await s.scalars(select(Contract.quote_id).where(Contract.rfq_id == rfq_id))).all()
                )
                statuses = dict(
                    (await s.execute(select(Quote.id, Quote.status).where(Quote.id.in_(quote_ids)))).all()
                )
            assert len(contracts) == 1, contracts
            winner = contracts[0]
            assert {a.request.url.path for a in awarded} == {f"/api/v1/quotes/{winner}/award"}
            assert statuses[winner] == "awarded", statuses
            assert [s for q, s in statuses.items() if q != winner] == ["declined"], statuses
            async with servers.maker() as s, s.begin():  # the suppliers' quota starts again next iteration
                await s.execute(update(Rfq).where(Rfq.id.in_(rfq_ids)).values(status="closed"))
            await assert_audit_clean(servers)
            watch.lap()
        print(watch.report())
