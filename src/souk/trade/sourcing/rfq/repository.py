"""All SQL for RFQs: scoped reads, the board, and the conditional update that takes a quote slot."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from souk.models import Category, Organization, Product, Quote, Rfq, RfqInvite, Store


def _like_escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def taking_quotes_conditions(now: datetime) -> list[Any]:
    return [Rfq.status == "open", Rfq.quote_count < Rfq.quote_cap, Rfq.quote_deadline > now]


class RfqRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, rfq_id: int) -> Rfq | None:
        return await self.session.get(Rfq, rfq_id)

    async def get_for_orgs(self, rfq_id: int, org_ids: Select[Any]) -> Rfq | None:
        return await self.session.scalar(
            select(Rfq).where(Rfq.id == rfq_id, Rfq.organization_id.in_(org_ids))
        )

    async def page_for_orgs(
        self, org_ids: Select[Any], before_id: int | None, limit: int, status: str | None = None
    ) -> Sequence[Rfq]:
        stmt = select(Rfq).where(Rfq.organization_id.in_(org_ids))
        if before_id is not None:
            stmt = stmt.where(Rfq.id < before_id)
        if status:
            stmt = stmt.where(Rfq.status == status)
        rows = await self.session.scalars(stmt.order_by(Rfq.id.desc()).limit(limit + 1))
        return rows.all()

    async def invited_store_ids(self, rfq_id: int) -> list[int]:
        rows = await self.session.scalars(
            select(RfqInvite.store_id).where(RfqInvite.rfq_id == rfq_id).order_by(RfqInvite.store_id)
        )
        return list(rows.all())

    async def is_invited(self, rfq_id: int, store_id: int) -> bool:
        found = await self.session.scalar(
            select(RfqInvite.id).where(RfqInvite.rfq_id == rfq_id, RfqInvite.store_id == store_id)
        )
        return found is not None

    async def active_sourcing_store_ids(self, store_ids: list[int]) -> set[int]:
        if not store_ids:
            return set()
        rows = await self.session.scalars(
            select(Store.id).where(
                Store.id.in_(store_ids), Store.status == "active", Store.trade_model == "sourcing"
            )
        )
        return set(rows.all())

    async def category_exists(self, category_id: int) -> bool:
        return (await self.session.get(Category, category_id)) is not None

    async def category_choices(self) -> list[tuple[int, str]]:
        rows = await self.session.execute(
            select(Category.id, Category.name).order_by(Category.position, Category.name).limit(500)
        )
        return [(r.id, r.name) for r in rows]

    async def category_names(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = await self.session.execute(select(Category.id, Category.name).where(Category.id.in_(ids)))
        return {r.id: r.name for r in rows}

    async def organizations(self, ids: set[int]) -> dict[int, Organization]:
        if not ids:
            return {}
        rows = await self.session.scalars(select(Organization).where(Organization.id.in_(ids)))
        return {o.id: o for o in rows.all()}

    async def store_category_ids(self, store_id: int) -> list[int]:
        rows = await self.session.scalars(
            select(Product.category_id)
            .where(Product.store_id == store_id, Product.status != "archived")
            .distinct()
        )
        return sorted(rows.all())

    def _visible_to_store(self, store_id: int) -> Any:
        invited = exists().where(RfqInvite.rfq_id == Rfq.id, RfqInvite.store_id == store_id)
        return or_(Rfq.visibility == "public", and_(Rfq.visibility == "invited", invited))

    async def get_for_store(self, rfq_id: int, store_id: int) -> Rfq | None:
        return await self.session.scalar(
            select(Rfq).where(Rfq.id == rfq_id, self._visible_to_store(store_id))
        )

    async def board(
        self,
        store_id: int,
        now: datetime,
        *,
        category_ids: list[int] | None,
        words: list[str],
        before_id: int | None,
        limit: int,
    ) -> Sequence[Rfq]:
        stmt = select(Rfq).where(*taking_quotes_conditions(now), self._visible_to_store(store_id))
        if category_ids is not None:
            stmt = stmt.where(Rfq.category_id.in_(category_ids))
        for word in words:
            stmt = stmt.where(Rfq.search_text.like(f"%{_like_escape(word)}%", escape="\\"))
        if before_id is not None:
            stmt = stmt.where(Rfq.id < before_id)
        rows = await self.session.scalars(stmt.order_by(Rfq.id.desc()).limit(limit + 1))
        return rows.all()

    async def latest_public(self, now: datetime, limit: int) -> Sequence[Rfq]:
        """The newest public RFQs still taking quotes (open, deadline ahead, below their cap)."""
        rows = await self.session.scalars(
            select(Rfq)
            .where(*taking_quotes_conditions(now), Rfq.visibility == "public")
            .order_by(Rfq.id.desc())
            .limit(limit)
        )
        return rows.all()

    async def active_sourcing_store_of(self, store_ids: Select[Any]) -> int | None:
        """The first (lowest id) active sourcing store among ``store_ids``."""
        found = await self.session.scalar(
            select(Store.id)
            .where(Store.id.in_(store_ids), Store.trade_model == "sourcing", Store.status == "active")
            .order_by(Store.id)
            .limit(1)
        )
        return None if found is None else int(found)

    async def quotes_of_store(self, store_id: int, rfq_ids: list[int]) -> dict[int, int]:
        """rfq id -> the store's quote id on it."""
        if not rfq_ids:
            return {}
        rows = await self.session.execute(
            select(Quote.rfq_id, Quote.id).where(Quote.store_id == store_id, Quote.rfq_id.in_(rfq_ids))
        )
        return {r.rfq_id: r.id for r in rows}

    async def take_quote_slot(self, rfq_id: int, now: datetime) -> int | None:
        """Count one more quote on an RFQ that still takes quotes; the new count, or None when it does not."""
        result = await self.session.execute(
            update(Rfq)
            .where(Rfq.id == rfq_id, *taking_quotes_conditions(now))
            .values(quote_count=Rfq.quote_count + 1)
            .returning(Rfq.quote_count)
            .execution_options(synchronize_session=False)
        )
        row = result.first()
        return None if row is None else int(row[0])

    async def close(self, rfq_id: int, now: datetime, reason: str) -> bool:
        result = await self.session.execute(
            update(Rfq)
            .where(Rfq.id == rfq_id, Rfq.status == "open")
            .values(status="closed", closed_at=now, close_reason=reason, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
