"""The database keeps the ledger append-only: triggers refuse every UPDATE and DELETE of ``ledger_entries`` and
``ledger_postings`` (and TRUNCATE on PostgreSQL), whoever sends it. A correction is a reversing entry
(``ledger_service.reverse``). The cached balances (``ledger_account_balances``) are not covered: they are a cache
updated in place.

The SQL is here once for the models (``souk.models.ledger`` attaches it to ``create_all``); the migration that
adds the triggers keeps its own copy (migrations never import souk), and a test checks that the two agree.
The refusal reads "<table> is append-only; <UPDATE|DELETE|TRUNCATE> is not allowed" on both databases.
"""

from __future__ import annotations

APPEND_ONLY_TABLES = ("ledger_entries", "ledger_postings")
MESSAGE = "{table} is append-only; {op} is not allowed"

# --- SQLite: one trigger per table and statement, RAISE(ABORT) rolls back the statement -----------------------


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

# --- PostgreSQL: one function raising, a row trigger (UPDATE, DELETE) and a statement trigger (TRUNCATE) ---------

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


def refusal(table: str, op: str) -> str:
    """The message the database gives when ``op`` ("UPDATE", "DELETE") is tried on ``table``."""
    return MESSAGE.format(table=table, op=op)
