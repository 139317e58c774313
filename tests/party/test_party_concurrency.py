"""Member and review rules under real parallel transactions (PostgreSQL only; the per-test transaction is
invisible to other connections, so the rows are committed here and removed afterwards)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from fixtures.core import is_postgres
from souk.auth.actor import Actor
from souk.errors import SoukError
from souk.models import Membership, OpsDecision, Organization, OrganizationDocument, Store, User
from souk.ops.schemas import OrganizationDecision, StoreDecision
from souk.ops.service import ops_service
from souk.party.schemas import RoleChange
from souk.party.service import party_service

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not is_postgres(), reason="needs real parallel PostgreSQL connections: set SOUK_TEST_DATABASE_URL"
    ),
]


@dataclass
class Committed:
    engine: AsyncEngine
    organization_id: int
    owners: tuple[int, int]
    operators: tuple[int, int]
    mall_store_id: int


@pytest.fixture
async def committed(engine: AsyncEngine) -> AsyncIterator[Committed]:
    """A pending organisation with two owners and a mall store with its brand authorisation, and two
    operators; committed so that every connection sees them."""
    tag = secrets.token_hex(4)
    async with AsyncSession(engine, expire_on_commit=False) as s:
        users = [
            User(
                email=f"{who}-{tag}@example.com",
                password_hash="x",
                display_name=who,
                is_operator=who.startswith("op"),
            )
            for who in ("owner1", "owner2", "op1", "op2")
        ]
        s.add_all(users)
        await s.flush()
        org = Organization(
            legal_name=f"Race {tag} Ltd",
            registration_number=f"RACE-{tag}",
            country="CN",
            address="1 Race Road",
            status="pending_review",
            created_by_id=users[0].id,
        )
        s.add(org)
        await s.flush()
        s.add_all([Membership(organization_id=org.id, user_id=u.id, role="owner") for u in users[:2]])
        store = Store(
            slug=f"race-mall-{tag}",
            name="Race Mall",
            country="CN",
            currency="CNY",
            trade_model="mall",
            status="pending_review",
            organization_id=org.id,
            brand_name="Race",
        )
        s.add(store)
        await s.flush()
        s.add(
            OrganizationDocument(
                organization_id=org.id,
                kind="brand_authorization",
                store_id=store.id,
                filename="race.pdf",
                path="organizations/race.pdf",
                content_type="application/pdf",
                size_bytes=10,
                uploaded_by_id=users[0].id,
            )
        )
        await s.commit()
        data = Committed(engine, org.id, (users[0].id, users[1].id), (users[2].id, users[3].id), store.id)
    try:
        yield data
    finally:
        async with AsyncSession(engine) as s:
            await s.execute(delete(OpsDecision).where(OpsDecision.operator_id.in_(data.operators)))
            await s.execute(delete(Store).where(Store.id == data.mall_store_id))
            await s.execute(delete(Organization).where(Organization.id == data.organization_id))
            await s.execute(delete(User).where(User.id.in_([*data.owners, *data.operators])))
            await s.commit()


async def _in_own_transaction(engine: AsyncEngine, work) -> bool:  # type: ignore[no-untyped-def]
    try:
        async with AsyncSession(engine, expire_on_commit=False) as s, s.begin():
            await work(s)
        return True
    except SoukError:
        return False


async def test_two_owners_demoting_each_other_leave_one_owner(committed: Committed) -> None:
    first, second = committed.owners
    org_id = committed.organization_id

    def demote(actor_id: int, target_id: int):  # type: ignore[no-untyped-def]
        return lambda s: party_service.change_role(
            s, Actor(user_id=actor_id), org_id, target_id, RoleChange(role="admin")
        )

    results = await asyncio.gather(
        _in_own_transaction(committed.engine, demote(first, second)),
        _in_own_transaction(committed.engine, demote(second, first)),
    )
    assert sorted(results) == [False, True]
    async with AsyncSession(committed.engine) as s:
        owners = await s.scalar(
            select(func.count()).where(Membership.organization_id == org_id, Membership.role == "owner")
        )
    assert owners == 1


async def test_mall_store_and_organisation_approved_at_once_opens_the_store(committed: Committed) -> None:
    op1, op2 = committed.operators
    approve_org = OrganizationDecision(decision="approve", reason="Registration verified")
    approve_store = StoreDecision(decision="approve", reason="Brand letter verified")
    results = await asyncio.gather(
        _in_own_transaction(
            committed.engine,
            lambda s: ops_service.decide_organization(
                s, Actor(user_id=op1, is_operator=True), committed.organization_id, approve_org
            ),
        ),
        _in_own_transaction(
            committed.engine,
            lambda s: ops_service.decide_store(
                s, Actor(user_id=op2, is_operator=True), committed.mall_store_id, approve_store
            ),
        ),
    )
    assert results == [True, True]
    async with AsyncSession(committed.engine) as s:
        status = await s.scalar(select(Store.status).where(Store.id == committed.mall_store_id))
    assert status == "active"
