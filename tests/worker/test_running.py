"""The worker as a long-running process, on a database of its own (committed rows, real connections):
``run_forever`` runs what is enqueued, stops gracefully, and runs inside the app in embedded mode."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fixtures.core import TEST_SECRET
from fixtures.databases import fresh_database
from souk.app import create_app
from souk.config import Settings
from souk.db import create_engine, create_sessionmaker
from souk.models import Base, Job, Notification, User
from souk.notification.service import notification_service
from souk.worker.queue import enqueue, job
from souk.worker.runner import Worker

STARTED: dict[int, asyncio.Event] = {}


@job("test.slow_note")
async def slow_note(session: AsyncSession, payload: dict[str, Any]) -> None:
    started = STARTED.get(payload.get("signal", -1))
    if started is not None:
        started.set()
    await asyncio.sleep(payload.get("seconds", 0.01))
    await notification_service.notify(session, payload["user_id"], "test.slow", payload["title"])


@pytest.fixture
async def own_database(tmp_path: Path) -> AsyncIterator[tuple[str, AsyncEngine]]:
    with fresh_database(tmp_path, "worker_run") as url:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        try:
            yield url, engine
        finally:
            await engine.dispose()


async def _user(maker: async_sessionmaker[AsyncSession]) -> int:
    async with maker() as s, s.begin():
        user = User(email="worker@example.com", password_hash="x", display_name="Worker test")
        s.add(user)
        await s.flush()
        return user.id


async def _enqueue(maker: async_sessionmaker[AsyncSession], payload: dict[str, Any]) -> int:
    async with maker() as s, s.begin():
        return (await enqueue(s, "test.slow_note", payload)).id


async def _wait_until(check: Callable[[], Awaitable[bool]], seconds: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("gave up waiting")
        await asyncio.sleep(0.02)


def _all_done(maker: async_sessionmaker[AsyncSession]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        async with maker() as s:
            left = await s.scalar(select(func.count()).select_from(Job).where(Job.status != "done"))
            return left == 0

    return check


async def _titles(maker: async_sessionmaker[AsyncSession], user_id: int) -> list[str]:
    async with maker() as s:
        rows = await s.scalars(
            select(Notification.title).where(Notification.user_id == user_id).order_by(Notification.title)
        )
        return list(rows)


async def test_run_forever_runs_new_jobs_and_stops_gracefully(own_database: tuple[str, AsyncEngine]) -> None:
    _, engine = own_database
    maker = create_sessionmaker(engine)
    user_id = await _user(maker)
    worker = Worker(maker, name="forever", concurrency=2, poll_seconds=0.05)
    task = asyncio.create_task(worker.run_forever())

    for n in range(6):
        await _enqueue(maker, {"user_id": user_id, "title": f"note {n}"})
    await _wait_until(_all_done(maker))
    assert await _titles(maker, user_id) == [f"note {n}" for n in range(6)]

    # a long job is running when the stop comes: it finishes and commits, nothing new is claimed
    STARTED[1] = asyncio.Event()
    await _enqueue(maker, {"user_id": user_id, "title": "last words", "seconds": 0.3, "signal": 1})
    await asyncio.wait_for(STARTED[1].wait(), timeout=15)
    worker.stop()
    await _enqueue(maker, {"user_id": user_id, "title": "after the stop"})
    await asyncio.wait_for(task, timeout=15)

    assert "last words" in await _titles(maker, user_id)
    assert "after the stop" not in await _titles(maker, user_id)
    async with maker() as s:
        statuses = dict((await s.execute(select(Job.status, func.count()).group_by(Job.status))).all())
    assert statuses == {"done": 7, "queued": 1}
    assert worker.stats.jobs_done == 7 and worker.stats.timers_run >= 2


async def test_the_app_runs_the_worker_in_process(
    own_database: tuple[str, AsyncEngine], tmp_path: Path
) -> None:
    url, engine = own_database
    maker = create_sessionmaker(engine)
    user_id = await _user(maker)
    settings = Settings(
        data_dir=tmp_path / "embedded",
        database_url=url,
        secret_key=TEST_SECRET,
        password_hash_profile="cheapest",
        worker_poll_seconds=0.05,
    )
    assert settings.worker_in_process  # the default
    app = create_app(settings)

    async with app.router.lifespan_context(app):
        await _enqueue(maker, {"user_id": user_id, "title": "from the app"})
        await _wait_until(_all_done(maker))
        worker = app.state.worker
        assert worker.stats.jobs_done == 1 and not worker.stopping

    assert worker.stopping
    assert await _titles(maker, user_id) == ["from the app"]


async def test_embedded_worker_is_off_when_settings_say_so(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "off",
        secret_key=TEST_SECRET,
        worker_in_process=False,
        password_hash_profile="cheapest",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert not hasattr(app.state, "worker")
