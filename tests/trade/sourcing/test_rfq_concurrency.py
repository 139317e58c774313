"""30 suppliers quote one RFQ at the same moment (real parallel PostgreSQL connections, through the app on a
database of its own): exactly 10 quotes are taken, 10 quota uses in total, 20 refusals with 409, and no refused
supplier's quota is charged."""

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
from souk.models import (
    ApiToken,
    Base,
    Membership,
    Offer,
    Organization,
    Quote,
    QuoteQuotaUse,
    Rfq,
    Store,
    User,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not is_postgres(), reason="needs real parallel PostgreSQL connections: set SOUK_TEST_DATABASE_URL"
    ),
]

SUPPLIERS = 30


@dataclass
class World:
    app: object
    maker: async_sessionmaker[AsyncSession]
    engine: AsyncEngine
    rfq_id: int


async def _organization(s: AsyncSession, user: User, n: int, country: str) -> Organization:
    org = Organization(
        legal_name=f"Company {n}",
        registration_number=f"RACE-{n:04d}",
        country=country,
        address="1 Trade Road",
        status="approved",
        created_by_id=user.id,
    )
    s.add(org)
    await s.flush()
    s.add(Membership(organization_id=org.id, user_id=user.id, role="owner"))
    return org


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    with fresh_database(tmp_path, "rfq_race") as url:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        settings = Settings(
            data_dir=tmp_path,
            database_url=url,
            secret_key=TEST_SECRET,
            password_hash_profile="cheapest",
            worker_in_process=False,
            db_pool_size=SUPPLIERS + 5,
        )
        app = create_app(settings)
        maker = create_sessionmaker(engine)
        async with maker() as s, s.begin():
            buyer = User(email="buyer@example.com", password_hash="x", display_name="Buyer")
            s.add(buyer)
            await s.flush()
            org = await _organization(s, buyer, 0, "DE")
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
                quote_count=0,
                quote_cap=10,
                search_text="bottles",
            )
            s.add(rfq)
            await s.flush()
            rfq_id = rfq.id
        try:
            yield World(app, maker, engine, rfq_id)
        finally:
            await app.state.db.dispose()
            await engine.dispose()


async def _supplier(world: World, n: int) -> tuple[int, int, dict[str, str]]:
    """A supplier with an approved organisation, an active sourcing store and an API token."""
    async with world.maker() as s, s.begin():
        user = User(email=f"s{n}-{secrets.token_hex(3)}@example.com", password_hash="x", display_name=f"S{n}")
        s.add(user)
        await s.flush()
        org = await _organization(s, user, n, "CN")
        store = Store(
            slug=f"race-{n}",
            name=f"Race {n}",
            country="CN",
            currency="USD",
            trade_model="sourcing",
            status="active",
            organization_id=org.id,
        )
        s.add(store)
        raw = new_api_token()
        s.add(
            ApiToken(
                user_id=user.id, name="t", token_hash=hash_secret(raw), prefix=raw[:9], scopes="read write"
            )
        )
        await s.flush()
        return org.id, store.id, {"Authorization": f"Bearer {raw}"}


async def test_thirty_suppliers_quote_one_rfq_at_once(world: World) -> None:
    suppliers = [await _supplier(world, n) for n in range(1, SUPPLIERS + 1)]
    body = {"unit_price_amount": 250, "moq": 100, "lead_time_days": 20, "incoterm": "FOB"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app),  # type: ignore[arg-type]
        base_url="http://test",
    ) as client:
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
    async with world.maker() as s:
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
