"""Every SQL statement of contracts: scoped reads, the conditional moves (edit a draft, confirm one side,
supersede the version in force), the lists (one row per number, at its newest version)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, or_, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession

from souk.models import Contract, Organization, PaymentMilestone, SellerOrder, Store
from souk.models.base import UTCDateTime

NO_SYNC = {"synchronize_session": False}


class ContractRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def visible(
        self, contract_id: int, organizations: Select[Any], stores: Select[Any]
    ) -> tuple[Contract, bool, bool] | None:
        """The contract if the actor is on one of its sides, with (is buyer side, is supplier side)."""
        is_buyer = Contract.buyer_organization_id.in_(organizations)
        is_supplier = Contract.store_id.in_(stores)
        row = (
            await self.session.execute(
                select(Contract, is_buyer.label("b"), is_supplier.label("s")).where(
                    Contract.id == contract_id, or_(is_buyer, is_supplier)
                )
            )
        ).first()
        if row is None:
            return None
        return row[0], bool(row[1]), bool(row[2])

    async def versions(self, number: str) -> list[Contract]:
        rows = await self.session.scalars(
            select(Contract).where(Contract.number == number).order_by(Contract.version)
        )
        return list(rows.all())

    async def refresh(self, contract: Contract) -> Contract:
        await self.session.refresh(contract)
        return contract

    async def edit_draft(
        self, contract_id: int, seen: datetime, bumped: datetime, values: dict[str, Any]
    ) -> bool:
        """Change a draft's terms and clear both confirmations, only if it is still the draft the editor saw."""
        result = await self.session.execute(
            update(Contract)
            .where(Contract.id == contract_id, Contract.status == "draft", Contract.updated_at == seen)
            .values(
                **values,
                buyer_confirmed_at=None,
                buyer_confirmed_by_id=None,
                supplier_confirmed_at=None,
                supplier_confirmed_by_id=None,
                updated_at=bumped,
            )
            .execution_options(**NO_SYNC)
        )
        return bool(getattr(result, "rowcount", 0))

    async def confirm_side(
        self, contract_id: int, side: str, user_id: int, now: datetime, seen: datetime | None
    ) -> str | None:
        """Set one side's confirmation on a draft it has not confirmed yet. The same statement moves the draft to
        ``confirmed`` when the other side had confirmed already, so of two racing confirmations exactly one makes
        the move. Returns the new status, or None when nothing changed. Keeps ``updated_at`` (the terms did not
        change)."""
        mine_at, mine_by = (
            (Contract.buyer_confirmed_at, "buyer_confirmed_by_id")
            if side == "buyer"
            else (Contract.supplier_confirmed_at, "supplier_confirmed_by_id")
        )
        other_at = Contract.supplier_confirmed_at if side == "buyer" else Contract.buyer_confirmed_at
        stamp = type_coerce(literal(now, UTCDateTime()), UTCDateTime())
        conditions = [Contract.id == contract_id, Contract.status == "draft", mine_at.is_(None)]
        if seen is not None:
            conditions.append(Contract.updated_at == seen)
        result = await self.session.execute(
            update(Contract)
            .where(*conditions)
            .values(
                {
                    mine_at.key: now,
                    mine_by: user_id,
                    "status": case((other_at.is_not(None), "confirmed"), else_="draft"),
                    "confirmed_at": case((other_at.is_not(None), stamp), else_=None),
                    "updated_at": Contract.updated_at,
                }
            )
            .returning(Contract.status)
            .execution_options(**NO_SYNC)
        )
        row = result.first()
        return None if row is None else str(row[0])

    async def supersede(self, contract_id: int) -> bool:
        """The version in force gives way to its confirmed amendment (and hands it its order)."""
        result = await self.session.execute(
            update(Contract)
            .where(Contract.id == contract_id, Contract.status == "confirmed")
            .values(status="superseded", seller_order_id=None, updated_at=Contract.updated_at)
            .execution_options(**NO_SYNC)
        )
        return bool(getattr(result, "rowcount", 0))

    async def attach_order(self, contract_id: int, seller_order_id: int) -> None:
        await self.session.execute(
            update(Contract)
            .where(Contract.id == contract_id)
            .values(seller_order_id=seller_order_id, updated_at=Contract.updated_at)
            .execution_options(**NO_SYNC)
        )

    async def in_force(self, number: str) -> Contract | None:
        contract: Contract | None = await self.session.scalar(
            select(Contract).where(Contract.number == number, Contract.status == "confirmed")
        )
        return contract

    async def latest_version(self, number: str) -> int:
        return int(
            await self.session.scalar(select(func.max(Contract.version)).where(Contract.number == number))
            or 0
        )

    async def open_amendment(self, number: str) -> Contract | None:
        contract: Contract | None = await self.session.scalar(
            select(Contract).where(
                Contract.number == number, Contract.status == "draft", Contract.version > 1
            )
        )
        return contract

    async def seller_order(self, seller_order_id: int) -> SellerOrder | None:
        return await self.session.get(SellerOrder, seller_order_id)

    async def order_of(self, seller_order_id: int) -> int | None:
        value = await self.session.scalar(
            select(SellerOrder.order_id).where(SellerOrder.id == seller_order_id)
        )
        return int(value) if value is not None else None

    async def paid_milestones(self, seller_order_id: int) -> int:
        """Milestones whose money moved or started moving (paid, refunded, or a payment begun)."""
        return int(
            await self.session.scalar(
                select(func.count())
                .select_from(PaymentMilestone)
                .where(
                    PaymentMilestone.seller_order_id == seller_order_id,
                    or_(
                        PaymentMilestone.status.not_in(("pending", "due")),
                        PaymentMilestone.payment_id.is_not(None),
                    ),
                )
            )
            or 0
        )

    async def set_order_ship_by(self, seller_order_id: int, ship_by: datetime) -> None:
        await self.session.execute(
            update(SellerOrder)
            .where(SellerOrder.id == seller_order_id, SellerOrder.ship_by.is_not(None))
            .values(ship_by=ship_by)
            .execution_options(**NO_SYNC)
        )

    async def newest(self, condition: Any, limit: int = 200) -> Sequence[Any]:
        """One row per contract number (its newest version) matching ``condition``, newest first, with the
        store's and the buyer organisation's names."""
        newest = (
            select(
                Contract.number,
                func.max(Contract.version).label("version"),
                func.min(Contract.id).label("first_id"),
            )
            .where(condition)
            .group_by(Contract.number)
            .subquery()
        )
        rows = await self.session.execute(
            select(Contract, Store.name, Organization.legal_name)
            .join(newest, and_(newest.c.number == Contract.number, newest.c.version == Contract.version))
            .join(Store, Store.id == Contract.store_id)
            .join(Organization, Organization.id == Contract.buyer_organization_id)
            .order_by(newest.c.first_id.desc())
            .limit(limit)
        )
        return rows.all()
