"""All SQL of the search read side: the filtered, ranked, sorted id list, card data, facet counts.

Every statement reads ``search_documents`` (only ``visible`` rows) through the same conditions
(``SearchSpec.conditions``) and, when there is query text, the database's full-text match
(``souk.search.backends.TextSearch``): the **candidates** (at most ``CANDIDATE_CAP`` matches, for the ranked
page, the total and the facet counts) or, for the sorts that are not by rank, every match. A search costs one
statement for its page of results (ids, sort keys and card data) and one for all its facet counts; there is
no per-result query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
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
from souk.search.backends import CANDIDATE_CAP, TextSearch, price_filter_tokens
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
    cap: int = CANDIDATE_CAP

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

    @cached_property
    def tags(self) -> list[list[str]]:
        """The index tags a match must have, so the full-text index applies the selective filters itself:
        the category token, and one of the price tokens of the price range (when it is narrow enough)."""
        f = self.filters
        groups: list[list[str]] = []
        if f.category is not None:
            groups.append([f"c{int(f.category)}"])
        currency = f.effective_currency
        if currency is not None:
            prices = price_filter_tokens(currency, f.min_price, f.max_price)
            if prices:
                groups.append(prices)
        return groups

    @cached_property
    def candidates(self) -> Any:
        """The capped matches with their rank (a CTE: ``id``, ``rank``); one object, so a statement holds it
        once."""
        return self.backend.candidates(self.conditions(), self.terms, self.tags, self.cap, ranked=True)

    @cached_property
    def matches(self) -> Any:
        """The same capped matches without their rank (a CTE: ``id``), for counting: ranking is the
        expensive part of a match and counts do not need it."""
        return self.backend.candidates(self.conditions(), self.terms, self.tags, self.cap, ranked=False)

    def base(self, *columns: Any, every_match: bool = False) -> Any:
        """``columns`` over the documents of this search: with words, the capped matches (or, with
        ``every_match``, all of them); without, every document passing the filters."""
        if self.terms and not every_match:
            hits = self.matches
            return select(*columns).select_from(Doc).join(hits, hits.c.id == Doc.product_id)
        stmt = select(*columns).select_from(Doc).where(*self.conditions())
        if self.terms:
            stmt = self.backend.restrict(stmt, self.terms, self.tags)
        return stmt

    def rank(self) -> ColumnElement[Any] | None:
        rank: ColumnElement[Any] | None = self.candidates.c.rank if self.terms else None
        return rank


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
    n = len(keys)
    if sort == "relevance" and spec.terms:
        # the page of ranked candidates first, then the card data of those rows only
        hits = spec.candidates
        page_keys: list[tuple[SQLColumnExpression[Any], bool]] = [
            (hits.c.rank, spec.backend.rank_descending),
            (hits.c.id, False),
        ]
        page = select(hits.c.id.label("k1"), hits.c.rank.label("k0"))
        if after is not None:
            page = page.where(_after(page_keys, after))
        top = (
            page.order_by(*(e.desc() if d else e.asc() for e, d in page_keys))
            .limit(limit)
            .offset(offset or None)
            .subquery("top")
        )
        ranked = (
            select(top.c.k0, top.c.k1, *cards)
            .select_from(top)
            .join(Doc, Doc.product_id == top.c.k1)
            .join(Product, Product.id == Doc.product_id)
            .join(Store, Store.id == Product.store_id)
            .order_by(top.c.k0.desc() if spec.backend.rank_descending else top.c.k0.asc(), top.c.k1)
        )
        return [(tuple(row[:n]), row) for row in (await session.execute(ranked)).all()]
    # the other sorts must order every match, not only the candidates
    stmt = (
        spec.base(*(expr.label(f"k{i}") for i, (expr, _) in enumerate(keys)), *cards, every_match=True)
        .join(Product, Product.id == Doc.product_id)
        .join(Store, Store.id == Product.store_id)
    )
    if after is not None:
        stmt = stmt.where(_after(keys, after))
    stmt = stmt.order_by(*(expr.desc() if descending else expr.asc() for expr, descending in keys))
    stmt = stmt.limit(limit).offset(offset or None)
    return [(tuple(row[:n]), row) for row in (await session.execute(stmt)).all()]


async def count(session: AsyncSession, spec: SearchSpec) -> int:
    """The number of results (with words: of candidates, so at most ``spec.cap``)."""
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
