"""All SQL of shipping methods. No rules, no commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.models import ShippingMethod, Store


class ShippingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_store(self, store_id: int) -> list[ShippingMethod]:
        """Every method of the store (inactive ones too), in display order."""
        rows = await self.session.scalars(
            select(ShippingMethod)
            .where(ShippingMethod.store_id == store_id)
            .order_by(ShippingMethod.position, ShippingMethod.id)
        )
        return list(rows.all())

    async def offered(self, store_ids: Sequence[int]) -> list[ShippingMethod]:
        """The methods buyers can choose: active, and priced in the store's current currency."""
        if not store_ids:
            return []
        rows = await self.session.scalars(
            select(ShippingMethod)
            .join(Store, Store.id == ShippingMethod.store_id)
            .where(
                ShippingMethod.store_id.in_(sorted(set(store_ids))),
                ShippingMethod.active.is_(True),
                ShippingMethod.currency == Store.currency,
            )
            .order_by(ShippingMethod.store_id, ShippingMethod.position, ShippingMethod.id)
        )
        return list(rows.all())

    async def get(self, store_id: int, method_id: int) -> ShippingMethod | None:
        return await self.session.scalar(
            select(ShippingMethod).where(ShippingMethod.id == method_id, ShippingMethod.store_id == store_id)
        )

    async def count(self, store_id: int) -> int:
        return int(
            await self.session.scalar(
                select(func.count()).select_from(ShippingMethod).where(ShippingMethod.store_id == store_id)
            )
            or 0
        )
