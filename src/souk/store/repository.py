"""All SQL for stores. No rules, no commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import store_ids, visible_store_condition
from souk.models import Organization, OrganizationDocument, Product, Store
from souk.party.repository import newest_first


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def has_brand_authorization() -> Any:
    """SQL condition: the store has at least one brand authorisation document."""
    return exists().where(
        OrganizationDocument.store_id == Store.id, OrganizationDocument.kind == "brand_authorization"
    )


def organization_approved() -> Any:
    return exists().where(Organization.id == Store.organization_id, Organization.status == "approved")


def brand_review_condition() -> Any:
    """Mall stores waiting for an operator to check their brand authorisation."""
    return and_(
        Store.status == "pending_review",
        Store.approved_at.is_(None),
        Store.trade_model == "mall",
        has_brand_authorization(),
    )


def store_review_condition() -> Any:
    """Other stores waiting for an operator: personal ones, or those of an organisation already approved."""
    return and_(
        Store.status == "pending_review",
        Store.approved_at.is_(None),
        Store.trade_model != "mall",
        or_(Store.organization_id.is_(None), organization_approved()),
    )


class StoreRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, store_id: int, *, for_update: bool = False) -> Store | None:
        stmt = select(Store).where(Store.id == store_id)
        if for_update:  # lock the row and read its current values, not the ones already in the session
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return await self.session.scalar(stmt)

    async def slugs_like(self, base: str) -> set[str]:
        stmt = select(Store.slug).where(
            or_(Store.slug == base, Store.slug.like(_escape_like(base) + "-%", escape="\\"))
        )
        return set((await self.session.scalars(stmt)).all())

    async def page_public(
        self, *, trade_model: str | None, country: str | None, after: int | None, limit: int
    ) -> Sequence[Store]:
        stmt = select(Store).where(visible_store_condition())
        if trade_model is not None:
            stmt = stmt.where(Store.trade_model == trade_model)
        if country is not None:
            stmt = stmt.where(Store.country == country)
        return (await self.session.scalars(newest_first(stmt, Store.id, after, limit))).all()

    async def page_scoped(self, actor: Actor, after: int | None, limit: int) -> Sequence[Store]:
        stmt = select(Store).where(Store.id.in_(store_ids(actor, "store:read")))
        return (await self.session.scalars(newest_first(stmt, Store.id, after, limit))).all()

    async def all_scoped(self, actor: Actor) -> Sequence[Store]:
        stmt = select(Store).where(Store.id.in_(store_ids(actor, "store:read"))).order_by(Store.id.desc())
        return (await self.session.scalars(stmt)).all()

    async def scoped_ids(self, actor: Actor, permission: str) -> set[int]:
        return set((await self.session.scalars(store_ids(actor, permission))).all())

    async def of_organization(self, organization_id: int) -> Sequence[Store]:
        stmt = select(Store).where(Store.organization_id == organization_id).order_by(Store.id.desc())
        return (await self.session.scalars(stmt)).all()

    async def waiting_for_organization(self, organization_id: int) -> Sequence[Store]:
        """Pending stores that open when the organisation is approved: all but mall ones, and mall ones
        whose brand authorisation an operator already approved."""
        stmt = (
            select(Store)
            .where(
                Store.organization_id == organization_id,
                Store.status == "pending_review",
                or_(Store.trade_model != "mall", Store.approved_at.is_not(None)),
            )
            .order_by(Store.id)
            .with_for_update()
        )
        return (await self.session.scalars(stmt)).all()

    async def has_products(self, store_id: int) -> bool:
        stmt = select(Product.id).where(Product.store_id == store_id).limit(1)
        return (await self.session.scalar(stmt)) is not None

    async def product_count(self, store_id: int) -> int:
        stmt = select(func.count()).select_from(Product).where(Product.store_id == store_id)
        return int(await self.session.scalar(stmt) or 0)

    async def brand_document_ids(self, store_ids_: Sequence[int]) -> set[int]:
        """Which of these stores have a brand authorisation document."""
        if not store_ids_:
            return set()
        stmt = select(OrganizationDocument.store_id).where(
            OrganizationDocument.store_id.in_(store_ids_), OrganizationDocument.kind == "brand_authorization"
        )
        return {sid for sid in (await self.session.scalars(stmt)).all() if sid is not None}

    async def organization_statuses(self, organization_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """{organization id: (legal name, status)}."""
        if not organization_ids:
            return {}
        rows = await self.session.execute(
            select(Organization.id, Organization.legal_name, Organization.status).where(
                Organization.id.in_(set(organization_ids))
            )
        )
        return {r.id: (r.legal_name, r.status) for r in rows}

    async def count_where(self, condition: Any) -> int:
        stmt = select(func.count()).select_from(Store).where(condition)
        return int(await self.session.scalar(stmt) or 0)

    async def page_where(self, conditions: list[Any], after: int | None, limit: int) -> Sequence[Store]:
        stmt = select(Store).where(*conditions)
        return (await self.session.scalars(newest_first(stmt, Store.id, after, limit))).all()
