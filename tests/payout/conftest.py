"""Every test here moves money: after each one, every `souk audit` check must pass (the ledger balances, payouts
match their entries, refunds match their payments)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession


@pytest.fixture(autouse=True)
async def _audit_after_each_test(
    session: AsyncSession, assert_ledger_balanced: Callable[[AsyncSession], Awaitable[None]]
) -> AsyncIterator[None]:
    yield
    await assert_ledger_balanced(session)
