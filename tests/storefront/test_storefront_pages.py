"""The public pages: home, search/listing pages, product page, store page."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import httpx

from souk.kit.clock import utcnow

CARD = re.compile(r'<article class="card product-card">\s*<a href="/p/(\d+)/')


def card_ids(page: str) -> list[int]:
    return [int(i) for i in CARD.findall(page)]


def text_of(page: str) -> str:
    """The page's text with tags removed and whitespace collapsed (for phrase checks)."""
    without_tags = re.sub(r"<[^>]+>", " ", page)
    return re.sub(r"\s+", " ", html.unescape(without_tags))


def facet_links(page: str) -> dict[str, int]:
    """{link text: count} of the facet links in the sidebar."""
    sidebar = page.split('id="filters"', 1)[1].split("</aside>", 1)[0]
    found = re.findall(r'<a href="[^"]*">([^<]+)</a> <span class="count">(\d+)</span>', sidebar)
    return {html.unescape(name): int(n) for name, n in found}


# --- home ---------------------------------------------------------------------------------------------


async def test_home_shows_tiles_categories_and_newest(
    client: httpx.AsyncClient, listing_factory, category_factory
):
    kitchen = await category_factory(name="Kitchen", slug="kitchen")
    await category_factory(name="Cups", slug="cups", parent=kitchen)
    await category_factory(name="Garden", slug="garden")
    now = utcnow()
    old = await listing_factory(title="Old broom", category=kitchen, created_at=now - timedelta(days=2))
    new = await listing_factory(title="New kettle", category=kitchen, created_at=now)
    await listing_factory(title="Secret draft", status="draft")

    r = await client.get("/")
    assert r.status_code == 200
    page = r.text
    for path, label, blurb in [
        ("/sourcing", "Sourcing", "Buy in bulk from verified suppliers"),
        ("/market", "Market", "Everyday finds from independent sellers"),
        ("/mall", "Mall", "Official brand stores"),
        ("/global", "Global", "Shop worldwide"),
    ]:
        assert re.search(
            rf'<a class="tile tile-\w+" href="{path}">\s*<strong>{label}</strong>\s*<span>{blurb}', page
        )
    assert '<a class="top" href="/c/kitchen">Kitchen</a>' in page
    assert '<a href="/c/cups">Cups</a>' in page
    assert '<a class="top" href="/c/garden">Garden</a>' in page
    assert card_ids(page) == [new.id, old.id]
    assert "Secret draft" not in page
    assert 'action="/search"' in page and "<title>Souk: suppliers" in page


async def test_home_empty_state(client: httpx.AsyncClient):
    page = (await client.get("/")).text
    assert "No products yet" in page and "No categories yet." in page


# --- search and listing pages -------------------------------------------------------------------------


async def test_search_page_shows_facets_with_counts_and_cards(
    client: httpx.AsyncClient, listing_factory, store_factory, category_factory
):
    home = await category_factory(name="Home")
    toys = await category_factory(name="Toys")
    market = await store_factory(trade_model="market", name="Corner shop")
    sourcing = await store_factory(trade_model="sourcing", name="Big factory")
    a = await listing_factory(title="Wooden spoon", category=home, store=market, price=450)
    b = await listing_factory(title="Wooden spoon set", category=home, store=sourcing, price=210, moq=100)
    c = await listing_factory(title="Wooden toy spoon", category=toys, store=market, price=999)
    await listing_factory(title="Plastic fork", category=home, store=market)

    r = await client.get("/search", params={"q": "wooden spoon"})
    assert r.status_code == 200
    assert sorted(card_ids(r.text)) == sorted([a.id, b.id, c.id])
    assert facet_links(r.text) == {
        "Home": 2,
        "Toys": 1,
        "Sourcing": 1,
        "Market": 2,
        "Corner shop": 2,
        "Big factory": 1,
        "USD": 3,
    }
    text = text_of(r.text)
    assert "3 products for “wooden spoon”" in text
    assert "from US$2.10 / piece, MOQ 100" in text and "US$4.50" in text
    assert "<title>“wooden spoon” · Souk</title>" in r.text
    # facet links carry the other filters
    assert 'href="/market?q=wooden+spoon"' in r.text
    assert f'href="/search?q=wooden+spoon&amp;store={market.id}"' in r.text


async def test_facet_link_narrows_and_active_filter_is_removable(
    client: httpx.AsyncClient, listing_factory, store_factory
):
    market = await store_factory(trade_model="market", name="Corner shop")
    mall = await store_factory(trade_model="mall", name="Brand home")
    a = await listing_factory(title="Lamp", store=market)
    await listing_factory(title="Lamp deluxe", store=mall)

    r = await client.get("/search", params={"q": "lamp", "store": market.id})
    assert card_ids(r.text) == [a.id]
    assert '<span class="current">Corner shop</span>' in r.text
    assert 'aria-label="Remove filter Corner shop"' in r.text
    assert 'href="/search?q=lamp" title="Remove this filter"' in r.text
    assert "Store: Corner shop" in r.text


async def test_sort_form_and_price_form(client: httpx.AsyncClient, listing_factory):
    now = utcnow()
    cheap = await listing_factory(title="Pan small", price=1250, created_at=now - timedelta(hours=1))
    dear = await listing_factory(title="Pan large", price=4999, created_at=now)
    mid = await listing_factory(title="Pan medium", price=2500, created_at=now - timedelta(hours=2))

    r = await client.get("/search", params={"q": "pan", "sort": "price_asc"})
    assert card_ids(r.text) == [cheap.id, mid.id, dear.id]
    assert '<option value="price_asc" selected>Price: low to high</option>' in r.text
    assert '<button type="submit" class="secondary">Sort</button>' in r.text
    assert '<input type="hidden" name="q" value="pan">' in r.text

    r = await client.get(
        "/search", params={"q": "pan", "min_price": "12.50", "max_price": "25", "sort": "price_desc"}
    )
    assert r.status_code == 200
    assert card_ids(r.text) == [mid.id, cheap.id]
    assert 'value="12.50"' in r.text and "US$12.50 – US$25.00" in text_of(r.text)


async def test_bad_price_is_shown_next_to_the_field(client: httpx.AsyncClient, listing_factory):
    product = await listing_factory(title="Pan")
    r = await client.get("/search", params={"min_price": "cheap", "max_price": "1.234"})
    assert r.status_code == 422
    assert '<p class="error" id="e-min_price">Min: must be an amount like 12.50</p>' in r.text
    assert '<p class="error" id="e-max_price">Max: must be an amount like 12.50</p>' in r.text
    assert card_ids(r.text) == [product.id]
    r = await client.get("/search", params={"min_price": "50", "max_price": "5"})
    assert r.status_code == 422 and "must not be more than max_price" in r.text
    assert card_ids(r.text) == [product.id]


async def test_web_pages_of_results(client: httpx.AsyncClient, listing_factory):
    now = utcnow()
    made = [await listing_factory(title=f"Rug {i}", created_at=now - timedelta(minutes=i)) for i in range(27)]
    first = await client.get("/search", params={"q": "rug"})
    assert card_ids(first.text) == [p.id for p in made[:24]]
    assert "27 products" in text_of(first.text) and "Page 1 of 2" in first.text
    assert 'href="/search?q=rug&amp;page=2" rel="next"' in first.text
    second = await client.get("/search", params={"q": "rug", "page": "2"})
    assert card_ids(second.text) == [p.id for p in made[24:]]
    assert "Page 2 of 2" in second.text and 'href="/search?q=rug" rel="prev"' in second.text
    assert 'rel="next"' not in second.text


async def test_empty_result_has_a_helpful_state(client: httpx.AsyncClient, listing_factory):
    await listing_factory(title="Chair")
    r = await client.get("/search", params={"q": "unicorn", "trade_model": "mall"})
    assert r.status_code == 200
    text = text_of(r.text)
    assert "No products found" in text and "Nothing matches “unicorn” with these filters." in text
    assert 'href="/search?q=unicorn">Search again without the filters</a>' in r.text


async def test_trade_model_pages_are_prefiltered(client: httpx.AsyncClient, listing_factory, store_factory):
    mall = await store_factory(trade_model="mall", name="Brand")
    glob = await store_factory(trade_model="crossborder", name="Far away")
    market = await store_factory(trade_model="market")
    m = await listing_factory(title="Official bag", store=mall)
    g = await listing_factory(title="Imported bag", store=glob)
    await listing_factory(title="Market bag", store=market)

    r = await client.get("/mall")
    assert r.status_code == 200 and card_ids(r.text) == [m.id]
    assert "<h1>Mall</h1>" in r.text and "Official brand stores with an authenticity guarantee." in r.text
    assert '<a href="/mall" class="current">Mall</a>' in r.text
    r = await client.get("/global", params={"q": "bag"})
    assert card_ids(r.text) == [g.id]
    assert '<a href="/global" class="current">Global</a>' in r.text
    for path in ("/sourcing", "/market"):
        assert (await client.get(path)).status_code == 200


async def test_category_page_has_breadcrumbs_and_subcategories(
    client: httpx.AsyncClient, listing_factory, category_factory
):
    home = await category_factory(name="Home", slug="home")
    kitchen = await category_factory(name="Kitchen", slug="kitchen", parent=home)
    knives = await category_factory(name="Knives", slug="knives", parent=kitchen)
    other = await category_factory(name="Other", slug="other")
    k = await listing_factory(title="Chef knife", category=knives)
    p = await listing_factory(title="Pot", category=kitchen)
    await listing_factory(title="Thing", category=other)

    r = await client.get("/c/kitchen")
    assert r.status_code == 200
    assert sorted(card_ids(r.text)) == sorted([k.id, p.id])
    assert re.search(
        r'<li><a href="/">Home</a></li>\s*<li><a href="/c/home">Home</a></li><li><span aria-current="page">Kitchen</span></li>',
        r.text,
    )
    assert "<h1>Kitchen</h1>" in r.text
    # the subcategory facet links to its own category page
    assert '<a href="/c/knives">Knives</a> <span class="count">1</span>' in r.text
    assert (await client.get("/c/no-such-category")).status_code == 404


# --- product page -------------------------------------------------------------------------------------


async def shirt(listing_factory, store_factory, category_factory):  # type: ignore[no-untyped-def]
    store = await store_factory(trade_model="market", name="Tee shop", slug="tee-shop", country="DE")
    cat = await category_factory(name="Shirts", slug="shirts")
    return await listing_factory(
        title="Linen shirt",
        store=store,
        category=cat,
        description="Soft linen.\nMade in Portugal.",
        attributes=[{"name": "Material", "value": "Linen"}, {"name": "Fit", "value": "Regular"}],
        skus=[
            {"code": "LS-RED-M", "price": 3500, "options": {"Colour": "Red", "Size": "M"}, "stock": 3},
            {"code": "LS-RED-L", "price": 3900, "options": {"Colour": "Red", "Size": "L"}, "stock": 0},
            {"code": "LS-BLU-M", "price": 3600, "options": {"Colour": "Blue", "Size": "M"}, "stock": 40},
        ],
        images=3,
    )


async def test_product_page_shows_variants_prices_and_stock(
    client: httpx.AsyncClient, listing_factory, store_factory, category_factory
):
    p = await shirt(listing_factory, store_factory, category_factory)
    r = await client.get(f"/p/{p.id}/linen-shirt")
    assert r.status_code == 200
    text = text_of(r.text)
    assert "<title>Linen shirt · US$35.00 – US$39.00 · Souk</title>" in r.text
    assert '<meta name="description" content="Soft linen.' in r.text
    assert '<p class="price">US$35.00 – US$39.00</p>' in r.text
    assert "In stock" in text  # 43 across the variants
    assert 'href="?Colour=Red#product-title"' in r.text and 'href="?Colour=Blue#product-title"' in r.text
    assert "Choose Colour and Size to see the exact price and stock." in text
    # no variant chosen yet: the cart button asks for the options instead of posting a form
    assert re.search(
        r'<button type="button" class="button cart" disabled[^>]*>Choose Colour and Size first</button>',
        r.text,
    )
    assert 'action="/cart/items"' not in r.text
    # gallery: main image plus thumbnails as links
    assert f'src="/media/products/p{p.id}/0.jpg"' in r.text
    assert f'href="/p/{p.id}/linen-shirt?image=2#product-title"' in r.text
    # store card, description, attributes, breadcrumbs; no rating stars
    assert 'href="/s/tee-shop">Visit store</a>' in r.text and "Germany" in text
    assert "Made in Portugal." in r.text
    assert '<tr><th scope="row">Material</th><td>Linen</td></tr>' in r.text
    assert '<a href="/c/shirts">Shirts</a>' in r.text
    assert "★" not in r.text and "rating" not in r.text.lower()


async def test_choosing_options_selects_a_sku(
    client: httpx.AsyncClient, listing_factory, store_factory, category_factory
):
    p = await shirt(listing_factory, store_factory, category_factory)
    r = await client.get(f"/p/{p.id}/linen-shirt", params={"Colour": "Red", "Size": "M"})
    text = text_of(r.text)
    assert '<p class="price">US$35.00</p>' in r.text
    assert "Item code LS-RED-M" in text and "Only 3 left" in text
    assert re.search(r'class="selected"\s+aria-current="true"\s*>Red</a>', r.text)

    # Red chosen: Size L exists but is sold out (greyed link); Blue with L does not exist
    r = await client.get(f"/p/{p.id}/linen-shirt", params={"Colour": "Red"})
    assert '<p class="price">US$35.00 – US$39.00</p>' in r.text
    assert re.search(r'href="\?Colour=Red&amp;Size=L#product-title" class=" soldout"', r.text)
    r = await client.get(f"/p/{p.id}/linen-shirt", params={"Size": "L"})
    assert '<span class="unavailable" title="Not available with your other choices">Blue</span>' in r.text

    r = await client.get(f"/p/{p.id}/linen-shirt", params={"Colour": "Red", "Size": "L"})
    text = text_of(r.text)
    assert (
        '<p class="price">US$39.00</p>' in r.text and "Out of stock" in text and "Item code LS-RED-L" in text
    )

    r = await client.get(f"/p/{p.id}/linen-shirt", params={"Colour": "Blue", "Size": "L"})
    assert "This combination is not available." in text_of(r.text)


async def test_sku_parameter_selects_a_variant(client: httpx.AsyncClient, listing_factory, session):
    from sqlalchemy import select

    from souk.models import Sku

    p = await listing_factory(
        title="Cable",
        skus=[{"code": "C-1M", "price": 500, "stock": 9}, {"code": "C-2M", "price": 700, "stock": 0}],
    )
    sku_ids = (
        await session.scalars(select(Sku.id).where(Sku.product_id == p.id).order_by(Sku.position))
    ).all()
    r = await client.get(f"/p/{p.id}/cable")
    assert (
        f'href="?sku={sku_ids[0]}#product-title"' in r.text
        and f'href="?sku={sku_ids[1]}#product-title"' in r.text
    )
    r = await client.get(f"/p/{p.id}/cable", params={"sku": sku_ids[1]})
    text = text_of(r.text)
    assert '<p class="price">US$7.00</p>' in r.text and "Item code C-2M" in text and "Out of stock" in text
    r = await client.get(f"/p/{p.id}/cable", params={"sku": sku_ids[0]})
    assert '<p class="price">US$5.00</p>' in r.text and "In stock" in text_of(r.text)


async def test_sourcing_product_shows_moq_tiers_lead_time_and_sample(
    client: httpx.AsyncClient, listing_factory, store_factory, organization_factory
):
    org = await organization_factory(status="approved")
    store = await store_factory(trade_model="sourcing", organization=org, name="Kiln Works", slug="kiln")
    p = await listing_factory(
        title="Stoneware mug",
        store=store,
        skus=[{"price": 260, "stock": 20000}],
        moq=500,
        lead_time_days=15,
        sample_price=900,
        tiers=[(500, 250), (1000, 230), (5000, 210)],
    )
    r = await client.get(f"/p/{p.id}/stoneware-mug")
    assert r.status_code == 200
    text = text_of(r.text)
    assert "from US$2.10 / piece" in text
    assert "Minimum order: 500 pieces" in text
    assert "500 – 999 US$2.50" in text and "1,000 – 4,999 US$2.30" in text and "≥ 5,000 US$2.10" in text
    assert "Ships in 15 days" in text and "Sample US$9.00 per sample" in text
    assert 'min="500"' in r.text and 'value="500"' in r.text
    assert "Verified business" in text


async def test_wrong_or_missing_slug_redirects_to_the_canonical_url(
    client: httpx.AsyncClient, listing_factory
):
    p = await listing_factory(title="Blue Vase")
    r = await client.get(f"/p/{p.id}/old-name", params={"image": 2})
    assert r.status_code == 301 and r.headers["location"] == f"/p/{p.id}/blue-vase?image=2"
    r = await client.get(f"/p/{p.id}")
    assert r.status_code == 301 and r.headers["location"] == f"/p/{p.id}/blue-vase"
    assert (await client.get(f"/p/{p.id}/blue-vase")).status_code == 200


async def test_invisible_products_are_404_for_the_public(
    client: httpx.AsyncClient, listing_factory, store_factory
):
    draft = await listing_factory(title="Draft", status="draft")
    archived = await listing_factory(title="Gone", status="archived")
    pending = await listing_factory(title="Waiting", store=await store_factory(status="pending_review"))
    for p in (draft, archived, pending):
        assert (await client.get(f"/p/{p.id}/{p.slug}")).status_code == 404
        assert (await client.get(f"/p/{p.id}")).status_code == 404
    for path in ("/p/999999/x", "/p/abc", "/p/007/x", f"/p/{2**40}/x"):
        assert (await client.get(path)).status_code == 404, path


async def test_store_people_preview_their_draft(
    client: httpx.AsyncClient, session, listing_factory, store_factory, user_factory
):
    from fixtures.core import login_as

    owner = await user_factory()
    store = await store_factory(owner=owner)
    draft = await listing_factory(title="Secret lamp", store=store, status="draft")
    await login_as(client, session, owner)
    r = await client.get(f"/p/{draft.id}/secret-lamp")
    assert r.status_code == 200 and "Preview: buyers cannot see this product yet" in r.text
    stranger = await user_factory()
    await login_as(client, session, stranger)
    assert (await client.get(f"/p/{draft.id}/secret-lamp")).status_code == 404


# --- store page ---------------------------------------------------------------------------------------


async def test_store_page_lists_its_products(
    client: httpx.AsyncClient, listing_factory, store_factory, organization_factory
):
    org = await organization_factory(status="approved")
    store = await store_factory(
        trade_model="mall",
        organization=org,
        name="Nordic Home",
        slug="nordic-home",
        country="SE",
        description="The official store.",
        brand_name="Nordic",
    )
    mine = [
        await listing_factory(title=f"Nordic chair {wood}", store=store) for wood in ("oak", "ash", "pine")
    ]
    await listing_factory(title="Someone else's chair")
    await listing_factory(title="Nordic draft", store=store, status="draft")

    r = await client.get("/s/nordic-home")
    assert r.status_code == 200
    assert sorted(card_ids(r.text)) == sorted(p.id for p in mine)
    text = text_of(r.text)
    assert '<h1 id="store-name">Nordic Home</h1>' in r.text
    assert "Verified business" in text and "Official brand store · Nordic" in text and "Sweden" in text
    assert "The official store." in text and "All products (3)" in text
    assert 'action="/s/nordic-home"' in r.text

    r = await client.get("/s/nordic-home", params={"q": "chair as"})
    assert card_ids(r.text) == [mine[1].id]
    r = await client.get("/s/nordic-home", params={"q": "sofa"})
    assert card_ids(r.text) == [] and "No products in this store match “sofa”." in text_of(r.text)


async def test_store_page_pages(client: httpx.AsyncClient, listing_factory, store_factory):
    store = await store_factory(slug="busy")
    now = utcnow()
    made = [
        await listing_factory(title=f"Item {i}", store=store, created_at=now - timedelta(minutes=i))
        for i in range(26)
    ]
    r = await client.get("/s/busy", params={"page": 2})
    assert card_ids(r.text) == [p.id for p in made[24:]] and "Page 2 of 2" in r.text


async def test_pending_or_unknown_store_is_404(client: httpx.AsyncClient, store_factory):
    await store_factory(slug="waiting", status="pending_review")
    await store_factory(slug="stopped", status="suspended")
    assert (await client.get("/s/waiting")).status_code == 404
    assert (await client.get("/s/stopped")).status_code == 404
    assert (await client.get("/s/nobody")).status_code == 404


async def test_unverified_market_store_has_no_verified_badge(client: httpx.AsyncClient, store_factory):
    await store_factory(slug="corner", trade_model="market", name="Corner")
    r = await client.get("/s/corner")
    assert r.status_code == 200 and "Verified business" not in r.text and "Official brand store" not in r.text
    assert "has no products for sale yet" in r.text
