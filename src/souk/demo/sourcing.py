"""The demo's sourcing story: the demo buyer's business posts requests for quotation and the demo's sourcing
stores answer them, through the real services only (``party_service`` and ``ops_service`` for the buyer's
organisation, ``rfq_service``, ``quote_service``, ``negotiation_service``, ``contract_service`` and the contract
order's milestone payment), so ``souk audit`` holds afterwards.

Three RFQs of the buyer's organisation (approved by the operator), in the categories the sourcing demo account's
store lists products in, so its RFQ board shows them:

- a fresh one, posted two days ago, with two quotes;
- one with four quotes, where the buyer sent the sourcing account's store a counter-offer it has not answered;
- one awarded two weeks ago: the contract confirmed by both sides became an order whose deposit the buyer paid
  with the simulated card, so production is under way (ship-by still weeks ahead).

The quotes come from the active sourcing stores quoting in the RFQ's currency, the demo account's store first;
the small demo has one such store, so there each RFQ gets the one quote it can. The deposit is paid in the three
steps of ``contract_orders.pay`` run on the demo's one uncommitted session (like the checkout in
``souk.demo.activity``); the provider's webhook job runs right after.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.kit.clock import utcnow
from souk.models import (
    Category,
    Contract,
    Membership,
    Organization,
    PaymentMilestone,
    Product,
    SellerOrder,
    Store,
)
from souk.ops.schemas import OrganizationDecision
from souk.ops.service import ops_service
from souk.party.schemas import OrganizationCreate
from souk.party.service import party_service
from souk.payment.schemas import CardIn
from souk.payment.service import payment_service
from souk.payment.simulated import CARD_SUCCEEDS
from souk.trade.sourcing.contract.orders import contract_orders
from souk.trade.sourcing.contract.schemas import ContractConfirm, ContractUpdate
from souk.trade.sourcing.contract.service import contract_service
from souk.trade.sourcing.negotiation.schemas import CounterCreate
from souk.trade.sourcing.negotiation.service import negotiation_service
from souk.trade.sourcing.quote.schemas import QuoteCreate
from souk.trade.sourcing.quote.service import quote_service
from souk.trade.sourcing.rfq.schemas import RfqCreate
from souk.trade.sourcing.rfq.service import rfq_service

# the demo buyer's business (it buys for a concept store in Paris)
BUYER_ORGANIZATION = OrganizationCreate(
    legal_name="Haddad Concept Store SARL",
    registration_number="RCS Paris 852 114 907",
    country="FR",
    address="18 Rue des Martyrs, 75009 Paris",
)
CURRENCY = "USD"
# how many steps the sourcing story reports to the progress bar (at most: fewer quotes with fewer suppliers)
STEPS = 17


@dataclass
class Supplier:
    store_id: int
    name: str
    person: Actor


@dataclass
class SourcingSummary:
    rfqs: int = 0
    quotes: int = 0
    counter_offers: int = 0
    contracts: int = 0
    deposits_paid: int = 0
    rfq_ids: dict[str, int] = field(default_factory=dict)


# what the suppliers quote: (unit price in cents, lead time in days, shipping in cents, message)
QUOTES: dict[str, list[tuple[int, int, int, str]]] = {
    "fresh": [
        (845, 25, 42_000, "Bluetooth 5.3, ENC mics, 30 h with the case. Your logo printed on the case."),
        (910, 30, 38_000, "We can also pack them in your own retail box from 1,000 pieces."),
    ],
    "countered": [
        (1190, 30, 65_000, "Tuya-compatible, CE and RoHS certified, power metering accurate to 1 %."),
        (1240, 35, 60_000, "Matter-ready firmware available; samples ship in 3 days."),
        (1275, 28, 70_000, "Our smart plug has 16 A rating and child-safe shutters."),
        (1320, 40, 55_000, "Price includes an individual colour box with your logo."),
    ],
    "awarded": [
        (265, 35, 48_000, "Soft-touch TPU with MagSafe ring, drop tested to 1.5 m. Three colours."),
        (289, 30, 52_000, "Recycled TPU available at the same price."),
    ],
}


async def _suppliers(session: AsyncSession, lead_store_name: str) -> list[Supplier]:
    """Active sourcing stores of approved organisations that quote in ``CURRENCY``: the demo account's store
    first, then the others in the order they were opened."""
    rows = (
        await session.execute(
            select(Store.id, Store.name, Store.organization_id)
            .join(Organization, Organization.id == Store.organization_id)
            .where(
                Store.trade_model == "sourcing",
                Store.status == "active",
                Store.currency == CURRENCY,
                Organization.status == "approved",
            )
            .order_by(Store.id)
        )
    ).all()
    suppliers: list[Supplier] = []
    for row in rows:
        owner = await session.scalar(
            select(Membership.user_id)
            .where(Membership.organization_id == row.organization_id, Membership.role == "owner")
            .order_by(Membership.id)
            .limit(1)
        )
        if owner is not None:
            suppliers.append(Supplier(row.id, row.name, Actor(user_id=int(owner))))
    suppliers.sort(key=lambda s: s.name != lead_store_name)
    return suppliers


async def _store_categories(session: AsyncSession, store_id: int) -> list[tuple[int, str]]:
    """(id, name) of the categories a store lists products in, the one with the most products first."""
    rows = (
        await session.execute(
            select(Product.category_id, Category.name, func.count())
            .join(Category, Category.id == Product.category_id)
            .where(Product.store_id == store_id, Product.status == "active")
            .group_by(Product.category_id, Category.name)
            .order_by(func.count().desc(), Product.category_id)
        )
    ).all()
    return [(int(r[0]), str(r[1])) for r in rows]


def _days(days: float, hours: float = 0) -> timedelta:
    return timedelta(days=days, hours=hours)


Step = Callable[[], Awaitable[object]]
Timeline = Callable[[timedelta], object]


async def play_sourcing(
    session: AsyncSession,
    *,
    buyer: Actor,
    operator: Actor,
    lead_store_name: str,
    address_id: Callable[[], Awaitable[int]],
    go: Timeline,
    run_jobs: Callable[[], Awaitable[None]],
    tick: Callable[[], None],
) -> SourcingSummary | None:
    """Play the sourcing story at its planned moments (``go(ago)`` moves the clock there). None when the demo
    has no sourcing store to quote."""
    suppliers = await _suppliers(session, lead_store_name)
    if not suppliers:
        return None
    lead = suppliers[0]
    categories = await _store_categories(session, lead.store_id)
    summary = SourcingSummary()
    rfqs: dict[str, int] = {}
    quotes: dict[str, list[int]] = {}
    contract_ids: dict[str, int] = {}
    steps: list[tuple[timedelta, Step]] = []

    def at(ago: timedelta, step: Step) -> None:
        steps.append((ago, step))

    def category(name: str, n: int) -> int | None:
        """The category of that name when the demo supplier's store lists products in it (so the RFQ is on
        its board), else another of the store's categories."""
        named = [cid for cid, cname in categories if cname == name]
        if named:
            return named[0]
        return categories[n % len(categories)][0] if categories else None

    async def organization() -> None:
        org = await party_service.create_organization(session, buyer, BUYER_ORGANIZATION)
        await ops_service.decide_organization(
            session,
            operator,
            org.id,
            OrganizationDecision(decision="approve", reason="Registration extract (Kbis) checked."),
        )
        tick()

    def post(
        key: str,
        title: str,
        requirements: str,
        quantity: int,
        target: int,
        open_days: int,
        category_name: str,
        n: int,
    ) -> Step:
        async def go_post() -> None:
            rfq = await rfq_service.create(
                session,
                buyer,
                RfqCreate(
                    title=title,
                    category_id=category(category_name, n),
                    requirements=requirements,
                    quantity=quantity,
                    unit="pieces",
                    target_unit_price_amount=target,
                    currency=CURRENCY,
                    destination_country="FR",
                    incoterm="FOB",
                    needed_by=(utcnow() + timedelta(days=open_days + 45)).date(),
                    quote_deadline=utcnow() + timedelta(days=open_days),
                    visibility="public",
                ),
            )
            rfqs[key] = rfq.id
            summary.rfqs += 1
            tick()

        return go_post

    def quote(key: str, position: int, supplier: Supplier) -> Step:
        price, lead_time, shipping, message = QUOTES[key][position]

        async def go_quote() -> None:
            made = await quote_service.create(
                session,
                supplier.person,
                rfqs[key],
                QuoteCreate(
                    store_id=supplier.store_id,
                    unit_price_amount=price,
                    tiers=[(1000, price), (5000, price - price // 20)],
                    moq=1000,
                    lead_time_days=lead_time,
                    incoterm="FOB",
                    place="Shenzhen",
                    shipping_amount=shipping,
                    sample_price_amount=price * 3,
                    message=message,
                ),
            )
            quotes.setdefault(key, []).append(made.id)
            summary.quotes += 1
            tick()

        return go_quote

    def quotes_for(key: str, start: timedelta, every: timedelta, first: int = 0) -> None:
        """The RFQ's quotes, one supplier each (as many as the demo has, up to the planned number)."""
        wanted = len(QUOTES[key])
        pool = suppliers[first:] + suppliers[:first]
        for position, supplier in enumerate(pool[:wanted]):
            at(start - every * position, quote(key, position, supplier))

    async def counter() -> None:
        quote_id = quotes["countered"][0]
        await negotiation_service.counter(
            session,
            buyer,
            quote_id,
            CounterCreate(
                based_on_version=1,
                unit_price_amount=1090,
                lead_time_days=25,
                message="Your plug is our favourite. Could you do US$10.90 and ship within 25 days? "
                "Then we order 5,000 now and the same again in spring.",
            ),
            rfq_id=rfqs["countered"],
        )
        summary.counter_offers += 1
        tick()

    async def award() -> None:
        read = await negotiation_service.award(session, buyer, quotes["awarded"][0], rfq_id=rfqs["awarded"])
        contract_ids["awarded"] = read.contract_id
        tick()

    async def terms() -> None:
        contract = await session.get(Contract, contract_ids["awarded"])
        assert contract is not None
        await contract_service.update(
            session,
            buyer,
            contract.id,
            ContractUpdate(
                based_on_updated_at=contract.updated_at,
                shipping_address_id=await address_id(),
                quality_terms="AQL 2.5 inspection before shipment; colours to match the approved samples.",
            ),
        )
        await contract_service.confirm(session, buyer, contract.id, ContractConfirm())
        tick()

    async def supplier_confirms() -> None:
        await contract_service.confirm(session, lead.person, contract_ids["awarded"], ContractConfirm())
        summary.contracts += 1
        tick()

    async def pay_deposit() -> None:
        contract = await session.get(Contract, contract_ids["awarded"])
        assert contract is not None and contract.seller_order_id is not None
        so = await session.get(SellerOrder, contract.seller_order_id)
        assert so is not None
        deposit = await session.scalar(
            select(PaymentMilestone).where(
                PaymentMilestone.seller_order_id == so.id, PaymentMilestone.kind == "deposit"
            )
        )
        assert deposit is not None
        card = CardIn(number=CARD_SUCCEEDS, exp_month=12, exp_year=utcnow().year + 3, cvc="123")
        # the three steps of contract_orders.pay, without its commits (the demo is one transaction)
        payment_id = await contract_orders._start(session, buyer, so.order_id, deposit.id, card)
        await payment_service.confirm(session, payment_id, card)
        await contract_orders._settle(session, so.id, payment_id)
        await run_jobs()
        summary.deposits_paid += 1
        tick()

    electronics_note = (
        "Packaging: retail box with our logo, EAN barcode, French and English manual. "
        "CE marking and a DoC are required; we import into France."
    )
    # the buyer's business registers and is approved
    at(_days(25), organization)
    # an RFQ awarded two weeks ago: the contract is in force and the deposit is paid
    at(
        _days(18),
        post(
            "awarded",
            "Phone cases with MagSafe ring, 3 colours",
            "Soft-touch TPU cases for the last two iPhone generations, MagSafe-compatible magnet ring, "
            "raised camera lip. Colours: sand, sage, black (1,000 each). " + electronics_note,
            3000,
            290,
            14,
            "Phone Accessories",
            2,
        ),
    )
    quotes_for("awarded", _days(17), _days(0, 20))
    at(_days(13), award)
    at(_days(12, 20), terms)
    at(_days(12), supplier_confirms)
    at(_days(11), pay_deposit)
    # an RFQ with four quotes; the buyer countered the demo supplier's quote
    at(
        _days(6),
        post(
            "countered",
            "Wi-Fi smart plugs with energy monitoring, EU type F",
            "16 A smart plug with power metering, works with the usual smart-home apps, French/German "
            "type F socket, white. " + electronics_note,
            5000,
            1150,
            14,
            "Smart Home",
            1,
        ),
    )
    quotes_for("countered", _days(5, 20), _days(0, 18))
    at(_days(3), counter)
    # a fresh RFQ: two quotes so far (not from the demo supplier, when the demo has other suppliers)
    at(
        _days(2),
        post(
            "fresh",
            "Wireless earbuds with charging case, private label",
            "True wireless earbuds, Bluetooth 5.3, at least 24 h with the case, USB-C. Our logo on the case "
            "and the box. " + electronics_note,
            2000,
            850,
            12,
            "Audio",
            0,
        ),
    )
    quotes_for("fresh", _days(1, 16), _days(0, 9), first=1 if len(suppliers) > 2 else 0)

    for ago, step in sorted(steps, key=lambda s: -s[0]):  # stable: same moment keeps the written order
        go(ago)
        await step()
    summary.rfq_ids = dict(rfqs)
    return summary
