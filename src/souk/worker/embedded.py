"""Embedded mode: ``souk serve`` runs the worker as a background task of the web process
(``Settings.worker_in_process``, on by default). Jobs and timers still live in the database, so nothing is lost
when the process stops; a separate ``souk worker`` may run beside it."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from souk.worker.runner import Worker

log = logging.getLogger("souk.worker")


class EmbeddedWorker:
    def __init__(self, worker: Worker, task: asyncio.Task[None]) -> None:
        self.worker = worker
        self.task = task

    async def stop_and_wait(self) -> None:
        """Stop claiming work, let running jobs finish (the worker's grace period), then return."""
        self.worker.stop()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("the in-process worker failed")


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the in-process worker stopped with an error", exc_info=task.exception())


def start_worker(app: FastAPI) -> EmbeddedWorker:
    """Start the worker on this event loop with the app's database and settings."""
    settings = app.state.settings
    worker = Worker(
        app.state.db.sessionmaker,
        concurrency=settings.worker_concurrency,
        poll_seconds=settings.worker_poll_seconds,
        lease_seconds=settings.worker_lease_seconds,
    )
    task = asyncio.create_task(worker.run_forever(), name="souk-worker")
    task.add_done_callback(_report_crash)
    app.state.worker = worker
    return EmbeddedWorker(worker, task)
