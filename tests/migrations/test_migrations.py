"""The migration chain builds exactly the models' schema, on SQLite and on PostgreSQL.

A model change without a migration fails ``test_upgrade_gives_exactly_the_models_schema``: write the
migration (``alembic revision --autogenerate``) in the same change.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from fixtures.core import is_postgres
from fixtures.databases import fresh_database, run_async
from souk.app import create_app
from souk.cli import app as cli_app
from souk.config import Settings
from souk.db import create_engine
from souk.migrate import ROOT, alembic_config, head_revision
from souk.models import Base
from souk.models.search import FTS_TABLE

VERSIONS = ROOT / "migrations" / "versions"


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database(tmp_path, "mig") as url:
        yield url


def _config(url: str) -> Config:
    cfg = alembic_config(url)
    cfg.attributes["configure_logger"] = False
    return cfg


def _include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    # the same rule as migrations/env.py: SQLite's FTS5 table and its shadow tables are not models
    return not (type_ == "table" and name is not None and name.startswith(FTS_TABLE))


async def _on(url: str, fn: Any) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


def _differences(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(
        conn,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_object": _include,
            "target_metadata": Base.metadata,
        },
    )
    return list(compare_metadata(context, Base.metadata))


def _tables(conn: Connection) -> set[str]:
    names = set(inspect(conn).get_table_names())
    if conn.dialect.name == "sqlite":
        rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars()
        names |= {str(n) for n in rows if not str(n).startswith("sqlite_")}
    return names


def _version(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def test_one_chain_with_one_head_and_dated_file_names() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    assert script.get_current_head() == head_revision()
    files = sorted(p.name for p in VERSIONS.glob("*.py"))
    assert files, "no migrations"
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}-\d{4}_[a-z0-9_]+\.py", name) for name in files), files
    assert len(list(script.walk_revisions())) == len(files)


def test_migrations_do_not_import_app_code() -> None:
    for path in VERSIONS.glob("*.py"):
        source = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+souk\b", source, re.MULTILINE), path.name


def test_upgrade_gives_exactly_the_models_schema(database_url: str) -> None:
    command.upgrade(_config(database_url), "head")

    assert run_async(_on(database_url, _differences)) == []
    assert run_async(_on(database_url, _version)) == head_revision()
    tables = run_async(_on(database_url, _tables))
    assert set(Base.metadata.tables) <= tables
    if is_postgres():
        assert FTS_TABLE not in tables
    else:
        assert FTS_TABLE in tables


@pytest.mark.skipif(is_postgres(), reason="the FTS5 table exists on SQLite only")
def test_sqlite_fts_table_folds_accents(database_url: str) -> None:
    command.upgrade(_config(database_url), "head")

    def search(conn: Connection) -> list[int]:
        conn.execute(
            text(f"INSERT INTO {FTS_TABLE} (rowid, title, body) VALUES (7, 'Crème brûlée', 'naïve café')")
        )
        hits = conn.execute(text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH 'creme AND cafe'"))
        return [int(r) for r in hits.scalars()]

    assert run_async(_on(database_url, search)) == [7]


def test_downgrade_to_base_and_up_again(database_url: str) -> None:
    cfg = _config(database_url)
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")

    assert run_async(_on(database_url, _tables)) == {"alembic_version"}
    assert run_async(_on(database_url, _version)) is None

    command.upgrade(cfg, "head")
    assert run_async(_on(database_url, _differences)) == []


def _append_only_objects(conn: Connection) -> set[str]:
    """The ledger's append-only triggers (and, on PostgreSQL, their function) in the database."""
    if conn.dialect.name == "sqlite":
        rows = conn.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'ledger_%'")
        )
        return {str(n) for n in rows.scalars()}
    triggers = conn.execute(
        text(
            "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND c.relname LIKE 'ledger_%'"
        )
    ).scalars()
    functions = conn.execute(
        text("SELECT proname FROM pg_proc WHERE proname = 'ledger_append_only'")
    ).scalars()
    return {str(n) for n in triggers} | {f"function {n}" for n in functions}


def _update_refused(conn: Connection) -> str:
    """Insert an entry and try to change it: the database's refusal, or "" when it let it through. Rolled back."""
    transaction = conn.begin()
    try:
        conn.execute(
            text(
                "INSERT INTO ledger_entries (idempotency_key, kind, memo, created_at) "
                "VALUES ('mig-test', 'payment_captured', '', CURRENT_TIMESTAMP)"
            )
        )
        with conn.begin_nested():
            conn.execute(text("UPDATE ledger_entries SET memo = 'changed'"))
    except DBAPIError as exc:
        return str(exc)
    finally:
        transaction.rollback()
    return ""


def test_the_ledger_is_append_only_after_upgrade_and_not_after_downgrade(database_url: str) -> None:
    cfg = _config(database_url)
    script = ScriptDirectory.from_config(alembic_config())
    (append_only,) = [r for r in script.walk_revisions() if r.path.endswith("_ledger_append_only.py")]
    if is_postgres():
        expected = {
            "ledger_entries_append_only",
            "ledger_entries_no_truncate",
            "ledger_postings_append_only",
            "ledger_postings_no_truncate",
            "function ledger_append_only",
        }
    else:
        expected = {
            "ledger_entries_no_update",
            "ledger_entries_no_delete",
            "ledger_postings_no_update",
            "ledger_postings_no_delete",
        }
    command.upgrade(cfg, "head")
    assert run_async(_on(database_url, _append_only_objects)) == expected
    assert "ledger_entries is append-only; UPDATE is not allowed" in run_async(
        _on(database_url, _update_refused)
    )

    assert isinstance(append_only.down_revision, str)
    command.downgrade(cfg, append_only.down_revision)
    assert run_async(_on(database_url, _append_only_objects)) == set()
    assert run_async(_on(database_url, _update_refused)) == ""

    command.upgrade(cfg, "head")
    assert run_async(_on(database_url, _append_only_objects)) == expected


async def test_readyz_is_503_until_souk_migrate(tmp_path: Path, database_url: str) -> None:
    data_dir = tmp_path / "data"
    app = create_app(Settings(data_dir=data_dir, database_url=database_url, secret_key="readyz-test"))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:
            before = await client.get("/readyz")
            assert before.status_code == 503
            assert before.json() == {"status": "not ready"}

            result = await asyncio.to_thread(
                CliRunner().invoke,
                cli_app,
                ["migrate"],
                env={"SOUK_DATABASE_URL": database_url, "SOUK_DATA_DIR": str(data_dir)},
            )
            assert result.exit_code == 0, result.output
            assert head_revision() in result.output

            after = await client.get("/readyz")
            assert after.status_code == 200
            assert after.json() == {"status": "ready"}
            assert (await client.get("/healthz")).json() == {"status": "ok"}
    finally:
        await app.state.db.dispose()
