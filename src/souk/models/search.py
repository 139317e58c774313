"""The search document of a product, written in the same transaction as the product.

The filterable fields live here on both databases. The full-text index is per dialect:
PostgreSQL keeps a ``tsvector`` column with a GIN index (title words weighted A, body words B, the 2- and
3-letter prefixes of every word C, the category tokens D); SQLite keeps an FTS5 table ``search_fts``
(rowid = product id, columns title, body, tags, with a prefix index) created next to this table (see
``souk.search.backends`` and docs/adr/0002-search-index.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, ForeignKey, Index, String, Text, event
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from souk.models.base import Base, _now

FTS_TABLE = "search_fts"
# title and body are the folded text; tags holds one token per category of the product's path ("c3 c17"), so a
# category filter is a posting-list intersection inside FTS5; prefix='2 3' keeps an index of every 2- and
# 3-letter prefix, so a short prefix query reads one posting list instead of every term that starts with it
SQLITE_FTS_DDL = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    "title, body, tags, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"
)


class SearchDocument(Base):
    __tablename__ = "search_documents"

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    # "/3/17/42/": the category and its ancestors, for "this category and below" filters
    category_path: Mapped[str] = mapped_column(String(200), index=True)
    trade_model: Mapped[str] = mapped_column(String(12))
    currency: Mapped[str] = mapped_column(String(3))
    min_price_amount: Mapped[int]
    max_price_amount: Mapped[int]
    visible: Mapped[bool] = mapped_column(default=False)
    # folded (lower-case, accents removed) text, the same on both databases
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    product_created_at: Mapped[datetime]
    indexed_at: Mapped[datetime] = mapped_column(default=_now)
    tsv: Mapped[str | None] = mapped_column(TSVECTOR().with_variant(Text(), "sqlite"))

    __table_args__ = (
        Index("ix_search_documents_visible_created", "visible", "product_created_at"),
        Index("ix_search_documents_visible_price", "visible", "currency", "min_price_amount"),
        Index("ix_search_documents_tsv", "tsv", postgresql_using="gin"),
    )


event.listen(
    SearchDocument.__table__,
    "after_create",
    DDL(SQLITE_FTS_DDL).execute_if(dialect="sqlite"),
)
event.listen(
    SearchDocument.__table__,
    "after_drop",
    DDL(f"DROP TABLE IF EXISTS {FTS_TABLE}").execute_if(dialect="sqlite"),
)
