"""Stored XSS: hostile text stored as a product title and description, a review, a message and an RFQ (rows
written directly in the database) is shown as text on every page that shows it, and nothing executes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from playwright.async_api import Page, expect

from e2e.conftest import LiveServer
from souk.auth.passwords import hash_password
from souk.db import create_engine, create_sessionmaker
from souk.kit.clock import utcnow
from souk.models import (
    Category,
    Conversation,
    Membership,
    Message,
    Order,
    OrderLine,
    Organization,
    Product,
    Review,
    Rfq,
    SellerOrder,
    Sku,
    Stock,
    Store,
    User,
)
from souk.search.indexing import index_products
from souk.trade.policy import get_policy

pytestmark = pytest.mark.e2e

SCRIPT = "<script>window.__xss=1</script>"
ONERROR = '<img src=x onerror="window.__xss=1">'
PASSWORD = "xss-password-e2e-1"


@dataclass
class Seeded:
    buyer_email: str
    supplier_email: str
    product_url: str
    store_url: str
    search_word: str
    conversation_id: int
    rfq_id: int
    supplier_store_id: int


def hostile(label: str) -> str:
    return f"{label} {SCRIPT} {ONERROR}"


async def _seed(url: str) -> Seeded:
    engine = create_engine(url)
    tag = uuid.uuid4().hex[:6]
    now = utcnow()
    try:
        async with create_sessionmaker(engine).begin() as session:
            seller = User(
                email=f"seller.{tag}@example.com", password_hash=hash_password(PASSWORD), display_name="S"
            )
            buyer = User(
                email=f"buyer.{tag}@example.com", password_hash=hash_password(PASSWORD), display_name="B"
            )
            supplier = User(
                email=f"supplier.{tag}@example.com", password_hash=hash_password(PASSWORD), display_name="Sup"
            )
            session.add_all([seller, buyer, supplier])
            await session.flush()
            store = Store(
                slug=f"xss-{tag}",
                name=f"Xss Shop {tag}",
                country="FR",
                currency="USD",
                trade_model="market",
                status="active",
                owner_user_id=seller.id,
            )
            category = Category(name=f"Xss goods {tag}", slug=f"xss-goods-{tag}")
            session.add_all([store, category])
            await session.flush()
            word = f"zq{tag}"
            product = Product(
                store_id=store.id,
                category_id=category.id,
                title=hostile(f"Mug {word}"),
                slug=f"mug-{tag}",
                description=hostile("Description"),
                currency="USD",
                status="active",
                min_price_amount=1200,
                max_price_amount=1200,
            )
            session.add(product)
            await session.flush()
            sku = Sku(
                product_id=product.id, code=f"xss-{tag}", option_values={}, price_amount=1200, currency="USD"
            )
            session.add(sku)
            await session.flush()
            session.add(Stock(sku_id=sku.id, on_hand=5, reserved=0))

            # a completed order of the buyer, reviewed with hostile text
            order = Order(
                buyer_id=buyer.id,
                currency="USD",
                items_amount=1200,
                shipping_amount=0,
                total_amount=1200,
                shipping_address={"name": "B", "line1": "1 Rue", "city": "Paris", "country": "FR"},
                checkout_token=f"xss-{tag}",
                pay_by=now + timedelta(hours=1),
                status="paid",
            )
            session.add(order)
            await session.flush()
            snapshot = get_policy("market")
            seller_order = SellerOrder(
                order_id=order.id,
                store_id=store.id,
                buyer_id=buyer.id,
                currency="USD",
                items_amount=1200,
                shipping_amount=0,
                total_amount=1200,
                trade_model="market",
                commission_bps=0,
                ship_by_days=3,
                auto_confirm_days=10,
                receipt_extension_days=5,
                receipt_extension_window_days=3,
                receipt_extensions_allowed=1,
                policy_snapshot={"name": getattr(snapshot, "name", "market")},
                shipping_method_name="Post",
                shipping_kind="surface",
                shipping_price_amount=0,
                status="completed",
            )
            session.add(seller_order)
            await session.flush()
            line = OrderLine(
                seller_order_id=seller_order.id,
                product_id=product.id,
                sku_id=sku.id,
                title=product.title,
                sku_code=sku.code,
                unit_price_amount=1200,
                quantity=1,
                line_total_amount=1200,
                currency="USD",
            )
            session.add(line)
            await session.flush()
            session.add(
                Review(
                    seller_order_id=seller_order.id,
                    order_line_id=line.id,
                    product_id=product.id,
                    store_id=store.id,
                    buyer_user_id=buyer.id,
                    rating=4,
                    text=hostile("Review"),
                    reply_text=hostile("Reply"),
                    replied_at=now,
                )
            )

            # an inquiry about the product, with a hostile message
            conversation = Conversation(
                store_id=store.id,
                buyer_user_id=buyer.id,
                subject_type="product",
                subject_id=product.id,
                subject_title=product.title[:200],
                last_message_preview=hostile("Message")[:100],
                last_sender_side="buyer",
                message_count=1,
                seller_unread_count=1,
            )
            session.add(conversation)
            await session.flush()
            session.add(
                Message(
                    conversation_id=conversation.id,
                    sender_user_id=buyer.id,
                    sender_side="buyer",
                    body=hostile("Message"),
                )
            )

            # a public RFQ of the buyer's company, and a supplier who sees it on the board
            buyer_org = Organization(
                legal_name=f"Buyer Co {tag}",
                registration_number=f"B-{tag}",
                country="DE",
                address="1 Strasse",
                status="approved",
                created_by_id=buyer.id,
            )
            supplier_org = Organization(
                legal_name=f"Supplier Co {tag}",
                registration_number=f"S-{tag}",
                country="CN",
                address="1 Road",
                status="approved",
                created_by_id=supplier.id,
            )
            session.add_all([buyer_org, supplier_org])
            await session.flush()
            session.add(Membership(organization_id=buyer_org.id, user_id=buyer.id, role="owner"))
            session.add(Membership(organization_id=supplier_org.id, user_id=supplier.id, role="owner"))
            supplier_store = Store(
                slug=f"sup-{tag}",
                name=f"Supplier {tag}",
                country="CN",
                currency="USD",
                trade_model="sourcing",
                status="active",
                organization_id=supplier_org.id,
            )
            session.add(supplier_store)
            rfq = Rfq(
                organization_id=buyer_org.id,
                created_by_id=buyer.id,
                title=hostile("Rfq"),
                requirements=hostile("Requirements"),
                quantity=1000,
                unit="pieces",
                currency="USD",
                destination_country="DE",
                incoterm="FOB",
                needed_by=(now + timedelta(days=60)).date(),
                quote_deadline=now + timedelta(days=7),
                visibility="public",
                status="open",
                quote_cap=get_policy("sourcing").rfq_quote_cap,
                search_text=f"rfq {word}",
            )
            session.add(rfq)
            await session.flush()
            await index_products(session, [product.id])
            return Seeded(
                buyer_email=buyer.email,
                supplier_email=supplier.email,
                product_url=f"/p/{product.id}/{product.slug}",
                store_url=f"/s/{store.slug}",
                search_word=word,
                conversation_id=conversation.id,
                rfq_id=rfq.id,
                supplier_store_id=supplier_store.id,
            )
    finally:
        await engine.dispose()


async def _log_in(page: Page, base: str, email: str) -> None:
    await page.context.clear_cookies()
    await page.goto(f"{base}/login")
    await page.fill('main [name="email"]', email)
    await page.fill('main [name="password"]', PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("details.menu summary")).to_be_visible()


async def _assert_inert(page: Page, url: str, *labels: str) -> None:
    """The page loaded, nothing set ``window.__xss``, and each payload shows as text."""
    response = await page.goto(url)
    assert response is not None and response.status == 200, url
    await page.wait_for_load_state("load")
    assert await page.evaluate("typeof window.__xss") == "undefined", url
    text = await page.locator("main").inner_text()
    for label in labels:
        assert hostile(label) in " ".join(text.split()), (url, label)
    # the payload is text, never markup: no element the payload would have created
    assert await page.locator('main img[src="x"]').count() == 0, url
    assert await page.locator("main script").count() == 0, url


async def test_stored_payloads_render_as_text_and_never_run(live_server: LiveServer, page: Page) -> None:
    base = live_server.url
    seeded = await _seed(live_server.settings.resolved_database_url)
    executed: list[str] = []
    page.on("dialog", lambda d: executed.append(d.message))

    # anyone: the product page (title, description, review and the seller's reply), search, the store page
    await _assert_inert(
        page, base + seeded.product_url, f"Mug {seeded.search_word}", "Description", "Review", "Reply"
    )
    await _assert_inert(page, f"{base}/search?q={seeded.search_word}", f"Mug {seeded.search_word}")
    await _assert_inert(page, base + seeded.store_url, "Review")

    # the buyer: the inbox, the thread, the RFQ list and the RFQ page
    await _log_in(page, base, seeded.buyer_email)
    await _assert_inert(page, f"{base}/messages", f"Mug {seeded.search_word}")
    await _assert_inert(page, f"{base}/messages/{seeded.conversation_id}", "Message")
    await _assert_inert(page, f"{base}/rfqs", "Rfq")
    await _assert_inert(page, f"{base}/rfqs/{seeded.rfq_id}", "Rfq", "Requirements")

    # a supplier: the RFQ board and the RFQ seen from the board
    await _log_in(page, base, seeded.supplier_email)
    board = f"{base}/seller/stores/{seeded.supplier_store_id}/rfqs"
    await _assert_inert(page, board, "Rfq")
    await _assert_inert(page, f"{board}/{seeded.rfq_id}", "Rfq", "Requirements")
    assert executed == []
