"""Engines and sessions.

SQLite (the embedded default) runs in WAL mode with foreign keys on, a busy timeout, and every transaction
opened with ``BEGIN IMMEDIATE`` so that write transactions and SAVEPOINTs serialise instead of failing with
"database is locked" half-way. PostgreSQL runs with a small pool sized for two cores.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from souk.config import Settings


def _sqlite_setup(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # let SQLAlchemy, not the driver, issue BEGIN (the documented pysqlite/aiosqlite recipe)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, *, echo: bool = False, pool_size: int = 8) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        _sqlite_setup(engine)
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
            settings.resolved_database_url, echo=settings.debug_sql, pool_size=settings.db_pool_size
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
