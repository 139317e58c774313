"""Ledger is append-only: triggers refuse UPDATE and DELETE of ledger_entries and ledger_postings (and TRUNCATE
on PostgreSQL); a correction is a reversing entry, and an entry is reversed once at most (a unique partial index).

Migrations never import souk, so the SQL is a copy of ``souk.ledger.append_only`` (the models attach that one to
``create_all``); tests/ledger/test_append_only.py checks that the two agree.

Revision ID: 2ca209b49b41
Revises: d92d237ae438
Create Date: 2026-11-25 01:31:44.809763
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2ca209b49b41"
down_revision: str | None = "d92d237ae438"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# --- a copy of souk.ledger.append_only ----------------------------------------------------------------------

APPEND_ONLY_TABLES = ("ledger_entries", "ledger_postings")
MESSAGE = "{table} is append-only; {op} is not allowed"


def _sqlite_trigger(table: str, op: str) -> str:
    return (
        f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE.format(table=table, op=op)}'); END"
    )


SQLITE_CREATE: dict[str, tuple[str, ...]] = {
    table: tuple(_sqlite_trigger(table, op) for op in ("UPDATE", "DELETE")) for table in APPEND_ONLY_TABLES
}
SQLITE_DROP: dict[str, tuple[str, ...]] = {
    table: tuple(f"DROP TRIGGER IF EXISTS {table}_no_{op}" for op in ("update", "delete"))
    for table in APPEND_ONLY_TABLES
}

PG_FUNCTION = "ledger_append_only"
PG_CREATE_FUNCTION = (
    f"CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION USING ERRCODE = 'restrict_violation', "
    "MESSAGE = TG_TABLE_NAME || ' is append-only; ' || TG_OP || ' is not allowed'; END $$"
)
PG_DROP_FUNCTION = f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()"
PG_CREATE: dict[str, tuple[str, ...]] = {
    table: (
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {PG_FUNCTION}()",
    )
    for table in APPEND_ONLY_TABLES
}
PG_DROP: dict[str, tuple[str, ...]] = {
    table: (
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
    )
    for table in APPEND_ONLY_TABLES
}

# ------------------------------------------------------------------------------------------------------------


REVERSAL = sa.text("kind = 'reversal'")


def upgrade() -> None:
    # an entry is reversed once at most (no batch mode: rebuilding the table on SQLite would lose its triggers)
    op.create_index(
        "uq_ledger_entries_reversal_of",
        "ledger_entries",
        ["reference_id"],
        unique=True,
        sqlite_where=REVERSAL,
        postgresql_where=REVERSAL,
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        statements = [s for table in APPEND_ONLY_TABLES for s in SQLITE_CREATE[table]]
    elif dialect == "postgresql":
        statements = [PG_CREATE_FUNCTION, *(s for table in APPEND_ONLY_TABLES for s in PG_CREATE[table])]
    else:  # pragma: no cover - Souk runs on SQLite and PostgreSQL only
        raise NotImplementedError(f"no append-only triggers for {dialect}")
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        statements = [s for table in APPEND_ONLY_TABLES for s in SQLITE_DROP[table]]
    elif dialect == "postgresql":
        statements = [*(s for table in APPEND_ONLY_TABLES for s in PG_DROP[table]), PG_DROP_FUNCTION]
    else:  # pragma: no cover
        raise NotImplementedError(f"no append-only triggers for {dialect}")
    for statement in statements:
        op.execute(statement)
    op.drop_index("uq_ledger_entries_reversal_of", table_name="ledger_entries")
