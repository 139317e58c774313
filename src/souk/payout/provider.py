"""The payout-provider interface and the built-in simulated provider.

A payout provider sends money to a store (a bank transfer). ``send`` is idempotent by its key: a retried job
never pays twice. The simulated provider records each transfer in its own table (the "provider's side") and
pays at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Literal, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.errors import Conflict
from souk.models import SimulatedTransfer


@dataclass(frozen=True)
class Transfer:
    id: str
    status: Literal["paid", "failed"]
    failure_reason: str | None = None


class PayoutProviderError(Conflict):
    code = "payout_provider_error"


class PayoutProvider(Protocol):
    name: str

    async def send(
        self, session: AsyncSession, *, amount: int, currency: str, destination: str, idempotency_key: str
    ) -> Transfer:
        """Pay ``amount`` (minor units) to ``destination``; the same key is the same transfer."""
        ...


class SimulatedPayoutProvider:
    name = "simulated"

    async def send(
        self, session: AsyncSession, *, amount: int, currency: str, destination: str, idempotency_key: str
    ) -> Transfer:
        existing = await session.scalar(
            select(SimulatedTransfer).where(SimulatedTransfer.idempotency_key == idempotency_key)
        )
        if existing is not None:
            if (existing.amount, existing.currency, existing.destination) != (amount, currency, destination):
                raise PayoutProviderError(
                    "This idempotency key was used for another transfer.", code="idempotency_key_in_use"
                )
            return Transfer(existing.id, "paid")
        transfer = SimulatedTransfer(
            id=f"po_sim_{secrets.token_hex(12)}",
            idempotency_key=idempotency_key,
            amount=amount,
            currency=currency,
            destination=destination[:120],
            status="paid",
        )
        session.add(transfer)
        await session.flush()
        return Transfer(transfer.id, "paid")
