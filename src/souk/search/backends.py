"""The full-text half of the search index, one implementation per database.

Both index the same folded text (``souk.kit.text.fold``: lower case, accents removed), so a query typed
with or without accents finds the same products. SQLite: an FTS5 table ``search_fts`` (rowid = product id).
PostgreSQL: the ``search_documents.tsv`` column (``simple`` configuration, title weighted A, body B) with a
GIN index.

The query side (``TextSearch``) turns the words of a query into the database's own full-text syntax:
every word must match, the last one as a prefix. The words come from ``query_words`` (folded like the
index, only letters and digits) and are quoted, so nothing a person types is read as an operator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    bindparam,
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


class TextIndex(Protocol):
    async def write(self, session: AsyncSession, rows: Sequence[tuple[int, str, str]]) -> None:
        """(product_id, folded title, folded body) for each product; replaces what was there."""

    async def delete(self, session: AsyncSession, product_ids: Sequence[int]) -> None: ...


class SqliteTextIndex:
    async def write(self, session: AsyncSession, rows: Sequence[tuple[int, str, str]]) -> None:
        if not rows:
            return
        await self.delete(session, [r[0] for r in rows])
        await session.execute(
            text(f"INSERT INTO {FTS_TABLE} (rowid, title, body) VALUES (:id, :title, :body)"),
            [{"id": pid, "title": title, "body": body} for pid, title, body in rows],
        )

    async def delete(self, session: AsyncSession, product_ids: Sequence[int]) -> None:
        if not product_ids:
            return
        await session.execute(
            text(f"DELETE FROM {FTS_TABLE} WHERE rowid IN :ids").bindparams(bindparam("ids", expanding=True)),
            {"ids": list(product_ids)},
        )


class PostgresTextIndex:
    async def write(self, session: AsyncSession, rows: Sequence[tuple[int, str, str]]) -> None:
        if not rows:
            return
        # the documents were just upserted with the folded title and body; derive the tsvector in SQL
        await session.execute(
            update(SearchDocument)
            .where(SearchDocument.product_id.in_([r[0] for r in rows]))
            .values(
                tsv=text(
                    "setweight(to_tsvector('simple', search_documents.title), 'A') || "
                    "setweight(to_tsvector('simple', search_documents.body), 'B')"
                )
            )
        )

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


class TextSearch(Protocol):
    """Full-text matching and ranking for one database."""

    # True when a larger rank is a better match
    rank_descending: bool

    def restrict(self, stmt: Select[Any], terms: list[str]) -> Select[Any]:
        """``stmt`` (over ``search_documents``) limited to documents matching every term."""

    def rank(self, terms: list[str]) -> ColumnElement[float]:
        """How well a document matches, for ordering (only valid in a statement passed to ``restrict``)."""


_FTS = table(FTS_TABLE, column("rowid"))
_FTS_REF: ColumnElement[Any] = literal_column(FTS_TABLE)


def fts5_expression(terms: list[str]) -> str:
    """``"cafe" "crem"*``: each term an FTS5 string (implicit AND), the last one a prefix."""
    quoted = ['"' + term.replace('"', '""') + '"' for term in terms]
    quoted[-1] += "*"
    return " ".join(quoted)


def tsquery_expression(terms: list[str]) -> str:
    """``'cafe' & 'crem':*``: each term a quoted lexeme, all required, the last one a prefix."""
    quoted = ["'" + term.replace("\\", "\\\\").replace("'", "''") + "'" for term in terms]
    quoted[-1] += ":*"
    return " & ".join(quoted)


class SqliteTextSearch:
    """FTS5 ``MATCH`` on ``search_fts``, ranked by ``bm25`` with the title weighing ten times the body.

    The matches are computed once per statement in a ``MATERIALIZED`` CTE (rowid + rank) that the documents
    join: left to itself, SQLite may scan the documents and re-run the MATCH for each of them."""

    rank_descending = False  # bm25 is negative; more negative is better

    def __init__(self) -> None:
        self._hits: dict[tuple[str, ...], Any] = {}

    def _hits_for(self, terms: list[str]) -> Any:
        key = tuple(terms)
        if key not in self._hits:
            rank = func.bm25(_FTS_REF, literal_column("10.0"), literal_column("1.0"))
            self._hits[key] = (
                select(_FTS.c.rowid.label("id"), rank.label("rank"))
                .where(_FTS_REF.match(fts5_expression(terms)))
                .cte("fts_hits")
                .prefix_with("MATERIALIZED")
            )
        return self._hits[key]

    def restrict(self, stmt: Select[Any], terms: list[str]) -> Select[Any]:
        hits = self._hits_for(terms)
        return stmt.join(hits, hits.c.id == SearchDocument.product_id)

    def rank(self, terms: list[str]) -> ColumnElement[float]:
        rank: ColumnElement[float] = self._hits_for(terms).c.rank
        return rank


class PostgresTextSearch:
    """``tsv @@ to_tsquery('simple', ...)`` on the GIN-indexed column, ranked by ``ts_rank_cd``."""

    rank_descending = True

    @staticmethod
    def _query(terms: list[str]) -> ColumnElement[Any]:
        return func.to_tsquery(literal_column("'simple'::regconfig"), tsquery_expression(terms))

    def restrict(self, stmt: Select[Any], terms: list[str]) -> Select[Any]:
        return stmt.where(SearchDocument.tsv.op("@@")(self._query(terms)))

    def rank(self, terms: list[str]) -> ColumnElement[float]:
        # float8, so a rank read back into a cursor compares equal to the one in the database
        return cast(func.ts_rank_cd(SearchDocument.tsv, self._query(terms)), Float)


def text_search_for(session: AsyncSession) -> TextSearch:
    return SqliteTextSearch() if dialect_of(session) == "sqlite" else PostgresTextSearch()
