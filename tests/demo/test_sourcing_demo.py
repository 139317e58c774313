"""The demo's sourcing story (souk.demo.sourcing): RFQs of the demo buyer's business, quotes from the demo's
sourcing stores, a counter-offer, and a contract in force whose deposit is paid, all through the real services."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.demo import DemoSize, build_demo
from souk.demo.parties import (
    BUYER,
    CROSSBORDER_STORES,
    MALL_STORES,
    MARKET_STORES,
    PENDING_MALL_STORE,
    PENDING_ORG_STORE,
    SOURCING_SELLER,
    SOURCING_STORES,
)
from souk.demo.plan import PLANS, SizePlan
from souk.kit.clock import as_utc, utcnow
from souk.ledger import accounts
from souk.ledger.service import ledger_service
from souk.models import (
    Contract,
    Membership,
    Offer,
    Order,
    Organization,
    PaymentMilestone,
    Quote,
    Rfq,
    SellerOrder,
    Store,
    User,
)
from souk.trade.sourcing.rfq.service import rfq_service


async def _user_id(session: AsyncSession, email: str) -> int:
    found = await session.scalar(select(User.id).where(User.email == email))
    assert found is not None
    return int(found)


async def _rfqs(session: AsyncSession) -> dict[str, Rfq]:
    rows = (await session.scalars(select(Rfq).order_by(Rfq.id))).all()
    return {r.title: r for r in rows}


async def _quote_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(Rfq.title, func.count(Quote.id)).join(Quote, Quote.rfq_id == Rfq.id).group_by(Rfq.title)
    )
    return {title: int(n) for title, n in rows.all()}


AWARDED = "Phone cases with MagSafe ring, 3 colours"
COUNTERED = "Wi-Fi smart plugs with energy monitoring, EU type F"
FRESH = "Wireless earbuds with charging case, private label"


async def _check_contract_in_production(session: AsyncSession, buyer_id: int) -> Contract:
    """The awarded RFQ's contract: confirmed by both sides, its order in production with the deposit paid
    into escrow and the balance still pending."""
    contract = (await session.execute(select(Contract))).scalar_one()
    assert contract.status == "confirmed" and contract.version == 1
    assert contract.buyer_confirmed_at is not None and contract.supplier_confirmed_at is not None
    assert contract.buyer_user_id == buyer_id
    assert contract.shipping_address.get("city") == "Paris"
    assert contract.deposit_bps == 3000 and 0 < contract.deposit_amount < contract.total_amount
    assert contract.ship_by > utcnow().date() + timedelta(days=7)  # production under way, ship-by ahead
    so = await session.get(SellerOrder, contract.seller_order_id)
    assert so is not None and so.status == "in_production" and so.trade_model == "sourcing"
    assert so.buyer_id == buyer_id and so.total_amount == contract.total_amount
    milestones = {
        m.kind: m
        for m in (
            await session.scalars(select(PaymentMilestone).where(PaymentMilestone.seller_order_id == so.id))
        ).all()
    }
    assert milestones["deposit"].status == "paid" and milestones["deposit"].amount == contract.deposit_amount
    assert milestones["deposit"].payment_id is not None and milestones["deposit"].paid_at is not None
    assert as_utc(milestones["deposit"].paid_at) < utcnow() - timedelta(days=10)
    assert (
        milestones["balance"].status == "pending" and milestones["balance"].amount == contract.balance_amount
    )
    order = await session.get(Order, so.order_id)
    assert order is not None and order.status == "paid"
    # the deposit sits in the order's escrow
    escrow = await ledger_service.balance(session, accounts.escrow(so.store_id, so.id), so.currency)
    assert abs(escrow) == contract.deposit_amount
    awarded = await session.get(Rfq, contract.rfq_id)
    assert awarded is not None and awarded.status == "awarded" and awarded.title == AWARDED
    return contract


async def test_small_demo_has_the_sourcing_story(
    session: AsyncSession,
    tmp_path: Path,
    assert_ledger_balanced: Callable[[AsyncSession], Awaitable[None]],
) -> None:
    await build_demo(session, tmp_path, password_hash="not-a-real-hash", size=DemoSize.small)
    await session.flush()
    assert abs(utcnow() - datetime.now(UTC)) < timedelta(minutes=1)

    buyer_id = await _user_id(session, BUYER.email)
    organization = (
        await session.execute(
            select(Organization)
            .join(Membership, Membership.organization_id == Organization.id)
            .where(Membership.user_id == buyer_id)
        )
    ).scalar_one()
    assert organization.status == "approved" and organization.legal_name == "Haddad Concept Store SARL"

    rfqs = await _rfqs(session)
    assert set(rfqs) == {AWARDED, COUNTERED, FRESH}
    assert all(r.organization_id == organization.id and r.visibility == "public" for r in rfqs.values())
    assert rfqs[FRESH].status == "open" and rfqs[COUNTERED].status == "open"
    # the small demo has one sourcing store that quotes: one quote on each
    assert await _quote_counts(session) == {AWARDED: 1, COUNTERED: 1, FRESH: 1}
    counters = (await session.scalars(select(Offer).where(Offer.kind == "counter"))).all()
    assert len(counters) == 1 and counters[0].side == "buyer" and counters[0].status == "open"
    await _check_contract_in_production(session, buyer_id)

    # the storefront lists the two RFQs still taking quotes, newest first
    latest = await rfq_service.latest_public(session)
    assert [r.title for r in latest] == [FRESH, COUNTERED]

    await assert_ledger_balanced(session)


@pytest.fixture
def four_sourcing_stores(monkeypatch: pytest.MonkeyPatch) -> None:
    """The small demo with the first four sourcing stores (the full demo's story, built quickly)."""
    monkeypatch.setitem(
        PLANS,
        DemoSize.small,
        SizePlan(
            stores=(
                *SOURCING_STORES[:4],
                MARKET_STORES[0],
                MALL_STORES[0],
                CROSSBORDER_STORES[0],
                PENDING_MALL_STORE,
                PENDING_ORG_STORE,
            ),
            products_per_store={"sourcing": 8, "market": 12, "mall": 12, "crossborder": 12},
            products_per_pending_store=4,
        ),
    )


async def test_with_several_suppliers_the_rfqs_have_their_quotes_and_the_board_shows_them(
    session: AsyncSession,
    tmp_path: Path,
    four_sourcing_stores: None,
    assert_ledger_balanced: Callable[[AsyncSession], Awaitable[None]],
) -> None:
    await build_demo(session, tmp_path, password_hash="not-a-real-hash", size=DemoSize.small)
    await session.flush()
    buyer_id = await _user_id(session, BUYER.email)

    assert await _quote_counts(session) == {AWARDED: 2, COUNTERED: 4, FRESH: 2}
    rfqs = await _rfqs(session)
    lead = (await session.execute(select(Store).where(Store.name == SOURCING_STORES[0].name))).scalar_one()

    # the counter-offer is on the demo supplier's quote, waiting for its answer
    countered = (
        await session.execute(
            select(Quote).where(Quote.rfq_id == rfqs[COUNTERED].id, Quote.store_id == lead.id)
        )
    ).scalar_one()
    assert countered.version == 2 and countered.status == "submitted" and countered.unit_price_amount == 1090
    offers = (
        await session.scalars(select(Offer).where(Offer.quote_id == countered.id).order_by(Offer.version))
    ).all()
    assert [(o.kind, o.side, o.status) for o in offers] == [
        ("quote", "supplier", "superseded"),
        ("counter", "buyer", "open"),
    ]
    # the fresh RFQ was quoted by two other suppliers: the demo supplier can still quote it
    fresh_stores = (await session.scalars(select(Quote.store_id).where(Quote.rfq_id == rfqs[FRESH].id))).all()
    assert len(fresh_stores) == 2 and lead.id not in fresh_stores

    # the awarded RFQ: the demo supplier won, the other quote was declined
    contract = await _check_contract_in_production(session, buyer_id)
    assert contract.store_id == lead.id
    statuses = dict(
        (
            await session.execute(
                select(Quote.store_id, Quote.status).where(Quote.rfq_id == rfqs[AWARDED].id)
            )
        ).all()
    )
    assert statuses.pop(lead.id) == "awarded" and list(statuses.values()) == ["declined"]

    # the sourcing demo account sees both open RFQs on its board, in its own categories
    supplier = Actor(user_id=await _user_id(session, SOURCING_SELLER.email))
    board = await rfq_service.board(session, supplier, lead.id)
    assert board.filtered and {r.title for r in board.page.items} == {FRESH, COUNTERED}
    assert all(r.category_id in board.category_ids for r in board.page.items)

    await assert_ledger_balanced(session)


async def test_the_story_adds_little_build_time(session: AsyncSession, tmp_path: Path) -> None:
    """The sourcing story itself stays well under 1.5 s (measured around its own run)."""
    import souk.demo.activity as activity

    timings: list[float] = []
    original = activity._play_sourcing

    async def timed(*args, **kw):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return await original(*args, **kw)
        finally:
            timings.append(time.perf_counter() - started)

    activity._play_sourcing = timed  # type: ignore[assignment]
    try:
        await build_demo(session, tmp_path, password_hash="not-a-real-hash", size=DemoSize.small)
    finally:
        activity._play_sourcing = original  # type: ignore[assignment]
    assert len(timings) == 1 and timings[0] < 1.5, timings
