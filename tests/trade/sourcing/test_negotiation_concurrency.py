"""Racing negotiation steps under real parallel PostgreSQL connections (through the app, on a database of its
own): racing revisions give one revision, racing counter-offers on the same version give one new version, and
racing awards give one contract (the others 409 ``rfq_already_awarded``)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fixtures.core import TEST_SECRET, is_postgres
from fixtures.databases import fresh_database
from souk.app import create_app
from souk.auth.tokens import hash_secret, new_api_token
from souk.config import Settings
from souk.db import create_engine, create_sessionmaker
from souk.kit.clock import utcnow
from souk.models import ApiToken, Base, Contract, Membership, Offer, Organization, Quote, Rfq, Store, User

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not is_postgres(), reason="needs real parallel PostgreSQL connections: set SOUK_TEST_DATABASE_URL"
    ),
]

RACERS = 6


@dataclass
class World:
    app: object
    maker: async_sessionmaker[AsyncSession]
    engine: AsyncEngine
    rfq_id: int
    buyer: dict[str, str]
    quotes: list[tuple[int, dict[str, str]]]  # (quote id, its supplier's headers)


async def _person(s: AsyncSession, n: int, country: str) -> tuple[User, Organization, dict[str, str]]:
    user = User(email=f"p{n}-{secrets.token_hex(3)}@example.com", password_hash="x", display_name=f"P{n}")
    s.add(user)
    await s.flush()
    org = Organization(
        legal_name=f"Company {n}",
        registration_number=f"NEGO-{n:04d}",
        country=country,
        address="1 Trade Road",
        status="approved",
        created_by_id=user.id,
    )
    s.add(org)
    await s.flush()
    s.add(Membership(organization_id=org.id, user_id=user.id, role="owner"))
    raw = new_api_token()
    s.add(
        ApiToken(user_id=user.id, name="t", token_hash=hash_secret(raw), prefix=raw[:9], scopes="read write")
    )
    await s.flush()
    return user, org, {"Authorization": f"Bearer {raw}"}


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    with fresh_database(tmp_path, "nego_race") as url:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        settings = Settings(
            data_dir=tmp_path,
            database_url=url,
            secret_key=TEST_SECRET,
            password_hash_profile="cheapest",
            worker_in_process=False,
            db_pool_size=RACERS + 5,
        )
        app = create_app(settings)
        maker = create_sessionmaker(engine)
        async with maker() as s, s.begin():
            buyer, org, buyer_headers = await _person(s, 0, "DE")
            rfq = Rfq(
                organization_id=org.id,
                created_by_id=buyer.id,
                title="Bottles",
                requirements="750 ml, double wall.",
                quantity=1000,
                unit="pieces",
                currency="USD",
                destination_country="DE",
                incoterm="FOB",
                quote_deadline=utcnow() + timedelta(days=7),
                visibility="public",
                status="open",
                quote_count=2,
                quote_cap=10,
                search_text="bottles",
            )
            s.add(rfq)
            await s.flush()
            quotes = []
            for n in (1, 2):
                user, sorg, headers = await _person(s, n, "CN")
                store = Store(
                    slug=f"nego-{n}",
                    name=f"Supplier {n}",
                    country="CN",
                    currency="USD",
                    trade_model="sourcing",
                    status="active",
                    organization_id=sorg.id,
                )
                s.add(store)
                await s.flush()
                terms = {
                    "currency": "USD",
                    "unit_price_amount": 250,
                    "quantity": 1000,
                    "lead_time_days": 20,
                    "incoterm": "FOB",
                    "place": "Ningbo",
                    "shipping_amount": 30_000,
                    "deposit_bps": 3000,
                    "balance_due": "before_shipment",
                }
                quote = Quote(
                    rfq_id=rfq.id,
                    store_id=store.id,
                    created_by_id=user.id,
                    moq=500,
                    valid_until=(utcnow() + timedelta(days=30)).date(),
                    **terms,
                )
                s.add(quote)
                await s.flush()
                s.add(
                    Offer(
                        quote_id=quote.id,
                        version=1,
                        kind="quote",
                        side="supplier",
                        created_by_id=user.id,
                        **terms,
                    )
                )
                quotes.append((quote.id, headers))
            rfq_id = rfq.id
        try:
            yield World(app, maker, engine, rfq_id, buyer_headers, quotes)
        finally:
            await app.state.db.dispose()
            await engine.dispose()


async def test_racing_revisions_counters_and_awards(world: World) -> None:
    (quote_a, supplier_a), (quote_b, _supplier_b) = world.quotes
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app),  # type: ignore[arg-type]
        base_url="http://test",
    ) as client:
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
        async with world.maker() as s:
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
        async with world.maker() as s:
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
    async with world.maker() as s:
        assert await s.scalar(select(func.count()).select_from(Contract)) == 1
        rfq = await s.get(Rfq, world.rfq_id)
        assert rfq is not None and (rfq.status, rfq.awarded_quote_id) == ("awarded", quote_b)
        statuses = dict((await s.execute(select(Quote.id, Quote.status))).all())
        assert statuses == {quote_a: "declined", quote_b: "awarded"}
