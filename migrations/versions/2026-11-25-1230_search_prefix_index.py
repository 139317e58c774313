"""Search index for short prefixes and selective filters: the FTS5 table gets a tags column (category tokens
"c3 c17" and price-bucket tokens "pusd10") and a prefix index of 2 and 3 letters; the PostgreSQL tsvector gets
the 2- and 3-letter prefixes of every word (weight C) and the same tags (weight D). Both are rebuilt from
search_documents.

Revision ID: 5b8e0c4f7a21
Revises: 9c41d7a2e6b3
Create Date: 2026-11-25 12:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5b8e0c4f7a21"
down_revision: str | None = "9c41d7a2e6b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the SQL lives here, not imported from the app: a migration must not change when the app does.
# Price bucket k >= 1 holds minor units [2**(k-1), 2**k - 1], bucket 0 holds 0; a document has the token
# "p<currency><k>" of every bucket its min..max price touches.
_PRICE_TAGS = " || ".join(
    f"(CASE WHEN max_price_amount >= {lo} AND min_price_amount <= {hi} "
    f"THEN ' p' || lower(currency) || '{k}' ELSE '' END)"
    for k in range(32)
    for lo, hi in [(0, 0) if k == 0 else (2 ** (k - 1), 2**k - 1)]
)
SQLITE_TAGS = f"('c' || replace(trim(category_path, '/'), '/', ' c') || {_PRICE_TAGS})"
PG_TAGS = f"('c' || replace(btrim(search_documents.category_path, '/'), '/', ' c') || {_PRICE_TAGS})"
PG_TSV_V2 = (
    "setweight(to_tsvector('simple', search_documents.title), 'A') || "
    "setweight(to_tsvector('simple', search_documents.body), 'B') || "
    "setweight(to_tsvector('simple', coalesce((SELECT string_agg(DISTINCT left(w, k), ' ') "
    "FROM unnest(tsvector_to_array(to_tsvector('simple', search_documents.title || ' ' || "
    "search_documents.body))) AS w, (VALUES (2), (3)) AS p(k) WHERE length(w) > k), '')), 'C') || "
    f"setweight(to_tsvector('simple', {PG_TAGS}), 'D')"
)
PG_TSV_V1 = (
    "setweight(to_tsvector('simple', search_documents.title), 'A') || "
    "setweight(to_tsvector('simple', search_documents.body), 'B')"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS search_fts")
        op.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5("
            "title, body, tags, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"
        )
        op.execute(
            f"INSERT INTO search_fts (rowid, title, body, tags) SELECT product_id, title, body, {SQLITE_TAGS} "
            "FROM search_documents"
        )
    else:
        op.execute(f"UPDATE search_documents SET tsv = {PG_TSV_V2}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS search_fts")
        op.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 2')"
        )
        op.execute(
            "INSERT INTO search_fts (rowid, title, body) SELECT product_id, title, body FROM search_documents"
        )
    else:
        op.execute(f"UPDATE search_documents SET tsv = {PG_TSV_V1}")
