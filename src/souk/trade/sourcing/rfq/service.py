"""The RFQ rules: a buyer organisation posts a request for quotation (public, or for invited sourcing stores),
lists, reads and closes its RFQs; suppliers read the RFQs their store may see and browse the board.

Flushes, never commits. Someone else's RFQ is a 404 (rule 8): the buyer's organisation reads its own; a supplier
reads public RFQs and the ones its store is invited to, through one of its active sourcing stores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import (
    get_organization_for,
    get_store_for,
    organization_ids,
    require_user,
    require_writer,
    store_ids,
)
from souk.errors import Invalid, invalid_field
from souk.kit.clock import utcnow
from souk.kit.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from souk.kit.schemas import ReadSchema
from souk.kit.text import fold, words
from souk.kit.uploads import MediaStorage
from souk.models import Membership, Organization, Rfq, RfqInvite, Store
from souk.notification.service import notification_service
from souk.order.repository import OrderRepository
from souk.party.schemas import UploadIn
from souk.trade.policy import get_policy
from souk.trade.sourcing.rfq.errors import (
    AttachmentNotFound,
    OrganizationCannotPost,
    OrganizationRequired,
    RfqNotFound,
    RfqNotOpen,
    SupplierCannotQuote,
)
from souk.trade.sourcing.rfq.repository import RfqRepository
from souk.trade.sourcing.rfq.schemas import MAX_ATTACHMENTS, AttachmentRead, RfqCreate, RfqRead, RfqState

POSTING_STATUSES = ("approved", "pending_review")
# the storefront's "Latest requests for quotation" shows at most this many
PUBLIC_LATEST_MAX = 24


class PublicRfqRead(ReadSchema):
    """What anyone may see of a public RFQ that takes quotes (the storefront's list): never the buyer's
    organisation, its requirements, target price or attachments."""

    id: int
    title: str
    category_id: int | None
    category_name: str | None
    quantity: int
    unit: str
    destination_country: str
    incoterm: str
    quote_deadline: datetime
    quote_count: int
    quote_cap: int
    created_at: datetime


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def rfq_state(rfq: Rfq, now: datetime) -> RfqState:
    if rfq.status != "open":
        return rfq.status  # type: ignore[return-value]
    if rfq.quote_count >= rfq.quote_cap or as_utc(rfq.quote_deadline) <= now:
        return "not_taking_quotes"
    return "open"


def _before_id(cursor: str | None) -> int | None:
    values = decode_cursor(cursor)
    if values is None:
        return None
    if len(values) != 1 or not isinstance(values[0], int) or isinstance(values[0], bool):
        raise invalid_field("cursor", "is not a cursor this API issued")
    return values[0]


def _page(rows: Sequence[Rfq], limit: int) -> tuple[list[Rfq], str | None]:
    items = list(rows[:limit])
    next_cursor = encode_cursor([items[-1].id]) if len(rows) > limit and items else None
    return items, next_cursor


@dataclass
class Board:
    """The RFQ board of a supplier's store: a page of RFQs and how it was filtered."""

    store: Store
    page: Page[RfqRead]
    # the categories the store lists products in (the default filter)
    category_ids: list[int]
    category_names: list[str] = field(default_factory=list)
    # False when "all categories" was asked for, or the store lists no products yet
    filtered: bool = True


class RfqService:
    # --- buyer side ------------------------------------------------------------------------------------

    async def buyer_organizations(self, session: AsyncSession, actor: Actor) -> list[Organization]:
        """The organisations the actor may post RFQs for (a member of any role), oldest first."""
        require_user(actor)
        rows = await session.scalars(
            select(Organization)
            .join(Membership, Membership.organization_id == Organization.id)
            .where(Membership.user_id == actor.user_id)
            .order_by(Organization.id)
        )
        return list(rows.all())

    async def _posting_organization(
        self, session: AsyncSession, actor: Actor, organization_id: int | None
    ) -> Organization:
        if organization_id is not None:
            organization = await get_organization_for(session, actor, organization_id, "org:read")
        else:
            mine = await self.buyer_organizations(session, actor)
            if not mine:
                raise OrganizationRequired()
            organization = mine[0]
        if organization.status not in POSTING_STATUSES:
            raise OrganizationCannotPost(organization.status)
        return organization

    async def create(
        self,
        session: AsyncSession,
        actor: Actor,
        payload: RfqCreate,
        *,
        storage: MediaStorage | None = None,
        uploads: Sequence[UploadIn] = (),
    ) -> Rfq:
        """Post an RFQ for one of the actor's organisations; 422 naming the field for bad input."""
        user_id = require_writer(actor)
        organization = await self._posting_organization(session, actor, payload.organization_id)
        policy = get_policy("sourcing")
        now = utcnow()
        repo = RfqRepository(session)
        problems: dict[str, str] = {}
        deadline = as_utc(payload.quote_deadline)
        if deadline <= now:
            problems["quote_deadline"] = "must be in the future"
        elif deadline > now + timedelta(days=policy.rfq_max_open_days):
            problems["quote_deadline"] = f"must be at most {policy.rfq_max_open_days} days ahead"
        if payload.needed_by is not None:
            if payload.needed_by < now.date():
                problems["needed_by"] = "must not be in the past"
            elif "quote_deadline" not in problems and payload.needed_by < deadline.date():
                problems["needed_by"] = "must not be before the quote deadline"
        if payload.category_id is not None and not await repo.category_exists(payload.category_id):
            problems["category_id"] = "is not a category"
        invited = list(dict.fromkeys(payload.invited_store_ids))
        if payload.visibility == "invited":
            if not invited:
                problems["invited_store_ids"] = "invite at least one supplier store"
            else:
                active = await repo.active_sourcing_store_ids(invited)
                missing = [str(i) for i in invited if i not in active]
                if missing:
                    problems["invited_store_ids"] = (
                        f"not active sourcing stores: {', '.join(missing)} (only those can be invited)"
                    )
        elif invited:
            problems["invited_store_ids"] = "only an RFQ for invited suppliers lists stores"
        if len(uploads) > MAX_ATTACHMENTS:
            problems["attachments"] = f"at most {MAX_ATTACHMENTS} files"
        if problems:
            raise Invalid("Please correct the RFQ: " + ", ".join(problems), fields=problems)
        rfq = Rfq(
            organization_id=organization.id,
            created_by_id=user_id,
            title=payload.title,
            category_id=payload.category_id,
            requirements=payload.requirements,
            quantity=payload.quantity,
            unit=payload.unit,
            target_unit_price_amount=payload.target_unit_price_amount,
            currency=payload.currency,
            destination_country=payload.destination_country,
            incoterm=payload.incoterm,
            needed_by=payload.needed_by,
            quote_deadline=deadline,
            visibility=payload.visibility,
            status="open",
            quote_count=0,
            quote_cap=policy.rfq_quote_cap,
            attachments=[],
            search_text=fold(f"{payload.title}\n{payload.requirements}"),
            created_at=now,
            updated_at=now,
        )
        session.add(rfq)
        await session.flush()
        for store_id in invited if payload.visibility == "invited" else []:
            session.add(RfqInvite(rfq_id=rfq.id, store_id=store_id, created_at=now))
        if uploads:
            if storage is None:
                raise ValueError("storage is needed to save attachments")
            self._store_attachments(rfq, storage, uploads)
        await session.flush()
        if payload.visibility == "invited":
            people = OrderRepository(session)
            for store_id in invited:
                for person in await people.store_people(store_id):
                    await notification_service.notify(
                        session,
                        person,
                        "rfq.invited",
                        f"You are invited to quote: {rfq.title}",
                        body=f"{organization.legal_name} asks for {rfq.quantity} {rfq.unit}.",
                        link=f"/seller/stores/{store_id}/rfqs/{rfq.id}",
                    )
        return rfq

    def _store_attachments(self, rfq: Rfq, storage: MediaStorage, uploads: Sequence[UploadIn]) -> None:
        saved = list(rfq.attachments or [])
        if len(saved) + len(uploads) > MAX_ATTACHMENTS:
            raise invalid_field("attachments", f"at most {MAX_ATTACHMENTS} files")
        for upload in uploads:
            stored = storage.save_document(
                upload.data, upload.filename, subdir=f"rfqs/{rfq.id}", field="attachments"
            )
            saved.append(
                {
                    "filename": stored.filename,
                    "path": stored.path,
                    "content_type": stored.content_type,
                    "size_bytes": stored.size_bytes,
                }
            )
        rfq.attachments = saved

    async def add_attachments(
        self,
        session: AsyncSession,
        actor: Actor,
        storage: MediaStorage,
        rfq_id: int,
        uploads: Sequence[UploadIn],
    ) -> Rfq:
        require_writer(actor)
        rfq = await self.get_for_buyer(session, actor, rfq_id)
        if rfq.status != "open":
            raise RfqNotOpen(rfq.status)
        if not uploads:
            raise invalid_field("file", "choose a file")
        self._store_attachments(rfq, storage, uploads)
        await session.flush()
        return rfq

    async def get_for_buyer(self, session: AsyncSession, actor: Actor, rfq_id: int) -> Rfq:
        """An RFQ of one of the actor's organisations (404 otherwise)."""
        require_user(actor)
        rfq = await RfqRepository(session).get_for_orgs(rfq_id, organization_ids(actor, "org:read"))
        if rfq is None:
            raise RfqNotFound()
        return rfq

    async def list_mine(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        status: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[RfqRead]:
        require_user(actor)
        size = clamp_limit(limit)
        rows = await RfqRepository(session).page_for_orgs(
            organization_ids(actor, "org:read"), _before_id(cursor), size, status
        )
        items, next_cursor = _page(rows, size)
        return Page[RfqRead](items=await self.reads(session, items, buyer=True), next_cursor=next_cursor)

    async def close(self, session: AsyncSession, actor: Actor, rfq_id: int) -> Rfq:
        """The buyer stops taking quotes early (status closed, reason "buyer")."""
        require_writer(actor)
        rfq = await self.get_for_buyer(session, actor, rfq_id)
        if not await RfqRepository(session).close(rfq.id, utcnow(), "buyer"):
            await session.refresh(rfq)
            raise RfqNotOpen(rfq.status)
        await session.refresh(rfq)
        return rfq

    # --- supplier side ---------------------------------------------------------------------------------

    async def supplier_store(
        self, session: AsyncSession, actor: Actor, store_id: int, permission: str = "store:read"
    ) -> Store:
        """A store of the actor that may answer RFQs: a sourcing store that is active (404/403 by authz,
        409 ``supplier_cannot_quote``-family codes otherwise)."""
        store = await get_store_for(session, actor, store_id, permission)
        if store.trade_model != "sourcing":
            raise SupplierCannotQuote(
                f"Only sourcing stores answer requests for quotation; this is a {store.trade_model} store.",
                code="store_not_sourcing",
            )
        if store.status != "active":
            raise SupplierCannotQuote(
                "This store is not active yet: it can quote once the platform has approved it.",
                code="store_not_active",
            )
        return store

    async def get_for_store(self, session: AsyncSession, actor: Actor, store_id: int, rfq_id: int) -> Rfq:
        """An RFQ the supplier's store may see: public ones and those it is invited to (404 otherwise)."""
        await self.supplier_store(session, actor, store_id)
        rfq = await RfqRepository(session).get_for_store(rfq_id, store_id)
        if rfq is None:
            raise RfqNotFound()
        return rfq

    async def get(self, session: AsyncSession, actor: Actor, rfq_id: int) -> RfqRead:
        """For the API: the buyer's organisation, or a supplier with an active sourcing store that may see it."""
        require_user(actor)
        repo = RfqRepository(session)
        rfq = await repo.get_for_orgs(rfq_id, organization_ids(actor, "org:read"))
        if rfq is not None:
            return (await self.reads(session, [rfq], buyer=True))[0]
        store_id = await self.viewing_store(session, actor, rfq_id)
        if store_id is None:
            raise RfqNotFound()
        rfq = await repo.get(rfq_id)
        assert rfq is not None
        return (await self.reads(session, [rfq], buyer=False, store_id=store_id))[0]

    async def viewing_store(self, session: AsyncSession, actor: Actor, rfq_id: int) -> int | None:
        """One of the actor's active sourcing stores that may see the RFQ (the one that quoted it first)."""
        repo = RfqRepository(session)
        candidates = (
            await session.scalars(
                select(Store.id)
                .where(
                    Store.id.in_(store_ids(actor, "store:read")),
                    Store.trade_model == "sourcing",
                    Store.status == "active",
                )
                .order_by(Store.id)
            )
        ).all()
        for store_id in candidates:
            if await repo.get_for_store(rfq_id, store_id) is not None:
                return int(store_id)
        return None

    async def board(
        self,
        session: AsyncSession,
        actor: Actor,
        store_id: int,
        *,
        q: str = "",
        all_categories: bool = False,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Board:
        """Open RFQs the store may quote (public, or invited), deadline not passed and below their cap,
        newest first; by default only in the categories the store lists products in."""
        store = await self.supplier_store(session, actor, store_id)
        size = clamp_limit(limit)
        repo = RfqRepository(session)
        category_ids = await repo.store_category_ids(store.id)
        filtered = bool(category_ids) and not all_categories
        rows = await repo.board(
            store.id,
            utcnow(),
            category_ids=category_ids if filtered else None,
            words=words(q[:200])[:8],
            before_id=_before_id(cursor),
            limit=size,
        )
        items, next_cursor = _page(rows, size)
        names = await repo.category_names(set(category_ids))
        return Board(
            store=store,
            page=Page[RfqRead](
                items=await self.reads(session, items, buyer=False, store_id=store.id),
                next_cursor=next_cursor,
            ),
            category_ids=category_ids,
            category_names=sorted(names.values()),
            filtered=filtered,
        )

    async def attachment_file(
        self,
        session: AsyncSession,
        actor: Actor,
        storage: MediaStorage,
        rfq_id: int,
        index: int,
        *,
        store_id: int | None = None,
    ) -> tuple[dict[str, Any], Path]:
        """An attachment for the buyer's organisation, or (``store_id``) a supplier whose store may see it."""
        if store_id is None:
            require_user(actor)
            rfq = await RfqRepository(session).get_for_orgs(rfq_id, organization_ids(actor, "org:read"))
            if rfq is None:
                viewing = await self.viewing_store(session, actor, rfq_id)
                rfq = await RfqRepository(session).get(rfq_id) if viewing is not None else None
            if rfq is None:
                raise RfqNotFound()
        else:
            rfq = await self.get_for_store(session, actor, store_id, rfq_id)
        attachments = rfq.attachments or []
        if index < 0 or index >= len(attachments):
            raise AttachmentNotFound()
        attachment = attachments[index]
        return attachment, storage.private_file(str(attachment["path"]))

    # --- public ------------------------------------------------------------------------------------------

    async def latest_public(self, session: AsyncSession, *, limit: int = 6) -> list[PublicRfqRead]:
        """The newest public RFQs still taking quotes (open, quote deadline ahead, below their cap), for
        anyone: no actor needed. Invited-only, closed, awarded and cancelled RFQs never appear."""
        size = max(1, min(limit, PUBLIC_LATEST_MAX))
        repo = RfqRepository(session)
        rows = await repo.latest_public(utcnow(), size)
        categories = await repo.category_names({r.category_id for r in rows if r.category_id is not None})
        return [
            PublicRfqRead(
                id=r.id,
                title=r.title,
                category_id=r.category_id,
                category_name=categories.get(r.category_id) if r.category_id else None,
                quantity=r.quantity,
                unit=r.unit,
                destination_country=r.destination_country,
                incoterm=r.incoterm,
                quote_deadline=as_utc(r.quote_deadline),
                quote_count=r.quote_count,
                quote_cap=r.quote_cap,
                created_at=as_utc(r.created_at),
            )
            for r in rows
        ]

    async def sourcing_store_id(self, session: AsyncSession, actor: Actor) -> int | None:
        """The actor's first active sourcing store (where a supplier answers RFQs), or None (anonymous
        visitors and people without one)."""
        if actor.user_id is None:
            return None
        return await RfqRepository(session).active_sourcing_store_of(store_ids(actor, "store:read"))

    async def category_choices(self, session: AsyncSession) -> list[tuple[int, str]]:
        """(id, name) of the categories an RFQ may name, for the form."""
        return await RfqRepository(session).category_choices()

    # --- reads -------------------------------------------------------------------------------------------

    async def reads(
        self, session: AsyncSession, rfqs: Sequence[Rfq], *, buyer: bool, store_id: int | None = None
    ) -> list[RfqRead]:
        repo = RfqRepository(session)
        now = utcnow()
        organizations = await repo.organizations({r.organization_id for r in rfqs})
        categories = await repo.category_names({r.category_id for r in rfqs if r.category_id is not None})
        my_quotes = await repo.quotes_of_store(store_id, [r.id for r in rfqs]) if store_id else {}
        out: list[RfqRead] = []
        for rfq in rfqs:
            organization = organizations.get(rfq.organization_id)
            state = rfq_state(rfq, now)
            out.append(
                RfqRead(
                    id=rfq.id,
                    organization_id=rfq.organization_id,
                    organization_name=organization.legal_name if organization else "",
                    organization_verified=bool(organization and organization.status == "approved"),
                    title=rfq.title,
                    category_id=rfq.category_id,
                    category_name=categories.get(rfq.category_id) if rfq.category_id else None,
                    requirements=rfq.requirements,
                    quantity=rfq.quantity,
                    unit=rfq.unit,
                    target_unit_price_amount=rfq.target_unit_price_amount,
                    currency=rfq.currency,
                    destination_country=rfq.destination_country,
                    incoterm=rfq.incoterm,
                    needed_by=rfq.needed_by,
                    quote_deadline=as_utc(rfq.quote_deadline),
                    visibility=rfq.visibility,  # type: ignore[arg-type]
                    status=rfq.status,  # type: ignore[arg-type]
                    state=state,
                    taking_quotes=state == "open",
                    quote_count=rfq.quote_count,
                    quote_cap=rfq.quote_cap,
                    attachments=[
                        AttachmentRead(
                            index=i,
                            filename=str(a.get("filename", "")),
                            content_type=str(a.get("content_type", "")),
                            size_bytes=int(a.get("size_bytes", 0)),
                        )
                        for i, a in enumerate(rfq.attachments or [])
                    ],
                    invited_store_ids=await repo.invited_store_ids(rfq.id)
                    if buyer and rfq.visibility == "invited"
                    else [],
                    closed_at=rfq.closed_at,
                    close_reason=rfq.close_reason,
                    awarded_quote_id=rfq.awarded_quote_id,
                    created_at=as_utc(rfq.created_at),
                    my_quote_id=my_quotes.get(rfq.id),
                )
            )
        return out


rfq_service = RfqService()
