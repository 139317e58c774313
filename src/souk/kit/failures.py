"""What the error handlers of ``create_app`` need to answer like HTTP says they should.

- ``allowed_methods``: a 405's ``Allow`` header lists every method the path answers to. Starlette names only
  the methods of the first route whose path matched, but one path is often served by several routes (``GET``
  and ``POST /api/v1/stores``).
- ``is_database_outage``: the database could not be reached or refused work for a reason that passes (server
  down or restarting, connection dropped, pool exhausted, SQLite file locked or unreadable). The request did not
  happen, so the client gets a 503 with ``Retry-After``, not a 500 that reads like a bug.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi.routing import APIRoute
from sqlalchemy import exc as sa_exc
from starlette.routing import BaseRoute, Route, compile_path

# SQLSTATE classes of a database that is unreachable or not taking work now: connection exception (08),
# insufficient resources (53), operator intervention (57: shutting down, cannot connect now)
_OUTAGE_SQLSTATE_CLASSES = ("08", "53", "57")
# SQLite's messages for the same (another process holds the file past the busy timeout, the disk is gone or full)
_SQLITE_OUTAGE = (
    "database is locked",
    "unable to open database file",
    "disk i/o error",
    "database or disk is full",
)


def _walk(routes: Iterable[Any], prefix: str) -> Iterator[tuple[str, set[str]]]:
    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI keeps an included router as a branch with its prefix
            yield from _walk(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Route | APIRoute) and route.methods:
            yield prefix + route.path, set(route.methods)


def method_table(routes: Iterable[BaseRoute]) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """Every route's full path as a pattern, with the methods of all routes on that path."""
    by_path: dict[str, set[str]] = {}
    for path, methods in _walk(routes, ""):
        by_path.setdefault(path, set()).update(methods)
    return [(compile_path(path)[0], frozenset(methods)) for path, methods in by_path.items()]


def allowed_methods(table: Iterable[tuple[re.Pattern[str], frozenset[str]]], path: str) -> list[str]:
    """The methods of every route whose path matches ``path``, sorted (``HEAD`` goes with ``GET``)."""
    methods: set[str] = set()
    for pattern, route_methods in table:
        if pattern.match(path):
            methods |= route_methods
    return sorted(methods)


def _sqlstate(error: BaseException | None) -> str:
    seen = 0
    while error is not None and seen < 4:  # the driver's error may be wrapped by the adapter
        code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(code, str) and code:
            return code
        error, seen = error.__cause__, seen + 1
    return ""


def is_database_outage(error: BaseException) -> bool:
    if isinstance(error, sa_exc.TimeoutError):  # no connection free in the pool in time
        return True
    if isinstance(
        error, ConnectionError | TimeoutError
    ):  # refused, reset: raised by the driver as it connects
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        if _sqlstate(error.orig)[:2] in _OUTAGE_SQLSTATE_CLASSES:
            return True
        if isinstance(error, sa_exc.OperationalError):
            text = str(error.orig).lower()
            return any(message in text for message in _SQLITE_OUTAGE)
    return False


__all__ = ["allowed_methods", "is_database_outage", "method_table"]
