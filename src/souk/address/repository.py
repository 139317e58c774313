"""All SQL of the address book: every statement is limited to one user's addresses. No rules, no commit."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from souk.models import Address


class AddressRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_user(self, user_id: int) -> list[Address]:
        """The default first, then newest first."""
        rows = await self.session.scalars(
            select(Address)
            .where(Address.user_id == user_id)
            .order_by(Address.is_default.desc(), Address.id.desc())
        )
        return list(rows.all())

    async def get(self, user_id: int, address_id: int) -> Address | None:
        return await self.session.scalar(
            select(Address).where(Address.id == address_id, Address.user_id == user_id)
        )

    async def count(self, user_id: int) -> int:
        return int(await self.session.scalar(select(func.count()).where(Address.user_id == user_id)) or 0)

    async def clear_default(self, user_id: int) -> None:
        await self.session.execute(
            update(Address)
            .where(Address.user_id == user_id, Address.is_default.is_(True))
            .values(is_default=False)
            .execution_options(synchronize_session="fetch")
        )

    async def newest(self, user_id: int) -> Address | None:
        return await self.session.scalar(
            select(Address).where(Address.user_id == user_id).order_by(Address.id.desc()).limit(1)
        )
