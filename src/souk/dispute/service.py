"""Refund requests and disputes (DOMAIN.md "Disputes"). Flushes, never commits.

```
open --> awaiting_seller --accept / no answer by respond_by--> resolved (refund_full | refund_partial)
              | reject (reason)
              v
         awaiting_buyer --escalate--> escalated --operator ruling--> resolved (refund_* | released)
              | no escalation by escalate_by
              v
           resolved (released: the receipt timer runs again)
```

Every transition is a conditional ``UPDATE ... WHERE status = ...`` (of two racing steps exactly one happens; a
step that already happened is a no-op or a 409), writes a ``DisputeEvent`` (the dispute's log) and an
``OrderEvent`` (the seller order's timeline) and notifies the other side. A refund is paid from the seller
order's escrow: ledger ``refund_before_release`` with key ``so:<id>:refund:dispute-<dispute id>`` and the
provider's refund. Refunding everything still in escrow moves the seller order to ``refunded`` (units of an
unshipped order go back on hand); a partial refund leaves the rest in escrow and the receipt timer runs again.
Opening a dispute pauses the receipt timer of a shipped seller order.

The split: this module holds the rules (who may take which step, amounts, deadlines, what each step pays and
tells); ``souk.dispute.queries`` (which ``DisputeService`` extends) the scoped reads and read models;
``souk.dispute.repository`` every SQL statement of disputes (scoped selects, the conditional moves, inserts, the
timers' claims); ``souk.order.repository`` the seller order's statements. Who may touch a dispute is decided by
scoped reads (a seller order or dispute of the buyer, a dispute of ``souk.authz.store_ids(actor, ...)``): out of
scope is the same 404 as a missing one, and no owner id is compared here. ``souk.dispute.settlement`` (which
``DisputeService`` extends) records each step and settles the money.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import require_operator, require_writer
from souk.dispute.errors import (
    DisputeAlreadyOpen,
    DisputeNotAllowed,
    DisputeNotFound,
    RefundAmountInvalid,
)
from souk.dispute.evidence import store_evidence
from souk.dispute.queries import REFUND_OUTCOMES
from souk.dispute.repository import DisputeRepository
from souk.dispute.schemas import DisputeCreate, DisputeRead, DisputeRuling
from souk.dispute.settlement import CLAIMABLE, DISPUTABLE, DisputeSettlement, amount_text
from souk.errors import Invalid
from souk.kit.clock import utcnow
from souk.kit.uploads import MediaStorage
from souk.models import Dispute, SellerOrder
from souk.order.service import order_service
from souk.party.schemas import UploadIn
from souk.trade.policy import get_policy

# a returned item is refunded automatically this long after the buyer gave the return tracking number, unless the
# seller confirmed its arrival before
RETURN_REFUND_DAYS = 10


class DisputeService(DisputeSettlement):
    # --- opening --------------------------------------------------------------------------------------------

    def _kind_for(self, so: SellerOrder, now: datetime) -> str:
        """``refund`` for an order in escrow, ``claim`` for a completed one within its claim window (the
        window the order was placed with); otherwise 409."""
        if so.status in DISPUTABLE:
            return "refund"
        if so.status in CLAIMABLE and so.completed_at is not None:
            until = so.claim_until
            if until is not None and now <= until:
                return "claim"
            days = int(so.policy_snapshot.get("claim_window_days") or 0)
            raise DisputeNotAllowed(
                f"The claim window of {days} days after receipt has passed (it closed on {until:%Y-%m-%d})."
                if until is not None
                else "Claims after receipt are not offered for this order."
            )
        raise DisputeNotAllowed(
            f"A refund can be asked only on a paid or shipped order, or claimed after receipt; "
            f"this one is {so.status.replace('_', ' ')}."
        )

    async def open(
        self,
        session: AsyncSession,
        actor: Actor,
        payload: DisputeCreate,
        images: Sequence[bytes] = (),
        *,
        storage: MediaStorage | None = None,
        documents: Sequence[UploadIn] = (),
    ) -> DisputeRead:
        """The buyer asks for a refund on a paid or shipped seller order of theirs (before receipt was
        confirmed), or claims after receipt: 404 for someone else's order, 409 when it is in another state or
        has an open dispute, 422 when the amount is above what is still in escrow. Evidence: up to
        ``MAX_IMAGES`` photos and ``MAX_DOCUMENTS`` PDF documents (``storage`` needed when there are any). The
        receipt timer pauses; the store is told."""
        user_id = require_writer(actor)
        so = await DisputeRepository(session).seller_order_of_buyer(payload.seller_order_id, user_id)
        if so is None:
            raise DisputeNotFound()
        now = utcnow()
        policy = get_policy(so.trade_model)
        kind = self._kind_for(so, now)
        if kind == "claim" and payload.wants_return:
            raise Invalid(
                "A claim after receipt is settled with a refund, not a return.",
                fields={"wants_return": "not for a claim"},
            )
        if (await self.open_for(session, [so.id])).get(so.id) is not None:
            raise DisputeAlreadyOpen()
        most = await self.refundable(session, so)
        amount = payload.amount if payload.amount is not None else most
        if most <= 0 or not 0 < amount <= most:
            raise RefundAmountInvalid(most)
        photos, files = await store_evidence(images, documents, storage)
        claim = kind == "claim"
        dispute = Dispute(
            seller_order_id=so.id,
            store_id=so.store_id,
            opened_by_id=user_id,
            kind=kind,
            reason=payload.reason,
            wants_return=payload.wants_return,
            requested_amount=amount,
            currency=so.currency,
            status="awaiting_seller",
            respond_by=now + (policy.claim_response if claim else policy.refund_response),
            # a claim goes to the platform on its own after the policy's time, answered or not
            escalate_by=now + policy.claim_auto_escalate if claim else None,
            created_at=now,
            updated_at=now,
        )
        if not await DisputeRepository(session).insert(dispute):
            raise DisputeAlreadyOpen()
        self._log(
            session,
            dispute,
            "opened",
            actor_id=user_id,
            role="buyer",
            at=now,
            body=payload.message,
            data={
                "reason": payload.reason,
                "amount": amount,
                "wants_return": payload.wants_return,
                **({"claim": True} if claim else {}),
            },
            images=photos,
            documents=files,
        )
        why = payload.reason.replace("_", " ")
        if claim:
            await self._tell_store(
                session,
                so,
                f"Order {so.number}: the buyer opened a claim",
                body=f"The buyer claims {amount_text(amount, so.currency)} ({why}). Answer by "
                f"{dispute.respond_by:%Y-%m-%d %H:%M} UTC; the claim goes to the platform on "
                f"{dispute.escalate_by:%Y-%m-%d} if it is not settled.",
            )
        else:
            await order_service.pause_receipt_timer(
                session, so.id, actor_id=user_id, actor_role="buyer", reason="refund requested"
            )
            await self._tell_store(
                session,
                so,
                f"Order {so.number}: refund requested",
                body=f"The buyer asks for {amount_text(amount, so.currency)} ({why}). "
                f"Answer by {dispute.respond_by:%Y-%m-%d %H:%M} UTC or it is refunded automatically.",
            )
        await session.flush()
        return await self.read(session, dispute)

    # --- the seller's answer ----------------------------------------------------------------------------------

    async def accept(
        self, session: AsyncSession, actor: Actor, dispute_id: int, return_address: str | None = None
    ) -> DisputeRead:
        """The store accepts the request. Without a return: the requested amount is refunded from escrow at
        once. With a return (``wants_return``): the store gives its ``return_address`` (else 422) and the
        dispute waits for the item (``awaiting_return``). Accepted already: no change; otherwise 409 unless
        the dispute awaits the seller."""
        dispute = await self._for_store(session, actor, dispute_id, "store:manage")
        user_id = require_writer(actor)
        if dispute.status == "awaiting_seller" and dispute.wants_return:
            if not return_address:
                raise Invalid(
                    "The buyer sends the item back: give the address to return it to.",
                    fields={"return_address": "required"},
                )
            now = utcnow()
            so = await self._seller_order(session, dispute)
            return_by = now + get_policy(so.trade_model).return_ship_window
            if not await self._move(
                session,
                dispute.id,
                ["awaiting_seller"],
                {
                    "status": "awaiting_return",
                    "return_address": return_address,
                    "respond_by": None,
                    "return_by": return_by,
                },
            ):
                raise DisputeNotAllowed("The request changed meanwhile; reload it.")
            self._log(
                session,
                dispute,
                "accepted",
                actor_id=user_id,
                role="seller",
                at=now,
                body=return_address,
                data={"return": True, "return_address": return_address},
            )
            await self._tell_buyer(
                session,
                so,
                f"Order {so.number}: the seller accepted your return",
                body=(
                    f"Send the item to: {return_address}. Then add the return tracking number by "
                    f"{return_by:%Y-%m-%d %H:%M} UTC, or the request closes without a refund."
                ),
            )
            await session.flush()
        elif not (
            dispute.status == "awaiting_return"
            or (dispute.status == "resolved" and dispute.outcome in REFUND_OUTCOMES)
        ):
            if dispute.status != "awaiting_seller":
                raise DisputeNotAllowed("Only a request waiting for the seller's answer can be accepted.")
            await self._resolve(
                session,
                dispute,
                ["awaiting_seller"],
                amount=dispute.requested_amount,
                kind="accepted",
                actor_id=user_id,
                role="seller",
                note="Accepted by the seller.",
            )
        return await self.read(session, await self._dispute(session, dispute_id) or dispute)

    async def add_return_tracking(
        self, session: AsyncSession, actor: Actor, dispute_id: int, tracking_number: str
    ) -> DisputeRead:
        """The buyer sent the item back: its tracking number starts the return timer (refunded automatically
        ``RETURN_REFUND_DAYS`` later unless the store confirms the arrival first). Given already: no change."""
        dispute = await self.for_buyer(session, actor, dispute_id)
        user_id = require_writer(actor)
        if dispute.status == "awaiting_return" and dispute.return_tracking_number:
            return await self.read(session, dispute)
        if dispute.status != "awaiting_return":
            raise DisputeNotAllowed("A return tracking number is added after the seller accepted the return.")
        now = utcnow()
        refund_by = now + timedelta(days=RETURN_REFUND_DAYS)
        if not await self._move(
            session,
            dispute.id,
            ["awaiting_return"],
            {
                "return_tracking_number": tracking_number,
                "return_shipped_at": now,
                "respond_by": refund_by,
                "return_by": None,
            },
        ):
            raise DisputeNotAllowed("The request changed meanwhile; reload it.")
        self._log(
            session,
            dispute,
            "return_shipped",
            actor_id=user_id,
            role="buyer",
            at=now,
            data={"tracking_number": tracking_number},
        )
        so = await self._seller_order(session, dispute)
        await self._tell_store(
            session,
            so,
            f"Order {so.number}: the buyer sent the item back",
            body=f"Tracking number {tracking_number}. Confirm when it arrives; it is refunded automatically "
            f"on {refund_by:%Y-%m-%d} otherwise.",
        )
        await session.flush()
        return await self.read(session, await self._dispute(session, dispute.id) or dispute)

    async def confirm_return(self, session: AsyncSession, actor: Actor, dispute_id: int) -> DisputeRead:
        """The store confirms the returned item arrived: the refund is paid from escrow."""
        dispute = await self._for_store(session, actor, dispute_id, "store:manage")
        user_id = require_writer(actor)
        if not (dispute.status == "resolved" and dispute.return_received_at is not None):
            if dispute.status != "awaiting_return":
                raise DisputeNotAllowed("Only an accepted return can be confirmed as received.")
            await self._resolve(
                session,
                dispute,
                ["awaiting_return"],
                amount=dispute.requested_amount,
                kind="return_received",
                actor_id=user_id,
                role="seller",
                note="The returned item arrived.",
                extra={"return_received_at": utcnow()},
            )
        return await self.read(session, await self._dispute(session, dispute_id) or dispute)

    async def reject(self, session: AsyncSession, actor: Actor, dispute_id: int, reason: str) -> DisputeRead:
        """The store rejects the request with a reason: the buyer may escalate it until ``escalate_by``."""
        dispute = await self._for_store(session, actor, dispute_id, "store:manage")
        user_id = require_writer(actor)
        if dispute.status == "awaiting_buyer":
            return await self.read(session, dispute)
        now = utcnow()
        so = await self._seller_order(session, dispute)
        escalate_by = (
            dispute.escalate_by
            if dispute.kind == "claim" and dispute.escalate_by is not None
            else now + get_policy(so.trade_model).escalation_window
        )
        if not await self._move(
            session,
            dispute.id,
            ["awaiting_seller"],
            {
                "status": "awaiting_buyer",
                "reject_reason": reason,
                "escalate_by": escalate_by,
                "respond_by": None,
            },
        ):
            raise DisputeNotAllowed("Only a request waiting for the seller's answer can be rejected.")
        self._log(
            session,
            dispute,
            "rejected",
            actor_id=user_id,
            role="seller",
            at=now,
            body=reason,
            data={"reason": reason},
        )
        await self._tell_buyer(
            session,
            so,
            f"Order {so.number}: the seller rejected your refund request",
            body=f"{reason} You may ask the platform to decide until {escalate_by:%Y-%m-%d %H:%M} UTC.",
        )
        await session.flush()
        return await self.read(session, await self._dispute(session, dispute.id) or dispute)

    # --- the buyer's next steps -------------------------------------------------------------------------------

    async def escalate(self, session: AsyncSession, actor: Actor, dispute_id: int) -> DisputeRead:
        """The buyer takes a rejected request to the platform (before ``escalate_by``)."""
        dispute = await self.for_buyer(session, actor, dispute_id)
        user_id = require_writer(actor)
        if dispute.status == "escalated":
            return await self.read(session, dispute)
        now = utcnow()
        unanswered_claim = (
            dispute.kind == "claim"
            and dispute.status == "awaiting_seller"
            and dispute.respond_by is not None
            and dispute.respond_by <= now
        )
        if not unanswered_claim and (
            dispute.status != "awaiting_buyer"
            or (dispute.kind == "refund" and dispute.escalate_by and dispute.escalate_by <= now)
        ):
            if dispute.kind == "claim" and dispute.status == "awaiting_seller":
                raise DisputeNotAllowed(
                    f"The seller has until {dispute.respond_by:%Y-%m-%d %H:%M} UTC to answer; "
                    "you may escalate after that."
                )
            raise DisputeNotAllowed("Only a request the seller rejected can be escalated, within its window.")
        if not await self._move(
            session,
            dispute.id,
            ["awaiting_buyer", "awaiting_seller"] if unanswered_claim else ["awaiting_buyer"],
            {"status": "escalated", "escalated_at": now, "escalate_by": None, "respond_by": None},
        ):
            raise DisputeNotAllowed("The request changed meanwhile; reload it.")
        self._log(session, dispute, "escalated", actor_id=user_id, role="buyer", at=now)
        so = await self._seller_order(session, dispute)
        await self._tell_store(
            session,
            so,
            f"Order {so.number}: the buyer escalated the refund request",
            body="An operator will read the thread and decide.",
        )
        await session.flush()
        return await self.read(session, await self._dispute(session, dispute.id) or dispute)

    async def add_message(
        self,
        session: AsyncSession,
        actor: Actor,
        dispute_id: int,
        body: str,
        images: Sequence[bytes] = (),
        *,
        storage: MediaStorage | None = None,
        documents: Sequence[UploadIn] = (),
    ) -> DisputeRead:
        """The buyer, the store or an operator writes in the dispute's log (while it is open), with up to
        ``MAX_IMAGES`` evidence photos and ``MAX_DOCUMENTS`` PDF documents (``storage`` needed when there are
        any)."""
        user_id = require_writer(actor)
        # the role is the first scoped read that finds it: the buyer's own, any for an operator, the store's
        dispute = await DisputeRepository(session).dispute_of_buyer(dispute_id, user_id)
        if dispute is not None:
            role = "buyer"
        elif actor.is_operator:
            dispute = await self._dispute(session, dispute_id)
            if dispute is None:
                raise DisputeNotFound()
            role = "operator"
        else:
            dispute = await self._for_store(session, actor, dispute_id, "store:read")
            role = "seller"
        if not dispute.is_open:
            raise DisputeNotAllowed("This dispute is closed.")
        photos, files = await store_evidence(images, documents, storage)
        now = utcnow()
        self._log(
            session,
            dispute,
            "message",
            actor_id=user_id,
            role=role,
            at=now,
            body=body,
            timeline=False,
            images=photos,
            documents=files,
        )
        so = await self._seller_order(session, dispute)
        title = f"Order {so.number}: new message on the refund request"
        if role != "buyer":
            await self._tell_buyer(session, so, title, body=body)
        if role != "seller":
            await self._tell_store(session, so, title, body=body)
        await session.flush()
        return await self.read(session, dispute)

    # --- the operator's ruling --------------------------------------------------------------------------------

    async def rule(
        self, session: AsyncSession, actor: Actor, dispute_id: int, ruling: DisputeRuling
    ) -> DisputeRead:
        """An operator decides an escalated dispute: a full refund (what is left in escrow), a partial refund
        (``amount``) or release to the seller (the receipt timer runs again), with a reason."""
        operator_id = require_operator(actor)
        dispute = await self._dispute(session, dispute_id)
        if dispute is None:
            raise DisputeNotFound()
        if dispute.status != "escalated":
            raise DisputeNotAllowed("Only an escalated dispute can be ruled on.")
        so = await self._seller_order(session, dispute)
        most = await self.refundable(session, so)
        if ruling.outcome == "released":
            await self._release(
                session, dispute, ["escalated"], actor_id=operator_id, role="operator", note=ruling.reason
            )
        else:
            amount = most if ruling.outcome == "refund_full" else ruling.amount
            if amount is None or not 0 < amount <= most:
                raise RefundAmountInvalid(most)
            await self._resolve(
                session,
                dispute,
                ["escalated"],
                amount=amount,
                kind="ruled",
                actor_id=operator_id,
                role="operator",
                note=ruling.reason,
            )
        return await self.read(session, await self._dispute(session, dispute_id) or dispute)

    # --- timers -----------------------------------------------------------------------------------------------

    async def auto_resolve(
        self, session: AsyncSession, dispute_id: int, *, now: datetime | None = None
    ) -> bool:
        """The seller did not answer by ``respond_by``: the policy's default outcome (the market refunds the
        requested amount). False when it was answered meanwhile."""
        now = now or utcnow()
        dispute = await self._dispute(session, dispute_id)
        if dispute is None or dispute.respond_by is None or dispute.respond_by > now:
            return False
        if dispute.status == "awaiting_return" and dispute.return_tracking_number:
            return await self._resolve(
                session,
                dispute,
                ["awaiting_return"],
                amount=dispute.requested_amount,
                kind="auto_refunded",
                actor_id=None,
                role="system",
                note="The seller did not confirm the return in time: refunded automatically.",
            )
        if dispute.status != "awaiting_seller":
            return False
        so = await self._seller_order(session, dispute)
        if dispute.kind == "claim":
            return await self._claim_unanswered(session, dispute, so, now)
        if get_policy(so.trade_model).refund_default_outcome == "release":
            return await self._release(
                session,
                dispute,
                ["awaiting_seller"],
                actor_id=None,
                role="system",
                note="The seller did not answer in time.",
            )
        return await self._resolve(
            session,
            dispute,
            ["awaiting_seller"],
            amount=dispute.requested_amount,
            kind="auto_refunded",
            actor_id=None,
            role="system",
            note="The seller did not answer in time: refunded automatically.",
        )

    async def _claim_unanswered(
        self, session: AsyncSession, dispute: Dispute, so: SellerOrder, now: datetime
    ) -> bool:
        """A claim the seller left unanswered past ``respond_by``: the buyer may escalate it now; it escalates
        on its own at ``escalate_by``."""
        if not await self._move(
            session, dispute.id, ["awaiting_seller"], {"status": "awaiting_buyer", "respond_by": None}
        ):
            return False
        self._log(session, dispute, "unanswered", actor_id=None, role="system", at=now, data={"claim": True})
        when = f"{dispute.escalate_by:%Y-%m-%d %H:%M} UTC" if dispute.escalate_by else "soon"
        await self._tell_buyer(
            session,
            so,
            f"Order {so.number}: the seller did not answer your claim",
            body=f"You may ask the platform to decide now; the claim goes to the platform on its own at {when}.",
        )
        await session.flush()
        return True

    async def expire_rejected(
        self, session: AsyncSession, dispute_id: int, *, now: datetime | None = None
    ) -> bool:
        """A rejected request the buyer did not escalate by ``escalate_by`` closes (released to the seller; the
        receipt timer runs again), or goes to an operator when the policy says so."""
        now = now or utcnow()
        dispute = await self._dispute(session, dispute_id)
        if (
            dispute is None
            or dispute.status != "awaiting_buyer"
            or dispute.escalate_by is None
            or dispute.escalate_by > now
        ):
            return False
        so = await self._seller_order(session, dispute)
        if dispute.kind == "claim" or get_policy(so.trade_model).escalation_default == "escalate":
            if not await self._move(
                session, dispute.id, ["awaiting_buyer"], {"status": "escalated", "escalated_at": now}
            ):
                return False
            self._log(session, dispute, "escalated", actor_id=None, role="system", at=now)
            await session.flush()
            return True
        return await self._release(
            session,
            dispute,
            ["awaiting_buyer"],
            actor_id=None,
            role="system",
            note="Not escalated in time: closed.",
        )

    async def expire_return(
        self, session: AsyncSession, dispute_id: int, *, now: datetime | None = None
    ) -> bool:
        """An accepted return whose buyer gave no return tracking number by ``return_by`` closes without a
        refund (released to the seller; the receipt timer runs again; both sides are told)."""
        now = now or utcnow()
        dispute = await self._dispute(session, dispute_id)
        if (
            dispute is None
            or dispute.status != "awaiting_return"
            or dispute.return_tracking_number
            or dispute.return_by is None
            or dispute.return_by > now
        ):
            return False
        return await self._release(
            session,
            dispute,
            ["awaiting_return"],
            actor_id=None,
            role="system",
            note="The item was not sent back in time (no return tracking number): closed without a refund.",
            without_return_tracking=True,
        )

    async def pause_shipped(self, session: AsyncSession, seller_order_id: int) -> bool:
        """A seller order with an open dispute was shipped after the dispute opened: its receipt timer is
        paused too (the dispute timer sweep calls this)."""
        if (await self.open_for(session, [seller_order_id])).get(seller_order_id) is None:
            return False
        return await order_service.pause_receipt_timer(
            session, seller_order_id, actor_role="system", reason="refund request open"
        )


dispute_service = DisputeService()
