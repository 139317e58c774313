"""Timers: periodic sweeps over deadline columns (DOMAIN.md "Timers").

A deadline lives on the row it concerns (``pay_by``, ``ship_by``, ``auto_confirm_at`` ...). A timer is a sweep the
worker calls every ``every_seconds``; it finds the rows whose deadline has passed and applies the transition through
the same service a person would call:

```python
from souk.worker.timers import claim_due, timer

@timer("order.close_unpaid", every_seconds=30)
async def close_unpaid(session: AsyncSession, now: datetime) -> int:
    due = await claim_due(
        session,
        select(SellerOrder).where(SellerOrder.status == "pending_payment", SellerOrder.pay_by <= now)
        .order_by(SellerOrder.pay_by, SellerOrder.id),
    )
    for seller_order in due:
        await order_service.close_unpaid(session, seller_order.id, now=now)  # a no-op if already closed
    return len(due)
```

Contract of a sweep ``async def sweep(session, now) -> int``:
- it runs in its own transaction (the worker commits it; the sweep only flushes);
- it handles at most one batch (``claim_due`` takes 100 rows by default) and returns how many rows it handled;
  while it returns a positive number the worker calls it again, each time in a new transaction (at most
  ``MAX_ROUNDS`` times per tick), so a backlog drains in small transactions;
- it is idempotent: the transition re-checks the row's state, so a row handled twice (two workers on SQLite, a
  retry after a crash) changes once. On PostgreSQL ``claim_due`` locks the rows it returns and skips rows another
  worker has locked (``FOR UPDATE SKIP LOCKED``), so several workers share the work instead of waiting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.db import dialect_of

Sweep = Callable[[AsyncSession, datetime], Awaitable[int]]

# calls of one sweep in one tick while it keeps returning a positive count
MAX_ROUNDS = 50
DEFAULT_BATCH = 100


@dataclass(frozen=True)
class Timer:
    name: str
    every: timedelta
    sweep: Sweep


TIMERS: dict[str, Timer] = {}


def timer(name: str, *, every_seconds: float) -> Callable[[Sweep], Sweep]:
    """Register ``fn`` as the sweep ``name`` ("<domain>.<verb>"), run by the worker every ``every_seconds``."""
    if every_seconds <= 0:
        raise ValueError("every_seconds must be positive")

    def register(fn: Sweep) -> Sweep:
        existing = TIMERS.get(name)
        if existing is not None and existing.sweep is not fn:
            raise RuntimeError(f"two sweeps for timer {name!r}")
        TIMERS[name] = Timer(name=name, every=timedelta(seconds=every_seconds), sweep=fn)
        return fn

    return register


S = TypeVar("S", bound=Select[*tuple[Any, ...]])


def skip_locked(session: AsyncSession, stmt: S, *, of: Any = None) -> S:
    """``stmt`` with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (``of``: the table(s) to lock when it joins);
    unchanged on SQLite, where a writing transaction already has the whole database to itself."""
    if dialect_of(session) == "postgresql":
        return stmt.with_for_update(skip_locked=True, of=of)
    return stmt


async def claim_due(
    session: AsyncSession, stmt: Select[*tuple[Any, ...]], *, limit: int = DEFAULT_BATCH, of: Any = None
) -> Sequence[Any]:
    """The first ``limit`` rows of ``stmt`` (give it an ORDER BY), locked for this transaction on PostgreSQL with
    rows locked by other transactions skipped. The rows are read fresh from the database, not from the session."""
    claimed = skip_locked(session, stmt.limit(limit), of=of).execution_options(populate_existing=True)
    return (await session.scalars(claimed)).all()
