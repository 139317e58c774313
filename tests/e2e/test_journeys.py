"""What people do in a browser: a seller lists a product that a buyer finds; an operator approves a mall store."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from e2e.conftest import OPERATOR_EMAIL, OPERATOR_PASSWORD, LiveServer

pytestmark = pytest.mark.e2e
PASSWORD = "a-long-enough-password"


async def register(page: Page, base: str, name: str) -> str:
    email = f"{name.lower().replace(' ', '.')}.{uuid.uuid4().hex[:8]}@example.com"
    await page.goto(f"{base}/register")
    await page.fill('main [name="email"]', email)
    await page.fill('main [name="display_name"]', name)
    await page.fill('main [name="password"]', PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.locator(".flash")).to_contain_text("Welcome")
    return email


async def log_in(page: Page, base: str, email: str, password: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill('main [name="email"]', email)
    await page.fill('main [name="password"]', password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("summary")).to_be_visible()


async def log_out(page: Page) -> None:
    await page.locator("details.menu summary").click()
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("link", name="Log in")).to_be_visible()


async def select_by_text(page: Page, name: str, text: str) -> None:
    value = await page.locator(f'main [name="{name}"] option', has_text=text).first.get_attribute("value")
    assert value, f"no option with {text!r} in {name}"
    await page.select_option(f'main [name="{name}"]', value)


async def expect_no_form_errors(page: Page) -> None:
    await page.wait_for_load_state()
    summary = page.locator(".error-summary")
    if await summary.count():
        raise AssertionError(f"the form was refused: {await summary.inner_text()}")


async def list_product(page: Page, base: str, store_id: str, title: str, description: str) -> str:
    """Fill the new-product form with two colour variants and publish it; returns the product id."""
    await page.goto(f"{base}/seller/stores/{store_id}/products/new")
    await page.fill('main [name="title"]', title)
    await select_by_text(page, "category_id", "Mugs")
    await page.fill('main [name="description"]', description)
    await page.fill('main [name="options.0"]', "Colour")
    await page.fill('main [name="skus.0.opt.0"]', "Blue")
    await page.fill('main [name="skus.0.price_amount"]', "12.50")
    await page.fill('main [name="skus.0.stock"]', "5")
    await page.fill('main [name="skus.1.opt.0"]', "Green")
    await page.fill('main [name="skus.1.price_amount"]', "14.00")
    await page.fill('main [name="skus.1.stock"]', "3")
    await page.get_by_role("button", name="Save and publish").click()
    await expect(page).to_have_url(re.compile(r"/seller/products/\d+/edit"))
    match = re.search(r"/seller/products/(\d+)/edit", page.url)
    assert match
    return match.group(1)


async def test_seller_lists_a_product_and_a_buyer_finds_it(
    page: Page, live_server: LiveServer, sample_png: Path
) -> None:
    base = live_server.url
    await register(page, base, "Mina Seller")

    # open a market store: it is open at once
    await page.goto(f"{base}/seller/stores/new")
    await page.select_option('main [name="trade_model"]', "market")
    await page.fill('main [name="name"]', "Mina Ceramics")
    await page.fill('main [name="description"]', "Hand-thrown mugs from a small studio.")
    await page.select_option('main [name="country"]', "FR")
    await page.select_option('main [name="currency"]', "EUR")
    await page.set_input_files('main [name="logo"]', str(sample_png))
    await page.get_by_role("button", name="Open store").click()
    await expect_no_form_errors(page)
    await expect(page).to_have_url(re.compile(r"/seller/stores/\d+/"))
    store_id = re.search(r"/seller/stores/(\d+)/", page.url).group(1)  # type: ignore[union-attr]

    # list a product with two variants and an image
    product_id = await list_product(
        page, base, store_id, "Speckled Stoneware Mug", "A handmade crème glaze over speckled stoneware."
    )
    await page.set_input_files('main [name="files"]', str(sample_png))
    await page.get_by_role("button", name="Upload images").click()
    await expect(page.locator('img[src^="/media/products/"]').first).to_be_visible()
    await log_out(page)

    # a visitor searches a word from the description with the accent dropped
    await page.goto(base)
    await page.fill("#q", "creme glaze")
    await page.locator("form.searchbox button").click()
    card = page.locator("article.product-card", has_text="Speckled Stoneware Mug")
    await expect(card).to_be_visible()
    await expect(card).to_contain_text("Mina Ceramics")

    # opens it and picks a variant
    await card.locator("a").first.click()
    await expect(page).to_have_url(re.compile(rf"/p/{product_id}/"))
    await expect(page.locator("h1")).to_contain_text("Speckled Stoneware Mug")
    await page.locator(".variants a", has_text="Green").click()
    await expect(page.locator(".variants a.selected")).to_have_text(re.compile("Green"))
    await expect(page.locator(".buybox .price, p.price").first).to_contain_text("14.00")
    await expect(page.locator("dd.stock")).to_contain_text(re.compile("3|left|stock", re.I))


async def test_operator_approves_a_mall_store_and_its_products_become_visible(
    page: Page, live_server: LiveServer, sample_png: Path
) -> None:
    base = live_server.url
    brand = f"Lumen{uuid.uuid4().hex[:6]}"
    await register(page, base, "Brand Owner")

    # register the business with its registration document
    await page.goto(f"{base}/seller/organizations/new")
    await page.fill('main [name="legal_name"]', f"{brand} Lighting GmbH")
    await page.fill('main [name="registration_number"]', f"HRB-{uuid.uuid4().hex[:8]}")
    await page.select_option('main [name="country"]', "DE")
    await page.fill('main [name="address"]', "Lichtstrasse 1, 10115 Berlin")
    await page.set_input_files('main [name="document"]', str(sample_png))
    await page.get_by_role("button", name="Register business").click()
    await expect(page).to_have_url(re.compile(r"/seller/organizations/\d+"))

    # apply for a mall store with the brand authorisation
    await page.goto(f"{base}/seller/stores/new")
    await select_by_text(page, "organization_id", brand)
    await page.select_option('main [name="trade_model"]', "mall")
    await page.fill('main [name="name"]', f"{brand} Official Store")
    await page.select_option('main [name="country"]', "DE")
    await page.select_option('main [name="currency"]', "EUR")
    await page.fill('main [name="brand_name"]', brand)
    await page.set_input_files('main [name="brand_document"]', str(sample_png))
    await page.get_by_role("button", name="Open store").click()
    await expect_no_form_errors(page)
    await expect(page).to_have_url(re.compile(r"/seller/stores/\d+/"))
    store_id = re.search(r"/seller/stores/(\d+)/", page.url).group(1)  # type: ignore[union-attr]
    await list_product(page, base, store_id, f"{brand} Desk Lamp", "Warm dimmable desk lamp, brushed brass.")
    await log_out(page)

    # not visible to buyers yet
    await page.goto(f"{base}/search?q={brand}")
    await expect(page.locator("article.product-card")).to_have_count(0)

    # the operator approves the organisation, then the mall store's brand authorisation
    await log_in(page, base, OPERATOR_EMAIL, OPERATOR_PASSWORD)
    await page.goto(f"{base}/ops")
    await page.goto(f"{base}/ops/organizations")
    await page.get_by_role("link", name=re.compile(f"{brand} Lighting GmbH")).first.click()
    await page.check('input[name="decision"][value="approve"]')
    await page.fill('main [name="reason"]', "Registration certificate checked against the registry.")
    await page.get_by_role("button", name="Record decision").click()
    await expect(page.locator(".flash")).to_be_visible()

    await page.goto(f"{base}/ops/stores/{store_id}")
    await page.check('input[name="decision"][value="approve"]')
    await page.fill('main [name="reason"]', "Brand authorisation letter is valid.")
    await page.get_by_role("button", name="Record decision").click()
    await expect(page.locator(".flash")).to_be_visible()
    await log_out(page)

    # now buyers find it, in an official store
    await page.goto(f"{base}/search?q={brand.lower()}")
    card = page.locator("article.product-card", has_text=f"{brand} Desk Lamp")
    await expect(card).to_be_visible()
    await expect(card).to_contain_text("Official store")
