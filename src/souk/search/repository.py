"""All SQL of the search read side: the filtered, ranked, sorted id list, card data, facet counts.

Every statement reads ``search_documents`` (only ``visible`` rows) through the same conditions
(``SearchSpec.conditions``) and, when there is query text, the database's full-text match
(``souk.search.backends.TextSearch``). A search costs one statement for its page of results (ids, sort keys and
card data) and one for all its facet counts; there is no per-result query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from sqlalchemy import (
    ColumnElement,
    Row,
    SQLColumnExpression,
    String,
    and_,
    cast,
    false,
    func,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
)
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


def _thumb() -> Any:
    """The thumbnail of the product's first image (a correlated scalar subquery)."""
    return (
        select(ProductImage.thumb_path)
        .where(ProductImage.product_id == Product.id)
        .order_by(ProductImage.position, ProductImage.id)
        .limit(1)
        .scalar_subquery()
    )


async def ranked_cards(
    session: AsyncSession,
    spec: SearchSpec,
    sort: SortName,
    *,
    limit: int,
    offset: int = 0,
    after: Sequence[Any] | None = None,
) -> list[tuple[tuple[Any, ...], AnyRow]]:
    """One page of results in one statement: for each, the values of its sort keys (the product id last, for
    a cursor) and the row with its card data (id, title, slug, moq, created_at, store_id, store_name,
    store_slug, trade_model, min/max_price_amount, currency, thumb_path)."""
    keys = sort_keys(spec, sort)
    cards = (
        Product.id.label("id"),
        Product.title.label("title"),
        Product.slug.label("slug"),
        Product.moq.label("moq"),
        Product.created_at.label("created_at"),
        Store.id.label("store_id"),
        Store.name.label("store_name"),
        Store.slug.label("store_slug"),
        Doc.trade_model.label("trade_model"),
        Doc.min_price_amount.label("min_price_amount"),
        Doc.max_price_amount.label("max_price_amount"),
        Doc.currency.label("currency"),
        _thumb().label("thumb_path"),
    )
    stmt = (
        spec.base(*(expr.label(f"k{i}") for i, (expr, _) in enumerate(keys)), *cards)
        .join(Product, Product.id == Doc.product_id)
        .join(Store, Store.id == Product.store_id)
    )
    if after is not None:
        stmt = stmt.where(_after(keys, after))
    stmt = stmt.order_by(*(expr.desc() if descending else expr.asc() for expr, descending in keys))
    stmt = stmt.limit(limit).offset(offset or None)
    n = len(keys)
    return [(tuple(row[:n]), row) for row in (await session.execute(stmt)).all()]


async def count(session: AsyncSession, spec: SearchSpec) -> int:
    return int(await session.scalar(spec.base(func.count())) or 0)


@dataclass
class FacetCounts:
    """The facet counts of a whole result: (category path, n), (trade model, n), (currency, n) and the
    stores with most results (store id, name, n), most first."""

    category_paths: list[tuple[str, int]]
    trade_models: list[tuple[str, int]]
    currencies: list[tuple[str, int]]
    stores: list[tuple[int, str, int]]


async def facets(session: AsyncSession, spec: SearchSpec, store_limit: int = 10) -> FacetCounts:
    """Every facet group's counts in one statement (a UNION ALL of one grouped query per group; on SQLite
    the full-text matches are computed once for all of them)."""
    n = func.count().label("n")
    no_name = cast(null(), String).label("name")

    def grouped(kind: str, column: Any) -> Any:
        return spec.base(
            literal_column(f"'{kind}'").label("kind"), column.label("value"), no_name, n
        ).group_by(column)

    top_stores = (
        spec.base(Doc.store_id.label("store_id"), Store.name.label("name"), n)
        .join(Store, Store.id == Doc.store_id)
        .group_by(Doc.store_id, Store.name)
        .order_by(n.desc(), Store.name, Doc.store_id)
        .limit(store_limit)
        .subquery("top_stores")
    )
    stores = select(
        literal_column("'s'").label("kind"),
        cast(top_stores.c.store_id, String).label("value"),
        top_stores.c.name,
        top_stores.c.n,
    )
    stmt = union_all(
        grouped("c", Doc.category_path),
        grouped("t", Doc.trade_model),
        grouped("$", Doc.currency),
        stores,
    )
    out = FacetCounts([], [], [], [])
    for kind, value, name, count_ in (await session.execute(stmt)).all():
        if kind == "c":
            out.category_paths.append((str(value), int(count_)))
        elif kind == "t":
            out.trade_models.append((str(value), int(count_)))
        elif kind == "$":
            out.currencies.append((str(value), int(count_)))
        else:
            out.stores.append((int(value), str(name), int(count_)))
    out.currencies.sort(key=lambda c: (-c[1], c[0]))
    out.stores.sort(key=lambda s: (-s[2], s[1], s[0]))
    return out


async def categories(session: AsyncSession) -> list[AnyRow]:
    """Every category (id, parent_id, name, slug, position) in display order."""
    rows = await session.execute(
        select(Category.id, Category.parent_id, Category.name, Category.slug, Category.position).order_by(
            Category.position, Category.name, Category.id
        )
    )
    return list(rows.all())
