"""The dispute timers (DOMAIN.md "Timers"), swept by the worker: each claims a batch of due rows through
``DisputeRepository`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and applies the step through the dispute service,
which re-checks the state (a row handled twice changes once):

- ``dispute.auto_resolve``: a request the seller has not answered by ``respond_by`` ends with the policy's
  default outcome (the market refunds the requested amount); an accepted return whose item the seller has not
  confirmed ``RETURN_REFUND_DAYS`` after the buyer gave its tracking number is refunded;
- ``dispute.pause_receipt``: a seller order shipped while a dispute on it was open gets its receipt timer paused
  (opening a dispute pauses a running timer; this covers a timer started afterwards);
- ``dispute.expire_return``: an accepted return whose buyer gave no return tracking number by ``return_by`` (the
  policy's ``return_ship_window`` after the seller accepted) closes without a refund; the receipt timer runs again;
- ``dispute.expire_rejected``: a rejected request the buyer has not escalated by ``escalate_by`` closes (released
  to the seller, the receipt timer runs again) or goes to an operator, as the policy says.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from souk.dispute.repository import DisputeRepository
from souk.dispute.service import dispute_service
from souk.worker.timers import timer


@timer("dispute.auto_resolve", every_seconds=60)
async def auto_resolve(session: AsyncSession, now: datetime) -> int:
    handled = 0
    for dispute in await DisputeRepository(session).due_to_auto_resolve(now):
        if await dispute_service.auto_resolve(session, dispute.id, now=now):
            handled += 1
    return handled


@timer("dispute.expire_rejected", every_seconds=60)
async def expire_rejected(session: AsyncSession, now: datetime) -> int:
    handled = 0
    for dispute in await DisputeRepository(session).due_to_expire_rejected(now):
        if await dispute_service.expire_rejected(session, dispute.id, now=now):
            handled += 1
    return handled


@timer("dispute.expire_return", every_seconds=60)
async def expire_return(session: AsyncSession, now: datetime) -> int:
    handled = 0
    for dispute in await DisputeRepository(session).due_to_expire_return(now):
        if await dispute_service.expire_return(session, dispute.id, now=now):
            handled += 1
    return handled


@timer("dispute.pause_receipt", every_seconds=60)
async def pause_receipt(session: AsyncSession, now: datetime) -> int:
    paused = 0
    for so in await DisputeRepository(session).shipped_with_open_dispute():
        if await dispute_service.pause_shipped(session, so.id):
            paused += 1
    return paused
