"""Product search: one service for the API and the pages, on SQLite (FTS5) and PostgreSQL (tsvector).

The query text is folded like the index (case and accents), every word must match and the last one matches
as a prefix, so "stonew" finds "stoneware" and "cafe" finds "Café". Only ``visible`` documents are read.
A search with words ranks and counts at most ``CANDIDATE_CAP`` matching documents (``total_capped`` says when
there were more; docs/adr/0002-search-index.md).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.errors import invalid_field
from souk.kit.money import is_currency
from souk.kit.pagination import clamp_limit, decode_cursor, encode_cursor
from souk.search import backends, repository
from souk.search.backends import query_words, text_search_for
from souk.search.repository import SearchSpec
from souk.search.schemas import (
    MAX_ID,
    MAX_PRICE,
    TRADE_MODEL_NAMES,
    Facets,
    FacetValue,
    ProductCard,
    SearchFilters,
    SearchPage,
    SearchResult,
    SortName,
)

PER_PAGE = 24
MAX_PAGE = 10_000
STORE_FACET_SIZE = 10
# how long a process keeps the category tree (see ``SearchService.categories``)
CATEGORY_CACHE_SECONDS = 60.0
# database (engine URL) -> (when read, the tree)
_CATEGORY_CACHE: dict[str, tuple[float, CategoryIndex]] = {}


def reset_category_cache() -> None:
    """Forget the kept category tree (after a category changes; between tests)."""
    _CATEGORY_CACHE.clear()


def _database_key(session: AsyncSession) -> str:
    return str(session.get_bind().engine.url)


@dataclass(frozen=True)
class CategoryRef:
    id: int
    name: str
    slug: str
    parent_id: int | None


@dataclass
class CategoryIndex:
    """Every category, with its children and ancestors, from one query."""

    by_id: dict[int, CategoryRef] = field(default_factory=dict)
    children: dict[int | None, list[CategoryRef]] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: list[Any]) -> CategoryIndex:
        index = cls()
        for row in rows:
            ref = CategoryRef(row.id, row.name, row.slug, row.parent_id)
            index.by_id[ref.id] = ref
            index.children.setdefault(ref.parent_id, []).append(ref)
        return index

    @property
    def roots(self) -> list[CategoryRef]:
        return self.children.get(None, [])

    def by_slug(self, slug: str) -> CategoryRef | None:
        return next((c for c in self.by_id.values() if c.slug == slug), None)

    def trail(self, category_id: int | None) -> list[CategoryRef]:
        """The category and its ancestors, from the top."""
        chain: list[CategoryRef] = []
        current = self.by_id.get(category_id) if category_id is not None else None
        while current is not None and current not in chain:
            chain.append(current)
            current = self.by_id.get(current.parent_id) if current.parent_id is not None else None
        chain.reverse()
        return chain


class SearchService:
    # --- validation ---------------------------------------------------------------------------------

    def _checked(self, session: AsyncSession, filters: SearchFilters) -> SearchSpec:
        if filters.currency is not None:
            code = filters.currency.strip().upper()
            if not is_currency(code):
                raise invalid_field("currency", "is not a supported ISO 4217 currency code")
            filters = filters.model_copy(update={"currency": code})
        for name in ("min_price", "max_price"):
            value = getattr(filters, name)
            if value is not None and value < 0:
                raise invalid_field(name, "must not be negative")
            if value is not None and value > MAX_PRICE:
                raise invalid_field(name, f"must be at most {MAX_PRICE}")
        for name in ("category", "store"):
            value = getattr(filters, name)
            if value is not None and not 1 <= value <= MAX_ID:
                raise invalid_field(name, "is not a valid id")
        if (
            filters.min_price is not None
            and filters.max_price is not None
            and filters.min_price > filters.max_price
        ):
            raise invalid_field("min_price", "must not be more than max_price")
        return SearchSpec(
            filters=filters,
            terms=query_words(filters.q),
            backend=text_search_for(session),
            cap=backends.CANDIDATE_CAP,
        )

    @staticmethod
    def _capped(spec: SearchSpec, total: int) -> bool:
        """Whether the words matched more documents than were counted (``total`` is then a lower bound)."""
        return bool(spec.terms) and total >= spec.cap

    @staticmethod
    def _sort(spec: SearchSpec) -> SortName:
        sort = spec.filters.sort
        if sort is None or sort == "relevance":
            return "relevance" if spec.terms else "newest"
        return sort

    # --- cursors ------------------------------------------------------------------------------------

    @staticmethod
    def _fingerprint(spec: SearchSpec, sort: SortName) -> str:
        data = spec.filters.model_dump(exclude={"q", "sort"})
        data["terms"] = spec.terms
        data["sort"] = sort
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]

    def _encode(self, spec: SearchSpec, sort: SortName, keys: tuple[Any, ...]) -> str:
        values = [v.isoformat() if isinstance(v, datetime) else v for v in keys]
        return encode_cursor([self._fingerprint(spec, sort), *values])

    def _decode(self, spec: SearchSpec, sort: SortName, cursor: str | None) -> list[Any] | None:
        raw = decode_cursor(cursor)
        if raw is None:
            return None
        problem = invalid_field("cursor", "does not belong to this search; start again without a cursor")
        if not raw or raw[0] != self._fingerprint(spec, sort):
            raise problem
        values = raw[1:]
        kinds = {
            "relevance": ("rank", "id"),
            "newest": ("time", "id"),
            "price_asc": ("currency", "price", "id"),
            "price_desc": ("currency", "price", "id"),
        }[sort]
        if len(values) != len(kinds):
            raise problem
        out: list[Any] = []
        for kind, value in zip(kinds, values, strict=True):
            if isinstance(value, bool):
                raise problem
            if kind == "rank" and isinstance(value, int | float) and math.isfinite(value):
                out.append(float(value))
            elif (kind in ("id", "price") and isinstance(value, int) and 0 <= value <= MAX_ID) or (
                kind == "currency" and isinstance(value, str) and len(value) == 3
            ):
                out.append(value)
            elif kind == "time" and isinstance(value, str):
                try:
                    moment = datetime.fromisoformat(value)
                    if moment.tzinfo is None:
                        raise ValueError("naive")
                    out.append(moment.astimezone(UTC))
                except (ValueError, OverflowError) as exc:
                    raise problem from exc
            else:
                raise problem
        return out

    # --- reading ------------------------------------------------------------------------------------

    @staticmethod
    def _card(row: Any) -> ProductCard:
        return ProductCard(
            id=row.id,
            title=row.title,
            slug=row.slug,
            store_id=row.store_id,
            store_name=row.store_name,
            store_slug=row.store_slug,
            trade_model=row.trade_model,
            min_price_amount=row.min_price_amount,
            max_price_amount=row.max_price_amount,
            currency=row.currency,
            moq=row.moq,
            thumb=f"/media/{row.thumb_path}" if row.thumb_path else None,
            created_at=row.created_at,
        )

    async def categories(
        self, session: AsyncSession, *, ids: Iterable[int] = (), slug: str | None = None
    ) -> CategoryIndex:
        """Every category. The tree changes rarely: it is kept per process and database for
        ``CATEGORY_CACHE_SECONDS`` (forgotten at once when this process changes a category), and read again
        when it lacks one of ``ids`` or ``slug`` (a category added since)."""
        key = _database_key(session)
        cached = _CATEGORY_CACHE.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] <= CATEGORY_CACHE_SECONDS:
            index = cached[1]
            if all(i in index.by_id for i in ids) and (slug is None or index.by_slug(slug) is not None):
                return index
        index = CategoryIndex.of(await repository.categories(session))
        _CATEGORY_CACHE[key] = (now, index)
        return index

    async def _facets(
        self, session: AsyncSession, spec: SearchSpec, categories: CategoryIndex | None = None
    ) -> Facets:
        counts = await repository.facets(session, spec, STORE_FACET_SIZE)
        chosen = spec.filters.category
        paths: list[tuple[list[int], int]] = []
        for path, n in counts.category_paths:
            ids = [int(part) for part in path.strip("/").split("/") if part.isdigit()]
            if ids:
                paths.append((ids, n))
        seen = {i for ids, _ in paths for i in ids}
        if categories is None or not seen <= categories.by_id.keys():
            categories = await self.categories(session, ids=seen)
        top: dict[int, int] = {}
        below: dict[int, int] = {}
        for ids, n in paths:
            top[ids[0]] = top.get(ids[0], 0) + n
            if chosen is not None and chosen in ids:
                at = ids.index(chosen)
                if at + 1 < len(ids):
                    below[ids[at + 1]] = below.get(ids[at + 1], 0) + n

        def category_values(counts: dict[int, int], refs: list[CategoryRef]) -> list[FacetValue]:
            return [FacetValue(id=c.id, name=c.name, count=counts[c.id]) for c in refs if counts.get(c.id)]

        category = category_values(top, categories.roots)
        if chosen is not None:
            category += category_values(below, categories.children.get(chosen, []))

        models = dict(counts.trade_models)
        trade_model = [
            FacetValue(id=model, name=name, count=models[model])
            for model, name in TRADE_MODEL_NAMES.items()
            if models.get(model)
        ]
        store = [FacetValue(id=sid, name=name, count=n) for sid, name, n in counts.stores]
        currency = [FacetValue(id=code, name=code, count=n) for code, n in counts.currencies]
        return Facets(category=category, trade_model=trade_model, store=store, currency=currency)

    async def search(
        self,
        session: AsyncSession,
        actor: Actor,
        filters: SearchFilters,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> SearchResult:
        """One API page: ``limit`` results after ``cursor``, the total and the facets of the whole result."""
        size = clamp_limit(limit)
        spec = self._checked(session, filters)
        sort = self._sort(spec)
        after = self._decode(spec, sort, cursor)
        rows = await repository.ranked_cards(session, spec, sort, limit=size + 1, after=after)
        more = len(rows) > size
        rows = rows[:size]
        items = [self._card(card) for _, card in rows]
        facets = await self._facets(session, spec)
        total = sum(v.count for v in facets.trade_model)
        next_cursor = self._encode(spec, sort, rows[-1][0]) if more and rows else None
        return SearchResult(
            items=items,
            next_cursor=next_cursor,
            total=total,
            total_capped=self._capped(spec, total),
            facets=facets,
        )

    async def search_page(
        self,
        session: AsyncSession,
        actor: Actor,
        filters: SearchFilters,
        *,
        page: int = 1,
        per_page: int = PER_PAGE,
        with_facets: bool = True,
        categories: CategoryIndex | None = None,
    ) -> SearchPage:
        """Numbered page ``page`` (pages past the end show the last one) with the total and the facets."""
        spec = self._checked(session, filters)
        sort = self._sort(spec)
        if with_facets:
            facets: Facets | None = await self._facets(session, spec, categories)
            total = sum(v.count for v in facets.trade_model) if facets else 0
        else:
            facets = None
            total = await repository.count(session, spec)
        pages = max(1, -(-total // per_page))
        page = min(max(1, page), pages, MAX_PAGE)
        rows = await repository.ranked_cards(
            session, spec, sort, limit=per_page, offset=(page - 1) * per_page
        )
        items = [self._card(card) for _, card in rows]
        return SearchPage(
            items=items,
            total=total,
            page=page,
            pages=pages,
            per_page=per_page,
            sort=sort,
            facets=facets,
            total_capped=self._capped(spec, total),
        )

    async def newest(self, session: AsyncSession, actor: Actor, limit: int = PER_PAGE) -> list[ProductCard]:
        """The newest visible products (for the home page)."""
        spec = self._checked(session, SearchFilters(sort="newest"))
        rows = await repository.ranked_cards(session, spec, "newest", limit=limit)
        return [self._card(card) for _, card in rows]


search_service = SearchService()
