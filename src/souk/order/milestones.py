r"""Payment milestones of a seller order (a sourcing contract's deposit and balance, DOMAIN.md "SellerOrder state
machine"). Flushes, never commits.

```
awaiting_deposit --deposit paid--> in_production --production finished--> awaiting_balance --balance paid--> paid
                                        |                                                          --ship--> shipped
                                        \--ship with documents--> awaiting_balance (shipped) --balance paid--> shipped
```

Each milestone has its own ``Payment`` (idempotency key ``milestone:<id>``, reference "deposit of SO-1042").
When the provider confirms it (the signed webhook, or the pay flow's own settlement: whichever comes first runs
the callback registered here, exactly once) the milestone becomes ``paid``, its amount is posted into the seller
order's escrow (``payment_captured``, key ``so:<id>:captured:<kind>``) and the seller order moves on. A seller
order cancelled under the on-time shipment guarantee refunds each paid milestone from escrow (``refund``, key
``so:<id>:refund:cancel:<kind>``, and the provider's refund of that milestone's payment).

The payment plan (balance due ``before_shipment`` or ``on_documents``) is the contract's, read from the contract
row that became the seller order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from souk.kit.clock import utcnow
from souk.kit.money import Money, format_money
from souk.ledger import postings
from souk.ledger.service import ledger_service
from souk.models import Contract, Payment, PaymentMilestone, SellerOrder
from souk.notification.service import notification_service
from souk.order.queries import buyer_link, seller_link
from souk.order.repository import OrderRepository
from souk.payment.service import payment_service

log = logging.getLogger("souk.order")

MESSAGE_LOCALE = "en_001"
KIND_LABELS = {"deposit": "deposit", "balance": "balance"}


def _money(amount: int, currency: str) -> str:
    return format_money(amount, currency, MESSAGE_LOCALE)


MILESTONE_KEY_PREFIX = "milestone:"


def milestone_payment_key(milestone: PaymentMilestone) -> str:
    return f"{MILESTONE_KEY_PREFIX}{milestone.id}"


class MilestoneRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of(self, seller_order_ids: Sequence[int]) -> list[PaymentMilestone]:
        if not seller_order_ids:
            return []
        rows = await self.session.scalars(
            select(PaymentMilestone)
            .where(PaymentMilestone.seller_order_id.in_(list(seller_order_ids)))
            .order_by(PaymentMilestone.seller_order_id, PaymentMilestone.position)
            .execution_options(populate_existing=True)
        )
        return list(rows.all())

    async def get(self, milestone_id: int, *, lock: bool = False) -> PaymentMilestone | None:
        """The milestone as it is now; ``lock``: and hold its row until the transaction ends (``FOR UPDATE`` on
        PostgreSQL, so that two payments of one milestone starting at once take turns; SQLite's writers take
        turns already)."""
        stmt = select(PaymentMilestone).where(PaymentMilestone.id == milestone_id)
        if lock:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt.execution_options(populate_existing=True))

    async def by_payment(self, payment_id: int) -> PaymentMilestone | None:
        return await self.session.scalar(
            select(PaymentMilestone)
            .where(PaymentMilestone.payment_id == payment_id)
            .execution_options(populate_existing=True)
        )

    async def plans(self, seller_order_ids: Sequence[int]) -> dict[int, str]:
        """seller order id -> its contract's ``balance_due`` (only the seller orders a contract became)."""
        if not seller_order_ids:
            return {}
        rows = await self.session.execute(
            select(Contract.seller_order_id, Contract.balance_due).where(
                Contract.seller_order_id.in_(list(seller_order_ids))
            )
        )
        return {int(so_id): plan for so_id, plan in rows.all() if so_id is not None}

    async def set_status(
        self, milestone_id: int, from_statuses: Sequence[str], values: dict[str, object]
    ) -> bool:
        result = await self.session.execute(
            update(PaymentMilestone)
            .where(PaymentMilestone.id == milestone_id, PaymentMilestone.status.in_(list(from_statuses)))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]


class Milestones:
    """The milestone steps the order service and the sourcing contract order share."""

    async def _notify_store(
        self, session: AsyncSession, so: SellerOrder, kind: str, title: str, body: str
    ) -> None:
        for user_id in await OrderRepository(session).store_people(so.store_id):
            await notification_service.notify(
                session, user_id, kind, title, body=body, link=seller_link(so.store_id, so.id)
            )

    async def _notify_buyer(
        self, session: AsyncSession, so: SellerOrder, kind: str, title: str, body: str
    ) -> None:
        await notification_service.notify(
            session, so.buyer_id, kind, title, body=body, link=buyer_link(so.order_id)
        )

    async def plan_of(self, session: AsyncSession, so: SellerOrder) -> str | None:
        return (await MilestoneRepository(session).plans([so.id])).get(so.id)

    # --- a milestone's payment succeeded --------------------------------------------------------------------

    async def mark_paid(self, session: AsyncSession, payment: Payment) -> bool:
        """The provider confirmed a milestone's payment: the milestone is paid, its amount goes into the seller
        order's escrow and the seller order moves on (deposit: to production; balance: ready to ship, or shipped
        with the receipt timer started when it shipped already). Runs once per payment; False otherwise. A
        payment arriving after the seller order was cancelled is refunded in full."""
        repo = MilestoneRepository(session)
        milestone = await repo.by_payment(payment.id)
        if milestone is None:
            return False
        if (payment.amount, payment.currency) != (milestone.amount, milestone.currency):
            log.error("payment %s does not match milestone %s's amount", payment.id, milestone.id)
            return False
        now = utcnow()
        orders = OrderRepository(session)
        so = await orders.seller_order(milestone.seller_order_id)
        assert so is not None
        if not await repo.set_status(
            milestone.id, ["due"], {"status": "paid", "paid_at": now, "updated_at": now}
        ):
            fresh = await repo.get(milestone.id)
            if fresh is not None and fresh.status == "cancelled":
                await self._refund_late_payment(session, so, fresh, payment, now)
            return False
        amount = Money(milestone.amount, milestone.currency)
        await ledger_service.post(
            session,
            key=f"so:{so.id}:captured:{milestone.kind}",
            kind="payment_captured",
            postings=postings.payment_captured(so.id, so.store_id, amount),
            reference=("seller_order", so.id),
            memo=f"Order {so.number}: {milestone.kind} paid",
        )
        orders.add_event(
            so.id,
            "milestone_paid",
            actor_id=so.buyer_id,
            actor_role="buyer",
            at=now,
            data={"milestone": milestone.kind, "amount": milestone.amount, "payment_id": payment.id},
        )
        if milestone.kind == "deposit":
            await self._deposit_paid(session, so, now)
        else:
            await self._balance_paid(session, so, now)
        await orders.order_transition(
            so.order_id, "pending_payment", {"status": "paid", "paid_at": now, "updated_at": now}
        )
        await session.flush()
        return True

    async def _deposit_paid(self, session: AsyncSession, so: SellerOrder, now: datetime) -> None:
        orders = OrderRepository(session)
        await orders.transition(
            so.id, ["awaiting_deposit"], {"status": "in_production", "paid_at": now, "updated_at": now}
        )
        await self._notify_store(
            session,
            so,
            "order.deposit_paid",
            f"Order {so.number}: deposit paid",
            f"The buyer paid the deposit; it is held in escrow. Start production and ship by "
            f"{so.ship_by:%Y-%m-%d}."
            if so.ship_by
            else "The buyer paid the deposit; start production.",
        )

    async def _balance_paid(self, session: AsyncSession, so: SellerOrder, now: datetime) -> None:
        orders = OrderRepository(session)
        if so.shipped_at is None:
            await orders.transition(so.id, ["awaiting_balance"], {"status": "paid", "updated_at": now})
            await self._notify_store(
                session,
                so,
                "order.balance_paid",
                f"Order {so.number}: balance paid, ready to ship",
                "The buyer paid the balance; everything is held in escrow. Ship the order with its tracking number.",
            )
            return
        auto_confirm_at = now + timedelta(days=so.auto_confirm_days)
        await orders.transition(
            so.id,
            ["awaiting_balance"],
            {"status": "shipped", "auto_confirm_at": auto_confirm_at, "updated_at": now},
        )
        await self._notify_store(
            session,
            so,
            "order.balance_paid",
            f"Order {so.number}: balance paid",
            f"The buyer paid the balance; receipt confirms automatically on {auto_confirm_at:%Y-%m-%d}.",
        )

    async def _refund_late_payment(
        self,
        session: AsyncSession,
        so: SellerOrder,
        milestone: PaymentMilestone,
        payment: Payment,
        now: datetime,
    ) -> None:
        amount = Money(milestone.amount, milestone.currency)
        await ledger_service.post(
            session,
            key=f"so:{so.id}:captured:{milestone.kind}",
            kind="payment_captured",
            postings=postings.payment_captured(so.id, so.store_id, amount),
            reference=("seller_order", so.id),
            memo=f"Order {so.number}: {milestone.kind} paid after it was cancelled",
        )
        await ledger_service.post(
            session,
            key=f"so:{so.id}:refund:late_payment:{milestone.kind}",
            kind="refund",
            postings=postings.refund_before_release(so.id, so.store_id, amount),
            reference=("seller_order", so.id),
            memo=f"Order {so.number} cancelled before the {milestone.kind} arrived: refund",
        )
        await payment_service.refund(
            session, payment.id, milestone.amount, f"so:{so.id}:late_payment:{milestone.kind}"
        )
        OrderRepository(session).add_event(
            so.id,
            "late_payment_refunded",
            actor_id=None,
            actor_role="system",
            at=now,
            data={"amount": milestone.amount},
        )

    # --- the supplier's steps -----------------------------------------------------------------------------------

    async def balance_due(self, session: AsyncSession, so: SellerOrder, now: datetime) -> bool:
        """Make the balance milestone due (production finished, or shipped with documents); True when there is a
        balance to pay."""
        milestones = await MilestoneRepository(session).of([so.id])
        balance = next((m for m in milestones if m.kind == "balance"), None)
        if balance is None:
            return False
        await MilestoneRepository(session).set_status(
            balance.id, ["pending"], {"status": "due", "due_at": now, "updated_at": now}
        )
        await self._notify_buyer(
            session,
            so,
            "order.balance_due",
            f"Order {so.number}: the balance is due",
            f"Pay the balance of {_money(balance.amount, balance.currency)} from the order page.",
        )
        return True

    # --- the on-time shipment guarantee ----------------------------------------------------------------------

    async def refund_paid(self, session: AsyncSession, so: SellerOrder, why: str, now: datetime) -> int:
        """Refund every paid milestone from escrow (ledger ``refund`` and the provider's refund of its payment);
        unpaid milestones are cancelled. Returns the amount refunded."""
        repo = MilestoneRepository(session)
        refunded = 0
        for milestone in await repo.of([so.id]):
            if milestone.status == "paid":
                if not await repo.set_status(
                    milestone.id, ["paid"], {"status": "refunded", "updated_at": now}
                ):
                    continue
                await ledger_service.post(
                    session,
                    key=f"so:{so.id}:refund:{why}:{milestone.kind}",
                    kind="refund",
                    postings=postings.refund_before_release(
                        so.id, so.store_id, Money(milestone.amount, milestone.currency)
                    ),
                    reference=("seller_order", so.id),
                    memo=f"Order {so.number} {why}: {milestone.kind} refunded",
                )
                assert milestone.payment_id is not None
                await payment_service.refund(
                    session, milestone.payment_id, milestone.amount, f"so:{so.id}:{why}:{milestone.kind}"
                )
                refunded += milestone.amount
            elif milestone.status in ("pending", "due"):
                await repo.set_status(
                    milestone.id, ["pending", "due"], {"status": "cancelled", "updated_at": now}
                )
        return refunded

    async def payment_in_progress(self, session: AsyncSession, so: SellerOrder) -> bool:
        """Whether a milestone's payment is being confirmed by the provider right now."""
        ids = [
            m.payment_id for m in await MilestoneRepository(session).of([so.id]) if m.payment_id is not None
        ]
        payments = await OrderRepository(session).payments(ids)
        return any(p.status == "processing" for p in payments.values())


milestones = Milestones()


async def _payment_succeeded(session: AsyncSession, payment: Payment) -> None:
    # only a milestone's payment is keyed "milestone:<id>" (an order's is "order:<id>"): no lookup for the others
    if payment.idempotency_key.startswith(MILESTONE_KEY_PREFIX):
        await milestones.mark_paid(session, payment)


# a milestone's payment (the provider's webhook or the pay flow's settlement) ends here, once per payment
payment_service.on_succeeded(_payment_succeeded)
