"""30 suppliers quote one RFQ at the same moment (real parallel PostgreSQL connections, through the app on a
database of its own): exactly 10 quotes are taken, 10 quota uses in total, 20 refusals with 409, and no refused
supplier's quota is charged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from fixtures.parallel import POSTGRES_ONLY, OpenParallelApp, ParallelApp, open_rfq, race_buyer, race_supplier
from souk.models import Offer, Quote, QuoteQuotaUse, Rfq

pytestmark = POSTGRES_ONLY

SUPPLIERS = 30


@dataclass
class World:
    par: ParallelApp
    rfq_id: int


@pytest.fixture
async def world(parallel_app: OpenParallelApp) -> AsyncIterator[World]:
    async with parallel_app("rfq_race", pool_size=SUPPLIERS + 5) as par:
        async with par.maker() as s, s.begin():
            rfq = await open_rfq(s, await race_buyer(s))
            rfq_id = rfq.id
        yield World(par, rfq_id)


async def _supplier(world: World, n: int) -> tuple[int, int, dict[str, str]]:
    """A supplier with an approved organisation, an active sourcing store and an API token."""
    async with world.par.maker() as s, s.begin():
        supplier = await race_supplier(s, n)
        assert supplier.store is not None
        return supplier.organization.id, supplier.store.id, supplier.headers


async def test_thirty_suppliers_quote_one_rfq_at_once(world: World) -> None:
    suppliers = [await _supplier(world, n) for n in range(1, SUPPLIERS + 1)]
    body = {"unit_price_amount": 250, "moq": 100, "lead_time_days": 20, "incoterm": "FOB"}
    async with world.par.client() as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    f"/api/v1/rfqs/{world.rfq_id}/quotes",
                    json={**body, "store_id": store_id},
                    headers=headers,
                )
                for _org, store_id, headers in suppliers
            )
        )
    codes = [r.status_code for r in responses]
    assert codes.count(201) == 10, codes
    assert codes.count(409) == 20, codes
    assert {r.json()["error"] for r in responses if r.status_code == 409} == {"rfq_not_taking_quotes"}
    async with world.par.maker() as s:
        assert await s.scalar(select(Rfq.quote_count).where(Rfq.id == world.rfq_id)) == 10
        assert await s.scalar(select(func.count()).select_from(Quote)) == 10
        assert await s.scalar(select(func.count()).select_from(Offer)) == 10
        assert await s.scalar(select(func.coalesce(func.sum(QuoteQuotaUse.used), 0))) == 10
        used = dict((await s.execute(select(QuoteQuotaUse.organization_id, QuoteQuotaUse.used))).all())
        quoted_stores = set((await s.scalars(select(Quote.store_id))).all())
    for (org_id, store_id, _headers), response in zip(suppliers, responses, strict=True):
        if response.status_code == 201:
            assert store_id in quoted_stores and used.get(org_id) == 1
        else:
            assert store_id not in quoted_stores and used.get(org_id, 0) == 0
