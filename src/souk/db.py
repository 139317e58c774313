"""Engines and sessions.

SQLite (the embedded default) runs in WAL mode with foreign keys on, a busy timeout, and every transaction
opened with ``BEGIN IMMEDIATE`` so that write transactions and SAVEPOINTs serialise instead of failing with
"database is locked" half-way; ``PRAGMA synchronous`` is FULL (every commit synced) unless
``SOUK_SQLITE_SYNCHRONOUS=NORMAL``. PostgreSQL runs with a small pool sized for two cores.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_only

from souk.config import Settings

# how long a transaction waits for its turn among the others of its process (they queue in arrival order; a
# burst of requests on one SQLite file is served one transaction at a time), before "database is locked"
SQLITE_TURN_SECONDS = 60.0


class _WriterTurns:
    """One transaction at a time per engine and event loop, in arrival order. SQLite lets one writer in at a
    time; left to its busy handler, dozens of connections of one process poll for the lock with growing sleeps,
    and some starve past the busy timeout ("database is locked") under a burst of requests. Queueing them here
    first leaves the busy handler only the other processes to wait for. The turn ends once COMMIT or ROLLBACK
    has run (the dialect's ``do_commit``/``do_rollback``, also used when the pool resets a connection)."""

    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._held: dict[int, asyncio.Lock] = {}  # id of the DBAPI connection -> the lock it holds

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    def take(self, dbapi_connection: Any) -> None:
        lock = self._lock()

        async def acquire() -> None:
            await asyncio.wait_for(lock.acquire(), SQLITE_TURN_SECONDS)

        try:
            await_only(acquire())
        except TimeoutError as exc:
            raise OperationalError("BEGIN IMMEDIATE", None, Exception("database is locked")) from exc
        self._held[_raw_id(dbapi_connection)] = lock

    def give_back(self, dbapi_connection: Any) -> None:
        lock = self._held.pop(_raw_id(dbapi_connection), None)
        if lock is not None and lock.locked():
            lock.release()

    def install(self, engine: AsyncEngine) -> None:
        dialect = engine.sync_engine.dialect
        do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

        def commit(dbapi_connection: Any) -> None:
            try:
                do_commit(dbapi_connection)
            finally:
                self.give_back(dbapi_connection)

        def rollback(dbapi_connection: Any) -> None:
            try:
                do_rollback(dbapi_connection)
            finally:
                self.give_back(dbapi_connection)

        dialect.do_commit = commit  # type: ignore[method-assign]
        dialect.do_rollback = rollback  # type: ignore[method-assign]

        @event.listens_for(engine.sync_engine.pool, "invalidate")
        @event.listens_for(engine.sync_engine.pool, "close")
        def _on_drop(dbapi_connection: Any, *_args: Any) -> None:
            self.give_back(dbapi_connection)


def _raw_id(connection: Any) -> int:
    """The id of the DBAPI connection behind ``connection`` (the pool's proxy or the connection itself)."""
    return id(getattr(connection, "dbapi_connection", None) or connection)


SQLITE_SYNCHRONOUS = ("NORMAL", "FULL")


def _sqlite_setup(engine: AsyncEngine, synchronous: str = "FULL") -> None:
    if synchronous not in SQLITE_SYNCHRONOUS:
        raise ValueError(
            f"sqlite synchronous must be one of {', '.join(SQLITE_SYNCHRONOUS)}, not {synchronous!r}"
        )
    turns = _WriterTurns()
    turns.install(engine)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # let SQLAlchemy, not the driver, issue BEGIN (the documented pysqlite/aiosqlite recipe)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        dbapi_connection = conn.connection.dbapi_connection
        turns.take(dbapi_connection)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            turns.give_back(dbapi_connection)
            raise


def create_engine(
    url: str, *, echo: bool = False, pool_size: int = 8, sqlite_synchronous: str = "FULL"
) -> AsyncEngine:
    """An engine for ``url``. On SQLite ``sqlite_synchronous`` is the ``PRAGMA synchronous`` of every connection
    (FULL: a commit is on disk when it returns; NORMAL: only at WAL checkpoints)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        _sqlite_setup(engine, sqlite_synchronous)
        return engine
    return create_async_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


class Database:
    """The engine and sessionmaker of one running app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_engine(
            settings.resolved_database_url,
            echo=settings.debug_sql,
            pool_size=settings.db_pool_size,
            sqlite_synchronous=settings.sqlite_synchronous,
        )
        self.sessionmaker = create_sessionmaker(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def dispose(self) -> None:
        await self.engine.dispose()


def dialect_of(session: AsyncSession) -> str:
    """ "sqlite" or "postgresql": the database this session talks to."""
    return str(session.get_bind().dialect.name)


async def refresh_statistics(engine: AsyncEngine) -> None:
    """After a bulk load: reclaim dead rows and refresh the planner's statistics (VACUUM ANALYZE / ANALYZE).

    Without it PostgreSQL plans searches over a freshly loaded index as full scans until autovacuum runs.
    """
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("VACUUM (ANALYZE)")
    else:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE")
