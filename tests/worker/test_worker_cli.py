"""``souk worker --once`` against a database of its own (the embedded SQLite default, or a fresh PostgreSQL
database when SOUK_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner, Result

from fixtures.core import is_postgres
from fixtures.databases import fresh_database, run_async
from souk import cli
from souk.config import Settings
from souk.db import create_engine, create_sessionmaker
from souk.models import Base, Job, Notification, User
from souk.notification.service import notification_service
from souk.worker.queue import enqueue, job

runner = CliRunner()


@job("test.cli_note")
async def cli_note(session: AsyncSession, payload: dict[str, Any]) -> None:
    await notification_service.notify(session, payload["user_id"], "test.cli", payload["title"])


@job("test.cli_broken")
async def cli_broken(session: AsyncSession, payload: dict[str, Any]) -> None:
    raise ValueError("this job cannot work")


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """``souk worker`` sets up the "souk" logger for a terminal; put it back for the other tests."""
    logger = logging.getLogger("souk")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[dict[str, str | None], str]]:
    data_dir = tmp_path / "data"
    with fresh_database(tmp_path, "worker_cli") as url:
        explicit = url if is_postgres() else None
        variables = {
            "SOUK_DATA_DIR": str(data_dir),
            "SOUK_DATABASE_URL": explicit,
            "SOUK_PASSWORD_HASH_PROFILE": "cheapest",
            "COLUMNS": "160",
        }
        database_url = explicit or Settings(data_dir=data_dir).resolved_database_url
        yield variables, database_url


def souk(variables: dict[str, str | None], *args: str) -> Result:
    return runner.invoke(cli.app, list(args), env=variables)


def _prepare(url: str, kinds: list[tuple[str, int]]) -> int:
    async def go() -> int:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                # tables the migrations do not have yet (new models wait for the next migration)
                await conn.run_sync(Base.metadata.create_all)
            async with create_sessionmaker(engine)() as s, s.begin():
                user = User(email="cli@example.com", password_hash="x", display_name="CLI")
                s.add(user)
                await s.flush()
                for kind, attempts in kinds:
                    await enqueue(
                        s, kind, {"user_id": user.id, "title": "from souk worker"}, max_attempts=attempts
                    )
                return user.id
        finally:
            await engine.dispose()

    return run_async(go())


def _read(url: str, user_id: int) -> tuple[list[str], list[tuple[str, str]]]:
    async def go() -> tuple[list[str], list[tuple[str, str]]]:
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as s:
                notes = list(
                    await s.scalars(select(Notification.title).where(Notification.user_id == user_id))
                )
                jobs = [
                    (r.kind, r.status)
                    for r in (await s.execute(select(Job.kind, Job.status).order_by(Job.id)))
                ]
                return notes, jobs
        finally:
            await engine.dispose()

    return run_async(go())


def test_worker_once_runs_due_jobs_and_timers(env: tuple[dict[str, str | None], str]) -> None:
    variables, url = env
    assert souk(variables, "migrate").exit_code == 0
    user_id = _prepare(url, [("test.cli_note", 8)])

    result = souk(variables, "worker", "--once")

    assert result.exit_code == 0, result.output
    words = " ".join(result.output.split())
    assert "Worker: 1 jobs done, 0 to retry, 0 failed;" in words
    assert "(0 errors)" in words
    notes, jobs = _read(url, user_id)
    assert notes == ["from souk worker"]
    assert jobs == [("test.cli_note", "done")]

    again = souk(variables, "worker", "--once")
    assert again.exit_code == 0 and "Worker: 0 jobs done" in " ".join(again.output.split())
    assert _read(url, user_id)[0] == ["from souk worker"]


def test_worker_once_exits_non_zero_when_a_job_fails_for_good(env: tuple[dict[str, str | None], str]) -> None:
    variables, url = env
    assert souk(variables, "migrate").exit_code == 0
    user_id = _prepare(url, [("test.cli_broken", 1), ("test.cli_note", 8)])

    result = souk(variables, "worker", "--once", "--concurrency", "2")

    assert result.exit_code == 1
    words = " ".join(result.output.split())
    assert "1 jobs done, 0 to retry, 1 failed" in words
    assert "some jobs failed for good" in words
    assert _read(url, user_id)[1] == [("test.cli_broken", "failed"), ("test.cli_note", "done")]


def test_worker_refuses_a_bad_policy_override(env: tuple[dict[str, str | None], str]) -> None:
    variables, _ = env
    assert souk(variables, "migrate").exit_code == 0
    result = souk({**variables, "SOUK_POLICY_MARKET_UNPAID_CLOSE_MINUTES": "soon"}, "worker", "--once")
    assert result.exit_code == 1
    assert "SOUK_POLICY_MARKET_UNPAID_CLOSE_MINUTES: 'soon' is not a valid int" in " ".join(
        result.output.split()
    )


def test_worker_help_explains_itself(env: tuple[dict[str, str | None], str]) -> None:
    variables, _ = env
    result = souk(variables, "worker", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "--once" in text and "--concurrency" in text and "souk worker --once" in text
    assert "worker" in souk(variables, "--help").output
