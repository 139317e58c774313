"""Search: matching (folding, prefix, AND), visibility, filters, sorts, facets, paging; SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import ANONYMOUS
from souk.errors import Invalid
from souk.kit.clock import utcnow
from souk.search.backends import fts5_expression, query_words, tsquery_expression
from souk.search.indexing import index_products, reindex_store
from souk.search.schemas import SearchFilters
from souk.search.service import search_service


async def ids_for(session: AsyncSession, **filters: object) -> list[int]:
    result = await search_service.search(session, ANONYMOUS, SearchFilters(**filters), limit=100)  # type: ignore[arg-type]
    return [item.id for item in result.items]


# --- matching ---------------------------------------------------------------------------------------


async def test_accents_and_case_are_folded(session, listing_factory):
    mug = await listing_factory(title="Breakfast mug", description="Glazed in crème and ÉCRU tones")
    await listing_factory(title="Teapot", description="Cast iron")

    assert await ids_for(session, q="creme") == [mug.id]
    assert await ids_for(session, q="CRÈME") == [mug.id]
    assert await ids_for(session, q="ecru") == [mug.id]
    assert await ids_for(session, q="BREAKFAST") == [mug.id]


async def test_accented_title_found_without_accent(session, listing_factory):
    cafe = await listing_factory(title="Café au lait bowl")
    assert await ids_for(session, q="cafe") == [cafe.id]
    assert await ids_for(session, q="Café") == [cafe.id]


async def test_last_word_matches_as_prefix_only(session, listing_factory):
    mug = await listing_factory(title="Mug", description="Handmade stoneware")
    assert await ids_for(session, q="stonew") == [mug.id]
    assert await ids_for(session, q="mug stone") == [mug.id]
    # only the last word is a prefix
    assert await ids_for(session, q="stonew mug") == []


async def test_every_word_must_match(session, listing_factory):
    blue_mug = await listing_factory(title="Blue mug")
    red_mug = await listing_factory(title="Red mug")
    blue_plate = await listing_factory(title="Blue plate")

    assert await ids_for(session, q="blue mug") == [blue_mug.id]
    assert sorted(await ids_for(session, q="mug")) == sorted([blue_mug.id, red_mug.id])
    assert sorted(await ids_for(session, q="blue")) == sorted([blue_mug.id, blue_plate.id])
    assert await ids_for(session, q="blue mug green") == []


async def test_operator_words_and_symbols_are_plain_text(session, listing_factory):
    near = await listing_factory(title="Near or far lamp", description="NOT a toy; AND more")
    for q in [
        '"near',
        "near*",
        "lamp:near",
        "near & far",
        "(near",
        "-near",
        "near OR",
        "NEAR",
        "or",
        "not and",
    ]:
        assert await ids_for(session, q=q) == [near.id], q
    for q in ['"', "*", ":", "&", "(", ")", "-", "''", "\\", "_", "!!!"]:
        # no words at all: the same as browsing
        assert await ids_for(session, q=q) == [near.id], q


def test_query_words_and_expressions() -> None:
    assert query_words('Café-Crème "NEAR" foo_bar') == ["cafe", "creme", "near", "foo", "bar"]
    assert query_words("x " * 100) == ["x"] * 12
    assert fts5_expression(["cafe", "crem"]) == '{title body} : ("cafe" "crem"*)'
    assert (
        fts5_expression(["mug"], [["c17"], ["pusd9", "pusd10"]])
        == '{title body} : ("mug"*) AND tags : ("c17") AND tags : ("pusd9" OR "pusd10")'
    )
    assert tsquery_expression(["cafe", "crem"]) == "'cafe':AB & 'crem':*AB"
    # a 2- or 3-letter last word is one indexed lexeme (word or prefix), not a prefix scan
    assert (
        tsquery_expression(["cafe", "cr"], [["c17"], ["pusd9", "pusd10"]])
        == "'cafe':AB & 'cr':ABC & ('c17':D) & ('pusd9':D | 'pusd10':D)"
    )


async def test_relevance_ranks_title_matches_first(session, listing_factory):
    in_body = await listing_factory(title="Plate", description="goes well with a teapot")
    in_title = await listing_factory(title="Teapot", description="cast iron")
    result = await search_service.search(session, ANONYMOUS, SearchFilters(q="teapot"))
    assert [i.id for i in result.items] == [in_title.id, in_body.id]


# --- visibility ---------------------------------------------------------------------------------------


async def test_invisible_products_are_never_returned(session, listing_factory, store_factory):
    visible = await listing_factory(title="Lamp visible")
    await listing_factory(title="Lamp draft", status="draft")
    await listing_factory(title="Lamp archived", status="archived")
    pending = await store_factory(status="pending_review")
    await listing_factory(title="Lamp pending store", store=pending)
    await listing_factory(title="Lamp no sku", skus=[{"price": 100, "active": False}])

    assert await ids_for(session, q="lamp") == [visible.id]
    assert await ids_for(session) == [visible.id]
    result = await search_service.search(session, ANONYMOUS, SearchFilters())
    assert result.total == 1
    assert [v.count for v in result.facets.store] == [1]


async def test_store_suspension_hides_its_products(session, listing_factory, store_factory):
    store = await store_factory()
    product = await listing_factory(title="Kettle", store=store)
    assert await ids_for(session, q="kettle") == [product.id]
    store.status = "suspended"
    await session.flush()
    await reindex_store(session, store.id)
    assert await ids_for(session, q="kettle") == []


# --- filters ------------------------------------------------------------------------------------------


async def test_category_filter_includes_subcategories(session, listing_factory, category_factory):
    kitchen = await category_factory(name="Kitchen")
    mugs = await category_factory(name="Mugs", parent=kitchen)
    espresso = await category_factory(name="Espresso cups", parent=mugs)
    garden = await category_factory(name="Garden")
    a = await listing_factory(title="A", category=kitchen)
    b = await listing_factory(title="B", category=mugs)
    c = await listing_factory(title="C", category=espresso)
    await listing_factory(title="D", category=garden)

    assert sorted(await ids_for(session, category=kitchen.id)) == sorted([a.id, b.id, c.id])
    assert sorted(await ids_for(session, category=mugs.id)) == sorted([b.id, c.id])
    assert await ids_for(session, category=espresso.id) == [c.id]


async def test_category_id_prefix_does_not_match_other_ids(session, listing_factory, category_factory):
    """Category 1 must not match a path containing /11/ or /21/."""
    cats = [await category_factory() for _ in range(12)]
    first, twelfth = cats[0], cats[11]
    p1 = await listing_factory(title="First", category=first)
    p12 = await listing_factory(title="Twelfth", category=twelfth)
    assert await ids_for(session, category=first.id) == [p1.id]
    assert await ids_for(session, category=twelfth.id) == [p12.id]


async def test_trade_model_and_store_filters(session, listing_factory, store_factory):
    market_store = await store_factory(trade_model="market")
    mall_store = await store_factory(trade_model="mall")
    m1 = await listing_factory(title="Scarf", store=market_store)
    m2 = await listing_factory(title="Hat", store=market_store)
    mall = await listing_factory(title="Scarf official", store=mall_store)

    assert await ids_for(session, trade_model="mall") == [mall.id]
    assert sorted(await ids_for(session, trade_model="market")) == sorted([m1.id, m2.id])
    assert sorted(await ids_for(session, store=market_store.id)) == sorted([m1.id, m2.id])
    assert await ids_for(session, q="scarf", store=market_store.id) == [m1.id]
    assert await ids_for(session, trade_model="sourcing") == []


async def test_price_filter_is_per_currency(session, listing_factory, store_factory):
    eur_store = await store_factory(currency="EUR")
    cheap = await listing_factory(title="Cheap", price=500)
    mid = await listing_factory(title="Mid", price=1500)
    dear = await listing_factory(title="Dear", price=5000)
    ranged = await listing_factory(title="Ranged", skus=[{"price": 800}, {"price": 3000}])
    euro = await listing_factory(title="Euro mid", price=1500, store=eur_store)

    # a price without a currency means USD and leaves the EUR product out
    assert sorted(await ids_for(session, min_price=1000, max_price=2000)) == sorted([mid.id, ranged.id])
    assert sorted(await ids_for(session, min_price=1000, max_price=2000, currency="EUR")) == [euro.id]
    assert sorted(await ids_for(session, max_price=600)) == [cheap.id]
    assert sorted(await ids_for(session, min_price=4000)) == [dear.id]
    # a currency alone restricts to it
    assert await ids_for(session, currency="EUR") == [euro.id]
    assert len(await ids_for(session)) == 5


# --- sorts --------------------------------------------------------------------------------------------


async def test_each_sort_orders_results(session, listing_factory):
    now = utcnow()
    a = await listing_factory(title="Lamp a", price=3000, created_at=now - timedelta(days=3))
    b = await listing_factory(title="Lamp b", price=1000, created_at=now - timedelta(days=1))
    c = await listing_factory(title="Lamp c", price=2000, created_at=now - timedelta(days=2))
    d = await listing_factory(title="Lamp d", price=1000, created_at=now - timedelta(days=4))

    assert await ids_for(session, sort="price_asc") == [b.id, d.id, c.id, a.id]
    assert await ids_for(session, sort="price_desc") == [a.id, c.id, d.id, b.id]
    assert await ids_for(session, sort="newest") == [b.id, c.id, a.id, d.id]
    # no query: relevance falls back to newest
    assert await ids_for(session, sort="relevance") == [b.id, c.id, a.id, d.id]
    assert await ids_for(session) == [b.id, c.id, a.id, d.id]
    assert await ids_for(session, q="lamp", sort="price_asc") == [b.id, d.id, c.id, a.id]


async def test_price_sort_groups_currencies(session, listing_factory, store_factory):
    eur_store = await store_factory(currency="EUR")
    usd_low = await listing_factory(title="u1", price=100)
    usd_high = await listing_factory(title="u2", price=900)
    eur_mid = await listing_factory(title="e1", price=500, store=eur_store)
    assert await ids_for(session, sort="price_asc") == [eur_mid.id, usd_low.id, usd_high.id]
    assert await ids_for(session, sort="price_asc", currency="USD") == [usd_low.id, usd_high.id]


# --- facets -------------------------------------------------------------------------------------------


async def test_facet_counts(session, listing_factory, store_factory, category_factory):
    home = await category_factory(name="Home")
    mugs = await category_factory(name="Mugs", parent=home)
    bowls = await category_factory(name="Bowls", parent=home)
    toys = await category_factory(name="Toys")
    sourcing = await store_factory(trade_model="sourcing", name="Factory")
    market = await store_factory(trade_model="market", name="Corner shop")
    global_store = await store_factory(trade_model="crossborder", name="Yen shop", currency="JPY")
    await listing_factory(title="Mug one", category=mugs, store=sourcing)
    await listing_factory(title="Mug two", category=mugs, store=market)
    await listing_factory(title="Mug three", category=mugs, store=market)
    await listing_factory(title="Bowl", category=bowls, store=market)
    await listing_factory(title="Mug toy", category=toys, store=global_store)
    await listing_factory(title="Mug hidden", category=toys, store=market, status="draft")

    result = await search_service.search(session, ANONYMOUS, SearchFilters(q="mug"))
    f = result.facets
    assert result.total == 4
    assert [(v.id, v.name, v.count) for v in f.category] == [(home.id, "Home", 3), (toys.id, "Toys", 1)]
    assert [(v.id, v.name, v.count) for v in f.trade_model] == [
        ("sourcing", "Sourcing", 1),
        ("market", "Market", 2),
        ("crossborder", "Global", 1),
    ]
    assert [(v.id, v.name, v.count) for v in f.store] == [
        (market.id, "Corner shop", 2),
        (sourcing.id, "Factory", 1),
        (global_store.id, "Yen shop", 1),
    ]
    assert [(v.id, v.count) for v in f.currency] == [("USD", 3), ("JPY", 1)]

    chosen = await search_service.search(session, ANONYMOUS, SearchFilters(category=home.id))
    assert chosen.total == 4
    assert [(v.name, v.count) for v in chosen.facets.category] == [("Home", 4), ("Bowls", 1), ("Mugs", 3)]
    narrowed = await search_service.search(
        session, ANONYMOUS, SearchFilters(category=home.id, trade_model="market")
    )
    assert [(v.name, v.count) for v in narrowed.facets.category] == [("Home", 3), ("Bowls", 1), ("Mugs", 2)]
    assert [(v.id, v.count) for v in narrowed.facets.trade_model] == [("market", 3)]


async def test_store_facet_keeps_top_ten(session, listing_factory, store_factory):
    stores = [await store_factory(name=f"Shop {i:02d}") for i in range(12)]
    for i, store in enumerate(stores):
        for _ in range(2 if i < 3 else 1):
            await listing_factory(title="Candle", store=store)
    result = await search_service.search(session, ANONYMOUS, SearchFilters(q="candle"))
    assert result.total == 15
    assert len(result.facets.store) == 10
    assert [v.count for v in result.facets.store[:4]] == [2, 2, 2, 1]
    assert {v.id for v in result.facets.store[:3]} == {s.id for s in stores[:3]}


# --- paging -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["relevance", "newest", "price_asc", "price_desc"])
async def test_cursor_walks_every_result_once(session, listing_factory, store_factory, sort):
    eur_store = await store_factory(currency="EUR")
    now = utcnow()
    made = []
    for i in range(9):
        made.append(
            await listing_factory(
                title=f"Vase {'vase ' * (i % 3)}{i}",
                price=1000 + (i % 4) * 100,
                created_at=now - timedelta(hours=i % 3),
                store=eur_store if i % 4 == 0 else None,
            )
        )
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        result = await search_service.search(
            session, ANONYMOUS, SearchFilters(q="vase", sort=sort), limit=2, cursor=cursor
        )
        pages += 1
        assert result.total == 9
        seen.extend(item.id for item in result.items)
        cursor = result.next_cursor
        if cursor is None:
            break
    assert pages == 5
    assert sorted(seen) == sorted(p.id for p in made)
    assert len(seen) == len(set(seen))
    whole = await search_service.search(session, ANONYMOUS, SearchFilters(q="vase", sort=sort), limit=100)
    assert seen == [item.id for item in whole.items]


async def test_numbered_pages(session, listing_factory):
    now = utcnow()
    made = [await listing_factory(title=f"Rug {i}", created_at=now - timedelta(minutes=i)) for i in range(30)]
    first = await search_service.search_page(session, ANONYMOUS, SearchFilters(), page=1)
    second = await search_service.search_page(session, ANONYMOUS, SearchFilters(), page=2)
    beyond = await search_service.search_page(session, ANONYMOUS, SearchFilters(), page=9)
    assert (first.total, first.pages, len(first.items)) == (30, 2, 24)
    assert (second.page, len(second.items)) == (2, 6)
    assert [i.id for i in first.items + second.items] == [p.id for p in made]
    assert beyond.page == 2 and [i.id for i in beyond.items] == [i.id for i in second.items]


async def test_cursor_of_another_search_is_refused(session, listing_factory):
    for i in range(3):
        await listing_factory(title=f"Bag {i}")
    first = await search_service.search(session, ANONYMOUS, SearchFilters(q="bag"), limit=1)
    assert first.next_cursor
    with pytest.raises(Invalid) as err:
        await search_service.search(
            session, ANONYMOUS, SearchFilters(q="bag", sort="newest"), cursor=first.next_cursor
        )
    assert "cursor" in err.value.fields
    # the same words typed differently are the same search
    again = await search_service.search(
        session, ANONYMOUS, SearchFilters(q="BAG"), limit=1, cursor=first.next_cursor
    )
    assert len(again.items) == 1


# --- result content and cost ----------------------------------------------------------------------------


async def test_card_fields(session, listing_factory, store_factory):
    store = await store_factory(trade_model="sourcing", name="Kiln Works", slug="kiln-works")
    product = await listing_factory(
        title="Stoneware planter", store=store, skus=[{"price": 210}, {"price": 340}], moq=500, images=2
    )
    [card] = (await search_service.search(session, ANONYMOUS, SearchFilters(q="planter"))).items
    assert card.model_dump() == {
        "id": product.id,
        "title": "Stoneware planter",
        "slug": "stoneware-planter",
        "store_id": store.id,
        "store_name": "Kiln Works",
        "store_slug": "kiln-works",
        "trade_model": "sourcing",
        "min_price_amount": 210,
        "max_price_amount": 340,
        "currency": "USD",
        "moq": 500,
        "thumb": f"/media/products/p{product.id}/0_t.jpg",
        "created_at": product.created_at,
    }


async def test_search_uses_a_fixed_number_of_statements(session, listing_factory, category_factory):
    cat = await category_factory()
    for i in range(25):
        await listing_factory(title=f"Spoon {i}", category=cat, images=2)
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        api = await search_service.search(session, ANONYMOUS, SearchFilters(q="spoon"), limit=20)
        api_statements = len(statements)
        statements.clear()
        page = await search_service.search_page(session, ANONYMOUS, SearchFilters(q="spoon"))
        page_statements = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(api.items) == 20 and len(page.items) == 24
    # the results with their cards, every facet group (category, trade model, store, currency), and the
    # category tree, which the process then keeps (souk.search.service.categories)
    assert api_statements == 3
    assert page_statements == 2


async def test_reindex_keeps_search_in_step(session, listing_factory):
    product = await listing_factory(title="Old name")
    product.title = "New shiny name"
    await session.flush()
    await index_products(session, [product.id])
    assert await ids_for(session, q="shiny") == [product.id]
    assert await ids_for(session, q="old") == []
