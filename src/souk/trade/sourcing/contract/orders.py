r"""A confirmed contract's order (trade assurance): the seller order with its payment milestones, the buyer's
milestone payments, the supplier's production and shipment steps.

```
awaiting_deposit --deposit paid--> in_production --production finished--> awaiting_balance --balance--> paid
  (skipped when the deposit is 0)       |                                                   --ship--> shipped
                                        \--ship with documents (balance on documents)--> awaiting_balance
                                                                     --balance paid--> shipped (receipt timer)
shipped --confirm receipt / auto-confirm--> completed (escrow released minus the sourcing commission)
not shipped by ship_by --buyer cancels--> cancelled, every paid milestone refunded from escrow
```

``place`` is called by the contract service when the second side confirms. The milestone rules shared with the
order machinery (a milestone's payment succeeding, the balance becoming due, refunds) live in
``souk.order.milestones``; shipping, receipt, the ship-by and receipt timers are the order service's.

Paying a milestone spans three transactions like checkout (ARCHITECTURE rule 5): the payment intent (one per
milestone, idempotency key ``milestone:<id>``) is written and committed, the provider charges the card in its own
short transaction (of two submissions at once only one reaches the provider), then the result is recorded (the
provider's webhook reaches the same ``milestones.mark_paid``, which runs once whichever comes first).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from starlette.requests import Request

from souk.auth.actor import Actor
from souk.authz import get_store_for, organization_ids, require_user, require_writer
from souk.errors import SoukError, invalid_field
from souk.kit.clock import utcnow
from souk.kit.idempotency import (
    FormSubmission,
    StoredResponse,
    claim_key,
    complete_key,
    consume_form_token,
    read_idempotent_request,
    record_form_result,
)
from souk.kit.money import Money
from souk.models import Contract, Order, OrderLine, PaymentMilestone, SellerOrder, Store
from souk.models.order import seller_order_number
from souk.order.errors import (
    MilestoneNotDue,
    MilestoneNotFound,
    PaymentInProgress,
    SellerOrderNotFound,
    TransitionNotAllowed,
)
from souk.order.milestones import MilestoneRepository, milestone_payment_key, milestones
from souk.order.queries import buyer_link
from souk.order.repository import OrderRepository
from souk.order.schemas import MilestoneRead, SellerOrderRead, ShipCreate, StoreOrderRead
from souk.order.service import order_service
from souk.order.views import buyer_next_action, milestone_read, seller_order_read
from souk.payment.errors import PaymentNotPayable
from souk.payment.schemas import CardIn
from souk.payment.service import payment_service
from souk.trade.policy import get_policy
from souk.trade.sourcing.contract.service import ship_by_deadline

PAY_FORM_PURPOSE = "milestone-payment"


def _title(contract: Contract) -> str:
    first = next((line.strip() for line in contract.product_specification.splitlines() if line.strip()), "")
    return (first or f"Contract {contract.number}")[:200]


def _check_card(card: CardIn) -> None:
    if card.expired():
        raise invalid_field("card.exp_month", "the card has expired")


class ContractOrders:
    # --- placing -------------------------------------------------------------------------------------------

    async def place(self, session: AsyncSession, contract: Contract) -> SellerOrder:
        """The confirmed contract becomes an order: the buyer's ``Order`` (shipping address from the contract),
        one sourcing ``SellerOrder`` (``awaiting_deposit``, or ``in_production`` when the deposit is 0; the
        policy snapshotted; ship-by at the end of the contract's ship-by date, UTC; surface shipping), one line
        without SKU for the goods, and the milestones (the deposit due at once, the balance pending). Placed
        already: the same seller order."""
        repo = OrderRepository(session)
        if contract.seller_order_id is not None:
            existing = await repo.seller_order(contract.seller_order_id)
            assert existing is not None
            return existing
        if contract.status != "confirmed":
            raise TransitionNotAllowed("ordered", f"a {contract.status} contract")
        store = await session.get(Store, contract.store_id)
        assert store is not None
        policy = get_policy(store.trade_model)
        now = utcnow()
        ship_by = ship_by_deadline(contract.ship_by)
        order = Order(
            buyer_id=contract.buyer_user_id,
            currency=contract.currency,
            status="pending_payment",
            items_amount=contract.goods_amount,
            shipping_amount=contract.shipping_amount,
            total_amount=contract.total_amount,
            shipping_address=dict(contract.shipping_address or {}),
            checkout_token=f"contract:{contract.number}",
            # no unpaid timer sweeps a contract's order (it has no order payment); the buyer cancels it
            pay_by=ship_by,
            created_at=now,
            updated_at=now,
        )
        session.add(order)
        await session.flush()
        deposit_first = contract.deposit_amount > 0
        place = f"{contract.incoterm} {contract.place}".strip()
        so = SellerOrder(
            order_id=order.id,
            store_id=store.id,
            buyer_id=contract.buyer_user_id,
            status="awaiting_deposit" if deposit_first else "in_production",
            currency=contract.currency,
            items_amount=contract.goods_amount,
            shipping_amount=contract.shipping_amount,
            total_amount=contract.total_amount,
            trade_model=store.trade_model,
            commission_bps=policy.commission_bps,
            ship_by_days=policy.ship_by_days,
            auto_confirm_days=policy.auto_confirm_after("surface").days,
            receipt_extension_days=policy.receipt_extension_days,
            receipt_extension_window_days=policy.receipt_extension_window_days,
            receipt_extensions_allowed=policy.receipt_extensions_allowed,
            policy_snapshot=policy.snapshot(),
            shipping_method_id=None,
            shipping_method_name=f"Contract shipping ({place})"[:60],
            shipping_kind="surface",
            shipping_price_amount=contract.shipping_amount,
            shipping_free_over_amount=None,
            pay_by=None,
            ship_by=ship_by,
            created_at=now,
            updated_at=now,
        )
        session.add(so)
        await session.flush()
        # the insert trigger numbered it in the database; the loaded object learns the same number
        set_committed_value(so, "number", seller_order_number(so.id))
        session.add(
            OrderLine(
                seller_order_id=so.id,
                sku_id=None,
                product_id=None,
                title=_title(contract),
                sku_code=contract.number[:64],
                options={"unit": contract.unit, "incoterm": place},
                unit_price_amount=contract.unit_price_amount,
                quantity=contract.quantity,
                line_total_amount=contract.goods_amount,
                currency=contract.currency,
            )
        )
        position = 0
        for kind, amount in (("deposit", contract.deposit_amount), ("balance", contract.balance_amount)):
            if amount <= 0:
                continue
            position += 1
            due = kind == "deposit"
            session.add(
                PaymentMilestone(
                    seller_order_id=so.id,
                    kind=kind,
                    position=position,
                    amount=amount,
                    currency=contract.currency,
                    status="due" if due else "pending",
                    due_at=now if due else None,
                    created_at=now,
                    updated_at=now,
                )
            )
        contract.seller_order_id = so.id
        repo.add_event(
            so.id,
            "placed",
            actor_id=contract.buyer_user_id,
            actor_role="buyer",
            at=now,
            data={
                "total_amount": contract.total_amount,
                "contract": contract.number,
                "contract_id": contract.id,
                "deposit_amount": contract.deposit_amount,
                "balance_amount": contract.balance_amount,
                "balance_due": contract.balance_due,
            },
        )
        await session.flush()
        return so

    async def reprice(self, session: AsyncSession, contract: Contract) -> None:
        """An amendment changed quantity or price before anything was paid: the order, its line and its unpaid
        milestones follow the new terms."""
        if contract.seller_order_id is None:
            return
        repo = OrderRepository(session)
        so = await repo.seller_order(contract.seller_order_id)
        if so is None:
            return
        rows = await MilestoneRepository(session).of([so.id])
        if any(m.status != "pending" and m.status != "due" for m in rows) or any(m.payment_id for m in rows):
            raise TransitionNotAllowed("repriced", "partly paid")
        now = utcnow()
        amounts = {
            "items_amount": contract.goods_amount,
            "shipping_amount": contract.shipping_amount,
            "total_amount": contract.total_amount,
            "updated_at": now,
        }
        await session.execute(update(Order).where(Order.id == so.order_id).values(**amounts))
        await session.execute(
            update(SellerOrder)
            .where(SellerOrder.id == so.id)
            .values(**amounts, shipping_price_amount=contract.shipping_amount)
        )
        await session.execute(
            update(OrderLine)
            .where(OrderLine.seller_order_id == so.id)
            .values(
                unit_price_amount=contract.unit_price_amount,
                quantity=contract.quantity,
                line_total_amount=contract.goods_amount,
            )
        )
        wanted = {"deposit": contract.deposit_amount, "balance": contract.balance_amount}
        for milestone in rows:
            if wanted[milestone.kind] > 0:
                await session.execute(
                    update(PaymentMilestone)
                    .where(PaymentMilestone.id == milestone.id)
                    .values(amount=wanted[milestone.kind], updated_at=now)
                )
        await session.flush()

    # --- reading ---------------------------------------------------------------------------------------------

    async def _buyer_seller_orders(
        self, session: AsyncSession, actor: Actor, order_id: int
    ) -> list[SellerOrder]:
        """The seller orders of a contract's order the actor may pay: its buyer, or a member of the contract's
        buyer organisation. Anyone else: 404."""
        user_id = require_user(actor)
        rows = await session.scalars(
            select(SellerOrder)
            .join(Contract, Contract.seller_order_id == SellerOrder.id)
            .where(
                SellerOrder.order_id == order_id,
                (SellerOrder.buyer_id == user_id)
                | Contract.buyer_organization_id.in_(organization_ids(actor, "org:read")),
            )
            .order_by(SellerOrder.id)
            .execution_options(populate_existing=True)
        )
        found = list(rows.all())
        if not found:
            raise MilestoneNotFound()
        return found

    async def _buyer_milestone(
        self, session: AsyncSession, actor: Actor, order_id: int, milestone_id: int, *, lock: bool = False
    ) -> tuple[SellerOrder, PaymentMilestone]:
        sos = {so.id: so for so in await self._buyer_seller_orders(session, actor, order_id)}
        milestone = await MilestoneRepository(session).get(milestone_id, lock=lock)
        if milestone is None or milestone.seller_order_id not in sos:
            raise MilestoneNotFound()
        return sos[milestone.seller_order_id], milestone

    async def list_milestones(
        self, session: AsyncSession, actor: Actor, order_id: int
    ) -> list[MilestoneRead]:
        """The milestones of one of the actor's contract orders, in order."""
        sos = await self._buyer_seller_orders(session, actor, order_id)
        rows = await MilestoneRepository(session).of([so.id for so in sos])
        payments = await OrderRepository(session).payments([m.payment_id for m in rows])
        return [milestone_read(m, payments) for m in rows]

    async def buyer_view(self, session: AsyncSession, seller_order_id: int) -> SellerOrderRead:
        repo = OrderRepository(session)
        so = await repo.seller_order(seller_order_id)
        assert so is not None
        bundle = (await repo.bundles([so], timeline=True))[0]
        return seller_order_read(bundle, buyer_next_action(so, None, utcnow(), bundle))

    # --- paying a milestone (three transactions) -------------------------------------------------------------

    async def _start(
        self, session: AsyncSession, actor: Actor, order_id: int, milestone_id: int, card: CardIn
    ) -> int:
        """Step 1: check and write the milestone's payment intent; returns the payment id (the caller commits).
        The milestone's row stays locked until then: a second payment starting at the same moment waits, then
        finds this one's payment (instead of both asking the provider for an intent with the same key)."""
        user_id = require_writer(actor)
        so, milestone = await self._buyer_milestone(session, actor, order_id, milestone_id, lock=True)
        _check_card(card)
        if milestone.status != "due":
            raise MilestoneNotDue(milestone.kind, milestone.status)
        if so.status not in ("awaiting_deposit", "awaiting_balance"):
            raise TransitionNotAllowed("paid", so.status)
        payment = await payment_service.create(
            session,
            amount=Money(milestone.amount, milestone.currency),
            reference=f"{milestone.kind} of order {so.number}",
            idempotency_key=milestone_payment_key(milestone),
            order_id=so.order_id,
            user_id=user_id,
        )
        if payment.status == "processing":
            raise PaymentInProgress()
        if payment.status not in ("requires_payment", "failed"):
            raise MilestoneNotDue(milestone.kind, "paid")
        if milestone.payment_id is None:
            await session.execute(
                update(PaymentMilestone)
                .where(PaymentMilestone.id == milestone.id, PaymentMilestone.payment_id.is_(None))
                .values(payment_id=payment.id, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        await session.flush()
        return payment.id

    async def _charge(self, session: AsyncSession, payment_id: int, card: CardIn) -> None:
        """Step 2: the provider charges the card (its own transaction, committed); a second submission at the
        same moment finds the payment claimed and charges nothing."""
        try:
            await payment_service.confirm(session, payment_id, card)
        except (PaymentNotPayable, SoukError):
            await session.rollback()
            return
        await session.commit()

    async def _settle(self, session: AsyncSession, seller_order_id: int, payment_id: int) -> SellerOrderRead:
        """Step 3: a success marks the milestone paid (once, whichever of this and the webhook comes first); a
        declined card goes on the timeline and the milestone stays due."""
        payment = await OrderRepository(session).payment(payment_id)
        assert payment is not None
        if payment.status == "succeeded":
            await milestones.mark_paid(session, payment)
        elif payment.status == "failed":
            OrderRepository(session).add_event(
                seller_order_id,
                "payment_failed",
                actor_id=payment.user_id,
                actor_role="buyer",
                at=utcnow(),
                data={"code": payment.failure_code, "message": payment.failure_message},
            )
            await session.flush()
        return await self.buyer_view(session, seller_order_id)

    async def pay(
        self,
        session: AsyncSession,
        actor: Actor,
        milestone: PaymentMilestone | int,
        card: CardIn,
        *,
        order_id: int | None = None,
    ) -> SellerOrderRead:
        """The buyer (or a member of the buyer organisation) pays a due milestone with a card: its payment is
        confirmed by the provider (the simulated one answers through its webhook job). Returns the seller order
        as the buyer sees it. Commits between the steps."""
        milestone_id = milestone if isinstance(milestone, int) else milestone.id
        if order_id is None:
            row = await MilestoneRepository(session).get(milestone_id)
            so_row = await OrderRepository(session).seller_order(row.seller_order_id) if row else None
            if so_row is None:
                raise MilestoneNotFound()
            order_id = so_row.order_id
        payment_id = await self._start(session, actor, order_id, milestone_id, card)
        row = await MilestoneRepository(session).get(milestone_id)
        assert row is not None
        seller_order_id = row.seller_order_id
        await session.commit()
        await self._charge(session, payment_id, card)
        return await self._settle(session, seller_order_id, payment_id)

    async def pay_api(
        self,
        session: AsyncSession,
        actor: Actor,
        request: Request,
        key: str | None,
        order_id: int,
        milestone_id: int,
        card: CardIn,
    ) -> JSONResponse:
        """``POST /api/v1/orders/{id}/milestones/{id}/pay``: at most once per Idempotency-Key (the same key and
        body return the first answer)."""
        req = await read_idempotent_request(actor, request, key, required=True)
        assert req is not None
        claim = await claim_key(session, req, ttl=timedelta(hours=24))
        if isinstance(claim, StoredResponse):
            return claim.to_response()
        read = await self.pay(session, actor, milestone_id, card, order_id=order_id)
        stored = await complete_key(session, claim, 200, read)
        return stored.to_response()

    async def pay_form(
        self,
        session: AsyncSession,
        actor: Actor,
        request: Request,
        form_token: str | None,
        order_id: int,
        milestone_id: int,
        card: CardIn,
    ) -> tuple[bool, SellerOrderRead | None]:
        """The order page's "Pay" form, once per form token: (first submission?, the seller order)."""
        submission: FormSubmission = await consume_form_token(
            session, request, actor, PAY_FORM_PURPOSE, form_token
        )
        if not submission.first:
            return False, None
        await record_form_result(session, submission, buyer_link(order_id))
        return True, await self.pay(session, actor, milestone_id, card, order_id=order_id)

    # --- the supplier ----------------------------------------------------------------------------------------

    async def production_finished(
        self, session: AsyncSession, actor: Actor, store_id: int, seller_order_id: int
    ) -> StoreOrderRead:
        """The supplier finished production of an order whose balance is due before shipment
        (``catalog:write``): the balance becomes due and the buyer is told (no balance: ready to ship).
        Done already: no change."""
        user_id = require_writer(actor)
        store = await get_store_for(session, actor, store_id, "catalog:write")
        repo = OrderRepository(session)
        so = await repo.store_order(store.id, seller_order_id)
        plan = await milestones.plan_of(session, so) if so is not None else None
        if so is None or plan is None:
            raise SellerOrderNotFound()
        if so.status == "in_production":
            if plan != "before_shipment":
                raise TransitionNotAllowed(
                    "marked as produced",
                    so.status,
                    "Its balance is due on the shipping documents: ship it with its tracking number.",
                )
            now = utcnow()
            has_balance = any(m.kind == "balance" for m in await MilestoneRepository(session).of([so.id]))
            target = "awaiting_balance" if has_balance else "paid"
            if await repo.transition(so.id, ["in_production"], {"status": target, "updated_at": now}):
                repo.add_event(so.id, "production_finished", actor_id=user_id, actor_role="seller", at=now)
                if has_balance:
                    await milestones.balance_due(session, so, now)
                await session.flush()
        elif so.status not in ("awaiting_balance", "paid") or so.shipped_at is not None:
            raise TransitionNotAllowed("marked as produced", so.status)
        return await order_service.get_for_store(session, actor, store.id, so.id)

    async def ship(
        self,
        session: AsyncSession,
        actor: Actor,
        store_id: int,
        seller_order_id: int,
        payload: ShipCreate,
        documents: list[dict[str, Any]] | None = None,
    ) -> StoreOrderRead:
        """The supplier ships (``stock:write``): a paid order (balance before shipment) starts its receipt timer;
        an order in production whose balance is due on the documents records the shipment (carrier, tracking,
        the uploaded documents) and the balance becomes due."""
        store = await get_store_for(session, actor, store_id, "stock:write")
        so = await OrderRepository(session).store_order(store.id, seller_order_id)
        if (
            so is not None
            and documents
            and so.status == "in_production"
            and so.shipped_at is None
            and await milestones.plan_of(session, so) == "on_documents"
        ):
            await order_service._ship_with_documents(
                session, so, payload, actor_id=require_user(actor), documents=documents
            )
            return await order_service.get_for_store(session, actor, store.id, so.id)
        return await order_service.ship(session, actor, store_id, seller_order_id, payload)


contract_orders = ContractOrders()
