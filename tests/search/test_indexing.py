from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import is_postgres
from souk.models import Product, SearchDocument, Sku
from souk.search.indexing import index_products


async def test_index_folds_text_and_tracks_visibility(session: AsyncSession, store_factory, category_factory):
    store = await store_factory()
    cat = await category_factory(name="Kitchen")
    product = Product(
        store_id=store.id,
        category_id=cat.id,
        title="Café Crème Mug",
        slug="mug",
        description="Handmade stoneware",
        currency="USD",
        status="active",
    )
    session.add(product)
    await session.flush()
    session.add(
        Sku(
            product_id=product.id,
            code="MUG-1",
            option_values={"Colour": "Bleu"},
            price_amount=1250,
            currency="USD",
        )
    )
    await session.flush()

    await index_products(session, [product.id])
    doc = await session.get(SearchDocument, product.id)
    assert doc is not None and doc.visible and doc.min_price_amount == 1250
    assert doc.title == "cafe creme mug" and "kitchen" in doc.body and "bleu" in doc.body
    if is_postgres():
        hit = await session.scalar(
            select(SearchDocument.product_id).where(text("tsv @@ to_tsquery('simple', 'stonew:*')"))
        )
    else:
        hit = await session.scalar(text("SELECT rowid FROM search_fts WHERE search_fts MATCH 'stonew*'"))
    assert hit == product.id

    product.status = "archived"
    await session.flush()
    await index_products(session, [product.id])
    await session.refresh(doc)
    assert not doc.visible


async def test_sourcing_tiers_set_the_from_price(session: AsyncSession, store_factory, category_factory):
    from souk.models import PriceTier

    store = await store_factory(trade_model="sourcing")
    cat = await category_factory()
    product = Product(
        store_id=store.id,
        category_id=cat.id,
        title="Bulk tote",
        slug="tote",
        currency="USD",
        status="active",
        moq=100,
    )
    session.add(product)
    await session.flush()
    session.add(Sku(product_id=product.id, code="T-1", option_values={}, price_amount=300, currency="USD"))
    session.add_all(
        [
            PriceTier(product_id=product.id, min_quantity=100, unit_price_amount=250),
            PriceTier(product_id=product.id, min_quantity=1000, unit_price_amount=210),
        ]
    )
    await session.flush()
    await index_products(session, [product.id])
    doc = await session.get(SearchDocument, product.id, populate_existing=True)
    assert doc is not None and (doc.min_price_amount, doc.max_price_amount) == (210, 300)
