"""Every test here moves money (contract deposits and balances under escrow) or stock: after each one, every
`souk audit` check must pass (the ledger balances, escrows match the orders, milestones match their payments)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession


@pytest.fixture(autouse=True)
async def _audit_after_each_test(
    session: AsyncSession,
    assert_ledger_balanced: Callable[[AsyncSession], Awaitable[None]],
) -> AsyncIterator[None]:
    yield
    await assert_ledger_balanced(session)
