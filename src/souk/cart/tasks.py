"""Cart housekeeping run by the worker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from souk.cart.service import cart_service
from souk.worker.timers import timer


@timer("cart.purge_guest_carts", every_seconds=3600)
async def purge_guest_carts(session: AsyncSession, now: datetime) -> int:
    """Delete guest carts whose cookie has expired (a batch per call)."""
    return await cart_service.purge_guest_carts(session, now)
