"""All SQL of a quote's negotiation: scoped reads, the offers, and the conditional updates that make racing
revisions, counter-offers and awards give one winner. No rules, no commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import organization_ids, store_ids
from souk.models import Contract, Membership, Offer, Organization, Quote, Rfq, Store, User


@dataclass
class ScopedQuote:
    quote: Quote
    rfq: Rfq
    is_buyer: bool
    is_supplier: bool


class NegotiationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def scoped(self, actor: Actor, quote_id: int) -> ScopedQuote | None:
        """The quote and its RFQ if the actor is in the RFQ's organisation (buyer) or works on the quote's store
        (supplier, ``store:read``); None otherwise."""
        if actor.user_id is None:
            return None
        is_buyer = Rfq.organization_id.in_(organization_ids(actor, "org:read"))
        is_supplier = Quote.store_id.in_(store_ids(actor, "store:read"))
        row = (
            await self.session.execute(
                select(Quote, Rfq, is_buyer.label("b"), is_supplier.label("s"))
                .join(Rfq, Rfq.id == Quote.rfq_id)
                .where(Quote.id == quote_id, is_buyer | is_supplier)
                .execution_options(populate_existing=True)
            )
        ).first()
        if row is None:
            return None
        return ScopedQuote(row[0], row[1], bool(row[2]), bool(row[3]))

    async def reload(self, quote: Quote) -> Quote:
        await self.session.refresh(quote)
        return quote

    async def offers(self, quote_id: int) -> list[tuple[Offer, str]]:
        """Every offer of the quote with its author's name, newest first."""
        rows = await self.session.execute(
            select(Offer, User.display_name)
            .join(User, User.id == Offer.created_by_id)
            .where(Offer.quote_id == quote_id)
            .order_by(Offer.version.desc())
        )
        return [(o, name) for o, name in rows.all()]

    async def offer(self, quote_id: int, offer_id: int) -> Offer | None:
        return await self.session.scalar(
            select(Offer)
            .where(Offer.id == offer_id, Offer.quote_id == quote_id)
            .execution_options(populate_existing=True)
        )

    async def offer_by_version(self, quote_id: int, version: int) -> Offer | None:
        return await self.session.scalar(
            select(Offer)
            .where(Offer.quote_id == quote_id, Offer.version == version)
            .execution_options(populate_existing=True)
        )

    async def update_quote(
        self, quote_id: int, conditions: Sequence[ColumnElement[bool]], values: dict[str, Any]
    ) -> bool:
        """One conditional UPDATE of a quote; True when it matched (its conditions still held)."""
        result = await self.session.execute(
            update(Quote).where(Quote.id == quote_id, *conditions).values(**values),
            execution_options={"synchronize_session": False},
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def close_open_offers(
        self, quote_ids: Sequence[int], status: str, now: datetime, by_user_id: int | None
    ) -> None:
        """The open offers of these quotes become ``status`` ("superseded" or "declined")."""
        if not quote_ids:
            return
        await self.session.execute(
            update(Offer)
            .where(Offer.quote_id.in_(quote_ids), Offer.status == "open")
            .values(status=status, decided_at=now, decided_by_id=by_user_id),
            execution_options={"synchronize_session": False},
        )

    async def set_offer_status(self, offer_id: int, status: str, now: datetime, by_user_id: int) -> None:
        await self.session.execute(
            update(Offer)
            .where(Offer.id == offer_id)
            .values(status=status, decided_at=now, decided_by_id=by_user_id),
            execution_options={"synchronize_session": False},
        )

    async def award_rfq(self, rfq_id: int, quote_id: int) -> bool:
        """The RFQ becomes awarded to the quote if it is still open or closed; True when this call did it."""
        result = await self.session.execute(
            update(Rfq)
            .where(Rfq.id == rfq_id, Rfq.status.in_(("open", "closed")))
            .values(status="awarded", awarded_quote_id=quote_id),
            execution_options={"synchronize_session": False},
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def rfq_status(self, rfq_id: int) -> str | None:
        status: str | None = await self.session.scalar(select(Rfq.status).where(Rfq.id == rfq_id))
        return status

    async def competing_quotes(self, rfq_id: int, quote_id: int) -> list[tuple[int, int]]:
        """(id, store id) of the RFQ's other quotes still in play (submitted or accepted)."""
        rows = await self.session.execute(
            select(Quote.id, Quote.store_id)
            .where(Quote.rfq_id == rfq_id, Quote.id != quote_id, Quote.status.in_(("submitted", "accepted")))
            .order_by(Quote.id)
        )
        return [(r[0], r[1]) for r in rows.all()]

    async def decline_quotes(self, quote_ids: Sequence[int], now: datetime) -> None:
        if quote_ids:
            await self.session.execute(
                update(Quote)
                .where(Quote.id.in_(quote_ids), Quote.status.in_(("submitted", "accepted")))
                .values(status="declined", decided_at=now),
                execution_options={"synchronize_session": False},
            )

    async def store_and_org(self, store_id: int) -> tuple[str, bool]:
        """The store's name and whether its organisation is verified (approved)."""
        row = (
            await self.session.execute(
                select(Store.name, Organization.status)
                .outerjoin(Organization, Organization.id == Store.organization_id)
                .where(Store.id == store_id)
            )
        ).first()
        if row is None:
            return "", False
        return row[0], row[1] == "approved"

    async def organization_name(self, organization_id: int) -> str:
        name = await self.session.scalar(
            select(Organization.legal_name).where(Organization.id == organization_id)
        )
        return name or ""

    async def organization_people(self, organization_id: int) -> list[int]:
        rows = await self.session.scalars(
            select(Membership.user_id)
            .where(Membership.organization_id == organization_id)
            .order_by(Membership.user_id)
        )
        return list(rows.all())

    async def contract_id_for(self, quote_id: int) -> int | None:
        contract_id: int | None = await self.session.scalar(
            select(Contract.id).where(Contract.quote_id == quote_id).order_by(Contract.version).limit(1)
        )
        return contract_id

    async def user_name(self, user_id: int) -> str:
        name = await self.session.scalar(select(User.display_name).where(User.id == user_id))
        return name or ""

    async def is_member(self, actor: Actor, organization_id: int) -> bool:
        found = await self.session.scalar(
            select(literal(True)).where(literal(organization_id).in_(organization_ids(actor, "org:read")))
        )
        return bool(found)
