"""Racing negotiation steps under real parallel PostgreSQL connections (through the app, on a database of its
own): racing revisions give one revision, racing counter-offers on the same version give one new version, and
racing awards give one contract (the others 409 ``rfq_already_awarded``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from fixtures.parallel import POSTGRES_ONLY, OpenParallelApp, ParallelApp, open_rfq, race_buyer, race_supplier
from souk.models import Contract, Offer, Quote, Rfq

pytestmark = POSTGRES_ONLY

RACERS = 6


@dataclass
class World:
    par: ParallelApp
    rfq_id: int
    buyer: dict[str, str]
    quotes: list[tuple[int, dict[str, str]]]  # (quote id, its supplier's headers)


@pytest.fixture
async def world(parallel_app: OpenParallelApp) -> AsyncIterator[World]:
    async with parallel_app("nego_race", pool_size=RACERS + 5) as par:
        async with par.maker() as s, s.begin():
            buyer = await race_buyer(s, prefix="p")
            rfq = await open_rfq(s, buyer)
            quotes = []
            for n in (1, 2):
                supplier = await race_supplier(s, n, prefix="p", store="Nego", quote_on=rfq)
                assert supplier.quote is not None
                quotes.append((supplier.quote.id, supplier.headers))
            rfq_id = rfq.id
        yield World(par, rfq_id, buyer.headers, quotes)


async def test_racing_revisions_counters_and_awards(world: World) -> None:
    (quote_a, supplier_a), (quote_b, _supplier_b) = world.quotes
    async with world.par.client() as client:
        # racing revisions of one quote: one is taken
        responses = await asyncio.gather(
            *(
                client.post(
                    f"/api/v1/quotes/{quote_a}/revisions",
                    json={"unit_price_amount": 200 + n, "based_on_version": 1},
                    headers=supplier_a,
                )
                for n in range(RACERS)
            )
        )
        codes = [r.status_code for r in responses]
        assert codes.count(201) == 1, [r.text for r in responses]
        assert codes.count(409) == RACERS - 1
        assert {r.json()["error"] for r in responses if r.status_code == 409} <= {
            "revision_not_allowed",
            "offer_outdated",
        }
        async with world.par.maker() as s:
            q = await s.get(Quote, quote_a)
            assert q is not None and (q.revisions_used, q.version) == (1, 2)
            offers = await s.scalar(select(func.count()).select_from(Offer).where(Offer.quote_id == quote_a))
            assert offers == 2

        # the buyer and the supplier counter the same version at once: one new version
        responses = await asyncio.gather(
            *(
                client.post(
                    f"/api/v1/quotes/{quote_a}/offers",
                    json={"unit_price_amount": 210 + n, "based_on_version": 2},
                    headers=world.buyer if n % 2 else supplier_a,
                )
                for n in range(RACERS)
            )
        )
        codes = [r.status_code for r in responses]
        assert codes.count(201) == 1 and codes.count(409) == RACERS - 1, [r.text for r in responses]
        assert {r.json()["error"] for r in responses if r.status_code == 409} == {"offer_outdated"}
        async with world.par.maker() as s:
            q = await s.get(Quote, quote_a)
            assert q is not None and q.version == 3
            open_offers = await s.scalar(
                select(func.count())
                .select_from(Offer)
                .where(Offer.quote_id == quote_a, Offer.status == "open")
            )
            assert open_offers == 1

        # racing awards of quote B (each with its own key): one contract
        responses = await asyncio.gather(
            *(
                client.post(
                    f"/api/v1/quotes/{quote_b}/award",
                    headers={**world.buyer, "Idempotency-Key": f"race-{n}"},
                )
                for n in range(RACERS)
            )
        )
        codes = [r.status_code for r in responses]
        assert codes.count(201) == 1 and codes.count(409) == RACERS - 1, [r.text for r in responses]
        assert {r.json()["error"] for r in responses if r.status_code == 409} == {"rfq_already_awarded"}
    async with world.par.maker() as s:
        assert await s.scalar(select(func.count()).select_from(Contract)) == 1
        rfq = await s.get(Rfq, world.rfq_id)
        assert rfq is not None and (rfq.status, rfq.awarded_quote_id) == ("awarded", quote_b)
        statuses = dict((await s.execute(select(Quote.id, Quote.status))).all())
        assert statuses == {quote_a: "declined", quote_b: "awarded"}
