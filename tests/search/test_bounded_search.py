"""The large-catalog design of search (docs/adr/0002-search-index.md): short prefixes from the prefix index,
category and price filters applied inside the full-text index (tags), ranking and counting bounded to
``CANDIDATE_CAP`` candidates (``total_capped``), and the full rebuild; SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import ANONYMOUS
from souk.db import dialect_of
from souk.search import backends
from souk.search.backends import document_tags, price_filter_tokens, price_tokens
from souk.search.indexing import reindex_all
from souk.search.schemas import SearchFilters
from souk.search.service import search_service


async def ids_for(session: AsyncSession, **filters: object) -> list[int]:
    result = await search_service.search(session, ANONYMOUS, SearchFilters(**filters), limit=100)  # type: ignore[arg-type]
    return [item.id for item in result.items]


# --- tags ---------------------------------------------------------------------------------------------


def test_document_tags_hold_categories_and_price_buckets() -> None:
    # 985 is in bucket 10 (512-1023), 2758 in bucket 12 (2048-4095): every bucket between is tagged
    assert document_tags("/3/17/", "USD", 985, 2758) == "c3 c17 pusd10 pusd11 pusd12"
    assert price_tokens("EUR", 0, 0) == ["peur0"]
    assert price_tokens("USD", 1, 1) == ["pusd1"]
    # a filter keeps the buckets its range touches, or none when it is too wide to be selective
    assert price_filter_tokens("USD", 1000, 1500) == ["pusd10", "pusd11"]
    assert price_filter_tokens("USD", 1000, None) is None
    assert price_filter_tokens("USD", None, None) is None


# --- short prefixes -----------------------------------------------------------------------------------


async def test_two_and_three_letter_prefixes_match_word_starts_only(session, listing_factory):
    zoo = await listing_factory(title="Zoo bowl")
    zodiac = await listing_factory(title="Glass zodiac")
    short = await listing_factory(title="Zo lamp")  # the word is the prefix itself
    await listing_factory(title="Ozone scarf")  # "zo" inside a word, not at its start

    assert sorted(await ids_for(session, q="zo")) == sorted([zoo.id, zodiac.id, short.id])
    assert await ids_for(session, q="zod") == [zodiac.id]
    assert await ids_for(session, q="glass zo") == [zodiac.id]
    assert await ids_for(session, q="bowl zo") == [zoo.id]
    # a 4-letter prefix is a prefix scan, as before
    assert await ids_for(session, q="zodi") == [zodiac.id]


async def test_prefix_of_a_body_word_matches_too(session, listing_factory):
    mug = await listing_factory(title="Mug", description="Handmade xylophone")
    assert await ids_for(session, q="xy") == [mug.id]
    assert await ids_for(session, q="mug xyl") == [mug.id]


# --- filters inside the index -------------------------------------------------------------------------


async def test_category_filter_with_words_includes_subcategories(session, listing_factory, category_factory):
    home = await category_factory(name="Home")
    lamps = await category_factory(name="Lamps", parent=home)
    garden = await category_factory(name="Garden")
    desk = await listing_factory(title="Desk lamp", category=lamps)
    floor = await listing_factory(title="Floor lamp", category=home)
    await listing_factory(title="Garden lamp", category=garden)

    assert sorted(await ids_for(session, q="lamp", category=home.id)) == sorted([desk.id, floor.id])
    assert await ids_for(session, q="lamp", category=lamps.id) == [desk.id]
    assert await ids_for(session, q="de", category=lamps.id) == [desk.id]
    assert await ids_for(session, q="desk", category=garden.id) == []


async def test_price_filter_with_words_is_exact_at_bucket_edges(session, listing_factory, store_factory):
    cheap = await listing_factory(title="Mug", price=999)
    edge = await listing_factory(title="Mug", price=1000)
    dear = await listing_factory(title="Mug", price=1501)
    ranged = await listing_factory(title="Mug", skus=[{"price": 300}, {"price": 5000}])
    euro = await listing_factory(title="Mug", price=1200, store=await store_factory(currency="EUR"))

    # 1000-1500 USD cents: buckets 10 and 11; 999 shares bucket 10 and 1501 bucket 11, and both stay out
    assert sorted(await ids_for(session, q="mug", min_price=1000, max_price=1500)) == sorted(
        [edge.id, ranged.id]
    )
    assert sorted(await ids_for(session, q="mu", min_price=1000, max_price=1000)) == sorted(
        [edge.id, ranged.id]
    )
    assert await ids_for(session, q="mu", min_price=5001, max_price=6000) == []
    assert sorted(await ids_for(session, q="mug", max_price=999)) == sorted([cheap.id, ranged.id])
    # a wide range has no token filter; the exact condition still holds
    assert sorted(await ids_for(session, q="mug", min_price=1501)) == sorted([dear.id, ranged.id])
    assert await ids_for(session, q="mug", min_price=1000, max_price=1500, currency="EUR") == [euro.id]


# --- bounded ranking and capped counts ----------------------------------------------------------------


async def test_counts_are_capped_and_ranking_is_bounded(
    session, listing_factory, category_factory, monkeypatch
):
    monkeypatch.setattr(backends, "CANDIDATE_CAP", 3)
    kitchen = await category_factory(name="Kitchen")
    in_title = [await listing_factory(title=f"Mug {i}", price=100 * (i + 1)) for i in range(3)]
    in_body = [
        await listing_factory(title=f"Cup {i}", description="fits a mug", category=kitchen, price=50 + i)
        for i in range(2)
    ]

    result = await search_service.search(session, ANONYMOUS, SearchFilters(q="mug"), limit=10)
    assert result.total == 3 and result.total_capped is True
    assert sum(v.count for v in result.facets.trade_model) == 3
    assert len(result.items) == 3
    everything = {p.id for p in in_title + in_body}
    assert {i.id for i in result.items} <= everything
    # among the candidates, a match in the title ranks before a match in the body
    kinds = ["title" if i.title.startswith("Mug") else "body" for i in result.items]
    assert kinds == sorted(kinds, key=lambda k: k != "title")

    # below the cap everything is exact
    narrow = await search_service.search(session, ANONYMOUS, SearchFilters(q="mug", category=kitchen.id))
    assert narrow.total == 2 and narrow.total_capped is False
    assert sorted(i.id for i in narrow.items) == sorted(p.id for p in in_body)

    # the sorts that are not by rank order every match, not only the candidates
    cheapest = await search_service.search(
        session, ANONYMOUS, SearchFilters(q="mug", sort="price_asc"), limit=10
    )
    assert [i.id for i in cheapest.items] == [p.id for p in in_body + in_title]

    page = await search_service.search_page(session, ANONYMOUS, SearchFilters(q="mug"))
    assert page.total == 3 and page.total_capped is True and len(page.items) == 3


async def test_cursor_pages_walk_the_candidates(session, listing_factory, monkeypatch):
    monkeypatch.setattr(backends, "CANDIDATE_CAP", 4)
    for i in range(6):
        await listing_factory(title=f"Vase {i}", description="vase " * (i % 3))
    seen: list[int] = []
    cursor = None
    while True:
        result = await search_service.search(
            session, ANONYMOUS, SearchFilters(q="vase"), limit=3, cursor=cursor
        )
        seen += [i.id for i in result.items]
        cursor = result.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 4


# --- the full rebuild ---------------------------------------------------------------------------------


async def test_reindex_all_rebuilds_documents_and_full_text(session, listing_factory, category_factory):
    lamps = await category_factory(name="Lamps")
    lamp = await listing_factory(title="Brass lamp", category=lamps, price=1200)
    if dialect_of(session) == "sqlite":
        await session.execute(text("DELETE FROM search_fts"))
    else:
        await session.execute(text("UPDATE search_documents SET tsv = NULL"))
    await session.execute(text("UPDATE search_documents SET title = 'stale'"))
    assert await ids_for(session, q="brass") == []

    assert await reindex_all(session) >= 1
    assert await ids_for(session, q="brass") == [lamp.id]
    assert await ids_for(session, q="br", category=lamps.id, min_price=1000, max_price=1300) == [lamp.id]


@pytest.mark.parametrize("q", ["ca", "cat", "c", "cats bo"])
async def test_every_short_query_answers(session, listing_factory, q):
    await listing_factory(title="Cats bowl")
    result = await search_service.search_page(session, ANONYMOUS, SearchFilters(q=q, category=None))
    assert result.total >= 0
