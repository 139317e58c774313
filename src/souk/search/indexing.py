"""Keeps the search index in step with the catalog, in the same transaction as the write.

Call ``index_products(session, ids)`` after any change to those products (their SKUs, prices, status, images)
and ``reindex_store(session, store_id)`` after a change to a store (status, name) that affects all its
products. A product is visible to buyers when it is active, its store is active and it has an active SKU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from souk.db import dialect_of
from souk.kit.clock import utcnow
from souk.kit.text import fold
from souk.models import Category, PriceTier, Product, SearchDocument, Sku, Store
from souk.search.backends import document_tags, text_index_for

BATCH = 500


async def category_paths(session: AsyncSession) -> dict[int, tuple[str, list[str]]]:
    """{category id: ("/1/5/9/", [names from the root])} for every category."""
    rows = (await session.execute(select(Category.id, Category.parent_id, Category.name))).all()
    parent = {r.id: r.parent_id for r in rows}
    names = {r.id: r.name for r in rows}
    result: dict[int, tuple[str, list[str]]] = {}
    for cid in parent:
        chain: list[int] = []
        cur: int | None = cid
        while cur is not None and cur not in chain:
            chain.append(cur)
            cur = parent.get(cur)
        chain.reverse()
        result[cid] = ("/" + "/".join(str(c) for c in chain) + "/", [names[c] for c in chain])
    return result


def _attribute_text(attributes: Any) -> str:
    parts: list[str] = []
    if isinstance(attributes, list):
        for item in attributes:
            if isinstance(item, dict):
                parts.extend(str(v) for v in item.values())
    return " ".join(parts)


async def index_products(session: AsyncSession, product_ids: Sequence[int]) -> None:
    ids = sorted(set(product_ids))
    if not ids:
        return
    paths = await category_paths(session)
    for start in range(0, len(ids), BATCH):
        await _index_batch(session, ids[start : start + BATCH], paths)


async def _index_batch(
    session: AsyncSession, ids: list[int], paths: dict[int, tuple[str, list[str]]], *, text: bool = True
) -> None:
    """Rewrite the documents of ``ids`` and, with ``text``, their full-text entries."""
    # plain columns, not ORM objects: a full reindex reads every product
    products = (
        await session.execute(
            select(
                Product.id,
                Product.store_id,
                Product.category_id,
                Product.title,
                Product.description,
                Product.attributes,
                Product.status,
                Product.currency,
                Product.created_at,
                Store.name.label("store_name"),
                Store.status.label("store_status"),
                Store.trade_model.label("trade_model"),
                Store.brand_name.label("brand"),
            )
            .join(Store, Store.id == Product.store_id)
            .where(Product.id.in_(ids))
        )
    ).all()
    sku_rows = (
        await session.execute(
            select(Sku.product_id, Sku.code, Sku.option_values, Sku.price_amount).where(
                Sku.product_id.in_(ids), Sku.is_active
            )
        )
    ).all()
    # volume tiers lower the "from" price of a sourcing listing ("from US$2.10 / piece")
    tier_floor: dict[int, int] = dict(
        (
            await session.execute(
                select(PriceTier.product_id, func.min(PriceTier.unit_price_amount))
                .where(PriceTier.product_id.in_(ids))
                .group_by(PriceTier.product_id)
            )
        ).all()
    )
    skus: dict[int, list[Any]] = {}
    for row in sku_rows:
        skus.setdefault(row.product_id, []).append(row)

    now = utcnow()
    docs: list[dict[str, Any]] = []
    texts: list[tuple[int, str, str, str]] = []
    for product in products:
        store_name, store_status, trade_model, brand = (
            product.store_name,
            product.store_status,
            product.trade_model,
            product.brand,
        )
        variants = skus.get(product.id, [])
        prices = [v.price_amount for v in variants]
        path, category_names = paths.get(product.category_id, ("/", []))
        option_words = " ".join(" ".join(str(x) for x in (v.option_values or {}).values()) for v in variants)
        title = fold(product.title)
        body = fold(
            " ".join(
                [
                    product.description or "",
                    _attribute_text(product.attributes),
                    option_words,
                    " ".join(v.code for v in variants),
                    " ".join(category_names),
                    store_name or "",
                    brand or "",
                ]
            )
        )
        docs.append(
            {
                "product_id": product.id,
                "store_id": product.store_id,
                "category_id": product.category_id,
                "category_path": path,
                "trade_model": trade_model,
                "currency": product.currency,
                "min_price_amount": min([*prices, tier_floor[product.id]])
                if prices and product.id in tier_floor
                else (min(prices) if prices else 0),
                "max_price_amount": max(prices) if prices else 0,
                "visible": product.status == "active" and store_status == "active" and bool(prices),
                "title": title,
                "body": body,
                "product_created_at": product.created_at,
                "indexed_at": now,
            }
        )
        doc = docs[-1]
        tags = document_tags(path, doc["currency"], doc["min_price_amount"], doc["max_price_amount"])
        texts.append((product.id, title, body, tags))

    found = {d["product_id"] for d in docs}
    gone = [i for i in ids if i not in found]
    if gone:
        await session.execute(delete(SearchDocument).where(SearchDocument.product_id.in_(gone)))
        if text:
            await text_index_for(session).delete(session, gone)
    if not docs:
        return
    dialect = dialect_of(session)
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    stmt = insert(SearchDocument)
    updatable = {k: getattr(stmt.excluded, k) for k in docs[0] if k != "product_id"}
    await session.execute(stmt.on_conflict_do_update(index_elements=["product_id"], set_=updatable), docs)
    if text:
        await text_index_for(session).write(session, texts)


async def reindex_store(session: AsyncSession, store_id: int) -> None:
    ids = (await session.scalars(select(Product.id).where(Product.store_id == store_id))).all()
    await index_products(session, list(ids))


# a full rebuild writes documents in batches this large
REBUILD_BATCH = 2000


async def reindex_all(session: AsyncSession, progress: Callable[[int], None] | None = None) -> int:
    """Rebuild the whole index in the session's transaction: every document from the catalog (documents of
    deleted products removed), then the full-text index from the documents in one statement (FTS5: emptied and
    refilled; PostgreSQL: every tsvector recomputed, the GIN index rebuilt). Much cheaper than
    ``index_products`` over every id, which deletes and re-inserts each full-text entry in turn (FTS5 reads the
    old text back to delete it). ``progress(n)`` is called after each batch of ``n`` products."""
    ids = list((await session.scalars(select(Product.id).order_by(Product.id))).all())
    paths = await category_paths(session)
    for start in range(0, len(ids), REBUILD_BATCH):
        batch = ids[start : start + REBUILD_BATCH]
        await _index_batch(session, batch, paths, text=False)
        if progress is not None:
            progress(len(batch))
    # documents without a product (cascade covers PostgreSQL; SQLite may run without foreign keys)
    # NOT EXISTS, not NOT IN: PostgreSQL runs NOT IN over a subquery too large for work_mem row by row
    await session.execute(
        delete(SearchDocument).where(~exists().where(Product.id == SearchDocument.product_id))
    )
    await text_index_for(session).rebuild(session)
    return len(ids)


async def document_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(SearchDocument)) or 0)
