"""Orders being paid and closed unpaid: the payment provider's confirmation (``mark_paid``: escrow, stock sold,
the cart emptied of what was bought), a payment arriving after the order closed (refunded straight back), failed
attempts, and the unpaid timer / the buyer closing an order before paying (stock released). ``OrderService``
(``souk.order.service``) extends this with shipping, receipt, cancellation and the timers. Flushes, never
commits.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import require_writer
from souk.cart.service import cart_service
from souk.inventory.service import inventory_service
from souk.kit.clock import utcnow
from souk.kit.money import Money, format_money
from souk.ledger import postings
from souk.ledger.service import ledger_service
from souk.models import Order, OrderLine, Payment, SellerOrder
from souk.notification.service import Note, notification_service
from souk.order.errors import (
    PaymentInProgress,
    PaymentWindowClosed,
    TransitionNotAllowed,
)
from souk.order.milestones import milestones
from souk.order.queries import OrderQueries, buyer_link, seller_link
from souk.order.repository import OrderRepository, stocked
from souk.order.schemas import OrderRead
from souk.payment.service import payment_service

log = logging.getLogger("souk.order")

MESSAGE_LOCALE = "en_001"


def amount_text(amount: int, currency: str) -> str:
    return format_money(amount, currency, MESSAGE_LOCALE)


class OrderPaying(OrderQueries):
    # --- notifications --------------------------------------------------------------------------------

    async def _notify_store(
        self, session: AsyncSession, so: SellerOrder, kind: str, title: str, body: str = ""
    ) -> None:
        for user_id in await OrderRepository(session).store_people(so.store_id):
            await notification_service.notify(
                session, user_id, kind, title, body=body, link=seller_link(so.store_id, so.id)
            )

    async def _notify_buyer(
        self, session: AsyncSession, so: SellerOrder, kind: str, title: str, body: str = ""
    ) -> None:
        await notification_service.notify(
            session, so.buyer_id, kind, title, body=body, link=buyer_link(so.order_id)
        )

    # --- paying (the payment provider's confirmation) ---------------------------------------------------------

    async def mark_paid(self, session: AsyncSession, payment: Payment) -> bool:
        """The order's payment succeeded: every seller order becomes ``paid`` (ship-by timer set), its money is
        posted into its escrow (``payment_captured``), its reserved stock becomes sold, the bought lines leave
        the buyer's cart, and the sellers are told. Runs once: False when the order was paid before. A payment
        arriving after the order closed unpaid is refunded in full."""
        if payment.order_id is None:
            return False
        repo = OrderRepository(session)
        order = await repo.order(payment.order_id, fresh=True)
        if order is None or order.payment_id != payment.id:
            return False
        if (payment.amount, payment.currency) != (order.total_amount, order.currency):
            log.error("payment %s does not match order %s's total", payment.id, order.id)
            return False
        now = utcnow()
        if not await repo.order_transition(
            order.id, "pending_payment", {"status": "paid", "paid_at": now, "updated_at": now}
        ):
            order = await repo.order(order.id, fresh=True)
            if order is not None and order.status == "cancelled":
                await self._refund_late_payment(session, order, payment, now)
            return False
        bought = await self._pay_seller_orders(session, await repo.seller_orders_of([order.id]), payment, now)
        # the cart lines bought go; a bulk line of a SKU stays when only its sample was bought, and back
        await cart_service.remove_lines(session, Actor(user_id=order.buyer_id), None, bought)
        await session.flush()
        return True

    async def _pay_seller_orders(
        self, session: AsyncSession, seller_orders: Sequence[SellerOrder], payment: Payment, now: datetime
    ) -> list[tuple[int, bool]]:
        """Pay the order's seller orders from its payment, those still waiting for it; the (sku_id, is_sample)
        lines they bought. The work of all of them is done together: their lines and their stores' people
        read once each, the stock of every SKU sold in SKU id order (the lock order), the movements, events
        and notifications each written in one INSERT."""
        repo = OrderRepository(session)
        paid: list[tuple[SellerOrder, datetime]] = []
        for so in seller_orders:
            ship_by = now + timedelta(days=so.ship_by_days)
            if await repo.transition(
                so.id,
                ["pending_payment"],
                {"status": "paid", "paid_at": now, "ship_by": ship_by, "updated_at": now},
            ):
                paid.append((so, ship_by))
        if not paid:
            return []
        for so, _ in paid:
            await ledger_service.post(
                session,
                key=f"so:{so.id}:captured",
                kind="payment_captured",
                postings=postings.payment_captured(so.id, so.store_id, Money(so.total_amount, so.currency)),
                reference=("seller_order", so.id),
                memo=f"Order {so.number} paid",
            )
        lines_of: dict[int, list[OrderLine]] = {so.id: [] for so, _ in paid}
        for line in await repo.lines_of(list(lines_of)):
            lines_of[line.seller_order_id].append(line)
        sold: list[tuple[int, int, str]] = []
        seller_order_of_sku: dict[int, SellerOrder] = {}
        for so, _ in paid:
            for held in stocked(lines_of[so.id]):
                sold.append((held.sku_id, held.quantity, f"sold: order {so.number}"))
                seller_order_of_sku[held.sku_id] = so
        short = await inventory_service.sell_reserved_all(session, sold)
        if short is not None:
            sku_id, quantity = short
            number = seller_order_of_sku[sku_id].number
            raise RuntimeError(f"{number}: {quantity} units of SKU {sku_id} are not reserved")
        people = await notification_service.people_of_stores(session, {so.store_id for so, _ in paid})
        notes: list[Note] = []
        for so, ship_by in paid:
            repo.add_event(
                so.id,
                "paid",
                actor_id=so.buyer_id,
                actor_role="buyer",
                at=now,
                data={"amount": so.total_amount, "payment_id": payment.id},
            )
            items = sum(line.quantity for line in lines_of[so.id])
            notes += [
                Note(
                    user_id,
                    "order.paid",
                    f"New order {so.number} to ship",
                    body=f"{items} item{'s' if items != 1 else ''}, "
                    f"{amount_text(so.total_amount, so.currency)}. Ship by {ship_by:%Y-%m-%d %H:%M} UTC.",
                    link=seller_link(so.store_id, so.id),
                )
                for user_id in people[so.store_id]
            ]
        await notification_service.notify_all(session, notes)
        return [
            (line.sku_id, line.is_sample)
            for so, _ in paid
            for line in lines_of[so.id]
            if line.sku_id is not None
        ]

    async def _refund_late_payment(
        self, session: AsyncSession, order: Order, payment: Payment, now: datetime
    ) -> None:
        """The payment succeeded after the order closed: its money passes through each seller order's escrow
        and goes straight back to the buyer."""
        repo = OrderRepository(session)
        refunded = 0
        for so in await repo.seller_orders_of([order.id]):
            amount = Money(so.total_amount, so.currency)
            await ledger_service.post(
                session,
                key=f"so:{so.id}:captured",
                kind="payment_captured",
                postings=postings.payment_captured(so.id, so.store_id, amount),
                reference=("seller_order", so.id),
                memo=f"Order {so.number} paid after it closed",
            )
            await ledger_service.post(
                session,
                key=f"so:{so.id}:refund:late_payment",
                kind="refund",
                postings=postings.refund_before_release(so.id, so.store_id, amount),
                reference=("seller_order", so.id),
                memo=f"Order {so.number} closed before payment: refund",
            )
            repo.add_event(
                so.id,
                "late_payment_refunded",
                actor_id=None,
                actor_role="system",
                at=now,
                data={"amount": so.total_amount},
            )
            refunded += so.total_amount
        await payment_service.refund(session, payment.id, refunded, f"order:{order.id}:late_payment")
        await notification_service.notify(
            session,
            order.buyer_id,
            "order.payment_refunded",
            f"Order {order.number}: payment refunded",
            body=f"The order closed before your payment arrived; {amount_text(refunded, order.currency)} "
            "goes back to your card.",
            link=buyer_link(order.id),
        )

    async def record_payment_failure(self, session: AsyncSession, order_id: int, payment: Payment) -> None:
        """A card was declined: the order keeps waiting for payment; the reason goes on the timeline."""
        repo = OrderRepository(session)
        now = utcnow()
        for so in await repo.seller_orders_of([order_id]):
            if so.status == "pending_payment":
                repo.add_event(
                    so.id,
                    "payment_failed",
                    actor_id=so.buyer_id,
                    actor_role="buyer",
                    at=now,
                    data={"code": payment.failure_code, "message": payment.failure_message},
                )
        await session.flush()

    async def payable_order(
        self, session: AsyncSession, actor: Actor, order_id: int
    ) -> tuple[Order, Payment]:
        """One of the actor's orders that may be paid now, with its payment (a declined card may be replaced by
        another until ``pay_by``)."""
        require_writer(actor)
        order = await self._buyer_order(session, actor, order_id)
        payment = await OrderRepository(session).payment(order.payment_id)
        if order.status != "pending_payment" or payment is None or order.pay_by <= utcnow():
            raise PaymentWindowClosed(order.pay_by)
        if payment.status == "processing":
            raise PaymentInProgress()
        return order, payment

    # --- closing unpaid orders -----------------------------------------------------------------------------

    async def cancel_unpaid(self, session: AsyncSession, actor: Actor, order_id: int) -> OrderRead:
        """The buyer cancels an order not paid yet (every seller order of it): the reserved stock is released.
        Already closed: no change. Paid: 409 (cancel its seller orders one by one)."""
        user_id = require_writer(actor)
        order = await self._buyer_order(session, actor, order_id)
        if order.status == "paid":
            raise TransitionNotAllowed(
                "cancelled as a whole", "paid", "Cancel each store's order before it ships instead."
            )
        payment = await OrderRepository(session).payment(order.payment_id)
        if order.status == "pending_payment" and payment is not None and payment.status == "processing":
            raise PaymentInProgress()
        if order.status == "pending_payment" and order.payment_id is None:
            # a sourcing contract's order: its milestones are paid one by one
            for so in await OrderRepository(session).seller_orders_of([order.id]):
                if so.status not in ("awaiting_deposit", "cancelled"):
                    raise TransitionNotAllowed("cancelled as a whole", so.status)
                if await milestones.payment_in_progress(session, so):
                    raise PaymentInProgress()
        await self._close(session, order, reason="buyer_unpaid", actor_id=user_id, role="buyer")
        return await self._order_read(session, order, timeline=True)

    async def close_unpaid(
        self, session: AsyncSession, order_id: int, *, now: datetime | None = None
    ) -> bool:
        """The unpaid timer: an order still waiting for payment at ``pay_by`` closes and its stock is released.
        False when it was paid or closed meanwhile."""
        order = await OrderRepository(session).order(order_id, fresh=True)
        if order is None or order.status != "pending_payment" or order.pay_by > (now or utcnow()):
            return False
        if order.payment_id is None:
            return False  # a sourcing contract's order: no unpaid timer, its buyer cancels it
        return await self._close(session, order, reason="unpaid", actor_id=None, role="system", now=now)

    async def _close(
        self,
        session: AsyncSession,
        order: Order,
        *,
        reason: str,
        actor_id: int | None,
        role: str,
        now: datetime | None = None,
    ) -> bool:
        repo = OrderRepository(session)
        now = now or utcnow()
        if not await repo.order_transition(
            order.id, "pending_payment", {"status": "cancelled", "closed_at": now, "updated_at": now}
        ):
            return False
        for so in await repo.seller_orders_of([order.id]):
            if not await repo.transition(
                so.id,
                ["pending_payment", "awaiting_deposit"],
                {"status": "cancelled", "cancelled_at": now, "cancel_reason": reason, "updated_at": now},
            ):
                continue
            await milestones.refund_paid(session, so, "cancel", now)  # nothing is paid yet: cancels them
            for line in stocked(await repo.lines_of([so.id])):
                released = await inventory_service.release(
                    session,
                    line.sku_id,
                    line.quantity,
                    reason=f"order {so.number} closed unpaid",
                    actor_id=actor_id,
                )
                if not released:
                    raise RuntimeError(
                        f"{so.number}: SKU {line.sku_id} has fewer units reserved than ordered"
                    )
            repo.add_event(
                so.id, "cancelled", actor_id=actor_id, actor_role=role, at=now, data={"reason": reason}
            )
        if role == "system":
            await notification_service.notify(
                session,
                order.buyer_id,
                "order.closed",
                f"Order {order.number} closed",
                body="It was not paid in time; the items went back on sale.",
                link=buyer_link(order.id),
            )
        await session.flush()
        await session.refresh(order)
        return True
