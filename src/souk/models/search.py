"""The search document of a product, written in the same transaction as the product.

The filterable fields live here on both databases. The full-text index is per dialect:
PostgreSQL keeps a ``tsvector`` column with a GIN index; SQLite keeps an FTS5 table ``search_fts``
(rowid = product id) created next to this table (see ``souk.search.backends``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, ForeignKey, Index, String, Text, event
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from souk.models.base import Base, _now

FTS_TABLE = "search_fts"
SQLITE_FTS_DDL = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    "title, body, tokenize = 'unicode61 remove_diacritics 2')"
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
