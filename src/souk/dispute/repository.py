"""All SQL of disputes: scoped reads (a dispute of a buyer, of the stores an actor works on, a seller order of a
buyer), the conditional status moves (an ``UPDATE ... WHERE status IN (...)`` whose row count says whether it
happened), the inserts of a dispute (refused by the one-open-dispute-per-seller-order index) and of its log, and
the due rows of the dispute timers (claimed ``FOR UPDATE SKIP LOCKED`` on PostgreSQL). No rules, no commit: the
rules live in ``souk.dispute.service`` and ``souk.dispute.queries``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.kit.clock import utcnow
from souk.models import Dispute, DisputeEvent, OrderEvent, SellerOrder
from souk.models.dispute import OPEN_DISPUTE_STATUSES
from souk.worker.timers import claim_due


class DisputeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- reads: one dispute -----------------------------------------------------------------------------

    async def dispute(self, dispute_id: int) -> Dispute | None:
        """The dispute, unscoped (operators, timers, and re-reads after a scoped read), read fresh."""
        return await self.session.scalar(
            select(Dispute).where(Dispute.id == dispute_id).execution_options(populate_existing=True)
        )

    async def dispute_of_buyer(self, dispute_id: int, buyer_id: int) -> Dispute | None:
        """The dispute when ``buyer_id`` opened it."""
        return await self.session.scalar(
            select(Dispute)
            .where(Dispute.id == dispute_id, Dispute.opened_by_id == buyer_id)
            .execution_options(populate_existing=True)
        )

    async def dispute_of_stores(self, dispute_id: int, store_ids: Select[Any]) -> Dispute | None:
        """The dispute when it is about one of ``store_ids`` (``souk.authz.store_ids(actor, permission)``)."""
        return await self.session.scalar(
            select(Dispute)
            .where(Dispute.id == dispute_id, Dispute.store_id.in_(store_ids))
            .execution_options(populate_existing=True)
        )

    async def dispute_of_buyer_or_stores(
        self, dispute_id: int, buyer_id: int, store_ids: Select[Any]
    ) -> Dispute | None:
        """The dispute when ``buyer_id`` opened it or it is about one of ``store_ids``."""
        return await self.session.scalar(
            select(Dispute)
            .where(
                Dispute.id == dispute_id,
                or_(Dispute.opened_by_id == buyer_id, Dispute.store_id.in_(store_ids)),
            )
            .execution_options(populate_existing=True)
        )

    async def events(self, dispute_id: int) -> list[DisputeEvent]:
        """The dispute's log, oldest first."""
        rows = await self.session.scalars(
            select(DisputeEvent).where(DisputeEvent.dispute_id == dispute_id).order_by(DisputeEvent.id)
        )
        return list(rows.all())

    async def event(self, dispute_id: int, event_id: int) -> DisputeEvent | None:
        """One entry of the dispute's log (none when it belongs to another dispute)."""
        return await self.session.scalar(
            select(DisputeEvent).where(DisputeEvent.id == event_id, DisputeEvent.dispute_id == dispute_id)
        )

    # --- reads: lists and sums ----------------------------------------------------------------------------

    async def of_buyer(self, buyer_id: int, limit: int) -> list[Dispute]:
        rows = await self.session.scalars(
            select(Dispute).where(Dispute.opened_by_id == buyer_id).order_by(Dispute.id.desc()).limit(limit)
        )
        return list(rows.all())

    async def of_store(self, store_id: int, limit: int) -> list[Dispute]:
        rows = await self.session.scalars(
            select(Dispute).where(Dispute.store_id == store_id).order_by(Dispute.id.desc()).limit(limit)
        )
        return list(rows.all())

    async def latest(self, status: str | None, limit: int) -> list[Dispute]:
        """Every dispute (of one ``status`` when given), newest first."""
        stmt = select(Dispute).order_by(Dispute.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(Dispute.status == status)
        return list((await self.session.scalars(stmt)).all())

    async def status_counts(self) -> dict[str, int]:
        rows = await self.session.execute(select(Dispute.status, func.count()).group_by(Dispute.status))
        return {status: int(n) for status, n in rows.all()}

    async def open_for(self, seller_order_ids: Sequence[int]) -> dict[int, Dispute]:
        """The open dispute of each of these seller orders."""
        if not seller_order_ids:
            return {}
        rows = await self.session.scalars(
            select(Dispute).where(
                Dispute.seller_order_id.in_(list(seller_order_ids)),
                Dispute.status.in_(OPEN_DISPUTE_STATUSES),
            )
        )
        return {d.seller_order_id: d for d in rows.all()}

    async def resolved_total(self, seller_order_id: int, outcomes: Sequence[str]) -> int:
        """The sum of ``resolved_amount`` of the seller order's disputes that ended with one of ``outcomes``."""
        total = await self.session.scalar(
            select(func.coalesce(func.sum(Dispute.resolved_amount), 0)).where(
                Dispute.seller_order_id == seller_order_id, Dispute.outcome.in_(list(outcomes))
            )
        )
        return int(total or 0)

    # --- reads: the seller order a dispute is about ---------------------------------------------------------

    async def seller_order_of_buyer(self, seller_order_id: int, buyer_id: int) -> SellerOrder | None:
        """The seller order when ``buyer_id`` bought it, read fresh."""
        return await self.session.scalar(
            select(SellerOrder)
            .where(SellerOrder.id == seller_order_id, SellerOrder.buyer_id == buyer_id)
            .execution_options(populate_existing=True)
        )

    async def timeline(self, seller_order_id: int) -> list[OrderEvent]:
        """The seller order's timeline, oldest first (what an operator reads before ruling)."""
        rows = await self.session.scalars(
            select(OrderEvent).where(OrderEvent.seller_order_id == seller_order_id).order_by(OrderEvent.id)
        )
        return list(rows.all())

    # --- writes -----------------------------------------------------------------------------------------------

    async def insert(self, dispute: Dispute) -> bool:
        """Insert ``dispute`` (in a savepoint); False when its seller order has an open dispute already (the
        partial unique index ``uq_disputes_open_per_seller_order``)."""
        try:
            async with self.session.begin_nested():
                self.session.add(dispute)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    def add_event(
        self,
        dispute_id: int,
        kind: str,
        *,
        actor_id: int | None,
        actor_role: str,
        at: datetime,
        body: str = "",
        data: dict[str, Any] | None = None,
    ) -> DisputeEvent:
        event = DisputeEvent(
            dispute_id=dispute_id,
            kind=kind,
            actor_id=actor_id,
            actor_role=actor_role,
            body=body,
            data=data or {},
            created_at=at,
        )
        self.session.add(event)
        return event

    async def move(
        self,
        dispute_id: int,
        from_statuses: Sequence[str],
        values: dict[str, Any],
        *,
        without_return_tracking: bool = False,
    ) -> bool:
        """Apply ``values`` (and ``updated_at``) when the dispute is in one of ``from_statuses`` (and, with
        ``without_return_tracking``, has no return tracking number); True when this transaction made the change."""
        stmt = update(Dispute).where(Dispute.id == dispute_id, Dispute.status.in_(list(from_statuses)))
        if without_return_tracking:
            stmt = stmt.where(Dispute.return_tracking_number.is_(None))
        result = await self.session.execute(
            stmt.values(**values, updated_at=utcnow()).execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    # --- timers: due rows, claimed ----------------------------------------------------------------------------

    async def due_to_auto_resolve(self, now: datetime) -> Sequence[Dispute]:
        """Requests the seller has not answered, and tracked returns not confirmed, by ``respond_by``."""
        return await claim_due(
            self.session,
            select(Dispute)
            .where(Dispute.status.in_(["awaiting_seller", "awaiting_return"]), Dispute.respond_by <= now)
            .order_by(Dispute.respond_by, Dispute.id),
        )

    async def due_to_expire_rejected(self, now: datetime) -> Sequence[Dispute]:
        """Rejected requests not escalated by ``escalate_by``."""
        return await claim_due(
            self.session,
            select(Dispute)
            .where(Dispute.status == "awaiting_buyer", Dispute.escalate_by <= now)
            .order_by(Dispute.escalate_by, Dispute.id),
        )

    async def due_to_expire_return(self, now: datetime) -> Sequence[Dispute]:
        """Accepted returns with no return tracking number by ``return_by``."""
        return await claim_due(
            self.session,
            select(Dispute)
            .where(
                Dispute.status == "awaiting_return",
                Dispute.return_tracking_number.is_(None),
                Dispute.return_by <= now,
            )
            .order_by(Dispute.return_by, Dispute.id),
        )

    async def shipped_with_open_dispute(self) -> Sequence[SellerOrder]:
        """Shipped seller orders whose receipt timer runs while a dispute on them is open."""
        return await claim_due(
            self.session,
            select(SellerOrder)
            .join(Dispute, Dispute.seller_order_id == SellerOrder.id)
            .where(
                SellerOrder.status == "shipped",
                SellerOrder.auto_confirm_at.is_not(None),
                Dispute.status.in_(OPEN_DISPUTE_STATUSES),
            )
            .order_by(SellerOrder.id),
            of=SellerOrder,
        )
