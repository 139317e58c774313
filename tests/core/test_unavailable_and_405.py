"""A database that cannot be reached gives a 503 with Retry-After (a page, or the JSON error body), never a 500;
a 405 names every method of the path in ``Allow``, whichever of the path's routes Starlette matched first."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import exc as sa_exc

from fixtures.core import TEST_SECRET
from fixtures.servers import free_port
from souk.app import create_app
from souk.config import Settings
from souk.kit.failures import is_database_outage


def _unreachable(kind: str, tmp_path: Path) -> str:
    if kind == "postgresql":  # nothing listens on the port: connection refused
        return f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/souk"
    return f"sqlite+aiosqlite:///{tmp_path}"  # a directory: SQLite cannot open it as a database file


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
async def test_an_unreachable_database_gives_503_with_retry_after(kind: str, tmp_path: Path) -> None:
    app = create_app(
        Settings(
            data_dir=tmp_path / "data",
            database_url=_unreachable(kind, tmp_path),
            secret_key=TEST_SECRET,
            password_hash_profile="cheapest",
            worker_in_process=False,
        )
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            r = await c.get("/api/v1/products")
            assert r.status_code == 503, r.text
            assert r.json()["error"] == "service_unavailable"
            assert r.headers["retry-after"] == "5"
            assert r.headers["x-content-type-options"] == "nosniff"  # sent outside the middleware stack
            r = await c.get("/api/v1/me", headers={"Authorization": "Bearer souk_" + "x" * 40})
            assert r.status_code == 503 and r.json()["error"] == "service_unavailable"
            r = await c.get("/")
            assert r.status_code == 503 and r.headers["retry-after"] == "5"
            assert "Please try again" in r.text and "Traceback" not in r.text
            assert "default-src 'self'" in r.headers["content-security-policy"]
            r = await c.get("/readyz")
            assert r.status_code == 503
            assert (await c.get("/healthz")).status_code == 200  # the process itself is alive
    finally:
        await app.state.db.dispose()


def _orig_with(sqlstate: str) -> Exception:
    error = Exception("driver error")
    error.sqlstate = sqlstate  # type: ignore[attr-defined]
    return error


def test_what_counts_as_an_outage() -> None:
    assert is_database_outage(ConnectionRefusedError())
    assert is_database_outage(sa_exc.TimeoutError("QueuePool limit reached"))
    assert is_database_outage(sa_exc.DBAPIError("SELECT 1", None, _orig_with("57P01")))  # admin shutdown
    assert is_database_outage(sa_exc.DBAPIError("SELECT 1", None, _orig_with("08006")))  # connection failure
    dropped = sa_exc.DBAPIError("SELECT 1", None, Exception("closed"), connection_invalidated=True)
    assert is_database_outage(dropped)
    locked = sa_exc.OperationalError("UPDATE", None, sqlite3.OperationalError("database is locked"))
    assert is_database_outage(locked)
    # bugs stay 500s: a missing table, a violated constraint, a programming error
    assert not is_database_outage(
        sa_exc.OperationalError("SELECT", None, sqlite3.OperationalError("no such table: x"))
    )
    assert not is_database_outage(sa_exc.IntegrityError("INSERT", None, _orig_with("23505")))
    assert not is_database_outage(sa_exc.ProgrammingError("SELECT", None, _orig_with("42P01")))
    assert not is_database_outage(RuntimeError("boom"))


def _paths_with_several_methods(app: FastAPI) -> dict[str, set[str]]:
    """API paths served by several routes, from the OpenAPI document (e.g. GET and POST /api/v1/stores)."""
    by_path = {path: {m.upper() for m in ops} for path, ops in app.openapi()["paths"].items()}
    return {path: methods for path, methods in by_path.items() if len(methods) > 1}


async def test_405_allow_lists_every_method_of_the_path(app: FastAPI, client: httpx.AsyncClient) -> None:
    shared = _paths_with_several_methods(app)
    assert len(shared) >= 20, "the route table should have many paths served by several routes"
    checked = 0
    for path, methods in sorted(shared.items()):
        unused = next((m for m in ("PUT", "PATCH", "DELETE", "POST") if m not in methods), None)
        if unused is None:
            continue
        url = re.sub(r"\{[^}]+\}", "1", path)
        r = await client.request(unused, url)
        if r.status_code != 405:  # a more general route (another path pattern) took it
            continue
        allowed = {m.strip() for m in r.headers["allow"].split(",")} - {"HEAD"}
        assert allowed == methods, (unused, url, allowed, methods)
        checked += 1
    assert checked >= 20
