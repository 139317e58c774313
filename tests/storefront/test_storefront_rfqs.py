"""Sourcing on the storefront: the latest open RFQs on /sourcing, "Post an RFQ for this" on a sourcing product
page, and the new-RFQ form prefilled from the query string."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import login_as
from souk.auth.actor import Actor
from souk.kit.clock import utcnow
from souk.trade.sourcing.rfq.service import rfq_service


def rfq_section(page: str) -> str:
    """The "Latest requests for quotation" section of a page ("" when it has none)."""
    if 'aria-labelledby="rfqs-title"' not in page:
        return ""
    return page.split('aria-labelledby="rfqs-title"', 1)[1].split("</section>", 1)[0]


def rfq_links(section: str) -> list[str]:
    """The title links of the listed RFQs, in order."""
    return [html.unescape(h) for h in re.findall(r'<h3><a href="([^"]+)">', section)]


def text_of(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment)))


async def test_sourcing_page_lists_only_open_public_rfqs_taking_quotes(
    client: httpx.AsyncClient, sourcing_buyer, rfq_factory, category_factory
) -> None:
    buyer = await sourcing_buyer(legal_name="Secret Buyer GmbH")
    bottles = await category_factory(name="Bottles")
    now = utcnow()
    shown = await rfq_factory(
        buyer,
        title="Steel <b>bottles</b> & caps",
        category_id=bottles.id,
        quantity=2500,
        unit="cartons",
        destination_country="DE",
        quote_count=3,
        quote_deadline=now + timedelta(days=7, hours=1),
        attachments=[{"filename": "drawing-secret.pdf", "path": "x", "content_type": "application/pdf"}],
    )
    hidden = [
        await rfq_factory(buyer, title="Invited only RFQ", visibility="invited"),
        await rfq_factory(buyer, title="Closed RFQ", status="closed"),
        await rfq_factory(buyer, title="Awarded RFQ", status="awarded"),
        await rfq_factory(buyer, title="Deadline passed RFQ", quote_deadline=now - timedelta(minutes=1)),
        await rfq_factory(buyer, title="Full RFQ", quote_count=10, quote_cap=10),
    ]

    page = (await client.get("/sourcing")).text
    section = rfq_section(page)
    assert section, "the sourcing page has the RFQ section"
    text = text_of(section)
    # the title is escaped, never rendered as markup
    assert "Steel &lt;b&gt;bottles&lt;/b&gt; &amp; caps" in section and "<b>bottles</b>" not in section
    assert "Steel <b>bottles</b> & caps" in text
    assert "2,500 cartons · to Germany · Bottles" in text
    assert "Closes in 7 days" in text and "3 of 10 quotes" in text
    for rfq in hidden:
        assert rfq.title not in text
    # never the buyer's organisation or the attachments
    assert "Secret Buyer" not in page and "drawing-secret" not in page
    assert '<a class="button small" href="/rfqs/new">Post an RFQ</a>' in section

    # an anonymous visitor is offered to post a similar request, prefilled
    (link,) = rfq_links(section)
    url = urlsplit(link)
    assert url.path == "/rfqs/new"
    assert parse_qs(url.query) == {
        "title": ["Steel <b>bottles</b> & caps"],
        "category_id": [str(bottles.id)],
        "quantity": ["2500"],
        "unit": ["cartons"],
    }
    assert "Post a similar request" in text
    assert shown.id  # listed by its title above

    # only the trade-model landing page has it
    assert not rfq_section((await client.get("/market")).text)
    assert not rfq_section((await client.get("/search?trade_model=sourcing")).text)


async def test_sourcing_page_shows_the_six_newest_and_an_empty_state(
    client: httpx.AsyncClient, sourcing_buyer, rfq_factory
) -> None:
    empty = text_of(rfq_section((await client.get("/sourcing")).text))
    assert "No open requests right now" in empty

    buyer = await sourcing_buyer()
    rfqs = [await rfq_factory(buyer, title=f"Request number {n}") for n in range(8)]
    section = rfq_section((await client.get("/sourcing")).text)
    titles = re.findall(r'<h3><a href="[^"]+">([^<]+)</a>', section)
    assert titles == [r.title for r in reversed(rfqs)][:6]


async def test_a_supplier_is_sent_to_its_rfq_board_entry(
    client: httpx.AsyncClient, session: AsyncSession, sourcing_buyer, sourcing_supplier, rfq_factory
) -> None:
    buyer = await sourcing_buyer()
    supplier = await sourcing_supplier()
    rfq = await rfq_factory(buyer, title="Cotton tote bags")
    await login_as(client, session, supplier.user)

    section = rfq_section((await client.get("/sourcing")).text)
    assert rfq_links(section) == [f"/seller/stores/{supplier.store_id}/rfqs/{rfq.id}"]
    assert "Quote now" in text_of(section)
    board_entry = await client.get(f"/seller/stores/{supplier.store_id}/rfqs/{rfq.id}")
    assert board_entry.status_code == 200 and "Cotton tote bags" in board_entry.text


async def test_latest_public_read_needs_no_actor_and_hides_the_buyer(
    session: AsyncSession, sourcing_buyer, rfq_factory
) -> None:
    buyer = await sourcing_buyer()
    open_rfq = await rfq_factory(buyer, title="Bamboo boards", quantity=800)
    await rfq_factory(buyer, title="Invited", visibility="invited")
    (read,) = await rfq_service.latest_public(session)
    assert (read.id, read.title, read.quantity, read.quote_count, read.quote_cap) == (
        open_rfq.id,
        "Bamboo boards",
        800,
        0,
        10,
    )
    dumped = read.model_dump()
    assert not {"organization_id", "organization_name", "attachments", "requirements"} & set(dumped)
    assert await rfq_service.sourcing_store_id(session, Actor()) is None


async def test_sourcing_product_page_links_to_a_prefilled_rfq(
    client: httpx.AsyncClient, store_factory, category_factory, listing_factory
) -> None:
    store = await store_factory(trade_model="sourcing", currency="USD")
    category = await category_factory(name="Earbuds")
    product = await listing_factory(
        title="TWS earbuds & case", store=store, category=category, moq=500, tiers=[(500, 900), (2000, 780)]
    )
    page = (await client.get(f"/p/{product.id}", follow_redirects=True)).text
    found = re.search(r'<a class="button secondary" href="([^"]+)">Post an RFQ for this</a>', page)
    assert found is not None
    url = urlsplit(html.unescape(found.group(1)))
    assert url.path == "/rfqs/new"
    assert parse_qs(url.query) == {
        "title": ["TWS earbuds & case"],
        "category_id": [str(category.id)],
        "quantity": ["500"],
    }

    market = await listing_factory(title="Market mug")
    page = (await client.get(f"/p/{market.id}", follow_redirects=True)).text
    assert "Post an RFQ for this" not in page


async def test_new_rfq_form_is_prefilled_from_the_query(
    client: httpx.AsyncClient, session: AsyncSession, sourcing_buyer, category_factory
) -> None:
    buyer = await sourcing_buyer()
    category = await category_factory(name="Earbuds")
    await login_as(client, session, buyer.user)

    r = await client.get(
        "/rfqs/new",
        params={
            "title": 'Earbuds "Pro" <x>',
            "category_id": str(category.id),
            "quantity": "500",
            "unit": "sets",
        },
    )
    assert r.status_code == 200
    page = r.text
    assert (
        'value="Earbuds &#34;Pro&#34; &lt;x&gt;"' in page
        or 'value="Earbuds &quot;Pro&quot; &lt;x&gt;"' in page
    )
    assert f'<option value="{category.id}" selected>Earbuds</option>' in page
    assert re.search(r'name="quantity"[^>]*value="500"', page)
    assert re.search(r'name="unit"[^>]*value="sets"', page)

    # values that are not valid are left out, never a 500
    for bad in (
        {"category_id": "999999", "quantity": "-3"},
        {"category_id": "abc", "quantity": "0"},
        {"category_id": "1e3", "quantity": "99999999999999999999"},
    ):
        r = await client.get("/rfqs/new", params={"title": "Bottles", **bad})
        assert r.status_code == 200
        assert " selected>Earbuds" not in r.text
        assert not re.search(r'name="quantity"[^>]*value="[^"]+"', r.text)
