"""Alembic environment: one chain for SQLite (batch mode) and PostgreSQL, async engines."""

from __future__ import annotations

import asyncio
import logging
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from souk.config import get_settings
from souk.db import create_engine
from souk.models import Base
from souk.models.base import UTCDateTime
from souk.models.search import FTS_TABLE

config = context.config
# alembic.ini's logging only where nobody configured logging yet (``souk migrate`` from a shell): a process that
# did (a server, the test runner) keeps its handlers instead of getting one on a stream that may be closed
if (
    config.config_file_name is not None
    and config.attributes.get("configure_logger", True)
    and not logging.getLogger().handlers
):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    # SQLite's FTS5 table and its shadow tables are created by the migration, not by the models.
    return not (type_ == "table" and name is not None and name.startswith(FTS_TABLE))


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # migrations never import app code: the UTC wrapper is stored as a plain timezone-aware DateTime
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().resolved_database_url


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
        await connection.commit()
    await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, include_object=include_object
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
    else:
        asyncio.run(run_async_migrations())
