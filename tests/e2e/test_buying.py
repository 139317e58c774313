"""A buyer buys from two stores in one checkout, pays with the test card, both sellers ship, the buyer confirms
one and asks a refund on the other, the seller accepts, the buyer reviews the first; balances and ledger match."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from e2e.conftest import LiveServer
from souk.audit import run_checks
from souk.auth.passwords import hash_password
from souk.db import create_engine, create_sessionmaker
from souk.ledger import accounts
from souk.ledger.service import ledger_service
from souk.models import Category, Product, SellerOrder, ShippingMethod, Sku, Stock, StockMovement, Store, User
from souk.search.indexing import index_products

pytestmark = pytest.mark.e2e
SELLER_PASSWORD = "seller-password-e2e"


@dataclass
class Shop:
    store_id: int
    seller_email: str
    product_id: int
    title: str


async def _seed_shop(url: str, name: str, title: str, price: int) -> Shop:
    """A market store with one single-variant product, stock and two shipping methods (written directly)."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            email = f"{name.lower().replace(' ', '')}.{uuid.uuid4().hex[:6]}@example.com"
            seller = User(email=email, password_hash=hash_password(SELLER_PASSWORD), display_name=name)
            session.add(seller)
            await session.flush()
            slug = f"{name.lower().replace(' ', '-')}-{uuid.uuid4().hex[:6]}"
            store = Store(
                slug=slug,
                name=name,
                country="FR",
                currency="USD",
                trade_model="market",
                status="active",
                owner_user_id=seller.id,
            )
            session.add(store)
            category = Category(name=f"{name} goods", slug=f"{slug}-goods")
            session.add(category)
            await session.flush()
            product = Product(
                store_id=store.id,
                category_id=category.id,
                title=title,
                slug=slug,
                description=f"{title}, made by {name}.",
                currency="USD",
                status="active",
                min_price_amount=price,
                max_price_amount=price,
            )
            session.add(product)
            await session.flush()
            sku = Sku(
                product_id=product.id,
                code=f"{slug[:20]}-1",
                option_values={},
                price_amount=price,
                currency="USD",
            )
            session.add(sku)
            await session.flush()
            session.add(Stock(sku_id=sku.id, on_hand=10, reserved=0))
            session.add(
                StockMovement(
                    sku_id=sku.id, kind="initial", delta=10, on_hand_after=10, reason="opening stock"
                )
            )
            session.add_all(
                [
                    ShippingMethod(
                        store_id=store.id,
                        name="Standard post",
                        kind="surface",
                        price_amount=490,
                        currency="USD",
                        free_over_amount=None,
                        active=True,
                        position=0,
                    ),
                    ShippingMethod(
                        store_id=store.id,
                        name="Express courier",
                        kind="express",
                        price_amount=1290,
                        currency="USD",
                        free_over_amount=None,
                        active=True,
                        position=1,
                    ),
                ]
            )
            await session.flush()
            await index_products(session, [product.id])
            return Shop(store.id, email, product.id, title)
    finally:
        await engine.dispose()


async def _log_in(page: Page, base: str, email: str, password: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill('main [name="email"]', email)
    await page.fill('main [name="password"]', password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("details.menu summary")).to_be_visible()


async def _log_out(page: Page) -> None:
    await page.locator("details.menu summary").click()
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("link", name="Log in")).to_be_visible()


async def _ship(page: Page, base: str, shop: Shop, tracking: str) -> None:
    await _log_in(page, base, shop.seller_email, SELLER_PASSWORD)
    await page.goto(f"{base}/seller/stores/{shop.store_id}/orders")
    await page.fill('main form.ship-form [name="carrier"]', "La Poste")
    await page.fill('main form.ship-form [name="tracking_number"]', tracking)
    await page.locator("main form.ship-form button").first.click()
    await expect(page.locator(".flash")).to_contain_text("shipped")
    await _log_out(page)


async def test_buyer_buys_from_two_stores_confirms_one_refunds_the_other_and_reviews(
    page: Page, live_server: LiveServer
) -> None:
    base = live_server.url
    url = live_server.settings.resolved_database_url
    mugs = await _seed_shop(url, "Atelier Mugs", "Speckled latte mug", 1800)
    socks = await _seed_shop(url, "Wool Corner", "Merino hiking socks", 1200)

    # a new buyer fills the cart from two stores
    await page.goto(f"{base}/register")
    await page.fill('main [name="email"]', f"buyer.{uuid.uuid4().hex[:8]}@example.com")
    await page.fill('main [name="display_name"]', "Bea Buyer")
    await page.fill('main [name="password"]', "a-long-enough-password")
    await page.get_by_role("button", name="Create account").click()
    for shop in (mugs, socks):
        await page.goto(f"{base}/p/{shop.product_id}")
        await page.get_by_role("button", name=re.compile("Add to cart")).click()
        await expect(page.locator(".flash")).to_contain_text("Added to your cart")

    # one checkout for the USD group: address, shipping per store, the test card
    await page.goto(f"{base}/cart")
    await page.get_by_role("link", name="Checkout (USD)").click()
    for field, value in {
        "full_name": "Bea Buyer",
        "phone": "+33 1 23 45 67 89",
        "line1": "3 quai Voltaire",
        "city": "Paris",
        "postal_code": "75007",
    }.items():
        await page.fill(f'main [name="{field}"]', value)
    await page.select_option('main [name="country"]', "FR")
    await page.fill('main [name="card_number"]', "4242 4242 4242 4242")
    await page.fill('main [name="card_exp_month"]', "12")
    await page.fill('main [name="card_exp_year"]', "2031")
    await page.fill('main [name="card_cvc"]', "123")
    await page.get_by_role("button", name=re.compile("Place order and pay")).click()
    await expect(page).to_have_url(re.compile(r"/orders/\d+$"))
    order_url = page.url
    await expect(page.locator("main")).to_contain_text("Visa ending 4242")

    # the provider's signed webhook arrives through the worker: both seller orders become paid
    for _ in range(30):
        if (await page.locator("main").inner_text()).count("held in escrow") >= 2:
            break
        await page.wait_for_timeout(500)
        await page.reload()
    assert (await page.locator("main").inner_text()).count("held in escrow") == 2
    await _log_out(page)

    # both sellers ship
    await _ship(page, base, mugs, "LP-MUGS-1")
    await _ship(page, base, socks, "LP-SOCKS-1")

    # the buyer sees the shipments and confirms receipt of the mugs
    # (the buyer's session ended at log-out: log in again with the account just made)
    buyer_email = await _buyer_email(url)
    await _log_in(page, base, buyer_email, "a-long-enough-password")
    await page.goto(order_url)
    await expect(page.locator("main")).to_contain_text("LP-MUGS-1")
    await expect(page.locator("main")).to_contain_text("LP-SOCKS-1")
    mugs_section = page.locator("main section", has_text="Atelier Mugs").first
    await mugs_section.get_by_role("button", name="Confirm receipt").click()
    await expect(page.locator(".flash")).to_be_visible()

    # ... and asks for a refund on the socks
    socks_section = page.locator("main section", has_text="Wool Corner").first
    await socks_section.get_by_role("link", name="Request a refund").click()
    await page.select_option('main [name="reason"]', "damaged")
    await page.fill('main [name="message"]', "Both socks arrived with holes.")
    await page.get_by_role("button", name="Ask for the refund").click()
    await expect(page.locator(".flash")).to_contain_text("Refund requested")

    # ... and reviews the mugs
    await page.goto(order_url)
    await page.locator("main a.review-link").first.click()
    await page.locator('main input[name="rating"][value="5"]').check()
    await page.fill('main [name="text"]', "Lovely glaze, well packed.")
    for name in ("item_as_described", "communication", "shipping_speed"):
        await page.locator(f'main input[name="{name}"][value="5"]').check()
    await page.get_by_role("button", name="Publish review").click()
    await expect(page).to_have_url(re.compile(r"/orders/\d+$"))
    await _log_out(page)

    # the socks seller accepts the refund
    await _log_in(page, base, socks.seller_email, SELLER_PASSWORD)
    await page.goto(f"{base}/seller/stores/{socks.store_id}/disputes")
    await page.locator('main a[href*="/disputes/"]').first.click()
    await page.get_by_role("button", name=re.compile("Accept: refund")).click()
    await expect(page.locator(".flash")).to_be_visible()
    await _log_out(page)

    # the review is on the product page
    await page.goto(f"{base}/p/{mugs.product_id}")
    await expect(page.locator("main")).to_contain_text("Lovely glaze, well packed.")

    # money: the mugs' escrow went to the store minus 2% commission; the socks' escrow went back to the buyer
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            # the mugs' seller order is 18.00 + 4.90 shipping = 22.90; 2% commission = 0.458, rounded to 0.46
            payable = await ledger_service.balance(session, accounts.payable(mugs.store_id), "USD")
            assert payable == 2290 - 46
            commission = await ledger_service.balance(session, accounts.COMMISSION, "USD")
            assert commission == 46
            assert await ledger_service.balance(session, accounts.payable(socks.store_id), "USD") == 0
            socks_orders = (
                await session.scalars(select(SellerOrder).where(SellerOrder.store_id == socks.store_id))
            ).all()
            assert [so.status for so in socks_orders] == ["refunded"]
            escrow = accounts.escrow(socks.store_id, socks_orders[0].id)
            assert await ledger_service.balance(session, escrow, "USD") == 0
            report = await run_checks(session)
            assert report.ok, report.violations
    finally:
        await engine.dispose()


async def _buyer_email(url: str) -> str:
    from sqlalchemy import select

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            email = await session.scalar(
                select(User.email).where(User.display_name == "Bea Buyer").order_by(User.id.desc())
            )
            assert email
            return email
    finally:
        await engine.dispose()
