from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.factories import actor_of
from fixtures.ledger import entry_count, fund_store
from souk.errors import Invalid, NotFound
from souk.kit.clock import clock
from souk.kit.money import Money
from souk.kit.pagination import encode_cursor
from souk.ledger import accounts, postings
from souk.ledger.errors import AccountOverdrawn, IdempotencyKeyReused, InvalidPosting, UnbalancedEntry
from souk.ledger.postings import Posting, commission_split
from souk.ledger.service import DayChange, ledger_service
from souk.models import AccountBalance, LedgerPosting, Membership, Store, User
from souk.trade.policy import get_policy


async def _owner(session: AsyncSession, store: Store) -> User:
    user = await session.get(User, store.owner_user_id)
    assert user is not None
    return user


class TestAccounts:
    def test_names_round_trip(self) -> None:
        assert accounts.escrow(3, 17) == "escrow:store:3:so:17"
        assert accounts.payable(3) == "payable:store:3"
        escrow = accounts.parse("escrow:store:3:so:17")
        assert (escrow.kind, escrow.store_id, escrow.seller_order_id, escrow.cached) == (
            "escrow",
            3,
            17,
            True,
        )
        payable = accounts.parse("payable:store:3")
        assert (payable.kind, payable.store_id, payable.may_go_negative) == ("payable", 3, True)
        for name, kind in (
            ("psp_clearing", "psp_clearing"),
            ("commission:platform", "commission"),
            ("payout_clearing", "payout_clearing"),
        ):
            parsed = accounts.parse(name)
            assert (parsed.kind, parsed.cached, parsed.may_go_negative) == (kind, False, False)
        assert accounts.parse("psp_clearing").natural_balance(-500) == 500

    @pytest.mark.parametrize(
        "name", ["escrow:store:0:so:1", "payable:store:x", "payable:store:1:", "cash", "escrow:store:1", ""]
    )
    def test_unknown_names_are_refused(self, name: str) -> None:
        with pytest.raises(ValueError):
            accounts.parse(name)

    def test_builders_refuse_bad_ids(self) -> None:
        with pytest.raises(ValueError):
            accounts.escrow(0, 1)
        with pytest.raises(ValueError):
            accounts.payable(True)  # type: ignore[arg-type]


class TestCommission:
    @given(amount=st.integers(min_value=1, max_value=10**15), bps=st.integers(min_value=0, max_value=10_000))
    def test_fee_and_payable_add_up_to_the_amount(self, amount: int, bps: int) -> None:
        fee, net = commission_split(amount, bps)
        assert fee + net == amount
        assert 0 <= fee <= amount
        # largest remainder between two parts is rounding the fee half up
        assert fee == (amount * bps + 5_000) // 10_000
        lines = postings.escrow_released(1, 2, Money(amount, "USD"), bps)
        assert sum(p.amount for p in lines) == 0
        assert -lines[0].amount == amount

    def test_examples(self) -> None:
        assert commission_split(10_000, 200) == (200, 9_800)
        assert commission_split(99, 200) == (2, 97)  # 1.98 -> 2
        assert commission_split(49, 200) == (1, 48)  # 0.98 -> 1
        assert commission_split(24, 200) == (0, 24)  # 0.48 -> 0
        assert commission_split(25, 200) == (1, 24)  # 0.50 -> 1 (half up)
        assert commission_split(1234, 0) == (0, 1234)
        assert commission_split(1234, 10_000) == (1234, 0)
        assert get_policy("market").commission_of(99) == 2

    def test_bad_rates_are_refused(self) -> None:
        with pytest.raises(ValueError):
            commission_split(100, -1)
        with pytest.raises(ValueError):
            commission_split(100, 10_001)
        with pytest.raises(ValueError):
            commission_split(0, 200)

    def test_release_without_commission_has_no_commission_posting(self) -> None:
        lines = postings.escrow_released(5, 7, Money(1000, "EUR"), 0)
        assert lines == [
            Posting("escrow:store:7:so:5", -1000, "EUR"),
            Posting("payable:store:7", 1000, "EUR"),
        ]


class TestPost:
    async def test_payment_captured_and_released(
        self, session: AsyncSession, store_factory, assert_ledger_balanced
    ) -> None:
        store = await store_factory()
        money = Money(10_000, "USD")
        captured = await ledger_service.post(
            session,
            key="so:1:captured",
            kind="payment_captured",
            postings=postings.payment_captured(1, store.id, money),
            reference=("seller_order", 1),
            memo="Order SO-1 paid",
        )
        assert (captured.kind, captured.reference_type, captured.reference_id) == (
            "payment_captured",
            "seller_order",
            1,
        )
        escrow = accounts.escrow(store.id, 1)
        assert await ledger_service.balance(session, escrow, "USD") == 10_000
        assert await ledger_service.balance(session, accounts.PSP_CLEARING, "USD") == -10_000

        await ledger_service.post(
            session,
            key="so:1:released",
            kind="escrow_released",
            postings=postings.escrow_released(1, store.id, money, 200),
            reference=("seller_order", 1),
        )
        assert await ledger_service.balance(session, escrow, "USD") == 0
        assert await ledger_service.balance(session, accounts.payable(store.id), "USD") == 9_800
        assert await ledger_service.balance(session, accounts.COMMISSION, "USD") == 200
        entries = await ledger_service.entries_for(session, ("seller_order", 1))
        assert [e.kind for e in entries] == ["payment_captured", "escrow_released"]
        await assert_ledger_balanced(session)

    async def test_platform_accounts_have_no_cached_row(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        await fund_store(session, store.id, 5000, commission_bps=200)
        rows = (
            await session.scalars(select(AccountBalance.account).where(AccountBalance.store_id == store.id))
        ).all()
        assert sorted(rows) == sorted(
            [accounts.payable(store.id), *[r for r in rows if r.startswith("escrow:")]]
        )
        assert not any(
            r in (accounts.PSP_CLEARING, accounts.COMMISSION, accounts.PAYOUT_CLEARING) for r in rows
        )

    async def test_unbalanced_entry_is_refused_and_nothing_is_written(
        self, session: AsyncSession, store_factory
    ) -> None:
        store = await store_factory()
        before = await entry_count(session)
        with pytest.raises(UnbalancedEntry) as caught:
            await ledger_service.post(
                session,
                key="bad",
                kind="payment_captured",
                postings=[
                    Posting(accounts.PSP_CLEARING, -1000, "USD"),
                    Posting(accounts.escrow(store.id, 9), 999, "USD"),
                ],
            )
        assert caught.value.status_code == 422 and caught.value.code == "unbalanced_entry"
        assert caught.value.sums == {"USD": -1}
        assert await entry_count(session) == before
        assert await ledger_service.balance(session, accounts.escrow(store.id, 9), "USD") == 0

    async def test_each_currency_must_balance_on_its_own(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        with pytest.raises(UnbalancedEntry) as caught:
            await ledger_service.post(
                session,
                key="fx",
                kind="payment_captured",
                postings=[
                    Posting(accounts.PSP_CLEARING, -1000, "USD"),
                    Posting(accounts.escrow(store.id, 9), 1000, "EUR"),
                ],
            )
        assert caught.value.sums == {"USD": -1000, "EUR": 1000}

    @pytest.mark.parametrize(
        ("lines", "problem"),
        [
            ([], "needs postings"),
            ([Posting("cash", -5, "USD"), Posting("psp_clearing", 5, "USD")], "not a ledger account"),
            ([Posting("payout_clearing", 0, "USD"), Posting("psp_clearing", 0, "USD")], "non-zero"),
            ([Posting("payout_clearing", -5, "XXX"), Posting("psp_clearing", 5, "XXX")], "unknown currency"),
        ],
    )
    async def test_malformed_postings_are_refused(
        self, session: AsyncSession, lines: list[Posting], problem: str
    ) -> None:
        with pytest.raises(InvalidPosting) as caught:
            await ledger_service.post(session, key="malformed", kind="test", postings=lines)
        assert problem in caught.value.message

    async def test_the_same_key_returns_the_same_entry(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        lines = postings.payment_captured(4, store.id, Money(700, "USD"))
        first = await ledger_service.post(
            session, key="so:4:captured", kind="payment_captured", postings=lines
        )
        again = await ledger_service.post(
            session, key="so:4:captured", kind="payment_captured", postings=list(reversed(lines))
        )
        assert again.id == first.id
        count = await session.scalar(
            select(func.count()).select_from(LedgerPosting).where(LedgerPosting.entry_id == first.id)
        )
        assert count == 2
        assert await ledger_service.balance(session, accounts.escrow(store.id, 4), "USD") == 700

    async def test_the_same_key_with_other_postings_is_refused(
        self, session: AsyncSession, store_factory
    ) -> None:
        store = await store_factory()
        await ledger_service.post(
            session,
            key="so:5:captured",
            kind="payment_captured",
            postings=postings.payment_captured(5, store.id, Money(700, "USD")),
        )
        with pytest.raises(IdempotencyKeyReused) as caught:
            await ledger_service.post(
                session,
                key="so:5:captured",
                kind="payment_captured",
                postings=postings.payment_captured(5, store.id, Money(701, "USD")),
            )
        assert caught.value.status_code == 409 and caught.value.code == "idempotency_key_reused"
        with pytest.raises(IdempotencyKeyReused):
            await ledger_service.post(
                session,
                key="so:5:captured",
                kind="refund",
                postings=postings.payment_captured(5, store.id, Money(700, "USD")),
            )
        assert await ledger_service.balance(session, accounts.escrow(store.id, 5), "USD") == 700

    async def test_escrow_cannot_go_negative(
        self, session: AsyncSession, store_factory, assert_ledger_balanced
    ) -> None:
        store = await store_factory()
        so_id = await fund_store(session, store.id, 1000, released=False)
        escrow = accounts.escrow(store.id, so_id)
        await ledger_service.post(
            session,
            key="refund-1",
            kind="refund",
            postings=postings.refund_before_release(so_id, store.id, Money(600, "USD")),
        )
        before = await entry_count(session)
        with pytest.raises(AccountOverdrawn) as caught:
            await ledger_service.post(
                session,
                key="refund-2",
                kind="refund",
                postings=postings.refund_before_release(so_id, store.id, Money(600, "USD")),
            )
        assert caught.value.status_code == 409 and caught.value.code == "account_overdrawn"
        assert (caught.value.account, caught.value.balance, caught.value.delta) == (escrow, 400, -600)
        assert await entry_count(session) == before
        assert await ledger_service.balance(session, escrow, "USD") == 400
        # releasing more than is left is refused the same way; the rest can be released
        with pytest.raises(AccountOverdrawn):
            await ledger_service.post(
                session,
                key="release-too-much",
                kind="escrow_released",
                postings=postings.escrow_released(so_id, store.id, Money(401, "USD"), 200),
            )
        await ledger_service.post(
            session,
            key="release-rest",
            kind="escrow_released",
            postings=postings.escrow_released(so_id, store.id, Money(400, "USD"), 200),
        )
        assert await ledger_service.balance(session, escrow, "USD") == 0
        assert await ledger_service.balance(session, accounts.payable(store.id), "USD") == 392
        await assert_ledger_balanced(session)

    async def test_escrow_of_a_never_paid_order_cannot_be_refunded(
        self, session: AsyncSession, store_factory
    ) -> None:
        store = await store_factory()
        with pytest.raises(AccountOverdrawn):
            await ledger_service.post(
                session,
                key="refund-unpaid",
                kind="refund",
                postings=postings.refund_before_release(77, store.id, Money(100, "USD")),
            )

    async def test_payable_may_go_negative_after_a_claw_back(
        self, session: AsyncSession, store_factory, assert_ledger_balanced
    ) -> None:
        store = await store_factory()
        await fund_store(session, store.id, 1000, commission_bps=200)  # available 980
        await fund_store(session, store.id, 500, released=False)  # another order still in escrow
        await ledger_service.post(
            session,
            key="clawback",
            kind="refund",
            postings=postings.refund_after_release(store.id, Money(1000, "USD")),
        )
        assert await ledger_service.balance(session, accounts.payable(store.id), "USD") == -20
        await assert_ledger_balanced(session)

    async def test_no_overdraft_guards_a_payable(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        await fund_store(session, store.id, 1000)
        payable = accounts.payable(store.id)
        with pytest.raises(AccountOverdrawn):
            await ledger_service.post(
                session,
                key="payout-too-big",
                kind="payout",
                postings=postings.payout(store.id, Money(1001, "USD")),
                no_overdraft=(payable,),
            )
        await ledger_service.post(
            session,
            key="payout-all",
            kind="payout",
            postings=postings.payout(store.id, Money(1000, "USD")),
            no_overdraft=(payable,),
        )
        assert await ledger_service.balance(session, payable, "USD") == 0


class TestReads:
    async def test_store_balances_per_currency(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        other = await store_factory()
        await fund_store(session, store.id, 10_000, commission_bps=200)  # 9,800 available
        await fund_store(session, store.id, 2_500, released=False)
        await fund_store(session, store.id, 1_500, released=False)
        await fund_store(session, store.id, 3_000, "EUR", released=False)
        await fund_store(session, other.id, 99_999)
        await ledger_service.post(
            session,
            key="payout-x",
            kind="payout",
            postings=postings.payout(store.id, Money(5_000, "USD")),
        )
        found, balances = await ledger_service.store_balances(
            session, actor_of(await _owner(session, store)), store.id
        )
        assert found.id == store.id
        assert list(balances) == ["EUR", "USD"]
        usd, eur = balances["USD"], balances["EUR"]
        assert (usd.escrow_pending, usd.available, usd.paid_out) == (4_000, 4_800, 5_000)
        assert (eur.escrow_pending, eur.available, eur.paid_out) == (3_000, 0, 0)

    async def test_a_failed_payout_is_not_paid_out(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        await fund_store(session, store.id, 3_000)
        await ledger_service.post(
            session, key="p1", kind="payout", postings=postings.payout(store.id, Money(2_000, "USD"))
        )
        await ledger_service.post(
            session,
            key="p1-failed",
            kind="payout_failed",
            postings=postings.payout_failed(store.id, Money(2_000, "USD")),
        )
        balances = await ledger_service.balances_of_store(session, store.id)
        assert (balances["USD"].available, balances["USD"].paid_out) == (3_000, 0)

    async def test_only_the_stores_people_see_its_money(
        self, session: AsyncSession, store_factory, user_factory, organization_factory
    ) -> None:
        owner, staff, stranger = await user_factory(), await user_factory(), await user_factory()
        organization = await organization_factory(owner=owner)
        session.add(Membership(organization_id=organization.id, user_id=staff.id, role="staff"))
        store = await store_factory("sourcing", organization=organization)
        await fund_store(session, store.id, 1_000)
        with pytest.raises(NotFound):
            await ledger_service.store_balances(session, actor_of(stranger), store.id)
        with pytest.raises(NotFound):
            await ledger_service.movements(session, actor_of(stranger), store.id)
        _, balances = await ledger_service.store_balances(session, actor_of(staff), store.id)
        assert balances["USD"].available == 1_000
        with pytest.raises(NotFound):
            await ledger_service.store_balances(session, actor_of(owner), 2**31 - 1)

    async def test_movements_newest_first_with_pages(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        other = await store_factory()
        so_a = await fund_store(session, store.id, 1_000, commission_bps=200)
        so_b = await fund_store(session, store.id, 700, released=False)
        await fund_store(session, other.id, 5_000)
        actor = actor_of(await _owner(session, store))

        page = await ledger_service.movements(session, actor, store.id, limit=2)
        rest = await ledger_service.movements(session, actor, store.id, cursor=page.next_cursor, limit=2)
        assert rest.next_cursor is None
        rows = [(m.kind, m.account_kind, m.seller_order_id, m.amount) for m in page.items + rest.items]
        assert rows == [
            ("payment_captured", "escrow", so_b, 700),
            ("escrow_released", "payable", None, 980),
            ("escrow_released", "escrow", so_a, -1000),
            ("payment_captured", "escrow", so_a, 1000),
        ]
        assert page.items[0].memo == f"Order SO-{so_b} paid"
        assert page.items[0].reference_type == "seller_order" and page.items[0].reference_id == so_b

    async def test_a_forged_cursor_is_refused(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        actor = actor_of(await _owner(session, store))
        for cursor in ("garbage!", encode_cursor(["x"]), encode_cursor([1, 2]), encode_cursor([True])):
            with pytest.raises(Invalid):
                await ledger_service.movements(session, actor, store.id, cursor=cursor)

    async def test_daily_changes_of_the_available_balance(self, session: AsyncSession, store_factory) -> None:
        store = await store_factory()
        actor = actor_of(await _owner(session, store))
        clock.freeze()
        today = clock.now().date()
        clock.advance(timedelta(days=-40))
        await fund_store(session, store.id, 9_999)  # older than 30 days: not shown
        clock.advance(timedelta(days=38))
        await fund_store(session, store.id, 1_000)  # two days ago
        clock.advance(timedelta(days=2))
        await fund_store(session, store.id, 300)
        await ledger_service.post(
            session, key="payout-today", kind="payout", postings=postings.payout(store.id, Money(500, "USD"))
        )
        days = await ledger_service.daily_changes(session, actor, store.id)
        usd = days["USD"]
        assert len(usd) == 30 and usd[-1].day == today and usd[0].day == today - timedelta(days=29)
        assert usd[-1] == DayChange(today, -200)
        assert usd[-3] == DayChange(today - timedelta(days=2), 1_000)
        assert sum(d.amount for d in usd) == 800

    async def test_strangers_do_not_see_the_chart(
        self, session: AsyncSession, store_factory, user_factory
    ) -> None:
        store = await store_factory()
        with pytest.raises(NotFound):
            await ledger_service.daily_changes(session, actor_of(await user_factory()), store.id)
