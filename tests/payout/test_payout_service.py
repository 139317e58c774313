"""Payouts: minimum, available balance, idempotency keys, the ledger entries, the provider job."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.factories import actor_of
from fixtures.ledger import fund_store
from souk.auth.actor import Actor
from souk.errors import Forbidden, NotFound
from souk.ledger import accounts
from souk.ledger.service import ledger_service
from souk.models import Job, LedgerPosting, Membership, Payout, SimulatedTransfer, Store, User
from souk.payout.errors import PayoutAboveAvailable, PayoutBelowMinimum, PayoutKeyReused, PayoutNotFound
from souk.payout.provider import Transfer
from souk.payout.service import SEND_JOB, payout_service
from souk.trade.policy import policy_overridden


async def owner_of(session: AsyncSession, store: Store) -> Actor:
    user = await session.get(User, store.owner_user_id)
    assert user is not None
    return actor_of(user)


async def available(session: AsyncSession, store_id: int, currency: str = "USD") -> int:
    return await ledger_service.balance(session, accounts.payable(store_id), currency)


async def entry_kinds(session: AsyncSession, payout_id: int) -> list[str]:
    return [e.kind for e in await ledger_service.entries_for(session, ("payout", payout_id))]


class FailingProvider:
    name = "failing"

    def __init__(self) -> None:
        self.calls = 0

    async def send(
        self, session: AsyncSession, *, amount: int, currency: str, destination: str, idempotency_key: str
    ) -> Transfer:
        self.calls += 1
        return Transfer(f"po_fail_{self.calls}", "failed", "The bank account was closed.")


@pytest.fixture
def failing_provider() -> Iterator[FailingProvider]:
    provider = FailingProvider()
    payout_service.use_provider(provider)
    yield provider
    payout_service.use_provider(None)


class TestRequest:
    async def test_the_whole_balance_then_the_provider_pays(
        self, session: AsyncSession, store_factory, run_worker, assert_ledger_balanced
    ) -> None:
        store = await store_factory()
        store_id = store.id
        await fund_store(session, store_id, 10_000, commission_bps=200)
        await fund_store(session, store_id, 3_000, released=False)  # still in escrow: not paid out
        payout = await payout_service.request(
            session, await owner_of(session, store), store_id, "USD", idempotency_key="k1"
        )
        payout_id = payout.id
        assert (payout.amount, payout.currency, payout.status, payout.provider) == (
            9_800,
            "USD",
            "requested",
            "simulated",
        )
        assert await available(session, store_id) == 0
        assert await entry_kinds(session, payout_id) == ["payout"]
        jobs = (await session.scalars(select(Job).where(Job.kind == SEND_JOB))).all()
        assert [j.payload for j in jobs] == [{"payout_id": payout_id}]
        balances = await ledger_service.balances_of_store(session, store_id)
        assert (balances["USD"].escrow_pending, balances["USD"].available, balances["USD"].paid_out) == (
            3_000,
            0,
            9_800,
        )
        assert await payout_service.in_transit(session, store_id) == {"USD": 9_800}
        await assert_ledger_balanced(session)

        await run_worker()
        payout = await session.get(Payout, payout_id)
        assert payout is not None and payout.status == "paid" and payout.paid_at is not None
        assert payout.provider_reference is not None and payout.provider_reference.startswith("po_sim_")
        transfer = await session.get(SimulatedTransfer, payout.provider_reference)
        assert transfer is not None and (transfer.amount, transfer.destination) == (
            9_800,
            f"store:{store_id}",
        )
        assert await entry_kinds(session, payout_id) == ["payout", "payout_paid"]
        assert await ledger_service.balance(session, accounts.PAYOUT_CLEARING, "USD") == 0
        assert await payout_service.in_transit(session, store_id) == {}
        await assert_ledger_balanced(session)

    async def test_part_of_the_balance(
        self, session: AsyncSession, store_factory, assert_ledger_balanced
    ) -> None:
        store = await store_factory()
        await fund_store(session, store.id, 10_000)
        payout = await payout_service.request(
            session, await owner_of(session, store), store.id, "USD", 2_500, idempotency_key="k"
        )
        assert payout.amount == 2_500 and await available(session, store.id) == 7_500
        await assert_ledger_balanced(session)

    async def test_below_the_minimum(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        actor = await owner_of(session, store)
        await fund_store(session, store.id, 900)
        with pytest.raises(PayoutBelowMinimum) as caught:
            await payout_service.request(session, actor, store.id, "USD", idempotency_key="all")
        assert caught.value.status_code == 422
        assert caught.value.fields == {"amount": "must be at least US$10.00, the smallest payout"}
        await fund_store(session, store.id, 5_000)
        with pytest.raises(PayoutBelowMinimum):
            await payout_service.request(session, actor, store.id, "USD", 999, idempotency_key="small")
        payout = await payout_service.request(session, actor, store.id, "USD", 1_000, idempotency_key="min")
        assert payout.amount == 1_000
        assert (await session.scalars(select(Payout.idempotency_key))).all() == ["min"]

    async def test_the_minimum_comes_from_the_trade_policy(
        self, session: AsyncSession, store_factory
    ) -> None:
        store = await store_factory()
        actor = await owner_of(session, store)
        await fund_store(session, store.id, 4_000)
        await fund_store(session, store.id, 800, "JPY")
        with policy_overridden("market", min_payout=Decimal("50")):
            with pytest.raises(PayoutBelowMinimum) as caught:
                await payout_service.request(session, actor, store.id, "USD", idempotency_key="k")
            assert "US$50.00" in caught.value.message
        # yen have no minor unit: the market's 10 is ¥10
        assert payout_service.minimum(store, "JPY") == 10
        payout = await payout_service.request(session, actor, store.id, "JPY", idempotency_key="yen")
        assert (payout.amount, payout.currency) == (800, "JPY")

    async def test_above_the_available_balance(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        actor = await owner_of(session, store)
        with pytest.raises(PayoutAboveAvailable) as caught:
            await payout_service.request(session, actor, store.id, "USD", idempotency_key="none")
        assert caught.value.fields == {"amount": "nothing is available to pay out in USD"}
        await fund_store(session, store.id, 5_000)
        await fund_store(session, store.id, 5_000, released=False)
        with pytest.raises(PayoutAboveAvailable) as caught:
            await payout_service.request(session, actor, store.id, "USD", 5_001, idempotency_key="more")
        assert caught.value.fields == {"amount": "must be at most US$50.00, your available balance"}
        assert await available(session, store.id) == 5_000
        assert (await session.scalars(select(Payout))).all() == []

    async def test_idempotency_key(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        other = await store_factory()
        actor = await owner_of(session, store)
        await fund_store(session, store.id, 10_000)
        await fund_store(session, other.id, 10_000)
        first = await payout_service.request(session, actor, store.id, "USD", 3_000, idempotency_key="k")
        again = await payout_service.request(session, actor, store.id, "USD", 3_000, idempotency_key="k")
        assert again.id == first.id and await available(session, store.id) == 7_000
        with pytest.raises(PayoutKeyReused) as caught:
            await payout_service.request(session, actor, store.id, "USD", 4_000, idempotency_key="k")
        assert caught.value.status_code == 422 and caught.value.code == "idempotency_key_reused"
        with pytest.raises(PayoutKeyReused):
            await payout_service.request(session, actor, store.id, "USD", idempotency_key="k")
        # keys belong to a store
        theirs = await payout_service.request(
            session, await owner_of(session, other), other.id, "USD", 3_000, idempotency_key="k"
        )
        assert theirs.id != first.id
        count = len(
            (await session.scalars(select(LedgerPosting).where(LedgerPosting.store_id == store.id))).all()
        )
        assert count == 4  # escrow in, escrow out, payable in (release), payable out (one payout)

    async def test_who_may_pay_out(
        self, session: AsyncSession, store_factory, user_factory, organization_factory
    ) -> None:
        owner = await user_factory()
        admin = await user_factory()
        staff = await user_factory()
        stranger = await user_factory()
        organization = await organization_factory(owner=owner)
        session.add(Membership(organization_id=organization.id, user_id=admin.id, role="admin"))
        session.add(Membership(organization_id=organization.id, user_id=staff.id, role="staff"))
        store = await store_factory("sourcing", organization=organization)
        await fund_store(session, store.id, 10_000)
        with pytest.raises(NotFound):
            await payout_service.request(session, actor_of(stranger), store.id, "USD", idempotency_key="s")
        with pytest.raises(Forbidden):
            await payout_service.request(session, actor_of(staff), store.id, "USD", idempotency_key="s")
        payout = await payout_service.request(session, actor_of(admin), store.id, "USD", idempotency_key="a")
        assert payout.requested_by_id == admin.id
        # staff may see it; strangers may not
        assert (await payout_service.get(session, actor_of(staff), payout.id)).id == payout.id
        with pytest.raises(PayoutNotFound):
            await payout_service.get(session, actor_of(stranger), payout.id)
        with pytest.raises(NotFound):
            await payout_service.list(session, actor_of(stranger), store.id)


class TestSettle:
    async def test_a_failed_payout_returns_the_money(
        self, session: AsyncSession, store_factory, failing_provider: FailingProvider, assert_ledger_balanced
    ) -> None:
        store = await store_factory()
        await fund_store(session, store.id, 6_000)
        payout = await payout_service.request(
            session, await owner_of(session, store), store.id, "USD", idempotency_key="k"
        )
        assert payout.provider == "failing"
        settled = await payout_service.settle(session, payout.id)
        assert settled is not None and settled.status == "failed"
        assert settled.failure_reason == "The bank account was closed."
        assert await available(session, store.id) == 6_000
        assert await entry_kinds(session, payout.id) == ["payout", "payout_failed"]
        balances = await ledger_service.balances_of_store(session, store.id)
        assert balances["USD"].paid_out == 0
        await payout_service.settle(session, payout.id)
        assert failing_provider.calls == 1
        await assert_ledger_balanced(session)

    async def test_settling_twice_pays_once(
        self, session: AsyncSession, store_factory, assert_ledger_balanced
    ) -> None:
        store = await store_factory()
        await fund_store(session, store.id, 6_000)
        payout = await payout_service.request(
            session, await owner_of(session, store), store.id, "USD", idempotency_key="k"
        )
        await payout_service.settle(session, payout.id)
        await payout_service.settle(session, payout.id)
        assert await entry_kinds(session, payout.id) == ["payout", "payout_paid"]
        assert len((await session.scalars(select(SimulatedTransfer))).all()) == 1
        assert await payout_service.settle(session, 2**31 - 1) is None
        await assert_ledger_balanced(session)

    async def test_list_newest_first(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        actor = await owner_of(session, store)
        await fund_store(session, store.id, 10_000)
        ids = [
            (await payout_service.request(session, actor, store.id, "USD", 1_000, idempotency_key=f"k{n}")).id
            for n in range(3)
        ]
        page = await payout_service.list(session, actor, store.id, limit=2)
        rest = await payout_service.list(session, actor, store.id, cursor=page.next_cursor, limit=2)
        assert [p.id for p in page.items + rest.items] == list(reversed(ids))
        assert rest.next_cursor is None
