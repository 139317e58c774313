"""The SQL budget of the worker's "order paid" path: how many statements ``ledger_service.post`` and
``order_service.mark_paid`` send.

- ``ledger_service.post`` on its normal path: the entry (``INSERT ... ON CONFLICT DO NOTHING RETURNING``), one
  statement per cached account (an upsert, or the conditional UPDATE of a guarded debit), the postings in one
  INSERT; no savepoint unless the entry has a guarded debit (escrow released, refunds, payouts) or is a
  reversal. The same key again: the INSERT that writes nothing, then the existing entry and its postings.
- ``order_service.mark_paid`` of an order from two stores: the order and its seller orders, one UPDATE per
  seller order, the ledger posts, then for all seller orders together: their lines, the stock of each SKU
  (one conditional UPDATE per SKU), and the stock movements, events and notifications in one INSERT each; then
  the cart (today ``cart_service.remove_lines``: the cart, one DELETE per line, its ``updated_at``).

What is counted: see ``fixtures/sql_counter.py`` (savepoint statements are kept apart in ``sql.skipped``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import is_postgres
from fixtures.orders import Market, card
from souk.checkout.service import checkout_service
from souk.kit.clock import utcnow
from souk.kit.money import Money
from souk.ledger import accounts, postings
from souk.ledger.errors import AccountOverdrawn
from souk.ledger.service import ledger_service
from souk.models import (
    CartLine,
    LedgerEntry,
    Membership,
    Notification,
    Order,
    OrderEvent,
    Organization,
    Payment,
    SellerOrder,
    Stock,
    StockMovement,
    Store,
    User,
)
from souk.notification.service import notification_service
from souk.order.repository import OrderRepository
from souk.order.service import order_service
from souk.payment.schemas import CardIn
from souk.payment.service import payment_service

POST_BUDGET = 3  # entry, the escrow's balance, the postings
GUARDED_POST_BUDGET = 4  # entry, the escrow's guarded debit, the payable's balance, the postings
REPLAY_BUDGET = 3  # the INSERT that writes nothing, the entry, its postings
# the events are ORM rows (``OrderRepository.add_event``) flushed together: one INSERT on PostgreSQL; on SQLite
# the ORM inserts them one by one, to read back each id in order
EVENT_INSERTS = 1 if is_postgres() else 2
# the order, its transition, its seller orders; per seller order its transition and ledger post (1 + 3); their
# lines, stock (2 SKUs), movements, the stores' people, notifications, events; the cart (1 + 2 lines + 1)
MARK_PAID_BUDGET = 3 + 2 * (1 + POST_BUDGET) + 1 + 2 + 1 + 1 + 1 + EVENT_INSERTS + 4


def _savepoints(sql: Any) -> list[str]:
    return [s.split()[0].upper() for s in sql.skipped]


class TestLedgerPost:
    async def test_a_credit_to_escrow_is_three_statements_without_a_savepoint(
        self, session: AsyncSession, store_factory: Callable[..., Awaitable[Store]], count_sql: Any
    ) -> None:
        store = await store_factory()
        with count_sql() as sql:
            entry = await ledger_service.post(
                session,
                key="budget:so:1:captured",
                kind="payment_captured",
                postings=postings.payment_captured(1, store.id, Money(2500, "USD")),
                reference=("seller_order", 1),
                memo="Order SO-1 paid",
            )
        assert len(sql) == POST_BUDGET, sql.report()
        assert sql.skipped == [], sql.report()
        assert (entry.kind, entry.memo, entry.reference_type, entry.reference_id) == (
            "payment_captured",
            "Order SO-1 paid",
            "seller_order",
            1,
        )
        assert entry.id is not None and entry.created_at is not None
        assert await ledger_service.balance(session, accounts.escrow(store.id, 1), "USD") == 2500

    async def test_a_guarded_debit_runs_in_a_savepoint(
        self, session: AsyncSession, store_factory: Callable[..., Awaitable[Store]], count_sql: Any
    ) -> None:
        store = await store_factory()
        money = Money(2500, "USD")
        await ledger_service.post(
            session,
            key="budget:so:2:captured",
            kind="payment_captured",
            postings=postings.payment_captured(2, store.id, money),
        )
        with count_sql() as sql:
            await ledger_service.post(
                session,
                key="budget:so:2:released",
                kind="escrow_released",
                postings=postings.escrow_released(2, store.id, money, 200),
            )
        assert len(sql) == GUARDED_POST_BUDGET, sql.report()
        assert _savepoints(sql) == ["SAVEPOINT", "RELEASE"], sql.report()
        assert await ledger_service.balance(session, accounts.escrow(store.id, 2), "USD") == 0
        assert await ledger_service.balance(session, accounts.payable(store.id), "USD") == 2450

    async def test_the_same_key_again_writes_nothing(
        self, session: AsyncSession, store_factory: Callable[..., Awaitable[Store]], count_sql: Any
    ) -> None:
        store = await store_factory()
        lines = postings.payment_captured(3, store.id, Money(700, "USD"))
        first = await ledger_service.post(
            session, key="budget:so:3:captured", kind="payment_captured", postings=lines
        )
        with count_sql() as sql:
            again = await ledger_service.post(
                session, key="budget:so:3:captured", kind="payment_captured", postings=lines
            )
        assert again.id == first.id
        assert len(sql) == REPLAY_BUDGET, sql.report()
        assert sql.skipped == [], sql.report()
        assert await ledger_service.balance(session, accounts.escrow(store.id, 3), "USD") == 700

    async def test_an_overdraft_leaves_nothing_behind(
        self, session: AsyncSession, store_factory: Callable[..., Awaitable[Store]]
    ) -> None:
        store = await store_factory()
        await ledger_service.post(
            session,
            key="budget:so:4:captured",
            kind="payment_captured",
            postings=postings.payment_captured(4, store.id, Money(500, "USD")),
        )
        entries = await session.scalar(select(func.count()).select_from(LedgerEntry))
        with pytest.raises(AccountOverdrawn):
            await ledger_service.post(
                session,
                key="budget:so:4:released",
                kind="escrow_released",
                postings=postings.escrow_released(4, store.id, Money(501, "USD"), 0),
            )
        assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == entries
        assert await ledger_service.balance(session, accounts.escrow(store.id, 4), "USD") == 500
        assert await ledger_service.balance(session, accounts.payable(store.id), "USD") == 0


async def _placed(session: AsyncSession, m: Market) -> tuple[int, Payment]:
    """An order of ``m``'s cart, placed and its card charged; its payment succeeded, the order not marked paid."""
    order = await checkout_service.place(session, m.actor, m.checkout(), token="budget:paying")
    assert order.payment_id is not None
    payment = await payment_service.confirm(session, order.payment_id, CardIn.model_validate(card()))
    assert payment.status == "processing"
    # the provider's webhook marks it succeeded, then (same transaction) calls ``mark_paid``
    payment.status = "succeeded"
    payment.succeeded_at = utcnow()
    return order.id, payment


class TestMarkPaid:
    async def test_a_two_store_order_is_paid_within_the_budget(
        self,
        session: AsyncSession,
        market: Callable[..., Awaitable[Market]],
        count_sql: Any,
        assert_ledger_balanced: Callable[[AsyncSession], Awaitable[None]],
    ) -> None:
        m = await market(qty=(1, 2), stock=10)
        order_id, payment = await _placed(session, m)
        await session.flush()
        session.expunge_all()  # the worker's session starts empty
        payment = await session.get_one(Payment, payment.id)
        with count_sql() as sql:
            assert await order_service.mark_paid(session, payment)
        assert len(sql) <= MARK_PAID_BUDGET, sql.report()
        assert sql.skipped == [], sql.report()

        # ... and did all of its work
        order = await session.get_one(Order, order_id, populate_existing=True)
        assert order.status == "paid"
        sos = (
            await session.scalars(
                select(SellerOrder)
                .where(SellerOrder.order_id == order_id)
                .order_by(SellerOrder.id)
                .execution_options(populate_existing=True)
            )
        ).all()
        assert [so.status for so in sos] == ["paid", "paid"]
        assert all(so.ship_by is not None for so in sos)
        for so in sos:
            escrow = accounts.escrow(so.store_id, so.id)
            assert await ledger_service.balance(session, escrow, so.currency) == so.total_amount
        stocks = (
            await session.execute(
                select(Stock.sku_id, Stock.on_hand, Stock.reserved)
                .where(Stock.sku_id.in_(m.sku_ids))
                .execution_options(populate_existing=True)
            )
        ).all()
        assert sorted(stocks) == sorted([(m.sku_ids[0], 9, 0), (m.sku_ids[1], 8, 0)])
        sales = (
            await session.execute(
                select(
                    StockMovement.sku_id,
                    StockMovement.delta,
                    StockMovement.on_hand_after,
                    StockMovement.reason,
                )
                .where(StockMovement.kind == "sale", StockMovement.sku_id.in_(m.sku_ids))
                .order_by(StockMovement.id)
            )
        ).all()
        # store i sold qty i of its SKU: the movements in seller order order
        sold = [m.store_ids.index(so.store_id) for so in sos]
        qty, left = (1, 2), (9, 8)
        assert [tuple(r) for r in sales] == [
            (m.sku_ids[i], -qty[i], left[i], f"sold: order {so.number}")
            for i, so in zip(sold, sos, strict=True)
        ]
        events = (
            await session.scalars(
                select(OrderEvent.kind).where(
                    OrderEvent.seller_order_id.in_([so.id for so in sos]), OrderEvent.kind == "paid"
                )
            )
        ).all()
        assert events == ["paid", "paid"]
        owners = [(await session.get_one(Store, so.store_id)).owner_user_id for so in sos]
        told = (
            await session.execute(
                select(Notification.user_id, Notification.title, Notification.body)
                .where(Notification.kind == "order.paid", Notification.user_id.in_(owners))
                .order_by(Notification.id)
            )
        ).all()
        assert [(r[0], r[1]) for r in told] == [
            (owners[0], f"New order {sos[0].number} to ship"),
            (owners[1], f"New order {sos[1].number} to ship"),
        ]
        bodies = {m.store_ids.index(so.store_id): body for so, (_, _, body) in zip(sos, told, strict=True)}
        assert bodies[0].startswith("1 item, US$34.80. Ship by ")  # 29.90 + 4.90 shipping
        assert bodies[1].startswith("2 items, US$30.00. Ship by ")
        assert (
            await session.scalar(
                select(func.count()).select_from(CartLine).where(CartLine.sku_id.in_(m.sku_ids))
            )
            == 0
        )
        await assert_ledger_balanced(session)

        # paid once: the same payment again changes nothing
        with count_sql() as again:
            assert not await order_service.mark_paid(session, payment)
        assert len(again) <= 3, again.report()  # the order, its transition refused, the order again


async def test_the_people_of_several_stores_in_one_statement(
    session: AsyncSession,
    store_factory: Callable[..., Awaitable[Store]],
    user_factory: Callable[..., Awaitable[User]],
    organization_factory: Callable[..., Awaitable[Organization]],
    count_sql: Any,
) -> None:
    owned = await store_factory()
    boss = await user_factory()
    org = await organization_factory(owner=boss)
    for _ in range(2):
        staff = await user_factory()
        session.add(Membership(organization_id=org.id, user_id=staff.id, role="staff"))
    await session.flush()
    business = await store_factory("mall", organization=org)
    ids = [owned.id, business.id]
    with count_sql() as sql:
        people = await notification_service.people_of_stores(session, ids)
    assert len(sql) == 1, sql.report()
    repo = OrderRepository(session)
    assert people == {store_id: await repo.store_people(store_id) for store_id in ids}
    assert len(people[business.id]) == 3 and people[owned.id] == [owned.owner_user_id]
