"""A quote's negotiation (DOMAIN.md "Sourcing aggregates"): its versioned offers, the supplier's revision, either
side's counter-offers, accepting the other side's latest offer, declining, the thread's messages, and the
buyer's award that drafts the contract.

Who: the BUYER side is any member of the RFQ's organisation; the SUPPLIER side is the people of the quote's store
(``store:read`` to read and talk, ``catalog:write`` to revise, counter and accept). Everyone else gets 404.

Every new offer is the next version of the quote, written only if the quote still has the version its author
saw (a conditional UPDATE on ``quotes``): of two racing offers one wins, the other gets 409 ``offer_outdated``.
The quote row's terms always mirror its newest offer. The award is a conditional UPDATE on ``rfqs``
(``status IN ('open', 'closed')``), so two awards give one contract. Flushes, never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import get_store_for, require_user, require_writer
from souk.errors import Forbidden
from souk.kit.clock import utcnow
from souk.kit.money import bps_percent, from_minor
from souk.messaging.repository import ConversationRepository
from souk.messaging.service import clean_body, messaging_service
from souk.models import Conversation, Message, Offer, Quote, Rfq
from souk.notification.service import notification_service
from souk.order.repository import OrderRepository
from souk.trade.policy import get_policy
from souk.trade.sourcing.contract.service import contract_service
from souk.trade.sourcing.negotiation.errors import (
    OfferNotAgreed,
    OfferNotFound,
    OfferOutdated,
    OwnOffer,
    QuoteExpired,
    QuoteNotFound,
    QuoteNotOpen,
    RevisionNotAllowed,
    RfqAlreadyAwarded,
    RfqNotOpen,
)
from souk.trade.sourcing.negotiation.repository import NegotiationRepository, ScopedQuote
from souk.trade.sourcing.negotiation.schemas import (
    Abilities,
    Ability,
    AwardRead,
    CounterCreate,
    MessageRead,
    NegotiationRead,
    OfferRead,
    QuoteDetail,
    RevisionCreate,
    RfqSummary,
    Side,
    TermsChange,
)

# the conversation subject of a quote's thread; "general" (with the quote's id) until messaging knows "quote"
QUOTE_SUBJECT = "quote"
THREAD_PAGE = 100
TERM_FIELDS = (
    "unit_price_amount",
    "quantity",
    "lead_time_days",
    "incoterm",
    "place",
    "shipping_amount",
    "deposit_bps",
    "balance_due",
)
BALANCE_LABELS = {"before_shipment": "before shipment", "on_documents": "on shipping documents"}
OPEN_RFQ = ("open", "closed")
AWARDABLE = ("submitted", "accepted")


def buyer_url(quote: Quote) -> str:
    return f"/rfqs/{quote.rfq_id}/quotes/{quote.id}"


def supplier_url(quote: Quote) -> str:
    return f"/seller/stores/{quote.store_id}/quotes/{quote.id}"


def describe_changes(prev: Offer | None, cur: Offer) -> list[str]:
    """What ``cur`` changed from ``prev``, in words: ``["price 2.50 → 2.30", "lead time 20 → 25 days"]``."""
    if prev is None:
        return []
    c = cur.currency
    out: list[str] = []
    if prev.unit_price_amount != cur.unit_price_amount:
        out.append(f"price {from_minor(prev.unit_price_amount, c)} → {from_minor(cur.unit_price_amount, c)}")
    if prev.quantity != cur.quantity:
        out.append(f"quantity {prev.quantity} → {cur.quantity}")
    if prev.lead_time_days != cur.lead_time_days:
        out.append(f"lead time {prev.lead_time_days} → {cur.lead_time_days} days")
    if (prev.incoterm, prev.place) != (cur.incoterm, cur.place):
        before = f"{prev.incoterm} {prev.place}".strip()
        after = f"{cur.incoterm} {cur.place}".strip()
        out.append(f"Incoterm {before} → {after}")
    if prev.shipping_amount != cur.shipping_amount:
        out.append(f"shipping {from_minor(prev.shipping_amount, c)} → {from_minor(cur.shipping_amount, c)}")
    if prev.deposit_bps != cur.deposit_bps:
        out.append(f"deposit {bps_percent(prev.deposit_bps)}% → {bps_percent(cur.deposit_bps)}%")
    if prev.balance_due != cur.balance_due:
        before = BALANCE_LABELS.get(prev.balance_due, prev.balance_due)
        after = BALANCE_LABELS.get(cur.balance_due, cur.balance_due)
        out.append(f"balance due {before} → {after}")
    return out or ["no change in terms"]


def _other(side: Side) -> Side:
    return "supplier" if side == "buyer" else "buyer"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _message_read(m: Message, side: Side, name: str) -> MessageRead:
    return MessageRead(
        id=m.id,
        sender_user_id=m.sender_user_id,
        sender_side=side,
        sender_name=name,
        body=m.body,
        created_at=m.created_at,
    )


def _decided(status: str, now: datetime) -> dict[str, Any]:
    """The quote's values when the buyer decides on it (declined or awarded)."""
    return {
        "status": status,
        "decided_at": now,
        "buyer_answered_at": func.coalesce(Quote.buyer_answered_at, now),
        "updated_at": now,
    }


def _expired(quote: Quote, offer: Offer | None) -> str | None:
    """Why the supplier's terms in ``offer`` can no longer be taken (they were made before the quote's validity
    date, which has passed), or None. A supplier offer made after that date is fresh; terms agreed in time stay
    agreed."""
    made = offer.created_at.date() if offer is not None else None
    if utcnow().date() > quote.valid_until and (made is None or made <= quote.valid_until):
        return (
            f"This quote was valid until {quote.valid_until:%Y-%m-%d}; ask the supplier for fresh terms "
            "(a revision or a counter-offer)."
        )
    return None


@dataclass
class _Ctx:
    scoped: ScopedQuote
    side: Side

    @property
    def quote(self) -> Quote:
        return self.scoped.quote

    @property
    def rfq(self) -> Rfq:
        return self.scoped.rfq


class NegotiationService:
    # --- access -----------------------------------------------------------------------------------------

    async def _load(
        self,
        session: AsyncSession,
        actor: Actor,
        quote_id: int,
        *,
        side: Side | None = None,
        store_id: int | None = None,
        rfq_id: int | None = None,
    ) -> _Ctx:
        """The quote as the actor sees it, and the side they act on (the one asked for; else the buyer's when
        they are in the RFQ's organisation, else the supplier's). ``store_id``/``rfq_id``: the page's URL must
        name the quote's own store / RFQ. 404 for anyone else."""
        require_user(actor)
        scoped = await NegotiationRepository(session).scoped(actor, quote_id)
        if scoped is None:
            raise QuoteNotFound()
        if store_id is not None:
            if scoped.quote.store_id != store_id:
                raise QuoteNotFound()
            side = "supplier"
        if rfq_id is not None:
            if scoped.quote.rfq_id != rfq_id:
                raise QuoteNotFound()
            side = "buyer"
        if (side == "buyer" and not scoped.is_buyer) or (side == "supplier" and not scoped.is_supplier):
            raise QuoteNotFound()
        chosen: Side = side or ("buyer" if scoped.is_buyer else "supplier")
        return _Ctx(scoped, chosen)

    async def _writer(self, session: AsyncSession, actor: Actor, ctx: _Ctx, permission: str) -> int:
        user_id = require_writer(actor)
        if ctx.side == "supplier":
            await get_store_for(session, actor, ctx.quote.store_id, permission)
        return user_id

    def _buyer_only(self, ctx: _Ctx, what: str) -> None:
        if ctx.side != "buyer":
            raise Forbidden(f"Only the buyer can {what} a quote.", code="buyer_only")

    # --- rules as reasons (shared by the checks and the page's "why not") --------------------------------

    def _rfq_block(self, rfq: Rfq) -> str | None:
        return None if rfq.status in OPEN_RFQ else f"The RFQ is {rfq.status}."

    def _quote_block(self, quote: Quote) -> str | None:
        if quote.status == "submitted":
            return None
        if quote.status == "accepted":
            return "The terms were agreed; the buyer may award this quote now."
        return f"This quote is {quote.status}."

    def _revision_block(self, quote: Quote, allowed: int) -> str | None:
        if quote.buyer_answered_at is not None:
            return "The buyer has answered this quote; send a counter-offer instead."
        if quote.revisions_used >= allowed:
            return f"You have used your {_plural(allowed, 'revision')}."
        return None

    def _award_block(
        self, rfq: Rfq, quote: Quote, newest: Offer | None
    ) -> tuple[str, type[Exception]] | None:
        if rfq.status == "awarded":
            return "This RFQ has already been awarded.", RfqAlreadyAwarded
        if rfq.status not in OPEN_RFQ:
            return f"The RFQ is {rfq.status}.", RfqNotOpen
        if quote.status not in AWARDABLE:
            return f"This quote is {quote.status}.", QuoteNotOpen
        if quote.agreed_offer_id is None and (
            newest is None or newest.side != "supplier" or newest.status != "open"
        ):
            return OfferNotAgreed().message, OfferNotAgreed
        if quote.agreed_offer_id is None and (expired := _expired(quote, newest)):
            return expired, QuoteExpired
        return None

    def _abilities(self, ctx: _Ctx, newest: Offer | None, allowed: int) -> Abilities:
        quote, rfq, side = ctx.quote, ctx.rfq, ctx.side
        common = self._rfq_block(rfq) or self._quote_block(quote)

        def ability(reason: str | None) -> Ability:
            return Ability(allowed=reason is None, reason=reason or "")

        if side != "supplier":
            revise = ability("Only the supplier revises its quote.")
        else:
            revise = ability(common or self._revision_block(quote, allowed))
        if common is None and newest is not None and newest.side == side:
            accept = ability(f"Your offer is the latest; waiting for the {_other(side)} to answer.")
        elif common is None and (newest is None or newest.status != "open"):
            accept = ability("There is no open offer to accept.")
        elif side == "buyer" and (expired := _expired(quote, newest)):
            accept = ability(common or expired)
        else:
            accept = ability(common)
        if side != "buyer":
            award = ability("Only the buyer awards a quote.")
            decline = ability("Only the buyer declines a quote.")
        else:
            block = self._award_block(rfq, quote, newest)
            award = ability(block[0] if block else None)
            decline = ability(
                self._rfq_block(rfq)
                or (None if quote.status in AWARDABLE else f"This quote is {quote.status}.")
            )
        return Abilities(revise=revise, counter=ability(common), accept=accept, award=award, decline=decline)

    # --- reading ----------------------------------------------------------------------------------------

    async def view(
        self,
        session: AsyncSession,
        actor: Actor,
        quote_id: int,
        *,
        side: Side | None = None,
        store_id: int | None = None,
        rfq_id: int | None = None,
        mark_read: bool = False,
    ) -> NegotiationRead:
        """The quote, its RFQ, every offer (newest first, with what each changed) and the thread's messages
        (oldest first), with what the caller may do now and why not."""
        ctx = await self._load(session, actor, quote_id, side=side, store_id=store_id, rfq_id=rfq_id)
        repo = NegotiationRepository(session)
        quote, rfq = ctx.quote, ctx.rfq
        allowed = get_policy("sourcing").quote_revisions_allowed
        rows = await repo.offers(quote.id)
        ascending = list(reversed(rows))
        offers: list[OfferRead] = []
        prev: Offer | None = None
        for offer, name in ascending:
            offers.append(
                OfferRead.model_validate(
                    {
                        **{k: getattr(offer, k) for k in OfferRead.model_fields if hasattr(offer, k)},
                        "created_by_name": name,
                        "changes": describe_changes(prev, offer),
                    }
                )
            )
            prev = offer
        offers.reverse()
        newest = rows[0][0] if rows else None
        store_name, verified = await repo.store_and_org(quote.store_id)
        conversation, messages = await self._thread(session, actor, ctx, mark_read=mark_read)
        detail = QuoteDetail.model_validate(
            {
                **{k: getattr(quote, k) for k in QuoteDetail.model_fields if hasattr(quote, k)},
                "store_name": store_name,
                "supplier_verified": verified,
                "revisions_allowed": allowed,
            }
        )
        summary = RfqSummary.model_validate(
            {
                **{k: getattr(rfq, k) for k in RfqSummary.model_fields if hasattr(rfq, k)},
                "organization_name": await repo.organization_name(rfq.organization_id),
            }
        )
        return NegotiationRead(
            side=ctx.side,
            quote=detail,
            rfq=summary,
            offers=offers,
            messages=messages,
            conversation_id=conversation.id if conversation else None,
            can=self._abilities(ctx, newest, allowed),
            contract_id=await repo.contract_id_for(quote.id) if quote.status == "awarded" else None,
        )

    async def _thread(
        self, session: AsyncSession, actor: Actor, ctx: _Ctx, *, mark_read: bool
    ) -> tuple[Conversation | None, list[MessageRead]]:
        repo = ConversationRepository(session)
        conversation = await repo.find_subject(
            ctx.quote.store_id, ctx.rfq.created_by_id, QUOTE_SUBJECT, ctx.quote.id
        )
        if conversation is None:
            return None, []
        if mark_read and actor.can_write():
            await repo.mark_read(conversation, "buyer" if ctx.side == "buyer" else "seller", utcnow())
        rows = (await repo.messages_page(conversation.id, None, THREAD_PAGE))[:THREAD_PAGE]
        messages = [
            _message_read(m, "buyer" if m.sender_side == "buyer" else "supplier", name)
            for m, name in reversed(rows)
        ]
        return conversation, messages

    async def messages(
        self, session: AsyncSession, actor: Actor, quote_id: int, *, side: Side | None = None
    ) -> list[MessageRead]:
        """The thread's messages, oldest first (the newest 100)."""
        ctx = await self._load(session, actor, quote_id, side=side)
        return (await self._thread(session, actor, ctx, mark_read=False))[1]

    async def post_message(
        self,
        session: AsyncSession,
        actor: Actor,
        quote_id: int,
        body: str,
        *,
        side: Side | None = None,
        store_id: int | None = None,
        rfq_id: int | None = None,
    ) -> MessageRead:
        """A message on the quote's thread (a messaging conversation between the RFQ's author and the quote's
        store), by a member of the buyer organisation or one of the store's people."""
        ctx = await self._load(session, actor, quote_id, side=side, store_id=store_id, rfq_id=rfq_id)
        await self._writer(session, actor, ctx, "store:read")
        text = clean_body(body)
        quote, rfq = ctx.quote, ctx.rfq
        posted = await messaging_service.post_for_subject(
            session,
            actor,
            side="buyer" if ctx.side == "buyer" else "seller",
            store_id=quote.store_id,
            buyer_user_id=rfq.created_by_id,
            subject_type="quote",
            subject_id=quote.id,
            title=f"Quote #{quote.id}: {rfq.title}",
            body=text,
        )
        return _message_read(posted.message.message, ctx.side, posted.message.sender_name)

    # --- new offers -------------------------------------------------------------------------------------

    async def _write_offer(
        self,
        session: AsyncSession,
        ctx: _Ctx,
        user_id: int,
        kind: str,
        change: TermsChange,
        seen: int,
        *,
        conditions: list[Any],
        extra: dict[str, Any],
    ) -> Offer:
        """The next offer version: a conditional UPDATE of the quote (still submitted, still at version
        ``seen``, plus ``conditions``) mirroring the new terms, the open offer superseded, the new offer row."""
        repo = NegotiationRepository(session)
        quote = ctx.quote
        terms = {
            f: getattr(change, f) if getattr(change, f) is not None else getattr(quote, f)
            for f in TERM_FIELDS
        }
        now = utcnow()
        matched = await repo.update_quote(
            quote.id,
            [Quote.status == "submitted", Quote.version == seen, *conditions],
            {**terms, **extra, "version": seen + 1, "updated_at": now},
        )
        if not matched:
            await self._outdated(repo, ctx, kind, seen)
        await repo.close_open_offers([quote.id], "superseded", now, user_id)
        offer = Offer(
            quote_id=quote.id,
            version=seen + 1,
            kind=kind,
            side=ctx.side,
            created_by_id=user_id,
            status="open",
            currency=quote.currency,
            message=change.message,
            created_at=now,
            **terms,
        )
        session.add(offer)
        await session.flush()
        await repo.reload(quote)
        return offer

    async def _outdated(self, repo: NegotiationRepository, ctx: _Ctx, kind: str, seen: int) -> NoReturn:
        """A conditional update matched nothing: raise why, read from the quote as it is now."""
        await repo.reload(ctx.quote)
        self._why_not(ctx, kind, seen)
        raise OfferOutdated()

    def _why_not(self, ctx: _Ctx, kind: str, seen: int) -> None:
        """Raise the reason a new offer of ``kind`` based on version ``seen`` cannot be written now."""
        block = self._rfq_block(ctx.rfq)
        if block:
            raise RfqNotOpen(block)
        block = self._quote_block(ctx.quote)
        if block:
            raise QuoteNotOpen(block)
        if kind == "revision":
            block = self._revision_block(ctx.quote, get_policy("sourcing").quote_revisions_allowed)
            if block:
                raise RevisionNotAllowed(block)
        if ctx.quote.version != seen:
            raise OfferOutdated()

    async def revise(
        self,
        session: AsyncSession,
        actor: Actor,
        quote_id: int,
        payload: RevisionCreate,
        *,
        store_id: int | None = None,
    ) -> NegotiationRead:
        """The supplier revises its quote (``catalog:write``): at most ``quote_revisions_allowed`` times, before
        the buyer answers, while the quote is submitted. 409 ``revision_not_allowed`` / ``quote_not_open`` /
        ``offer_outdated``. Notifies the buyer organisation."""
        ctx = await self._load(session, actor, quote_id, side="supplier", store_id=store_id)
        user_id = await self._writer(session, actor, ctx, "catalog:write")
        quote = ctx.quote
        seen = payload.based_on_version or quote.version
        self._why_not(ctx, "revision", seen)
        allowed = get_policy("sourcing").quote_revisions_allowed
        extra: dict[str, Any] = {"revisions_used": Quote.revisions_used + 1}
        if payload.moq is not None:
            extra["moq"] = payload.moq
        if payload.tiers is not None:
            extra["tiers"] = [list(t) for t in payload.tiers]
        if payload.sample_price_amount is not None:
            extra["sample_price_amount"] = payload.sample_price_amount
        if payload.valid_until is not None:
            extra["valid_until"] = payload.valid_until
        if payload.message:
            extra["message"] = payload.message
        offer = await self._write_offer(
            session,
            ctx,
            user_id,
            "revision",
            payload,
            seen,
            conditions=[Quote.revisions_used < allowed, Quote.buyer_answered_at.is_(None)],
            extra=extra,
        )
        await self._notify(
            session,
            actor,
            ctx,
            "buyer",
            "sourcing.quote_revised",
            f"{await self._store_name(session, quote)} revised its quote for {ctx.rfq.title}",
            self._terms_line(offer),
        )
        return await self.view(session, actor, quote.id, side="supplier")

    async def counter(
        self,
        session: AsyncSession,
        actor: Actor,
        quote_id: int,
        payload: CounterCreate,
        *,
        store_id: int | None = None,
        rfq_id: int | None = None,
    ) -> NegotiationRead:
        """A counter-offer from either side on a submitted quote, based on the version the author saw (409
        ``offer_outdated`` when stale). A buyer's counter ends the supplier's revisions. Notifies the other
        side."""
        ctx = await self._load(session, actor, quote_id, side=payload.side, store_id=store_id, rfq_id=rfq_id)
        user_id = await self._writer(session, actor, ctx, "catalog:write")
        self._why_not(ctx, "counter", payload.based_on_version)
        extra: dict[str, Any] = {}
        if ctx.side == "buyer":
            extra["buyer_answered_at"] = func.coalesce(Quote.buyer_answered_at, utcnow())
        offer = await self._write_offer(
            session, ctx, user_id, "counter", payload, payload.based_on_version, conditions=[], extra=extra
        )
        who = await self._name_of(session, ctx)
        await self._notify_other(
            session,
            actor,
            ctx,
            "sourcing.counter_offer",
            f"Counter-offer from {who} on {ctx.rfq.title}",
            offer,
        )
        return await self.view(session, actor, ctx.quote.id, side=ctx.side)

    # --- answers ----------------------------------------------------------------------------------------

    async def accept(
        self,
        session: AsyncSession,
        actor: Actor,
        quote_id: int,
        offer_id: int,
        *,
        side: Side | None = None,
        store_id: int | None = None,
        rfq_id: int | None = None,
    ) -> NegotiationRead:
        """Accept the other side's latest open offer: the offer is "accepted", the quote "accepted" with it as
        the agreed offer. 409 ``own_offer`` for one's own offer, ``offer_outdated`` for an older one."""
        ctx = await self._load(session, actor, quote_id, side=side, store_id=store_id, rfq_id=rfq_id)
        user_id = await self._writer(session, actor, ctx, "catalog:write")
        repo = NegotiationRepository(session)
        offer = await repo.offer(ctx.quote.id, offer_id)
        if offer is None:
            raise OfferNotFound()
        if offer.side == ctx.side:
            raise OwnOffer()
        self._why_not(ctx, "accept", offer.version)
        if offer.status != "open":
            raise OfferOutdated()
        if ctx.side == "buyer" and (expired := _expired(ctx.quote, offer)):
            raise QuoteExpired(expired)
        now = utcnow()
        values: dict[str, Any] = {"status": "accepted", "agreed_offer_id": offer.id, "updated_at": now}
        if ctx.side == "buyer":
            values["buyer_answered_at"] = func.coalesce(Quote.buyer_answered_at, now)
        matched = await repo.update_quote(
            ctx.quote.id, [Quote.status == "submitted", Quote.version == offer.version], values
        )
        if not matched:
            await self._outdated(repo, ctx, "accept", offer.version)
        await repo.set_offer_status(offer.id, "accepted", now, user_id)
        await repo.reload(ctx.quote)
        who = await self._name_of(session, ctx)
        await self._notify_other(
            session,
            actor,
            ctx,
            "sourcing.offer_accepted",
            f"{who} accepted the terms for {ctx.rfq.title}",
            offer,
        )
        return await self.view(session, actor, ctx.quote.id, side=ctx.side)

    async def decline(
        self, session: AsyncSession, actor: Actor, quote_id: int, *, rfq_id: int | None = None
    ) -> NegotiationRead:
        """The buyer declines a quote (submitted or accepted); its open offer is declined. Notifies the
        supplier."""
        ctx = await self._load(session, actor, quote_id, side="buyer", rfq_id=rfq_id)
        user_id = await self._writer(session, actor, ctx, "org:read")
        block = self._rfq_block(ctx.rfq)
        if block:
            raise RfqNotOpen(block)
        repo = NegotiationRepository(session)
        now = utcnow()
        matched = await repo.update_quote(
            ctx.quote.id,
            [Quote.status.in_(AWARDABLE)],
            _decided("declined", now),
        )
        if not matched:
            await repo.reload(ctx.quote)
            raise QuoteNotOpen(f"This quote is {ctx.quote.status}.")
        await repo.close_open_offers([ctx.quote.id], "declined", now, user_id)
        await repo.reload(ctx.quote)
        await self._notify(
            session,
            actor,
            ctx,
            "supplier",
            "sourcing.quote_declined",
            f"{await self._org_name(session, ctx.rfq)} declined your quote for {ctx.rfq.title}",
            "",
        )
        return await self.view(session, actor, ctx.quote.id, side="buyer")

    async def award(
        self, session: AsyncSession, actor: Actor, quote_id: int, *, rfq_id: int | None = None
    ) -> AwardRead:
        """The buyer awards the quote: the RFQ becomes "awarded" (conditional: of two awards one wins, the other
        gets 409 ``rfq_already_awarded``), the quote "awarded" on its agreed offer (or its newest offer when
        that is the supplier's; a buyer's unanswered counter is 409 ``offer_not_agreed``), every other quote of
        the RFQ "declined" and its supplier told, then the contract is drafted and the winner told."""
        ctx = await self._load(session, actor, quote_id, side="buyer", rfq_id=rfq_id)
        user_id = await self._writer(session, actor, ctx, "org:read")
        repo = NegotiationRepository(session)
        quote, rfq = ctx.quote, ctx.rfq
        newest = await repo.offer_by_version(quote.id, quote.version)
        block = self._award_block(rfq, quote, newest)
        if block:
            message, error = block
            if error in (OfferNotAgreed, RfqAlreadyAwarded):
                raise error()
            raise error(message)
        offer = await repo.offer(quote.id, quote.agreed_offer_id) if quote.agreed_offer_id else newest
        if offer is None:  # pragma: no cover - the agreed offer is one of the quote's
            raise OfferNotAgreed()
        if not await repo.award_rfq(rfq.id, quote.id):
            if await repo.rfq_status(rfq.id) == "awarded":
                raise RfqAlreadyAwarded()
            raise RfqNotOpen("The RFQ is no longer open.")
        now = utcnow()
        matched = await repo.update_quote(
            quote.id,
            [Quote.status.in_(AWARDABLE), Quote.version == quote.version],
            {**_decided("awarded", now), "agreed_offer_id": offer.id},
        )
        if not matched:  # a new offer came in since: the buyer must look again (everything rolls back)
            raise OfferOutdated()
        if offer.status == "open":
            await repo.set_offer_status(offer.id, "accepted", now, user_id)
        others = await repo.competing_quotes(rfq.id, quote.id)
        other_ids = [qid for qid, _ in others]
        await repo.decline_quotes(other_ids, now)
        await repo.close_open_offers(other_ids, "declined", now, user_id)
        await session.refresh(rfq)
        await repo.reload(quote)
        await session.refresh(offer)
        contract = await contract_service.draft(
            session, rfq=rfq, quote=quote, offer=offer, buyer_user_id=user_id
        )
        people = OrderRepository(session)
        for other_id, store_id in others:
            await self._tell(
                session,
                await people.store_people(store_id),
                user_id,
                "sourcing.quote_not_selected",
                f"Your quote for {rfq.title} was not selected",
                "The buyer awarded the RFQ to another supplier.",
                f"/seller/stores/{store_id}/quotes/{other_id}",
            )
        seller_link = f"/seller/stores/{quote.store_id}/contracts/{contract.id}"
        await self._tell(
            session,
            await people.store_people(quote.store_id),
            user_id,
            "sourcing.quote_awarded",
            f"You won {rfq.title}: contract {contract.number} to confirm",
            self._terms_line(offer),
            seller_link,
        )
        return AwardRead(
            rfq_id=rfq.id,
            quote_id=quote.id,
            offer_id=offer.id,
            contract_id=contract.id,
            contract_number=contract.number,
            declined_quote_ids=other_ids,
            buyer_url=f"/contracts/{contract.id}",
            supplier_url=seller_link,
        )

    # --- notifications ----------------------------------------------------------------------------------

    async def _store_name(self, session: AsyncSession, quote: Quote) -> str:
        return (await NegotiationRepository(session).store_and_org(quote.store_id))[0] or "The supplier"

    async def _org_name(self, session: AsyncSession, rfq: Rfq) -> str:
        return await NegotiationRepository(session).organization_name(rfq.organization_id) or "The buyer"

    async def _name_of(self, session: AsyncSession, ctx: _Ctx) -> str:
        """The name of the side ``ctx`` acts for: the buyer organisation's or the supplier store's."""
        if ctx.side == "buyer":
            return await self._org_name(session, ctx.rfq)
        return await self._store_name(session, ctx.quote)

    def _terms_line(self, offer: Offer) -> str:
        c = offer.currency
        return (
            f"{offer.quantity} at {from_minor(offer.unit_price_amount, c)} {c}, {offer.incoterm} "
            f"{offer.place}, lead time {offer.lead_time_days} days, deposit {bps_percent(offer.deposit_bps)}%"
        ).replace("  ", " ")

    async def _tell(
        self,
        session: AsyncSession,
        people: list[int],
        skip: int | None,
        kind: str,
        title: str,
        body: str,
        link: str,
    ) -> None:
        """Notify ``people``, except ``skip`` (the one who acted)."""
        for person in people:
            if person != skip:
                await notification_service.notify(session, person, kind, title, body=body, link=link)

    async def _notify(
        self, session: AsyncSession, actor: Actor, ctx: _Ctx, to: Side, kind: str, title: str, body: str
    ) -> None:
        if to == "buyer":
            people = await NegotiationRepository(session).organization_people(ctx.rfq.organization_id)
            link = buyer_url(ctx.quote)
        else:
            people = await OrderRepository(session).store_people(ctx.quote.store_id)
            link = supplier_url(ctx.quote)
        await self._tell(session, people, actor.user_id, kind, title, body, link)

    async def _notify_other(
        self, session: AsyncSession, actor: Actor, ctx: _Ctx, kind: str, title: str, offer: Offer
    ) -> None:
        """Tell the other side about ``offer`` (its terms in the body)."""
        await self._notify(session, actor, ctx, _other(ctx.side), kind, title, self._terms_line(offer))


negotiation_service = NegotiationService()
