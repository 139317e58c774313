"""How a dispute step is recorded and settled: the dispute's log and the order timeline, telling each side,
the conditional status moves, and the money: a refund from escrow (``refund_before_release``) or, for a claim on
a completed order, from the store's payable balance (``refund_after_release``, a claw-back), the provider's
refund spread over the order's payments, and closing without a refund. ``DisputeService``
(``souk.dispute.service``) extends this with the steps people and timers take. Flushes, never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from souk.dispute.queries import DisputeQueries
from souk.dispute.repository import DisputeRepository
from souk.kit.clock import utcnow
from souk.kit.money import Money, format_money
from souk.ledger import postings
from souk.ledger.service import ledger_service
from souk.models import Dispute, SellerOrder
from souk.notification.service import notification_service
from souk.order.milestones import MilestoneRepository
from souk.order.queries import buyer_link, seller_link
from souk.order.repository import OrderRepository, stocked
from souk.order.service import order_service
from souk.payment.service import payment_service

DISPUTABLE = ("paid", "shipped")
# a claim: receipt was confirmed and escrow released, within the policy's claim window
CLAIMABLE = ("completed",)


def amount_text(amount: int, currency: str) -> str:
    return format_money(amount, currency, "en_001")


def refund_key(seller_order_id: int, dispute_id: int) -> str:
    return f"so:{seller_order_id}:refund:dispute-{dispute_id}"


class DisputeSettlement(DisputeQueries):
    # --- log, timeline, notifications --------------------------------------------------------------------

    def _log(
        self,
        session: AsyncSession,
        dispute: Dispute,
        kind: str,
        *,
        actor_id: int | None,
        role: str,
        at: datetime,
        body: str = "",
        data: dict[str, Any] | None = None,
        timeline: bool = True,
        images: list[dict[str, Any]] | None = None,
        documents: list[dict[str, Any]] | None = None,
    ) -> None:
        DisputeRepository(session).add_event(
            dispute.id,
            kind,
            actor_id=actor_id,
            actor_role=role,
            at=at,
            body=body,
            data={
                **(data or {}),
                **({"images": images} if images else {}),
                **({"documents": documents} if documents else {}),
            },
        )
        if timeline:
            OrderRepository(session).add_event(
                dispute.seller_order_id,
                f"dispute_{kind}",
                actor_id=actor_id,
                actor_role=role,
                at=at,
                data={"dispute_id": dispute.id, **(data or {})},
            )

    async def _tell_store(self, session: AsyncSession, so: SellerOrder, title: str, body: str = "") -> None:
        for user_id in await OrderRepository(session).store_people(so.store_id):
            await notification_service.notify(
                session, user_id, "dispute.update", title, body=body, link=seller_link(so.store_id, so.id)
            )

    async def _tell_buyer(self, session: AsyncSession, so: SellerOrder, title: str, body: str = "") -> None:
        await notification_service.notify(
            session, so.buyer_id, "dispute.update", title, body=body, link=buyer_link(so.order_id)
        )

    async def _move(
        self,
        session: AsyncSession,
        dispute_id: int,
        from_statuses: Sequence[str],
        values: dict[str, Any],
        *,
        without_return_tracking: bool = False,
    ) -> bool:
        """Move the dispute from one of ``from_statuses``; False when another step moved it first."""
        return await DisputeRepository(session).move(
            dispute_id, from_statuses, values, without_return_tracking=without_return_tracking
        )

    # --- resolving --------------------------------------------------------------------------------------------

    async def _resolve(
        self,
        session: AsyncSession,
        dispute: Dispute,
        from_statuses: Sequence[str],
        *,
        amount: int,
        kind: str,
        actor_id: int | None,
        role: str,
        note: str,
        extra: dict[str, Any] | None = None,
    ) -> bool:
        """Refund ``amount`` from escrow and close the dispute. All that is left in escrow: the seller order is
        ``refunded``; less: the receipt timer runs again."""
        so = await self._seller_order(session, dispute)
        most = await self.refundable(session, so)
        after_release = dispute.kind == "claim" and so.status in CLAIMABLE
        if (so.status not in DISPUTABLE and not after_release) or most <= 0:
            # the order left escrow meanwhile (cancelled by the buyer before shipment, say): nothing to refund
            return await self._release(
                session,
                dispute,
                from_statuses,
                actor_id=actor_id,
                role=role,
                note=f"The order is {so.status.replace('_', ' ')}: nothing is left in escrow to refund.",
            )
        amount = min(amount, most)
        full = amount == most
        now = utcnow()
        if not await self._move(
            session,
            dispute.id,
            from_statuses,
            {
                "status": "resolved",
                "outcome": "refund_full" if full else "refund_partial",
                "resolved_amount": amount,
                "resolution_note": note,
                "resolved_at": now,
                "respond_by": None,
                "escalate_by": None,
                "return_by": None,
                **(extra or {}),
            },
        ):
            return False
        await ledger_service.post(
            session,
            key=refund_key(so.id, dispute.id),
            kind="refund",
            postings=(
                # the money was released already: it comes back from the store's balance (a claw-back, which
                # may take it below zero until later sales cover it)
                postings.refund_after_release(so.store_id, Money(amount, so.currency))
                if after_release
                else postings.refund_before_release(so.id, so.store_id, Money(amount, so.currency))
            ),
            reference=("seller_order", so.id),
            memo=f"Order {so.number}: {'claim' if dispute.kind == 'claim' else 'refund request'} #{dispute.id}",
        )
        await self._refund_payments(session, so, amount, f"dispute:{dispute.id}")
        self._log(
            session,
            dispute,
            kind,
            actor_id=actor_id,
            role=role,
            at=now,
            body=note,
            data={"amount": amount, "outcome": "refund_full" if full else "refund_partial"},
        )
        if full:
            await self._mark_refunded(session, so, dispute, actor_id=actor_id, role=role, now=now)
        elif not after_release:
            await order_service.resume_receipt_timer(session, so.id, actor_id=actor_id, actor_role=role)
        source = "from the seller's balance" if after_release else "from escrow"
        text = f"{amount_text(amount, so.currency)} refunded {source} ({note})"
        await self._tell_buyer(session, so, f"Order {so.number}: refund granted", body=text)
        await self._tell_store(session, so, f"Order {so.number}: refund paid", body=text)
        await session.flush()
        return True

    async def _refund_payments(
        self, session: AsyncSession, so: SellerOrder, amount: int, reference: str
    ) -> None:
        """The provider's refund of ``amount``: from the order's payment, or for a contract order from its
        milestones' payments, the latest first (each up to what it still holds)."""
        milestones = [m for m in await MilestoneRepository(session).of([so.id]) if m.payment_id is not None]
        if not milestones:
            order = await OrderRepository(session).order(so.order_id)
            if order is not None and order.payment_id is not None:
                await payment_service.refund(session, order.payment_id, amount, reference)
            return
        left = amount
        for milestone in sorted(milestones, key=lambda m: m.position, reverse=True):
            if left <= 0:
                break
            assert milestone.payment_id is not None
            payment = await payment_service.get(session, milestone.payment_id)
            part = min(left, payment.amount - payment.refunded_amount)
            if part > 0:
                await payment_service.refund(session, payment.id, part, f"{reference}:{milestone.kind}")
                left -= part
        if left > 0:
            raise RuntimeError(f"{so.number}: {left} of the refund is not covered by its payments")

    async def _mark_refunded(
        self,
        session: AsyncSession,
        so: SellerOrder,
        dispute: Dispute,
        *,
        actor_id: int | None,
        role: str,
        now: datetime,
    ) -> None:
        repo = OrderRepository(session)
        was = so.status
        if not await repo.transition(
            so.id,
            [*DISPUTABLE, *CLAIMABLE],
            {
                "status": "refunded",
                "auto_confirm_at": None,
                "auto_confirm_remaining_seconds": None,
                "updated_at": now,
            },
        ):
            return
        if was == "paid":
            for line in stocked(await repo.lines_of([so.id])):
                on_hand = await repo.restock(line.sku_id, line.quantity)
                if on_hand is not None:
                    repo.add_movement(
                        line.sku_id, "return", line.quantity, on_hand, f"order {so.number} refunded", actor_id
                    )
        repo.add_event(
            so.id, "refunded", actor_id=actor_id, actor_role=role, at=now, data={"dispute_id": dispute.id}
        )

    async def _release(
        self,
        session: AsyncSession,
        dispute: Dispute,
        from_statuses: Sequence[str],
        *,
        actor_id: int | None,
        role: str,
        note: str,
        without_return_tracking: bool = False,
    ) -> bool:
        """Close the dispute without a refund: the money stays in escrow and the receipt timer runs again."""
        now = utcnow()
        if not await self._move(
            session,
            dispute.id,
            from_statuses,
            {
                "status": "resolved",
                "outcome": "released",
                "resolved_amount": 0,
                "resolution_note": note,
                "resolved_at": now,
                "respond_by": None,
                "escalate_by": None,
                "return_by": None,
            },
            without_return_tracking=without_return_tracking,
        ):
            return False
        so = await self._seller_order(session, dispute)
        self._log(
            session,
            dispute,
            "released",
            actor_id=actor_id,
            role=role,
            at=now,
            body=note,
            data={"outcome": "released"},
        )
        await order_service.resume_receipt_timer(session, so.id, actor_id=actor_id, actor_role=role)
        await self._tell_buyer(session, so, f"Order {so.number}: refund request closed", body=note)
        await self._tell_store(session, so, f"Order {so.number}: refund request closed", body=note)
        await session.flush()
        return True
