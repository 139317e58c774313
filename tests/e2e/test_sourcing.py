"""Sourcing in a browser, as people would: a buyer posts an RFQ, three suppliers quote from their RFQ board, the
buyer compares the quotes, counters one, the supplier accepts, the buyer awards it; both sides confirm the
contract; the buyer pays the deposit, the supplier finishes production, the buyer pays the balance, the supplier
ships and the buyer confirms receipt. The supplier is paid the total less the sourcing commission."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import func, select

from e2e.conftest import LiveServer
from souk.audit import run_checks
from souk.auth.passwords import hash_password
from souk.db import create_engine, create_sessionmaker
from souk.kit.clock import utcnow
from souk.ledger import accounts
from souk.ledger.postings import commission_split
from souk.ledger.service import ledger_service
from souk.models import (
    Category,
    Contract,
    LedgerPosting,
    Membership,
    Organization,
    PaymentMilestone,
    Product,
    Quote,
    Rfq,
    SellerOrder,
    Store,
    User,
)
from souk.trade.policy import get_policy

pytestmark = pytest.mark.e2e
PASSWORD = "sourcing-password-e2e"
QUANTITY = 2000
SHOTS = Path(os.environ.get("SOUK_E2E_SHOTS", "/tmp/shots"))


@dataclass(frozen=True)
class Supplier:
    name: str
    email: str
    store_id: int


@dataclass
class World:
    buyer_email: str
    category_name: str
    suppliers: list[Supplier]


async def _seed(url: str) -> World:
    """An approved buyer organisation with its member, and three approved supplier organisations, each with an
    active sourcing store listing a product in one category (so the RFQ shows on their boards)."""
    tag = uuid.uuid4().hex[:6]
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            category = Category(name=f"Water bottles {tag}", slug=f"water-bottles-{tag}")
            session.add(category)
            buyer = User(
                email=f"buyer.{tag}@example.com",
                password_hash=hash_password(PASSWORD),
                display_name="Bruno Buyer",
            )
            session.add(buyer)
            await session.flush()
            org = Organization(
                legal_name=f"Outdoor Retail GmbH {tag}",
                registration_number=f"HRB-{tag}",
                country="DE",
                address="Torstrasse 1, Berlin",
                status="approved",
                created_by_id=buyer.id,
            )
            session.add(org)
            await session.flush()
            session.add(Membership(organization_id=org.id, user_id=buyer.id, role="owner"))
            suppliers = []
            for n, name in enumerate(("Ningbo Steelware", "Yongkang Bottles", "Shenzhen Flasks"), start=1):
                email = f"supplier{n}.{tag}@example.com"
                user = User(email=email, password_hash=hash_password(PASSWORD), display_name=f"{name} sales")
                session.add(user)
                await session.flush()
                supplier_org = Organization(
                    legal_name=f"{name} Co., Ltd. {tag}",
                    registration_number=f"CN-{n}-{tag}",
                    country="CN",
                    address=f"{n} Industrial Road",
                    status="approved",
                    created_by_id=user.id,
                )
                session.add(supplier_org)
                await session.flush()
                session.add(Membership(organization_id=supplier_org.id, user_id=user.id, role="owner"))
                slug = f"{name.lower().replace(' ', '-')}-{tag}"
                store = Store(
                    slug=slug,
                    name=name,
                    description=f"{name} makes drinkware.",
                    country="CN",
                    currency="USD",
                    trade_model="sourcing",
                    status="active",
                    organization_id=supplier_org.id,
                )
                session.add(store)
                await session.flush()
                session.add(
                    Product(
                        store_id=store.id,
                        category_id=category.id,
                        title=f"{name} 750 ml bottle",
                        slug=f"{slug}-bottle",
                        description="Double wall stainless steel bottle.",
                        currency="USD",
                        status="active",
                        min_price_amount=250,
                        max_price_amount=250,
                    )
                )
                suppliers.append(Supplier(name, email, store.id))
            await session.flush()
            return World(buyer.email, category.name, suppliers)
    finally:
        await engine.dispose()


async def _log_in(page: Page, base: str, email: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill('main [name="email"]', email)
    await page.fill('main [name="password"]', PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("details.menu summary")).to_be_visible()


async def _log_out(page: Page) -> None:
    await page.locator("details.menu summary").click()
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("link", name="Log in")).to_be_visible()


async def _seller_centre(page: Page, base: str, supplier: Supplier, section: str) -> None:
    """From the seller centre's dashboard to one section of the supplier's store (its sidebar link)."""
    await page.goto(f"{base}/seller")
    await page.locator("main").get_by_role("link", name="Products", exact=True).click()
    await (
        page.get_by_role("navigation", name="Seller centre")
        .get_by_role("link", name=section, exact=True)
        .click()
    )
    await expect(page).to_have_url(re.compile(rf"/seller/stores/{supplier.store_id}/"))


async def _flash(page: Page, text: str) -> None:
    await expect(page.locator(".flash")).to_contain_text(text)


async def _shot(page: Page, name: str) -> None:
    """A 360 px wide screenshot of the current page (the page is left at its normal size afterwards)."""
    await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
    size = page.viewport_size
    await page.set_viewport_size({"width": 360, "height": 780})
    await page.screenshot(path=str(SHOTS / f"sourcing-{name}.png"), full_page=True)
    # nothing sticks out sideways on a phone: wide tables scroll inside their .table-wrap
    overflow, wide = await page.evaluate(
        """() => new Promise(done => requestAnimationFrame(() => {
            const root = document.documentElement;
            const wide = [...document.querySelectorAll('main *')]
                .filter(e => e.getBoundingClientRect().right > root.clientWidth + 1)
                .filter(e => !e.closest('.table-wrap'))
                .map(e => e.tagName.toLowerCase() + '.' + e.className);
            done([root.scrollWidth - root.clientWidth, wide.slice(0, 10)]);
        }))"""
    )
    if size:
        await page.set_viewport_size(size)
    assert overflow <= 0 and not wide, f"{name}: {overflow}px wider than a 360px screen: {wide}"


async def _pay(page: Page, order_url: str, kind: str) -> None:
    """Pay the due milestone with the test card, then wait for the provider's webhook (through the worker)."""
    await page.goto(order_url)
    await page.get_by_role("link", name=re.compile(f"Pay the {kind}")).click()
    await page.locator("main").get_by_label("Card number").fill("4242 4242 4242 4242")
    await page.locator("main").get_by_label("Expiry month").fill("12")
    await page.locator("main").get_by_label("Expiry year").fill("2031")
    await page.locator("main").get_by_label("Security code (CVC)").fill("123")
    await page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    await expect(page).to_have_url(re.compile(r"/orders/\d+$"))
    row = page.locator("table.milestones-table tr", has_text=kind.capitalize())
    for _ in range(40):
        if "Paid" in await row.inner_text():
            break
        await page.wait_for_timeout(500)
        await page.reload()
    await expect(row).to_contain_text("Paid")


async def _suppliers_in_order(page: Page) -> list[str]:
    return await page.locator("table.rfq-compare tbody th[scope=row] a").all_inner_texts()


async def test_rfq_to_quotes_to_contract_to_paid_shipped_and_received_order(
    page: Page, live_server: LiveServer
) -> None:
    base = live_server.url
    url = live_server.settings.resolved_database_url
    world = await _seed(url)
    main = page.locator("main")
    steel, bottles, flasks = world.suppliers

    # 1. the buyer posts an RFQ
    await _log_in(page, base, world.buyer_email)
    await page.goto(f"{base}/rfqs")
    await page.get_by_role("link", name="Post an RFQ").first.click()
    await main.get_by_label("Product name").fill("Insulated water bottle 750 ml")
    await main.get_by_label("Category").select_option(label=world.category_name)
    await (
        page.locator("main")
        .get_by_label("Requirements")
        .fill(
            "Double wall 18/8 stainless steel, powder coated matt black, logo laser engraved, one per gift box."
        )
    )
    await main.get_by_label("Quantity").fill(str(QUANTITY))
    await expect(page.locator('main [name="unit"]')).to_have_value("pieces")
    await main.get_by_label("Target unit price (optional)").fill("2.20")
    await main.get_by_label("Destination country").select_option("DE")
    await main.get_by_label("Incoterm").select_option("FOB")
    today = utcnow().date()
    await (
        page.locator("main")
        .get_by_label("Needed by (optional)")
        .fill((today + timedelta(days=90)).isoformat())
    )
    await main.get_by_label("Quotes until").fill((today + timedelta(days=10)).isoformat())
    await page.get_by_role("button", name="Post RFQ").click()
    await _flash(page, "RFQ posted")
    await expect(page).to_have_url(re.compile(r"/rfqs/\d+$"))
    rfq_url = page.url
    rfq_id = int(rfq_url.rsplit("/", 1)[1])
    await expect(page.locator("main")).to_contain_text("2000 pieces")
    await expect(page.locator("main")).to_contain_text("No quotes yet")
    await _log_out(page)

    # 2. three suppliers find it on their board and quote (price, lead time, shipping)
    offers = {
        steel: ("2.40", "30", "450.00"),
        bottles: ("2.15", "45", "900.00"),
        flasks: ("2.30", "25", "300.00"),
    }
    for supplier, (price, lead, shipping) in offers.items():
        await _log_in(page, base, supplier.email)
        await _seller_centre(page, base, supplier, "RFQ board")
        await expect(page.locator("main")).to_contain_text(world.category_name)
        await page.get_by_role("link", name="Insulated water bottle 750 ml").click()
        await expect(page).to_have_url(re.compile(rf"/rfqs/{rfq_id}$"))
        await main.get_by_label(re.compile(r"^Unit price")).fill(price)
        await expect(main.get_by_label("Quantity", exact=True)).to_have_value(str(QUANTITY))
        await main.get_by_label("Lead time (days)").fill(lead)
        await main.get_by_label("Port or place").fill("Ningbo")
        await main.get_by_label(re.compile(r"^Shipping estimate")).fill(shipping)
        await (
            page.locator("main")
            .get_by_label("Message to the buyer")
            .fill(f"{supplier.name}: best price for {QUANTITY} pieces.")
        )
        await page.get_by_role("button", name="Send quote").click()
        await _flash(page, "Quote sent")
        await expect(page.locator("main")).to_contain_text("Your quote")
        await _log_out(page)

    # 3. the buyer compares the three quotes, sorts by landed total and counters the cheapest unit price
    await _log_in(page, base, world.buyer_email)
    await page.goto(f"{base}/rfqs")
    await page.get_by_role("link", name="Insulated water bottle 750 ml").click()
    table = page.locator("table.rfq-compare")
    await expect(table.locator("tbody tr")).to_have_count(3)
    # by unit price: 2.15 < 2.30 < 2.40
    assert await _suppliers_in_order(page) == [bottles.name, flasks.name, steel.name]
    await page.get_by_role("link", name="Landed total").click()
    await expect(page.get_by_role("link", name="Landed total")).to_have_attribute("aria-current", "true")
    # landed: flasks 4,900 < bottles 5,200 < steel 5,250
    assert await _suppliers_in_order(page) == [flasks.name, bottles.name, steel.name]
    await expect(table.locator("tbody tr").first).to_contain_text("$4,900.00")
    await _shot(page, "comparison")
    await table.get_by_role("link", name=bottles.name).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(bottles.name)
    await page.get_by_text("Make a counter-offer").click()
    await main.get_by_label(re.compile(r"^Unit price")).fill("2.05")
    await main.get_by_label("Message", exact=True).fill("We can order today at 2.05.")
    await page.get_by_role("button", name="Send the counter-offer").click()
    await _flash(page, "Counter-offer sent")
    await expect(page.locator("main")).to_contain_text("$2.05")
    quote_url = page.url
    await _log_out(page)

    # 4. that supplier accepts the counter-offer
    await _log_in(page, base, bottles.email)
    await _seller_centre(page, base, bottles, "My quotes")
    await page.get_by_role("link", name=re.compile("Insulated water bottle 750 ml")).first.click()
    await expect(page.locator("main")).to_contain_text("We can order today at 2.05.")
    await page.get_by_role("button", name="Accept version 2").click()
    await _flash(page, "Terms accepted")
    await _log_out(page)

    # 5. the buyer awards it: the contract is drafted, the two others are declined
    await _log_in(page, base, world.buyer_email)
    await page.goto(quote_url)
    await expect(page.locator("main")).to_contain_text("Terms agreed")
    await page.get_by_role("button", name="Award this quote and draft the contract").click()
    await _flash(page, "Quote awarded")
    await expect(page).to_have_url(re.compile(r"/contracts/\d+$"))
    contract_url = page.url
    # contract total: 2000 x 2.05 + 900.00 shipping = 5,000.00; deposit 30 % = 1,500.00
    await expect(main).to_contain_text("$5,000.00")
    await expect(main).to_contain_text("Pick a shipping address")
    # the payment plan reads its amounts like the rest of the page
    await expect(main).to_contain_text("30 % deposit $1,500.00 now, 70 % balance $3,500.00 before shipment")
    # the buyer adds an address to the address book, then picks it on the contract
    await page.get_by_role("link", name="your address book").click()
    await main.get_by_label("Full name").fill("Bruno Buyer")
    await main.get_by_label("Phone").fill("+49 30 1234567")
    await main.get_by_role("textbox", name="Address", exact=True).fill("Torstrasse 1")
    await main.get_by_label("City").fill("Berlin")
    await main.get_by_label("Postal code").fill("10119")
    await main.get_by_label("Country or region").select_option("DE")
    await page.get_by_role("button", name="Add address").click()
    await main.get_by_role("link", name="Contracts", exact=True).click()
    await expect(page.locator("main table.contracts-table")).to_contain_text("Pick a shipping address")
    await page.locator("main table.contracts-table").get_by_role("link", name=re.compile(r"^C-\d+")).click()
    await expect(page).to_have_url(contract_url)
    await (
        page.locator("main")
        .get_by_label("Ship to (from your address book)")
        .select_option(label="Bruno Buyer, Torstrasse 1, Berlin, 10119, DE")
    )
    await page.get_by_role("button", name="Save changes").click()
    await _flash(page, "Contract changed")
    await expect(main).to_contain_text("Torstrasse 1")
    await page.get_by_role("button", name="Confirm these terms").click()
    await _flash(page, "You confirmed the contract")
    await expect(main).to_contain_text("Waiting for the supplier to confirm")
    await _shot(page, "contract")
    await _log_out(page)

    await _log_in(page, base, bottles.email)
    await _seller_centre(page, base, bottles, "Contracts")
    await page.locator("main table.contracts-table a").first.click()
    await expect(page.locator("main")).to_contain_text("Torstrasse 1")
    await page.get_by_role("button", name="Confirm these terms").click()
    await _flash(page, "Contract confirmed by both sides")
    await expect(page.locator("main")).to_contain_text("In force")
    seller_order_link = page.get_by_role("link", name="See the order")
    await expect(seller_order_link).to_be_visible()
    await _log_out(page)

    # 6. the buyer pays the deposit from the order page
    await _log_in(page, base, world.buyer_email)
    await page.goto(contract_url)
    await expect(page.locator("main")).to_contain_text("Confirmed")
    await page.get_by_role("link", name="See the order").click()
    await expect(page).to_have_url(re.compile(r"/orders/\d+$"))
    order_url = page.url
    await expect(page.locator("main")).to_contain_text("Deposit due")
    await expect(page.locator("main dl.kv")).to_contain_text("In instalments under the contract")
    await _pay(page, order_url, "deposit")
    await expect(page.locator("main")).to_contain_text("In production")
    await _shot(page, "order")
    await _log_out(page)

    # ... the supplier marks production finished
    await _log_in(page, base, bottles.email)
    await _seller_centre(page, base, bottles, "Orders")
    await page.locator("main table a[href*='/orders/']").first.click()
    await page.get_by_role("button", name="Production finished").click()
    await _flash(page, "production finished")
    await _log_out(page)

    # ... the buyer pays the balance
    await _log_in(page, base, world.buyer_email)
    await _pay(page, order_url, "balance")
    await _log_out(page)

    # ... the supplier ships with carrier and tracking
    await _log_in(page, base, bottles.email)
    await _seller_centre(page, base, bottles, "Orders")
    await page.locator("main table a[href*='/orders/']").first.click()
    await main.get_by_label("Carrier").fill("COSCO")
    await main.get_by_label(re.compile("Tracking")).fill("COSU-6543210")
    await page.locator("main form.ship-form button").click()
    await _flash(page, "shipped")
    await _log_out(page)

    # ... and the buyer confirms receipt
    await _log_in(page, base, world.buyer_email)
    await page.goto(order_url)
    await expect(page.locator("main")).to_contain_text("COSU-6543210")
    await page.get_by_role("button", name="Confirm receipt").click()
    await expect(page.locator(".flash")).to_be_visible()
    await expect(page.locator("main .seller-order")).to_contain_text("Completed")
    await _log_out(page)

    # 7. the money and the records
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            rfq = await session.get(Rfq, rfq_id)
            assert rfq is not None and rfq.status == "awarded"
            quotes = {
                q.store_id: q for q in (await session.scalars(select(Quote).where(Quote.rfq_id == rfq_id)))
            }
            assert {s: q.status for s, q in quotes.items()} == {
                steel.store_id: "declined",
                bottles.store_id: "awarded",
                flasks.store_id: "declined",
            }
            assert rfq.awarded_quote_id == quotes[bottles.store_id].id
            contract = await session.scalar(
                select(Contract).where(Contract.status == "confirmed", Contract.rfq_id == rfq_id)
            )
            assert contract is not None
            assert (contract.quantity, contract.unit_price_amount, contract.shipping_amount) == (
                2000,
                205,
                90000,
            )
            assert contract.total_amount == 500_000
            so = await session.get(SellerOrder, contract.seller_order_id)
            assert so is not None and so.status == "completed" and so.store_id == bottles.store_id
            assert so.total_amount == contract.total_amount
            milestones = (
                await session.scalars(
                    select(PaymentMilestone)
                    .where(PaymentMilestone.seller_order_id == so.id)
                    .order_by(PaymentMilestone.id)
                )
            ).all()
            assert [(m.kind, m.amount, m.status) for m in milestones] == [
                ("deposit", 150_000, "paid"),
                ("balance", 350_000, "paid"),
            ]
            commission_bps = get_policy("sourcing").commission_bps
            assert so.commission_bps == commission_bps
            _fee, payable = commission_split(contract.total_amount, commission_bps)
            assert await ledger_service.balance(session, accounts.payable(bottles.store_id), "USD") == payable
            assert payable == 500_000 - 15_000
            assert await ledger_service.balance(session, accounts.escrow(bottles.store_id, so.id), "USD") == 0
            for other in (steel, flasks):
                assert await ledger_service.balance(session, accounts.payable(other.store_id), "USD") == 0
            # the ledger balances: every currency's postings sum to zero
            sums = (
                await session.execute(
                    select(LedgerPosting.currency, func.sum(LedgerPosting.amount)).group_by(
                        LedgerPosting.currency
                    )
                )
            ).all()
            assert sums and all(total == 0 for _, total in sums), sums
            report = await run_checks(session)
            assert report.ok, report.violations
    finally:
        await engine.dispose()
