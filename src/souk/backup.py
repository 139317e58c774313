"""Back up and restore the database: ``souk backup PATH`` and ``souk restore PATH``.

The embedded SQLite database is copied with SQLite's online backup API (safe while Souk runs: the copy is one
consistent snapshot, writers are not blocked) and restored by replacing the database file atomically.
PostgreSQL is handed to ``pg_dump --format=custom`` and ``pg_restore``, which must be on PATH.

Uploaded files (``<data dir>/uploads``) and ``secret.key`` are not in the database: the operator copies the
data dir alongside (see docs/operator.md, "Back up and restore").
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, make_url

from souk.db import create_engine
from souk.migrate import alembic_config

# (done, total) in SQLite pages
PageProgress = Callable[[int, int], None]

# tables whose presence makes a database a Souk one, and whose rows the restore summary counts
SOUK_TABLES = ("users", "stores", "products", "orders", "ledger_entries")
# pages copied per backup step (the snapshot is held across steps, so writers never restart it)
PAGES_PER_STEP = 512


class BackupError(Exception):
    """A backup or restore that must not go ahead; the message says why and what to do."""


@dataclass
class Written:
    path: Path
    size: int


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for PostgreSQL (or an in-memory database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def check_target(path: Path, force: bool) -> None:
    if path.is_dir():
        raise BackupError(f"{path} is a directory; give the path of the backup file to write.")
    if path.exists() and not force:
        raise BackupError(f"{path} already exists; pass --force to overwrite it.")
    path.parent.mkdir(parents=True, exist_ok=True)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be opened
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _copy_sqlite(source: sqlite3.Connection, target_path: Path, progress: PageProgress | None) -> None:
    """Copy ``source`` into a new file at ``target_path`` (a self-contained file: rollback journal, not WAL)."""

    def step(_status: int, remaining: int, total: int) -> None:
        if progress is not None:
            progress(total - remaining, total)

    target = sqlite3.connect(target_path)
    try:
        source.backup(target, pages=PAGES_PER_STEP, progress=step)
        target.execute("PRAGMA journal_mode=DELETE")
        target.commit()
    finally:
        target.close()
    with open(target_path, "rb") as handle:
        os.fsync(handle.fileno())


@contextlib.contextmanager
def _snapshot(database: Path) -> Iterator[sqlite3.Connection]:
    """A connection holding one read transaction: in WAL mode the backup copies this snapshot while other
    connections keep writing, instead of restarting every time one commits."""
    conn = sqlite3.connect(database, timeout=10, isolation_level=None)
    try:
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        yield conn
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        conn.close()


def backup_sqlite(
    database: Path, target: Path, *, force: bool, progress: PageProgress | None = None
) -> Written:
    """Write a consistent copy of the SQLite ``database`` to ``target`` (nothing else is copied)."""
    if not database.is_file():
        raise BackupError(f"there is no database at {database}; nothing to back up.")
    check_target(target, force)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with _snapshot(database) as source:
            _copy_sqlite(source, temp, progress)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    _fsync_dir(target.parent)
    return Written(target, target.stat().st_size)


# --- checking a backup ------------------------------------------------------------------------------


def check_revision(revision: str | None, what: str) -> str:
    """``revision`` when this version of Souk knows it; a BackupError otherwise."""
    if not revision:
        raise BackupError(f"{what} has no migration revision (its alembic_version table is empty).")
    scripts = ScriptDirectory.from_config(alembic_config())
    try:
        known = scripts.get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise BackupError(
            f"{what} is at revision {revision}, which this version of Souk does not know (it was made by a "
            "newer version?). Install that version of Souk to restore it."
        )
    return revision


def sqlite_backup_revision(path: Path) -> str:
    """The migration revision of a SQLite backup file, after checking it is a Souk database."""
    if not path.is_file():
        raise BackupError(f"there is no file at {path}.")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "alembic_version" not in tables or not set(SOUK_TABLES) <= tables:
                raise BackupError(f"{path} is a SQLite database but not a Souk one (no Souk tables in it).")
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a Souk SQLite database ({exc}).") from exc
    return check_revision(row[0] if row else None, str(path))


def sqlite_lock_free(database: Path) -> bool:
    """True when nothing else is using the database right now (an exclusive lock can be had at once)."""
    if not database.exists():
        return True
    conn = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


def restore_sqlite(backup: Path, database: Path, *, progress: PageProgress | None = None) -> None:
    """Replace the SQLite ``database`` with a copy of ``backup`` atomically; stale -wal/-shm files go."""
    database.parent.mkdir(parents=True, exist_ok=True)
    temp = database.with_name(f".{database.name}.restore-{os.getpid()}.tmp")
    try:
        source = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
        try:
            _copy_sqlite(source, temp, progress)
        finally:
            source.close()
        if not sqlite_lock_free(database):
            raise BackupError(f"{database} is in use; stop Souk (serve and worker) and try again.")
        os.replace(temp, database)
    finally:
        temp.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    _fsync_dir(database.parent)


# --- PostgreSQL ---------------------------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not on PATH. Install the PostgreSQL client tools (e.g. apt install postgresql-client, "
            f"of the server's major version or newer) so that {name} can be found."
        )
    return found


def libpq_args(url: str) -> tuple[list[str], dict[str, str]]:
    """(connection options, environment) for pg_dump/pg_restore from a SQLAlchemy URL: the password goes in
    PGPASSWORD, never on the command line."""
    parsed: URL = make_url(url)
    if not parsed.database:
        raise BackupError("SOUK_DATABASE_URL names no database.")
    args: list[str] = []
    if parsed.host:
        args += ["--host", parsed.host]
    if parsed.port:
        args += ["--port", str(parsed.port)]
    if parsed.username:
        args += ["--username", parsed.username]
    args += ["--dbname", parsed.database]
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    ssl = parsed.query.get("ssl") or parsed.query.get("sslmode")
    if isinstance(ssl, str):
        env["PGSSLMODE"] = {"true": "require", "false": "disable"}.get(ssl, ssl)
    return [*args, "--no-password"], env


def _run(command: list[str], env: dict[str, str], password: str | None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip()
        if password:
            message = message.replace(password, "***")
        raise BackupError(f"{Path(command[0]).name} failed: {message}")
    return result


def backup_postgres(url: str, target: Path, *, force: bool) -> Written:
    """``pg_dump --format=custom`` of the database into ``target``."""
    pg_dump = _tool("pg_dump")
    check_target(target, force)
    args, env = libpq_args(url)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        _run([pg_dump, "--format=custom", "--file", str(temp), *args], env, make_url(url).password)
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return Written(target, target.stat().st_size)


def postgres_backup_revision(path: Path) -> str:
    """The migration revision inside a ``pg_dump --format=custom`` file, after checking it is a Souk dump."""
    pg_restore = _tool("pg_restore")
    if not path.is_file():
        raise BackupError(f"there is no file at {path}.")
    listing = subprocess.run(  # noqa: S603
        [pg_restore, "--list", str(path)], capture_output=True, text=True, check=False
    )
    if listing.returncode != 0:
        raise BackupError(f"{path} is not a PostgreSQL custom-format dump (pg_dump --format=custom).")
    tables = set(re.findall(r"\bTABLE \S+ (\w+) ", listing.stdout))
    if "alembic_version" not in tables or not set(SOUK_TABLES) <= tables:
        raise BackupError(f"{path} is a PostgreSQL dump but not of a Souk database (no Souk tables in it).")
    data = subprocess.run(  # noqa: S603
        [pg_restore, "--data-only", "--table=alembic_version", "--file=-", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"^COPY \S*alembic_version .*?FROM stdin;\n(\w+)$", data.stdout, re.MULTILINE)
    return check_revision(match.group(1) if match else None, str(path))


def restore_postgres(backup: Path, url: str) -> None:
    """``pg_restore --clean --if-exists --no-owner`` of ``backup`` into the database, in one transaction."""
    pg_restore = _tool("pg_restore")
    args, env = libpq_args(url)
    command = [pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction", *args, str(backup)]
    _run(command, env, make_url(url).password)


# --- summary ------------------------------------------------------------------------------------------


async def table_counts(url: str) -> dict[str, int]:
    """Rows in each of the Souk tables the restore summary shows."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            present = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
            counts: dict[str, int] = {}
            for table in SOUK_TABLES:
                if table in present:
                    counts[table] = int(
                        (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar() or 0
                    )
            return counts
    finally:
        await engine.dispose()


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size:,} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size:,} bytes"  # pragma: no cover
