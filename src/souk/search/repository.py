"""All SQL of the search read side: the filtered, ranked, sorted id list, card data, facet counts.

Every statement reads ``search_documents`` (only ``visible`` rows) through the same conditions
(``SearchSpec.conditions``) and, when there is query text, the database's full-text match
(``souk.search.backends.TextSearch``). A search costs one statement for the ids, one for the cards and one per
facet group; there is no per-result query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from sqlalchemy import ColumnElement, Row, SQLColumnExpression, and_, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from souk.models import Category, Product, ProductImage, SearchDocument, Store
from souk.search.backends import TextSearch
from souk.search.schemas import SearchFilters, SortName

# a result row of any shape
AnyRow: TypeAlias = "Row[*tuple[Any, ...]]"

Doc = SearchDocument


@dataclass(frozen=True)
class SearchSpec:
    """A validated search as the repository runs it."""

    filters: SearchFilters
    terms: list[str]
    backend: TextSearch

    def conditions(self) -> list[ColumnElement[bool]]:
        f = self.filters
        conds: list[ColumnElement[bool]] = [Doc.visible == true()]
        if f.category is not None:
            conds.append(Doc.category_path.like(f"%/{int(f.category)}/%"))
        if f.trade_model is not None:
            conds.append(Doc.trade_model == f.trade_model)
        if f.store is not None:
            conds.append(Doc.store_id == f.store)
        currency = f.effective_currency
        if currency is not None:
            conds.append(Doc.currency == currency)
        # a product matches a price range when some of its prices can fall inside it
        if f.min_price is not None:
            conds.append(Doc.max_price_amount >= f.min_price)
        if f.max_price is not None:
            conds.append(Doc.min_price_amount <= f.max_price)
        return conds

    def base(self, *columns: Any) -> Any:
        stmt = select(*columns).select_from(Doc).where(*self.conditions())
        if self.terms:
            stmt = self.backend.restrict(stmt, self.terms)
        return stmt

    def rank(self) -> ColumnElement[Any] | None:
        return self.backend.rank(self.terms) if self.terms else None


def sort_keys(spec: SearchSpec, sort: SortName) -> list[tuple[SQLColumnExpression[Any], bool]]:
    """(expression, descending) pairs that order the results completely (the product id breaks ties).

    Prices compare only within a currency, so the price sorts group by currency first."""
    if sort == "relevance":
        rank = spec.rank()
        if rank is not None:
            return [(rank, spec.backend.rank_descending), (Doc.product_id, False)]
        sort = "newest"
    if sort == "newest":
        return [(Doc.product_created_at, True), (Doc.product_id, True)]
    if sort == "price_asc":
        return [(Doc.currency, False), (Doc.min_price_amount, False), (Doc.product_id, False)]
    return [(Doc.currency, False), (Doc.min_price_amount, True), (Doc.product_id, True)]


def _after(keys: list[tuple[SQLColumnExpression[Any], bool]], values: Sequence[Any]) -> ColumnElement[bool]:
    """Keyset condition: rows strictly after ``values`` in the order of ``keys``."""
    alternatives: list[ColumnElement[bool]] = []
    for i, (expr, descending) in enumerate(keys):
        equal_before = [k == v for (k, _), v in zip(keys[:i], values[:i], strict=True)]
        step = expr < values[i] if descending else expr > values[i]
        alternatives.append(and_(*equal_before, step))
    return or_(*alternatives) if alternatives else false()


async def ranked_ids(
    session: AsyncSession,
    spec: SearchSpec,
    sort: SortName,
    *,
    limit: int,
    offset: int = 0,
    after: Sequence[Any] | None = None,
) -> list[tuple[Any, ...]]:
    """The ids of one page of results, each with the values of its sort keys (the product id last)."""
    keys = sort_keys(spec, sort)
    stmt = spec.base(*(expr for expr, _ in keys))
    if after is not None:
        stmt = stmt.where(_after(keys, after))
    stmt = stmt.order_by(*(expr.desc() if descending else expr.asc() for expr, descending in keys))
    stmt = stmt.limit(limit).offset(offset or None)
    return [tuple(row) for row in (await session.execute(stmt)).all()]


async def count(session: AsyncSession, spec: SearchSpec) -> int:
    return int(await session.scalar(spec.base(func.count())) or 0)


async def cards(session: AsyncSession, product_ids: Sequence[int]) -> dict[int, AnyRow]:
    """Card data of these products by id (in no particular order)."""
    if not product_ids:
        return {}
    thumb = (
        select(ProductImage.thumb_path)
        .where(ProductImage.product_id == Product.id)
        .order_by(ProductImage.position, ProductImage.id)
        .limit(1)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(
            Product.id,
            Product.title,
            Product.slug,
            Product.moq,
            Product.created_at,
            Store.id.label("store_id"),
            Store.name.label("store_name"),
            Store.slug.label("store_slug"),
            Doc.trade_model,
            Doc.min_price_amount,
            Doc.max_price_amount,
            Doc.currency,
            thumb.label("thumb_path"),
        )
        .join(Doc, Doc.product_id == Product.id)
        .join(Store, Store.id == Product.store_id)
        .where(Product.id.in_(list(product_ids)))
    )
    return {row.id: row for row in rows}


async def facet_category_paths(session: AsyncSession, spec: SearchSpec) -> list[tuple[str, int]]:
    """(category path, number of results) for every category path in the results."""
    stmt = spec.base(Doc.category_path, func.count()).group_by(Doc.category_path)
    return [(path, int(n)) for path, n in (await session.execute(stmt)).all()]


async def facet_trade_models(session: AsyncSession, spec: SearchSpec) -> list[tuple[str, int]]:
    stmt = spec.base(Doc.trade_model, func.count()).group_by(Doc.trade_model)
    return [(model, int(n)) for model, n in (await session.execute(stmt)).all()]


async def facet_currencies(session: AsyncSession, spec: SearchSpec) -> list[tuple[str, int]]:
    n = func.count().label("n")
    stmt = spec.base(Doc.currency, n).group_by(Doc.currency).order_by(n.desc(), Doc.currency)
    return [(currency, int(count)) for currency, count in (await session.execute(stmt)).all()]


async def facet_stores(
    session: AsyncSession, spec: SearchSpec, limit: int = 10
) -> list[tuple[int, str, int]]:
    """(store id, name, number of results) for the stores with most results."""
    n = func.count().label("n")
    stmt = (
        spec.base(Doc.store_id, Store.name, n)
        .join(Store, Store.id == Doc.store_id)
        .group_by(Doc.store_id, Store.name)
        .order_by(n.desc(), Store.name, Doc.store_id)
        .limit(limit)
    )
    return [(sid, name, int(count)) for sid, name, count in (await session.execute(stmt)).all()]


async def categories(session: AsyncSession) -> list[AnyRow]:
    """Every category (id, parent_id, name, slug, position) in display order."""
    rows = await session.execute(
        select(Category.id, Category.parent_id, Category.name, Category.slug, Category.position).order_by(
            Category.position, Category.name, Category.id
        )
    )
    return list(rows.all())
