"""Background jobs of payouts: ``payout.send`` has the payout provider pay a requested payout (idempotent: the
provider's key is the payout's id, and a settled payout is left alone)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from souk.payout.service import SEND_JOB, payout_service
from souk.worker.queue import job


@job(SEND_JOB)
async def send_payout(session: AsyncSession, payload: dict[str, Any]) -> None:
    await payout_service.settle(session, int(payload["payout_id"]))
