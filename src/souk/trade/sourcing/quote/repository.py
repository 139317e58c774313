"""All SQL for quotes: the monthly quota counter (insert-if-missing then a conditional update), scoped reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from souk.db import dialect_of
from souk.models import Membership, Organization, Quote, QuoteQuotaUse, Rfq, Store


class QuoteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, quote_id: int) -> Quote | None:
        return await self.session.get(Quote, quote_id)

    async def of_store_for_rfq(self, rfq_id: int, store_id: int) -> Quote | None:
        return await self.session.scalar(
            select(Quote).where(Quote.rfq_id == rfq_id, Quote.store_id == store_id)
        )

    async def quota_used(self, organization_id: int, period: str) -> int:
        used = await self.session.scalar(
            select(QuoteQuotaUse.used).where(
                QuoteQuotaUse.organization_id == organization_id, QuoteQuotaUse.period == period
            )
        )
        return int(used or 0)

    async def use_quota(self, organization_id: int, period: str, quota: int) -> bool:
        """Count one quote against the organisation's month; False when the quota is used up."""
        insert = sqlite_insert if dialect_of(self.session) == "sqlite" else pg_insert
        await self.session.execute(
            insert(QuoteQuotaUse)
            .values(organization_id=organization_id, period=period, used=0)
            .on_conflict_do_nothing(index_elements=["organization_id", "period"])
        )
        result = await self.session.execute(
            update(QuoteQuotaUse)
            .where(
                QuoteQuotaUse.organization_id == organization_id,
                QuoteQuotaUse.period == period,
                QuoteQuotaUse.used < quota,
            )
            .values(used=QuoteQuotaUse.used + 1)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def page_for_store(
        self, store_id: int, before_id: int | None, limit: int
    ) -> Sequence[tuple[Quote, str]]:
        stmt = select(Quote, Rfq.title).join(Rfq, Rfq.id == Quote.rfq_id).where(Quote.store_id == store_id)
        if before_id is not None:
            stmt = stmt.where(Quote.id < before_id)
        rows = await self.session.execute(stmt.order_by(Quote.id.desc()).limit(limit + 1))
        return [(q, title) for q, title in rows.all()]

    async def for_rfq(self, rfq_id: int) -> Sequence[tuple[Quote, Store, Organization | None]]:
        rows = await self.session.execute(
            select(Quote, Store, Organization)
            .join(Store, Store.id == Quote.store_id)
            .outerjoin(Organization, Organization.id == Store.organization_id)
            .where(Quote.rfq_id == rfq_id)
            .order_by(Quote.id)
        )
        return [(q, s, o) for q, s, o in rows.all()]

    async def visible_quote(
        self, quote_id: int, org_ids: Select[Any], store_ids: Select[Any]
    ) -> tuple[Quote, Rfq] | None:
        """The quote when the actor is in the buyer's organisation or works for the quoting store."""
        row = (
            await self.session.execute(
                select(Quote, Rfq)
                .join(Rfq, Rfq.id == Quote.rfq_id)
                .where(
                    Quote.id == quote_id,
                    (Rfq.organization_id.in_(org_ids)) | (Quote.store_id.in_(store_ids)),
                )
            )
        ).first()
        return None if row is None else (row[0], row[1])

    async def organization_members(self, organization_id: int) -> list[int]:
        rows = await self.session.scalars(
            select(Membership.user_id)
            .where(Membership.organization_id == organization_id)
            .order_by(Membership.user_id)
        )
        return list(rows.all())

    async def store_names(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = await self.session.execute(select(Store.id, Store.name).where(Store.id.in_(ids)))
        return {r.id: r.name for r in rows}
