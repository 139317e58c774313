"""The read side of refund requests and disputes: scoped reads for buyers, stores and operators."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import get_store_for, require_operator
from souk.dispute.errors import (
    DisputeNotFound,
)
from souk.dispute.schemas import DisputeEventRead, DisputeRead
from souk.errors import NotFound
from souk.ledger import accounts
from souk.ledger.service import ledger_service
from souk.models import Dispute, DisputeEvent, OrderEvent, SellerOrder
from souk.models.dispute import OPEN_DISPUTE_STATUSES
from souk.order.repository import OrderRepository

DISPUTABLE = ("paid", "shipped")
REFUND_OUTCOMES = ("refund_full", "refund_partial")
# evidence photos per step (opening, a message)
MAX_IMAGES = 3
# a returned item is refunded automatically this long after the buyer gave the return tracking number, unless the
# seller confirmed its arrival before
RETURN_REFUND_DAYS = 10


class DisputeQueries:
    """The read side of disputes (and the scoped reads of the seller orders they are about)."""

    # --- reads ------------------------------------------------------------------------------------------

    async def _dispute(self, session: AsyncSession, dispute_id: int) -> Dispute | None:
        return await session.scalar(
            select(Dispute).where(Dispute.id == dispute_id).execution_options(populate_existing=True)
        )

    async def _events(self, session: AsyncSession, dispute_id: int) -> Sequence[DisputeEvent]:
        rows = await session.scalars(
            select(DisputeEvent).where(DisputeEvent.dispute_id == dispute_id).order_by(DisputeEvent.id)
        )
        return rows.all()

    async def read(self, session: AsyncSession, dispute: Dispute, *, events: bool = True) -> DisputeRead:
        result = DisputeRead.model_validate(dispute)
        if events:
            result.events = [
                DisputeEventRead.model_validate(e) for e in await self._events(session, dispute.id)
            ]
        return result

    async def for_buyer(self, session: AsyncSession, actor: Actor, dispute_id: int) -> Dispute:
        dispute = await self._dispute(session, dispute_id)
        if dispute is None or actor.user_id is None or dispute.opened_by_id != actor.user_id:
            raise DisputeNotFound()
        return dispute

    async def _for_store(
        self, session: AsyncSession, actor: Actor, dispute_id: int, permission: str
    ) -> Dispute:
        dispute = await self._dispute(session, dispute_id)
        if dispute is None:
            raise DisputeNotFound()
        try:
            await get_store_for(session, actor, dispute.store_id, permission)
        except NotFound:
            raise DisputeNotFound() from None
        return dispute

    async def get(self, session: AsyncSession, actor: Actor, dispute_id: int) -> DisputeRead:
        """One dispute with its log, for its buyer, the store's people or an operator (else 404)."""
        dispute = await self._dispute(session, dispute_id)
        if dispute is None:
            raise DisputeNotFound()
        if dispute.opened_by_id != actor.user_id and not actor.is_operator:
            await self._for_store(session, actor, dispute_id, "store:read")
        return await self.read(session, dispute)

    async def list_for_buyer(self, session: AsyncSession, actor: Actor) -> list[DisputeRead]:
        if actor.user_id is None:
            return []
        rows = await session.scalars(
            select(Dispute)
            .where(Dispute.opened_by_id == actor.user_id)
            .order_by(Dispute.id.desc())
            .limit(200)
        )
        return [await self.read(session, d, events=False) for d in rows.all()]

    async def list_for_store(self, session: AsyncSession, actor: Actor, store_id: int) -> list[DisputeRead]:
        store = await get_store_for(session, actor, store_id, "store:read")
        rows = await session.scalars(
            select(Dispute).where(Dispute.store_id == store.id).order_by(Dispute.id.desc()).limit(200)
        )
        return [await self.read(session, d, events=False) for d in rows.all()]

    async def list_for_operator(
        self, session: AsyncSession, actor: Actor, status: str | None = "escalated"
    ) -> list[DisputeRead]:
        require_operator(actor)
        stmt = select(Dispute).order_by(Dispute.id.desc()).limit(200)
        if status:
            stmt = stmt.where(Dispute.status == status)
        return [await self.read(session, d, events=False) for d in (await session.scalars(stmt)).all()]

    async def counts(self, session: AsyncSession) -> dict[str, int]:
        """How many disputes are in each status (the operators' queue)."""
        rows = await session.execute(select(Dispute.status, func.count()).group_by(Dispute.status))
        return {status: int(n) for status, n in rows.all()}

    async def open_for(self, session: AsyncSession, seller_order_ids: Sequence[int]) -> dict[int, Dispute]:
        """The open dispute of each of these seller orders (for the order pages)."""
        if not seller_order_ids:
            return {}
        rows = await session.scalars(
            select(Dispute).where(
                Dispute.seller_order_id.in_(list(seller_order_ids)),
                Dispute.status.in_(OPEN_DISPUTE_STATUSES),
            )
        )
        return {d.seller_order_id: d for d in rows.all()}

    async def refunded_amount(self, session: AsyncSession, seller_order_id: int) -> int:
        """What disputes of this seller order have refunded so far."""
        total = await session.scalar(
            select(func.coalesce(func.sum(Dispute.resolved_amount), 0)).where(
                Dispute.seller_order_id == seller_order_id, Dispute.outcome.in_(REFUND_OUTCOMES)
            )
        )
        return int(total or 0)

    async def refundable(self, session: AsyncSession, so: SellerOrder) -> int:
        """What may still be asked for: what is left in the seller order's escrow."""
        return await ledger_service.balance(session, accounts.escrow(so.store_id, so.id), so.currency)

    async def case(self, session: AsyncSession, actor: Actor, dispute_id: int) -> dict[str, Any]:
        """What an operator reads before ruling: the dispute with its log, its seller order, the order's
        timeline and the ledger movements of the seller order (each entry with its postings)."""
        require_operator(actor)
        dispute = await self._dispute(session, dispute_id)
        if dispute is None:
            raise DisputeNotFound()
        so = await self._seller_order(session, dispute)
        timeline = (
            await session.scalars(
                select(OrderEvent).where(OrderEvent.seller_order_id == so.id).order_by(OrderEvent.id)
            )
        ).all()
        entries = []
        for entry in await ledger_service.entries_for(session, ("seller_order", so.id)):
            entries.append({"entry": entry, "postings": await ledger_service.postings_of(session, entry.id)})
        return {
            "dispute": await self.read(session, dispute),
            "seller_order": so,
            "timeline": list(timeline),
            "ledger": entries,
            "refundable": await self.refundable(session, so),
        }

    async def _seller_order(self, session: AsyncSession, dispute: Dispute) -> SellerOrder:
        so = await OrderRepository(session).seller_order(dispute.seller_order_id)
        assert so is not None
        return so

    async def seller_order_of(self, session: AsyncSession, actor: Actor, dispute_id: int) -> SellerOrder:
        """The seller order a dispute is about, for whoever may read the dispute (else 404)."""
        dispute = await self._dispute(session, dispute_id)
        if dispute is None:
            raise DisputeNotFound()
        await self.get(session, actor, dispute_id)
        return await self._seller_order(session, dispute)

    async def buyer_seller_order(
        self, session: AsyncSession, actor: Actor, seller_order_id: int
    ) -> SellerOrder:
        """One of the actor's own seller orders, the one a refund request would be about (else 404)."""
        so = await OrderRepository(session).seller_order(seller_order_id)
        if so is None or actor.user_id is None or so.buyer_id != actor.user_id:
            raise DisputeNotFound()
        return so
