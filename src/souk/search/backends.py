"""The full-text half of the search index, one implementation per database.

Both index the same folded text (``souk.kit.text.fold``: lower case, accents removed), so a query typed
with or without accents finds the same products. SQLite: an FTS5 table ``search_fts`` (rowid = product id).
PostgreSQL: the ``search_documents.tsv`` column (``simple`` configuration, title weighted A, body B) with a
GIN index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import bindparam, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from souk.db import dialect_of
from souk.models import SearchDocument
from souk.models.search import FTS_TABLE


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
