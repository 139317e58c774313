"""The full-text half of the search index, one implementation per database.

Both index the same folded text (``souk.kit.text.fold``: lower case, accents removed), so a query typed
with or without accents finds the same products. SQLite: an FTS5 table ``search_fts`` (rowid = product id;
columns title, body and tags, the category tokens ``c3 c17``; a prefix index of 2 and 3 letters).
PostgreSQL: the ``search_documents.tsv`` column (``simple`` configuration; title words weighted A, body
words B, the 2- and 3-letter prefixes of every longer word C, the category tokens D) with a GIN index.

The query side (``TextSearch``) turns the words of a query into the database's own full-text syntax:
every word must match, the last one as a prefix. The words come from ``query_words`` (folded like the
index, only letters and digits) and are quoted, so nothing a person types is read as an operator. A
category filter joins the match as a category token, so the index intersects it with the words.

Ranking is **bounded** (docs/adr/0002-search-index.md): ``candidates`` takes at most ``CANDIDATE_CAP`` of
the documents that match the words and every filter, and only those are ranked and counted. Below the cap
(almost every real search) this is exact; above it, the best of the first ``CANDIDATE_CAP`` matches in index
order come first (SQLite: the newest products; PostgreSQL: table order) and the counts are lower bounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    String,
    bindparam,
    case,
    cast,
    column,
    func,
    literal_column,
    select,
    table,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from souk.db import dialect_of
from souk.kit.text import words
from souk.models import SearchDocument
from souk.models.search import FTS_TABLE

# a query is cut to this many characters and words: enough for any real search, bounded work for the database
MAX_QUERY_CHARS = 256
MAX_QUERY_WORDS = 12
# a text search ranks and counts at most this many matching documents (see the module docstring)
CANDIDATE_CAP = 200
# prefixes of these lengths are indexed (FTS5 ``prefix='2 3'``; the C-weighted lexemes on PostgreSQL)
INDEXED_PREFIXES = (2, 3)


# prices are indexed as tokens of power-of-two buckets of minor units: bucket k >= 1 holds [2**(k-1), 2**k - 1]
# (bucket 0 holds 0); a document has a token for every bucket its min..max price range touches
PRICE_BUCKETS = 32
# a price filter spanning more buckets than this is not worth a token filter (it keeps most documents)
MAX_PRICE_TOKENS = 8


def _bucket_bounds(k: int) -> tuple[int, int]:
    return (0, 0) if k == 0 else (2 ** (k - 1), 2**k - 1)


def price_token(currency: str, bucket: int) -> str:
    return f"p{currency.lower()}{bucket}"


def price_tokens(currency: str, min_price: int, max_price: int) -> list[str]:
    """The price tokens of a document priced ``min_price``..``max_price`` (minor units of ``currency``)."""
    low, high = max(0, min_price).bit_length(), max(0, max_price).bit_length()
    return [price_token(currency, k) for k in range(low, min(high, PRICE_BUCKETS - 1) + 1)]


def price_filter_tokens(currency: str, min_price: int | None, max_price: int | None) -> list[str] | None:
    """The tokens of which a document passing the price filter has at least one, or None when the filter
    is too wide to be worth it (the exact condition on the document is applied in any case)."""
    if min_price is None and max_price is None:
        return None
    tokens = price_tokens(currency, min_price or 0, 2**31 - 1 if max_price is None else max_price)
    return tokens if len(tokens) <= MAX_PRICE_TOKENS else None


def document_tags(category_path: str, currency: str, min_price: int, max_price: int) -> str:
    """The tags of a document: its category tokens (``"/3/17/"`` -> ``c3 c17``) and price tokens."""
    categories = [f"c{part}" for part in category_path.strip("/").split("/") if part]
    return " ".join(categories + price_tokens(currency, min_price, max_price))


def _tags_sql(trim: str) -> str:
    """``document_tags`` in SQL over search_documents (``trim``: the dialect's trim of '/')."""
    prices = " || ".join(
        f"(CASE WHEN max_price_amount >= {lo} AND min_price_amount <= {hi} "
        f"THEN ' p' || lower(currency) || '{k}' ELSE '' END)"
        for k in range(PRICE_BUCKETS)
        for lo, hi in [_bucket_bounds(k)]
    )
    return f"('c' || replace({trim}, '/', ' c') || {prices})"


# the same tags computed in SQL (the raw rebuild; the migration holds its own copy)
SQLITE_TAGS_SQL = _tags_sql("trim(category_path, '/')")
PG_TAGS_SQL = _tags_sql("btrim(search_documents.category_path, '/')")

# the tsvector of a document, from its folded title and body and its category path
PG_TSV_SQL = (
    "setweight(to_tsvector('simple', search_documents.title), 'A') || "
    "setweight(to_tsvector('simple', search_documents.body), 'B') || "
    "setweight(to_tsvector('simple', coalesce((SELECT string_agg(DISTINCT left(w, k), ' ') "
    "FROM unnest(tsvector_to_array(to_tsvector('simple', search_documents.title || ' ' || "
    "search_documents.body))) AS w, (VALUES (2), (3)) AS p(k) WHERE length(w) > k), '')), 'C') || "
    f"setweight(to_tsvector('simple', {PG_TAGS_SQL}), 'D')"
)

# the whole full-text index rebuilt from search_documents by plain SQL (the floor a reindex is measured against)
FTS_REBUILD_SQL = (
    "DELETE FROM search_fts",
    "INSERT INTO search_fts (rowid, title, body, tags) "
    f"SELECT product_id, title, body, {SQLITE_TAGS_SQL} FROM search_documents",
)
PG_REBUILD_SQL = (
    f"UPDATE search_documents SET tsv = {PG_TSV_SQL}",
    "REINDEX INDEX ix_search_documents_tsv",
)


class TextIndex(Protocol):
    async def write(self, session: AsyncSession, rows: Sequence[tuple[int, str, str, str]]) -> None:
        """(product_id, folded title, folded body, tags) for each product (``document_tags``); replaces what
        was there. On PostgreSQL the document rows must already hold the title, body, path and prices."""

    async def delete(self, session: AsyncSession, product_ids: Sequence[int]) -> None: ...

    async def rebuild(self, session: AsyncSession) -> None:
        """The whole full-text index built again from ``search_documents``."""


class SqliteTextIndex:
    async def write(self, session: AsyncSession, rows: Sequence[tuple[int, str, str, str]]) -> None:
        if not rows:
            return
        await self.delete(session, [r[0] for r in rows])
        await session.execute(
            text(f"INSERT INTO {FTS_TABLE} (rowid, title, body, tags) VALUES (:id, :title, :body, :tags)"),
            [{"id": pid, "title": title, "body": body, "tags": tags} for pid, title, body, tags in rows],
        )

    async def rebuild(self, session: AsyncSession) -> None:
        for statement in FTS_REBUILD_SQL:
            await session.execute(text(statement))

    async def delete(self, session: AsyncSession, product_ids: Sequence[int]) -> None:
        if not product_ids:
            return
        await session.execute(
            text(f"DELETE FROM {FTS_TABLE} WHERE rowid IN :ids").bindparams(bindparam("ids", expanding=True)),
            {"ids": list(product_ids)},
        )


class PostgresTextIndex:
    async def write(self, session: AsyncSession, rows: Sequence[tuple[int, str, str, str]]) -> None:
        if not rows:
            return
        # the documents were just upserted with the folded title, body and path; derive the tsvector in SQL
        await session.execute(
            update(SearchDocument)
            .where(SearchDocument.product_id.in_([r[0] for r in rows]))
            .values(tsv=text(PG_TSV_SQL))
        )

    async def rebuild(self, session: AsyncSession) -> None:
        for statement in PG_REBUILD_SQL:
            await session.execute(text(statement))

    async def delete(self, session: AsyncSession, product_ids: Sequence[int]) -> None:
        return None  # the tsvector lives on the document row and goes with it


def text_index_for(session: AsyncSession) -> TextIndex:
    return SqliteTextIndex() if dialect_of(session) == "sqlite" else PostgresTextIndex()


# --- query side -------------------------------------------------------------------------------------


def query_words(query: str) -> list[str]:
    """The folded words of a search query, as the index sees them (``"Café-Crème"`` -> cafe, creme).

    Underscores split words too (both full-text tokenizers treat them as separators)."""
    found: list[str] = []
    for word in words(query[:MAX_QUERY_CHARS]):
        found.extend(part for part in word.split("_") if part)
    return found[:MAX_QUERY_WORDS]


# tags a document must have: one of each group (category tokens, price tokens; see ``document_tags``)
TagGroups = Sequence[Sequence[str]]


class TextSearch(Protocol):
    """Full-text matching and ranking for one database."""

    # True when a larger rank is a better match
    rank_descending: bool

    def candidates(
        self,
        conditions: list[ColumnElement[bool]],
        terms: list[str],
        tags: TagGroups,
        cap: int,
        *,
        ranked: bool,
    ) -> Any:
        """A CTE (``id``, and ``rank`` when ``ranked``) of at most ``cap`` documents matching every term and
        ``conditions`` (over ``search_documents``), computed once per statement. The same documents whether
        ranked or not: the first ``cap`` in the index's order."""

    def restrict(self, stmt: Select[Any], terms: list[str], tags: TagGroups) -> Select[Any]:
        """``stmt`` (over ``search_documents``) limited to **all** documents matching every term (for the
        sorts that are not by rank, whose order must hold over every match)."""


_FTS = table(FTS_TABLE, column("rowid"))
_FTS_REF: ColumnElement[Any] = literal_column(FTS_TABLE)


def fts5_expression(terms: list[str], tags: TagGroups = ()) -> str:
    """``{title body} : ("cafe" "crem"*)``: each term an FTS5 string (implicit AND) in the title or body, the
    last one a prefix; then one of each group of tags, ``AND tags : ("c17") AND tags : ("pusd9" OR ...)``."""
    quoted = ['"' + term.replace('"', '""') + '"' for term in terms]
    quoted[-1] += "*"
    expression = "{title body} : (" + " ".join(quoted) + ")"
    for group in tags:
        expression += " AND tags : (" + " OR ".join(f'"{tag}"' for tag in group) + ")"
    return expression


def _lexeme(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def tsquery_expression(terms: list[str], tags: TagGroups = ()) -> str:
    """``'cafe':AB & 'crem':*AB``: each term a quoted lexeme of the title or body (weights A, B), all
    required, the last one a prefix. A last term of 2 or 3 letters is looked up as one lexeme among the words
    (A, B) and the indexed prefixes (C): ``'ca':ABC``, one posting list instead of every lexeme starting with
    it. Then one of each group of tags: ``& 'c17':D & ('pusd9':D | 'pusd10':D)``."""
    parts = [_lexeme(term) + ":AB" for term in terms[:-1]]
    last = terms[-1]
    parts.append(_lexeme(last) + (":ABC" if len(last) in INDEXED_PREFIXES else ":*AB"))
    for group in tags:
        parts.append("(" + " | ".join(f"'{tag}':D" for tag in group) + ")")
    return " & ".join(parts)


def field_score(terms: list[str]) -> ColumnElement[float]:
    """A relevance score computed from the document row alone: for each term, 10 when a word of the title
    starts with it, 1 when a word of the body does, less a small penalty for long titles (a title that is
    mostly the query words ranks first). This is BM25F without its IDF and term-frequency parts: FTS5's
    ``bm25()`` first counts, over the whole index, the documents holding each phrase (its IDF), a pass over
    the full posting list that costs ~100 ms for a common word at 1,000,000 products, whatever the cap."""
    title: ColumnElement[str] = literal_column("' '", String) + SearchDocument.title
    body: ColumnElement[str] = literal_column("' '", String) + SearchDocument.body
    score: ColumnElement[Any] = -func.length(SearchDocument.title) / 1000.0
    for term in terms:
        word = " " + term
        score = (
            score
            + case((func.instr(title, word) > 0, 10), else_=0)
            + case((func.instr(body, word) > 0, 1), else_=0)
        )
    return score


class SqliteTextSearch:
    """FTS5 ``MATCH`` on ``search_fts`` ranked by ``field_score`` (the title weighing ten times the body).

    The candidates are a ``MATERIALIZED`` CTE: FTS5 walks the matches newest first (rowid descending, with the
    category and price tokens intersected in the index), each is checked against its document's filters (a
    primary-key lookup), and the walk stops at the cap; the score is computed only for the rows kept."""

    rank_descending = True

    def candidates(
        self,
        conditions: list[ColumnElement[bool]],
        terms: list[str],
        tags: TagGroups,
        cap: int,
        *,
        ranked: bool,
    ) -> Any:
        columns: list[Any] = [_FTS.c.rowid.label("id")]
        if ranked:
            columns.append(cast(field_score(terms), Float).label("rank"))
        return (
            select(*columns)
            .select_from(_FTS)
            .join(SearchDocument, SearchDocument.product_id == _FTS.c.rowid)
            .where(_FTS_REF.match(fts5_expression(terms, tags)), *conditions)
            .order_by(_FTS.c.rowid.desc())
            .limit(cap)
            .cte("fts_ranked" if ranked else "fts_hits")
            .prefix_with("MATERIALIZED")
        )

    def restrict(self, stmt: Select[Any], terms: list[str], tags: TagGroups) -> Select[Any]:
        matches = select(_FTS.c.rowid).where(_FTS_REF.match(fts5_expression(terms, tags)))
        return stmt.where(SearchDocument.product_id.in_(matches))


class PostgresTextSearch:
    """``tsv @@ to_tsquery('simple', ...)`` on the GIN-indexed column, ranked by ``ts_rank_cd``.

    The candidates are a ``MATERIALIZED`` CTE: the GIN index gives the bitmap of the matches (the category
    token intersected in the index), the heap scan checks the filters and stops at the cap, and ``ts_rank_cd``
    is computed only for the rows kept."""

    rank_descending = True

    @staticmethod
    def _query(terms: list[str], tags: TagGroups = ()) -> ColumnElement[Any]:
        return func.to_tsquery(literal_column("'simple'::regconfig"), tsquery_expression(terms, tags))

    def candidates(
        self,
        conditions: list[ColumnElement[bool]],
        terms: list[str],
        tags: TagGroups,
        cap: int,
        *,
        ranked: bool,
    ) -> Any:
        columns: list[Any] = [SearchDocument.product_id.label("id")]
        if ranked:
            # float8, so a rank read back into a cursor compares equal to the one in the database
            columns.append(cast(func.ts_rank_cd(SearchDocument.tsv, self._query(terms)), Float).label("rank"))
        return (
            select(*columns)
            .where(SearchDocument.tsv.op("@@")(self._query(terms, tags)), *conditions)
            .limit(cap)
            .cte("fts_ranked" if ranked else "fts_hits")
            .prefix_with("MATERIALIZED")
        )

    def restrict(self, stmt: Select[Any], terms: list[str], tags: TagGroups) -> Select[Any]:
        return stmt.where(SearchDocument.tsv.op("@@")(self._query(terms, tags)))


def text_search_for(session: AsyncSession) -> TextSearch:
    return SqliteTextSearch() if dialect_of(session) == "sqlite" else PostgresTextSearch()
