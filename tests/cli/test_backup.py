"""``souk backup`` and ``souk restore``, run in-process against a temp data dir and its own database (the
embedded SQLite default, or fresh PostgreSQL databases when SOUK_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from fixtures.core import is_postgres
from fixtures.databases import fresh_database, run_async
from souk import cli
from souk.config import Settings
from souk.db import create_engine, create_sessionmaker
from souk.models import LedgerEntry, Notification, Order, User

runner = CliRunner()


@dataclass
class Env:
    data_dir: Path
    database_url: str
    vars: dict[str, str | None]


def _env(tmp_path: Path, name: str) -> Iterator[Env]:
    data_dir = tmp_path / name
    with fresh_database(tmp_path, name) as url:
        explicit = url if is_postgres() else None
        yield Env(
            data_dir=data_dir,
            database_url=explicit or Settings(data_dir=data_dir).resolved_database_url,
            vars={
                "SOUK_DATA_DIR": str(data_dir),
                "SOUK_DATABASE_URL": explicit,
                "SOUK_PASSWORD_HASH_PROFILE": "cheapest",
                "COLUMNS": "200",
            },
        )


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    """The marketplace that is backed up."""
    yield from _env(tmp_path, "backup")


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Env]:
    """An empty data dir (and database) to restore into."""
    yield from _env(tmp_path, "restored")


def souk(env: Env, *args: str, input: str | None = None) -> Result:
    return runner.invoke(cli.app, list(args), env=env.vars, input=input)


def words(result: Result) -> str:
    return " ".join(result.output.split())


def counts(url: str) -> dict[str, int]:
    async def go() -> dict[str, int]:
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as session:
                return {
                    "orders": int(await session.scalar(select(func.count(Order.id))) or 0),
                    "ledger": int(await session.scalar(select(func.count(LedgerEntry.id))) or 0),
                    "notifications": int(await session.scalar(select(func.count(Notification.id))) or 0),
                }
        finally:
            await engine.dispose()

    return run_async(go())


class Writer:
    """Inserts notifications, one transaction each, until stopped (a busy marketplace during the backup)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.written = 0
        self.started = threading.Event()
        self.stop = threading.Event()

    async def run(self) -> None:
        engine = create_engine(self.url)
        try:
            sessionmaker = create_sessionmaker(engine)
            async with sessionmaker() as session:
                user_id = await session.scalar(select(User.id).order_by(User.id).limit(1))
            assert user_id is not None
            for _ in range(5000):  # bounded, whatever happens to the test
                if self.stop.is_set():
                    break
                async with sessionmaker() as session, session.begin():
                    session.add(Notification(user_id=user_id, kind="test.tick", title=f"tick {self.written}"))
                self.written += 1
                self.started.set()
                await asyncio.sleep(0.001)
        finally:
            self.started.set()
            await engine.dispose()


@pytest.fixture
def demo(env: Env) -> Env:
    result = souk(env, "demo", "--no-serve", "--size", "small")
    assert result.exit_code == 0, result.output
    return env


def test_backup_while_writing_then_restore_into_a_fresh_marketplace(
    demo: Env, fresh: Env, tmp_path: Path
) -> None:
    target = tmp_path / "backups" / ("souk.dump" if is_postgres() else "souk.db")
    writer = Writer(demo.database_url)
    thread = threading.Thread(target=run_async, args=(writer.run(),), daemon=True)
    thread.start()
    try:
        assert writer.started.wait(30)
        before = counts(demo.database_url)
        written_before = writer.written
        backed_up = souk(demo, "backup", str(target))
        written_after = writer.written
    finally:
        writer.stop.set()
        thread.join(30)
    assert backed_up.exit_code == 0, backed_up.output
    after = counts(demo.database_url)
    assert written_before >= 1 and written_after > written_before  # the backup ran while rows were written
    assert after["notifications"] > before["notifications"]
    assert before["orders"] > 0 and before["ledger"] > 0  # the demo has money in it
    size = target.stat().st_size
    assert size > 0
    assert f"to {target.resolve()}" in words(backed_up)
    assert "Uploaded files are not in the database" in words(backed_up)
    assert str((demo.data_dir / "uploads").resolve()) in words(backed_up)
    assert not list(target.parent.glob(".*.tmp"))  # nothing but the backup file is written
    assert [p.name for p in target.parent.iterdir()] == [target.name]

    restored = souk(fresh, "restore", str(target), "--yes")
    assert restored.exit_code == 0, restored.output
    text = words(restored)
    assert f"now at revision {cli.head_revision()}" in text
    assert f"{before['orders']} orders" in text and f"{before['ledger']} ledger entries" in text
    assert str((fresh.data_dir / "uploads").resolve()) in text

    got = counts(fresh.database_url)
    # orders and ledger entries are those of the backup moment; the notifications written meanwhile are
    # there up to a consistent point between the start and the end of the backup
    assert got["orders"] == before["orders"] and got["ledger"] == before["ledger"]
    assert before["notifications"] <= got["notifications"] <= after["notifications"]
    assert got["notifications"] <= before["notifications"] + (written_after - written_before)
    audited = souk(fresh, "audit")
    assert audited.exit_code == 0, audited.output
    assert "checks passed" in audited.output


def test_backup_refuses_to_overwrite_without_force(demo: Env, tmp_path: Path) -> None:
    target = tmp_path / "existing.bak"
    target.write_text("keep me")
    refused = souk(demo, "backup", str(target))
    assert refused.exit_code == 1
    assert "already exists; pass --force to overwrite it" in words(refused)
    assert target.read_text() == "keep me"

    forced = souk(demo, "backup", str(target), "--force")
    assert forced.exit_code == 0, forced.output
    assert target.stat().st_size > 1000


def test_restore_refuses_a_file_that_is_not_a_souk_database(fresh: Env, tmp_path: Path) -> None:
    junk = tmp_path / "notes.db"
    junk.write_text("this is not a database at all\n" * 20)
    result = souk(fresh, "restore", str(junk), "--yes")
    assert result.exit_code == 1
    assert "not a Souk" in words(result) or "not a PostgreSQL custom-format dump" in words(result)
    assert cli.head_revision() and run_async(cli.current_revision(fresh.database_url)) is None

    missing = souk(fresh, "restore", str(tmp_path / "nothing.db"), "--yes")
    assert missing.exit_code == 1 and "there is no file at" in words(missing)


@pytest.mark.skipif(is_postgres(), reason="the SQLite file checks")
def test_restore_refuses_other_sqlite_files_newer_revisions_and_a_busy_database(
    demo: Env, fresh: Env, tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE things (id INTEGER PRIMARY KEY)")
    conn.close()
    result = souk(fresh, "restore", str(other), "--yes")
    assert result.exit_code == 1 and "is a SQLite database but not a Souk one" in words(result)

    backup = tmp_path / "souk.db"
    assert souk(demo, "backup", str(backup)).exit_code == 0
    newer = tmp_path / "newer.db"
    shutil.copy(backup, newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    conn.close()
    result = souk(fresh, "restore", str(newer), "--yes")
    assert result.exit_code == 1
    assert "is at revision ffffffffffff, which this version of Souk does not know" in words(result)

    # not confirmed: nothing changes
    declined = souk(fresh, "restore", str(backup), input="n\n")
    assert declined.exit_code == 1 and "nothing restored" in words(declined)
    assert not (fresh.data_dir / "souk.db").exists()

    # the database being written to by someone else: refused, untouched
    database = demo.data_dir / "souk.db"
    busy = sqlite3.connect(database, isolation_level=None)
    try:
        busy.execute("BEGIN IMMEDIATE")
        result = souk(demo, "restore", str(backup), "--yes")
    finally:
        busy.execute("ROLLBACK")
        busy.close()
    assert result.exit_code == 1 and "is in use; stop Souk" in words(result)

    confirmed = souk(fresh, "restore", str(backup), input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert "Restored" in confirmed.output
    assert counts(fresh.database_url)["orders"] == counts(demo.database_url)["orders"]


def test_postgres_tools_get_the_password_in_the_environment_and_are_named_when_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from souk import backup as backups

    url = "postgresql+asyncpg://souk:s3cret@db.internal:6543/shop"
    args, environ = backups.libpq_args(url)
    assert args == [
        "--host",
        "db.internal",
        "--port",
        "6543",
        "--username",
        "souk",
        "--dbname",
        "shop",
        "--no-password",
    ]
    assert environ["PGPASSWORD"] == "s3cret" and "s3cret" not in " ".join(args)

    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump, no pg_restore
    with pytest.raises(backups.BackupError, match="pg_dump is not on PATH"):
        backups.backup_postgres(url, tmp_path / "x.dump", force=False)
    with pytest.raises(backups.BackupError, match="pg_restore is not on PATH"):
        backups.postgres_backup_revision(tmp_path / "x.dump")
    assert not (tmp_path / "x.dump").exists()
