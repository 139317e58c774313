"""The order lifecycle (DOMAIN.md "SellerOrder state machine"). Flushes, never commits.

```
pending_payment --pay--> paid --ship--> shipped --confirm receipt / auto-confirm--> completed
      | unpaid timer / buyer     | buyer cancels before shipment (refund from escrow, stock back on hand)
      v                          v
  cancelled                  cancelled
```

Every transition is one method here. It checks who may do it, changes the row with a conditional
``UPDATE ... WHERE status IN (...)`` (so of two racing transitions exactly one happens), writes an ``OrderEvent``,
posts one balanced ledger entry when money moves (with a per-event idempotency key) and notifies the other side,
all in the caller's transaction. A transition that already happened is a no-op: calling it again returns the
order as it is. The deadlines the worker sweeps (``souk.order.tasks``) go through the same methods.

Ledger keys: ``so:<id>:captured``, ``so:<id>:released``, ``so:<id>:refund:<why>``.

Being paid and closing unpaid orders live in ``souk.order.paying`` (``OrderPaying``, which ``OrderService``
extends); a contract order's milestones in ``souk.order.milestones``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import require_user, require_writer
from souk.fulfillment.repository import tracking_key
from souk.kit.clock import utcnow
from souk.kit.money import Money
from souk.ledger import accounts, postings
from souk.ledger.service import ledger_service
from souk.models import Order, Payment, SellerOrder, Shipment
from souk.order.errors import (
    MilestoneOrderNotCancellable,
    PaymentInProgress,
    ReceiptExtensionRefused,
    TransitionNotAllowed,
)
from souk.order.milestones import MilestoneRepository, milestones
from souk.order.paying import OrderPaying, amount_text
from souk.order.repository import OrderRepository, stocked
from souk.order.schemas import SellerOrderRead, ShipCreate, StoreOrderRead
from souk.order.views import (
    may_extend,
)
from souk.payment.service import payment_service

# paid (in part or in full) and not shipped: the ship-by timer runs (a contract's order: from its deposit on)
UNSHIPPED_PAID = ("paid", "in_production", "awaiting_balance")


class OrderService(OrderPaying):
    # --- cancelling a paid seller order ---------------------------------------------------------------------

    async def cancel(
        self, session: AsyncSession, actor: Actor, order_id: int, seller_order_id: int
    ) -> SellerOrderRead:
        """The buyer cancels a paid seller order before it ships: its whole amount is refunded from escrow
        (ledger ``refund`` and the provider's refund) and its units go back on hand. Allowed until shipment,
        and at once (no questions) after the seller missed the ship-by time. Already cancelled: no change."""
        user_id = require_writer(actor)
        order, so = await self._buyer_seller_order(session, actor, order_id, seller_order_id)
        plan = await milestones.plan_of(session, so)
        if so.status != "cancelled" and plan is not None:
            await self._cancel_milestone_order(session, order, so, actor_id=user_id)
        elif so.status != "cancelled":
            if so.status == "pending_payment":
                raise TransitionNotAllowed(
                    "cancelled on its own", so.status, "Cancel the whole order instead: it is not paid yet."
                )
            if so.status != "paid":
                hint = "Ask the seller for a refund instead." if so.status == "shipped" else ""
                raise TransitionNotAllowed("cancelled", so.status, hint)
            await self._cancel_paid(session, order, so, actor_id=user_id)
        return await self._buyer_so_read(session, order, so.id)

    async def _cancel_milestone_order(
        self, session: AsyncSession, order: Order, so: SellerOrder, *, actor_id: int
    ) -> bool:
        """A sourcing contract's order: cancelled for nothing while its deposit is unpaid; once money is paid,
        only when the supplier has not shipped by the ship-by time (the on-time shipment guarantee), and then
        every paid milestone is refunded from escrow."""
        repo = OrderRepository(session)
        now = utcnow()
        if await milestones.payment_in_progress(session, so):
            raise PaymentInProgress()
        if so.status == "awaiting_deposit":
            reason, allowed = "buyer_unpaid", ["awaiting_deposit"]
        elif so.shipped_at is None and so.status in ("in_production", "awaiting_balance", "paid"):
            late = so.seller_late_at is not None or (so.ship_by is not None and so.ship_by <= now)
            if not late:
                raise MilestoneOrderNotCancellable(so.ship_by)
            reason, allowed = "seller_late", ["in_production", "awaiting_balance", "paid"]
        else:
            hint = "Open a claim instead." if so.status in ("shipped", "completed") else ""
            raise TransitionNotAllowed("cancelled", so.status, hint)
        if not await repo.transition(
            so.id,
            allowed,
            {"status": "cancelled", "cancelled_at": now, "cancel_reason": reason, "updated_at": now},
        ):
            fresh = await repo.seller_order(so.id)
            if fresh is not None and fresh.status == "cancelled":
                return False
            raise TransitionNotAllowed("cancelled", fresh.status if fresh else so.status)
        refunded = await milestones.refund_paid(session, so, "cancel", now)
        await repo.order_transition(
            order.id, "pending_payment", {"status": "cancelled", "closed_at": now, "updated_at": now}
        )
        repo.add_event(
            so.id,
            "cancelled",
            actor_id=actor_id,
            actor_role="buyer",
            at=now,
            data={"reason": reason, "refund_amount": refunded},
        )
        body = (
            f"The ship-by time had passed; {amount_text(refunded, so.currency)} was refunded to the buyer from escrow."
            if refunded
            else "Nothing had been paid."
        )
        await self._notify_store(
            session, so, "order.cancelled", f"Order {so.number} cancelled by the buyer", body
        )
        await session.flush()
        return True

    async def _cancel_paid(
        self, session: AsyncSession, order: Order, so: SellerOrder, *, actor_id: int
    ) -> bool:
        repo = OrderRepository(session)
        now = utcnow()
        late = so.seller_late_at is not None or (so.ship_by is not None and so.ship_by <= now)
        reason = "seller_late" if late else "buyer"
        if not await repo.transition(
            so.id,
            ["paid"],
            {"status": "cancelled", "cancelled_at": now, "cancel_reason": reason, "updated_at": now},
        ):
            fresh = await repo.seller_order(so.id)
            if fresh is not None and fresh.status == "cancelled":
                return False
            raise TransitionNotAllowed("cancelled", fresh.status if fresh else so.status)
        refunded = await self._refund_from_escrow(session, order, so, "cancel")
        for line in stocked(await repo.lines_of([so.id])):
            on_hand = await repo.restock(line.sku_id, line.quantity)
            if on_hand is not None:
                repo.add_movement(
                    line.sku_id, "return", line.quantity, on_hand, f"order {so.number} cancelled", actor_id
                )
        repo.add_event(
            so.id,
            "cancelled",
            actor_id=actor_id,
            actor_role="buyer",
            at=now,
            data={"reason": reason, "refund_amount": refunded},
        )
        await self._notify_store(
            session,
            so,
            "order.cancelled",
            f"Order {so.number} cancelled by the buyer",
            body=f"{amount_text(refunded, so.currency)} was refunded from escrow; the units are back in stock.",
        )
        await session.flush()
        return True

    async def _refund_from_escrow(
        self, session: AsyncSession, order: Order, so: SellerOrder, why: str
    ) -> int:
        """Refund what the seller order's escrow still holds (its total, less what a partial refund of a dispute
        paid back already); returns that amount."""
        held = await ledger_service.balance(session, accounts.escrow(so.store_id, so.id), so.currency)
        if held <= 0:
            return 0
        amount = Money(held, so.currency)
        await ledger_service.post(
            session,
            key=f"so:{so.id}:refund:{why}",
            kind="refund",
            postings=postings.refund_before_release(so.id, so.store_id, amount),
            reference=("seller_order", so.id),
            memo=f"Order {so.number} {why}: refund",
        )
        if order.payment_id is not None:
            await payment_service.refund(session, order.payment_id, held, f"so:{so.id}:{why}")
        return held

    # --- shipping ---------------------------------------------------------------------------------------------

    async def ship(
        self, session: AsyncSession, actor: Actor, store_id: int, seller_order_id: int, payload: ShipCreate
    ) -> StoreOrderRead:
        """The store ships a paid seller order with a carrier and tracking number (``stock:write``): the
        receipt timer starts (express or surface mail, as snapshotted) and the buyer is told. Shipped already:
        no change."""
        store, so = await self._store_order(session, actor, store_id, seller_order_id, "stock:write")
        if so.shipped_at is None:
            if so.status == "in_production" and await milestones.plan_of(session, so) == "on_documents":
                await self._ship_with_documents(session, so, payload, actor_id=require_user(actor))
            elif so.status != "paid":
                hint = ""
                if so.status in ("in_production", "awaiting_balance", "awaiting_deposit"):
                    hint = "The balance must be paid before it ships."
                raise TransitionNotAllowed("shipped", so.status, hint)
            else:
                await self._ship(session, so, payload, actor_id=require_user(actor))
        return await self.get_for_store(session, actor, store.id, so.id)

    async def _ship_with_documents(
        self,
        session: AsyncSession,
        so: SellerOrder,
        payload: ShipCreate,
        *,
        actor_id: int,
        documents: list[dict[str, Any]] | None = None,
    ) -> bool:
        """A sourcing contract whose balance is due on the shipping documents: the goods ship while it is in
        production; the balance becomes due and the receipt timer starts once it is paid."""
        repo = OrderRepository(session)
        now = utcnow()
        has_balance = any(
            m.kind == "balance" and m.status == "pending"
            for m in await MilestoneRepository(session).of([so.id])
        )
        if not has_balance:
            return await self._ship(session, so, payload, actor_id=actor_id, from_status="in_production")
        if not await repo.update_if(
            so.id,
            and_(SellerOrder.status == "in_production", SellerOrder.shipped_at.is_(None)),
            {"status": "awaiting_balance", "shipped_at": now, "updated_at": now},
        ):
            fresh = await repo.seller_order(so.id)
            if fresh is not None and fresh.shipped_at is not None:
                return False
            raise TransitionNotAllowed("shipped", fresh.status if fresh else so.status)
        self._add_shipment(session, so, payload, actor_id, now)
        data: dict[str, Any] = {"carrier": payload.carrier, "tracking_number": payload.tracking_number}
        if documents:
            data["documents"] = documents
        repo.add_event(so.id, "shipped", actor_id=actor_id, actor_role="seller", at=now, data=data)
        await milestones.balance_due(session, so, now)
        await session.flush()
        return True

    def _add_shipment(
        self, session: AsyncSession, so: SellerOrder, payload: ShipCreate, actor_id: int, now: datetime
    ) -> None:
        session.add(
            Shipment(
                seller_order_id=so.id,
                carrier=payload.carrier,
                tracking_number=payload.tracking_number,
                tracking_key=tracking_key(payload.tracking_number),
                shipped_at=now,
                created_by_id=actor_id,
            )
        )

    async def _ship(
        self,
        session: AsyncSession,
        so: SellerOrder,
        payload: ShipCreate,
        *,
        actor_id: int,
        from_status: str = "paid",
    ) -> bool:
        repo = OrderRepository(session)
        now = utcnow()
        auto_confirm_at = now + timedelta(days=so.auto_confirm_days)
        if not await repo.transition(
            so.id,
            [from_status],
            {"status": "shipped", "shipped_at": now, "auto_confirm_at": auto_confirm_at, "updated_at": now},
        ):
            fresh = await repo.seller_order(so.id)
            if fresh is not None and fresh.status == "shipped":
                return False
            raise TransitionNotAllowed("shipped", fresh.status if fresh else so.status)
        self._add_shipment(session, so, payload, actor_id, now)
        repo.add_event(
            so.id,
            "shipped",
            actor_id=actor_id,
            actor_role="seller",
            at=now,
            data={"carrier": payload.carrier, "tracking_number": payload.tracking_number},
        )
        await self._notify_buyer(
            session,
            so,
            "order.shipped",
            f"Order {so.number} shipped",
            body=f"{payload.carrier}, tracking number {payload.tracking_number}. "
            f"Receipt confirms automatically on {auto_confirm_at:%Y-%m-%d} unless you confirm it sooner.",
        )
        await session.flush()
        return True

    async def record_tracking(
        self,
        session: AsyncSession,
        seller_order_id: int,
        status: str,
        occurred_at: datetime,
        data: dict[str, Any] | None = None,
    ) -> bool:
        """A carrier reported ``delivered``: the seller order's timeline shows it and the buyer is asked to
        confirm receipt (once). Other statuses stay on the shipment's tracking list."""
        if status != "delivered":
            return False
        repo = OrderRepository(session)
        if not await repo.update_if(
            seller_order_id, SellerOrder.delivered_at.is_(None), {"delivered_at": occurred_at}
        ):
            return False
        so = await repo.seller_order(seller_order_id)
        assert so is not None
        repo.add_event(so.id, "delivered", actor_id=None, actor_role="system", at=utcnow(), data=data or {})
        if so.status == "shipped":
            await self._notify_buyer(
                session,
                so,
                "order.delivered",
                f"Order {so.number} delivered",
                body="If everything is fine, confirm receipt so the seller gets paid.",
            )
        await session.flush()
        return True

    # --- receipt ----------------------------------------------------------------------------------------------

    async def confirm_receipt(
        self, session: AsyncSession, actor: Actor, order_id: int, seller_order_id: int
    ) -> SellerOrderRead:
        """The buyer confirms receipt of a shipped seller order: escrow is released to the store minus the
        snapshotted commission (largest remainder). Completed already: no change."""
        user_id = require_writer(actor)
        order, so = await self._buyer_seller_order(session, actor, order_id, seller_order_id)
        if so.status != "completed":
            if so.status != "shipped":
                raise TransitionNotAllowed("confirmed as received", so.status)
            await self._complete(session, so, actor_id=user_id, auto=False)
        return await self._buyer_so_read(session, order, so.id)

    async def auto_confirm(
        self, session: AsyncSession, seller_order_id: int, *, now: datetime | None = None
    ) -> bool:
        """The receipt timer: a shipped seller order whose ``auto_confirm_at`` has passed completes as if the
        buyer confirmed. False when it was confirmed, paused or closed meanwhile."""
        so = await OrderRepository(session).seller_order(seller_order_id)
        now = now or utcnow()
        if so is None or so.status != "shipped" or so.auto_confirm_at is None or so.auto_confirm_at > now:
            return False
        return await self._complete(session, so, actor_id=None, auto=True, now=now)

    async def _complete(
        self,
        session: AsyncSession,
        so: SellerOrder,
        *,
        actor_id: int | None,
        auto: bool,
        now: datetime | None = None,
    ) -> bool:
        repo = OrderRepository(session)
        now = now or utcnow()
        condition = SellerOrder.status == "shipped"
        if auto:
            condition = and_(
                condition, SellerOrder.auto_confirm_at.is_not(None), SellerOrder.auto_confirm_at <= now
            )
        if not await repo.update_if(
            so.id,
            condition,
            {
                "status": "completed",
                "completed_at": now,
                "auto_confirm_at": None,
                "auto_confirm_remaining_seconds": None,
                "updated_at": now,
            },
        ):
            fresh = await repo.seller_order(so.id)
            if auto or (fresh is not None and fresh.status == "completed"):
                return False
            raise TransitionNotAllowed("confirmed as received", fresh.status if fresh else so.status)
        # what is in escrow: the total, less what a partial refund (souk.dispute) paid back already
        held = await ledger_service.balance(session, accounts.escrow(so.store_id, so.id), so.currency)
        fee, net = postings.commission_split(held, so.commission_bps)
        await ledger_service.post(
            session,
            key=f"so:{so.id}:released",
            kind="escrow_released",
            postings=postings.escrow_released(
                so.id, so.store_id, Money(held, so.currency), so.commission_bps
            ),
            reference=("seller_order", so.id),
            memo=f"Order {so.number} receipt confirmed" + (" automatically" if auto else ""),
        )
        repo.add_event(
            so.id,
            "completed",
            actor_id=actor_id,
            actor_role="system" if auto else "buyer",
            at=now,
            data={"auto": auto, "amount": held, "commission": fee, "released": net},
        )
        await self._notify_store(
            session,
            so,
            "order.completed",
            f"Order {so.number} completed",
            body=f"Receipt confirmed{' automatically' if auto else ' by the buyer'}: "
            f"{amount_text(net, so.currency)} added to your available balance "
            f"(after {amount_text(fee, so.currency)} commission).",
        )
        if auto:
            await self._notify_buyer(
                session,
                so,
                "order.completed",
                f"Order {so.number} completed",
                body="Receipt confirmed automatically.",
            )
        await session.flush()
        return True

    async def extend_receipt(
        self, session: AsyncSession, actor: Actor, order_id: int, seller_order_id: int
    ) -> SellerOrderRead:
        """The buyer extends the receipt timer of a shipped seller order by the snapshotted extension (3 days in
        the market), once, when at most the extension window (3 days) is left."""
        user_id = require_writer(actor)
        order, so = await self._buyer_seller_order(session, actor, order_id, seller_order_id)
        now = utcnow()
        if so.status != "shipped":
            raise TransitionNotAllowed("extended", so.status)
        if so.auto_confirm_at is None:
            raise ReceiptExtensionRefused("The receipt timer is paused while a refund request is open.")
        if so.receipt_extensions_used >= so.receipt_extensions_allowed:
            raise ReceiptExtensionRefused(
                "The receipt timer was extended already; it can be extended only once."
            )
        if not may_extend(so, now):
            raise ReceiptExtensionRefused(
                f"The receipt timer can be extended only when {so.receipt_extension_window_days} days or fewer "
                "are left."
            )
        repo = OrderRepository(session)
        new_deadline = so.auto_confirm_at + timedelta(days=so.receipt_extension_days)
        if not await repo.update_if(
            so.id,
            and_(
                SellerOrder.status == "shipped",
                SellerOrder.auto_confirm_at == so.auto_confirm_at,
                SellerOrder.receipt_extensions_used == so.receipt_extensions_used,
            ),
            {
                "auto_confirm_at": new_deadline,
                "receipt_extensions_used": so.receipt_extensions_used + 1,
                "updated_at": now,
            },
        ):
            raise ReceiptExtensionRefused("The order changed meanwhile; reload it and try again.")
        repo.add_event(
            so.id,
            "receipt_extended",
            actor_id=user_id,
            actor_role="buyer",
            at=now,
            data={"days": so.receipt_extension_days, "auto_confirm_at": new_deadline.isoformat()},
        )
        await self._notify_store(
            session,
            so,
            "order.receipt_extended",
            f"Order {so.number}: the buyer extended the receipt time",
            body=f"Receipt now confirms automatically on {new_deadline:%Y-%m-%d}.",
        )
        await session.flush()
        return await self._buyer_so_read(session, order, so.id)

    # --- the ship-by timer ------------------------------------------------------------------------------------

    async def mark_seller_late(
        self, session: AsyncSession, seller_order_id: int, *, now: datetime | None = None
    ) -> bool:
        """The ship-by timer: a paid seller order not shipped by ``ship_by`` is marked late (once); the buyer is
        told they may cancel for a full refund at once."""
        now = now or utcnow()
        repo = OrderRepository(session)
        if not await repo.update_if(
            seller_order_id,
            and_(
                SellerOrder.status.in_(UNSHIPPED_PAID),
                SellerOrder.shipped_at.is_(None),
                SellerOrder.seller_late_at.is_(None),
                SellerOrder.ship_by.is_not(None),
                SellerOrder.ship_by <= now,
            ),
            {"seller_late_at": now, "updated_at": now},
        ):
            return False
        so = await repo.seller_order(seller_order_id)
        assert so is not None
        repo.add_event(so.id, "seller_late", actor_id=None, actor_role="system", at=now)
        held = await ledger_service.balance(session, accounts.escrow(so.store_id, so.id), so.currency)
        await self._notify_buyer(
            session,
            so,
            "order.seller_late",
            f"Order {so.number} was not shipped in time",
            body=f"You may cancel it now for a full refund of {amount_text(held, so.currency)}.",
        )
        await self._notify_store(
            session,
            so,
            "order.seller_late",
            f"Order {so.number} is late",
            body="The ship-by time has passed: ship it now; the buyer may cancel for a full refund.",
        )
        await session.flush()
        return True

    # --- pausing the receipt timer (an open refund request) ---------------------------------------------------

    async def pause_receipt_timer(
        self,
        session: AsyncSession,
        seller_order_id: int,
        *,
        actor_id: int | None = None,
        actor_role: str = "system",
        reason: str = "",
    ) -> bool:
        """Stop the receipt timer of a shipped seller order, keeping the time left (for an open refund request
        or dispute). False when it is not running."""
        repo = OrderRepository(session)
        so = await repo.seller_order(seller_order_id)
        if so is None or so.status != "shipped" or so.auto_confirm_at is None:
            return False
        now = utcnow()
        remaining = max(0, int((so.auto_confirm_at - now).total_seconds()))
        if not await repo.update_if(
            so.id,
            and_(SellerOrder.status == "shipped", SellerOrder.auto_confirm_at == so.auto_confirm_at),
            {"auto_confirm_at": None, "auto_confirm_remaining_seconds": remaining, "updated_at": now},
        ):
            return False
        repo.add_event(
            so.id,
            "receipt_timer_paused",
            actor_id=actor_id,
            actor_role=actor_role,
            at=now,
            data={"remaining_seconds": remaining, "reason": reason},
        )
        await session.flush()
        return True

    async def resume_receipt_timer(
        self,
        session: AsyncSession,
        seller_order_id: int,
        *,
        actor_id: int | None = None,
        actor_role: str = "system",
    ) -> bool:
        """Start a paused receipt timer again with the time it had left. False when it is not paused."""
        repo = OrderRepository(session)
        so = await repo.seller_order(seller_order_id)
        if so is None or so.status != "shipped" or so.auto_confirm_remaining_seconds is None:
            return False
        now = utcnow()
        deadline = now + timedelta(seconds=so.auto_confirm_remaining_seconds)
        if not await repo.update_if(
            so.id,
            and_(SellerOrder.status == "shipped", SellerOrder.auto_confirm_remaining_seconds.is_not(None)),
            {"auto_confirm_at": deadline, "auto_confirm_remaining_seconds": None, "updated_at": now},
        ):
            return False
        repo.add_event(
            so.id,
            "receipt_timer_resumed",
            actor_id=actor_id,
            actor_role=actor_role,
            at=now,
            data={"auto_confirm_at": deadline.isoformat()},
        )
        await session.flush()
        return True


order_service = OrderService()


async def _payment_succeeded(session: AsyncSession, payment: Payment) -> None:
    await order_service.mark_paid(session, payment)


# the provider's confirmation (webhook) and the checkout's own confirmation both end here, once per payment
payment_service.on_succeeded(_payment_succeeded)
