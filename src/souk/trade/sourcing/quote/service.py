"""The quote rules: a supplier's sourcing store answers an RFQ it may see, once; the RFQ's cap and the supplier
organisation's monthly quota are enforced by conditional updates in one transaction; the buyer compares the
quotes side by side.

Flushes, never commits. The RFQ slot is taken first, then the quota; if either is refused the service raises, and
everything it wrote (the RFQ's count included) is rolled back with its savepoint and the request's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from babel.dates import format_timedelta
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from souk.auth.actor import Actor
from souk.authz import get_store_for, organization_ids, require_user, require_writer, store_ids
from souk.errors import Invalid
from souk.kit.clock import utcnow
from souk.kit.money import format_money
from souk.kit.pagination import Page, clamp_limit
from souk.kit.uploads import MediaStorage
from souk.models import Offer, Organization, Quote, Rfq, Store
from souk.notification.service import notification_service
from souk.party.schemas import UploadIn
from souk.review.service import review_service
from souk.trade.policy import get_policy
from souk.trade.sourcing.quote.errors import (
    OwnRfq,
    QuoteAlreadySent,
    QuoteNotFound,
    QuoteQuotaExhausted,
)
from souk.trade.sourcing.quote.repository import QuoteRepository
from souk.trade.sourcing.quote.schemas import (
    MAX_QUOTE_ATTACHMENTS,
    Comparison,
    ComparisonRow,
    QuotaRead,
    QuoteCreate,
    QuoteRead,
    SortKey,
)
from souk.trade.sourcing.rfq.errors import (
    AttachmentNotFound,
    RfqNotFound,
    RfqNotTakingQuotes,
    SupplierCannotQuote,
)
from souk.trade.sourcing.rfq.repository import RfqRepository
from souk.trade.sourcing.rfq.schemas import AttachmentRead
from souk.trade.sourcing.rfq.service import _before_id, as_utc, rfq_service

VALIDITY_DAYS = 30
SORT_KEYS: tuple[SortKey, ...] = ("price", "landed", "lead_time", "rating", "response")


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def unit_price_for(quote: Quote, quantity: int) -> int:
    """The quote's unit price for ``quantity``: its tier price while the quote is as the supplier sent it
    (version 1); a later offer's price applies to every quantity."""
    price = quote.unit_price_amount
    if quote.version == 1:
        for min_quantity, tier_price in quote.tiers or []:
            if quantity >= int(min_quantity):
                price = int(tier_price)
    return price


def humanise_seconds(seconds: int) -> str:
    return str(format_timedelta(timedelta(seconds=max(seconds, 0)), locale="en_US", threshold=1.1))


def _attachments(items: Sequence[dict[str, Any]] | None) -> list[AttachmentRead]:
    return [
        AttachmentRead(
            index=i,
            filename=str(a.get("filename", "")),
            content_type=str(a.get("content_type", "")),
            size_bytes=int(a.get("size_bytes", 0)),
        )
        for i, a in enumerate(items or [])
    ]


def quote_read(quote: Quote, rfq_title: str = "", store_name: str = "") -> QuoteRead:
    return QuoteRead(
        id=quote.id,
        rfq_id=quote.rfq_id,
        rfq_title=rfq_title,
        store_id=quote.store_id,
        store_name=store_name,
        status=quote.status,  # type: ignore[arg-type]
        currency=quote.currency,
        unit_price_amount=quote.unit_price_amount,
        tiers=[[int(a), int(b)] for a, b in quote.tiers or []],
        quantity=quote.quantity,
        moq=quote.moq,
        lead_time_days=quote.lead_time_days,
        incoterm=quote.incoterm,
        place=quote.place,
        shipping_amount=quote.shipping_amount,
        sample_price_amount=quote.sample_price_amount,
        deposit_bps=quote.deposit_bps,
        balance_due=quote.balance_due,  # type: ignore[arg-type]
        valid_until=quote.valid_until,
        message=quote.message,
        attachments=_attachments(quote.attachments),
        version=quote.version,
        revisions_used=quote.revisions_used,
        response_seconds=quote.response_seconds,
        buyer_answered_at=quote.buyer_answered_at,
        created_at=as_utc(quote.created_at),
    )


class QuoteService:
    async def quoting_store(self, session: AsyncSession, actor: Actor, store_id: int) -> Store:
        """A store that may quote now: the actor holds catalog:write on it, it is an active sourcing store and
        its organisation is verified."""
        store = await rfq_service.supplier_store(session, actor, store_id, "catalog:write")
        organization = (
            await session.get(Organization, store.organization_id) if store.organization_id else None
        )
        if organization is None or organization.status != "approved":
            raise SupplierCannotQuote(
                "Your organisation must be verified before its stores can quote.",
                code="organization_not_verified",
            )
        return store

    async def create(
        self,
        session: AsyncSession,
        actor: Actor,
        rfq_id: int,
        payload: QuoteCreate,
        *,
        storage: MediaStorage | None = None,
        uploads: Sequence[UploadIn] = (),
    ) -> Quote:
        """Send the store's quote on an RFQ (one per store and RFQ). In one savepoint: take a slot on the RFQ
        (409 ``rfq_not_taking_quotes``), then count the organisation's monthly quota (409
        ``quote_quota_exhausted``), then write the quote and its offer version 1."""
        user_id = require_writer(actor)
        store = await self.quoting_store(session, actor, payload.store_id)
        assert store.organization_id is not None
        rfq = await RfqRepository(session).get_for_store(rfq_id, store.id)
        if rfq is None:
            raise RfqNotFound()
        if rfq.organization_id == store.organization_id:
            raise OwnRfq()
        repo = QuoteRepository(session)
        if await repo.of_store_for_rfq(rfq.id, store.id) is not None:
            raise QuoteAlreadySent()
        now = utcnow()
        problems: dict[str, str] = {}
        if payload.currency is not None and payload.currency != store.currency:
            problems["currency"] = f"must be the store's currency ({store.currency})"
        valid_until = payload.valid_until or (now + timedelta(days=VALIDITY_DAYS)).date()
        if valid_until < now.date():
            problems["valid_until"] = "must not be in the past"
        if len(uploads) > MAX_QUOTE_ATTACHMENTS:
            problems["attachments"] = f"at most {MAX_QUOTE_ATTACHMENTS} files"
        if problems:
            raise Invalid("Please correct the quote: " + ", ".join(problems), fields=problems)
        policy = get_policy("sourcing")
        terms: dict[str, Any] = {
            "currency": store.currency,
            "unit_price_amount": payload.unit_price_amount,
            "quantity": payload.quantity or rfq.quantity,
            "lead_time_days": payload.lead_time_days,
            "incoterm": payload.incoterm,
            "place": payload.place,
            "shipping_amount": payload.shipping_amount,
            "deposit_bps": policy.default_deposit_bps if payload.deposit_bps is None else payload.deposit_bps,
            "balance_due": payload.balance_due,
        }
        try:
            async with session.begin_nested():
                count = await RfqRepository(session).take_quote_slot(rfq.id, now)
                if count is None:
                    raise RfqNotTakingQuotes()
                if not await repo.use_quota(
                    store.organization_id, period_of(now.date()), policy.quote_quota_per_month
                ):
                    raise QuoteQuotaExhausted(policy.quote_quota_per_month)
                quote = Quote(
                    rfq_id=rfq.id,
                    store_id=store.id,
                    created_by_id=user_id,
                    status="submitted",
                    tiers=[[a, b] for a, b in payload.tiers],
                    moq=payload.moq,
                    sample_price_amount=payload.sample_price_amount,
                    valid_until=valid_until,
                    message=payload.message,
                    attachments=[],
                    version=1,
                    revisions_used=0,
                    response_seconds=max(0, int((now - as_utc(rfq.created_at)).total_seconds())),
                    created_at=now,
                    updated_at=now,
                    **terms,
                )
                session.add(quote)
                await session.flush()
                session.add(
                    Offer(
                        quote_id=quote.id,
                        version=1,
                        kind="quote",
                        side="supplier",
                        created_by_id=user_id,
                        status="open",
                        message=payload.message,
                        created_at=now,
                        **terms,
                    )
                )
                await session.flush()
        except IntegrityError as exc:  # the same store quoted at the same moment from another request
            raise QuoteAlreadySent() from exc
        set_committed_value(rfq, "quote_count", count)
        if uploads:
            if storage is None:
                raise ValueError("storage is needed to save attachments")
            self._store_attachments(quote, storage, uploads)
            await session.flush()
        price = format_money(quote.unit_price_amount, quote.currency)
        for person in await repo.organization_members(rfq.organization_id):
            await notification_service.notify(
                session,
                person,
                "rfq.quote_received",
                f"New quote on {rfq.title}",
                body=f"{store.name} quoted {price} per {rfq.unit}, lead time {quote.lead_time_days} days.",
                link=f"/rfqs/{rfq.id}/quotes/{quote.id}",
            )
        return quote

    def _store_attachments(self, quote: Quote, storage: MediaStorage, uploads: Sequence[UploadIn]) -> None:
        saved = list(quote.attachments or [])
        if len(saved) + len(uploads) > MAX_QUOTE_ATTACHMENTS:
            raise Invalid(
                f"attachments: at most {MAX_QUOTE_ATTACHMENTS} files",
                fields={"attachments": f"at most {MAX_QUOTE_ATTACHMENTS} files"},
            )
        for upload in uploads:
            stored = storage.save_document(
                upload.data, upload.filename, subdir=f"quotes/{quote.id}", field="attachments"
            )
            saved.append(
                {
                    "filename": stored.filename,
                    "path": stored.path,
                    "content_type": stored.content_type,
                    "size_bytes": stored.size_bytes,
                }
            )
        quote.attachments = saved

    async def add_attachments(
        self,
        session: AsyncSession,
        actor: Actor,
        storage: MediaStorage,
        quote_id: int,
        uploads: Sequence[UploadIn],
    ) -> QuoteRead:
        require_writer(actor)
        quote, rfq = await self._visible(session, actor, quote_id)
        await get_store_for(session, actor, quote.store_id, "catalog:write")
        if not uploads:
            raise Invalid("file: choose a file", fields={"file": "choose a file"})
        self._store_attachments(quote, storage, uploads)
        await session.flush()
        return quote_read(quote, rfq.title)

    async def _visible(self, session: AsyncSession, actor: Actor, quote_id: int) -> tuple[Quote, Rfq]:
        require_user(actor)
        found = await QuoteRepository(session).visible_quote(
            quote_id, organization_ids(actor, "org:read"), store_ids(actor, "store:read")
        )
        if found is None:
            raise QuoteNotFound()
        return found

    async def get(self, session: AsyncSession, actor: Actor, quote_id: int) -> QuoteRead:
        """A quote, for the buyer's organisation or the quoting store's people (404 to anyone else)."""
        quote, rfq = await self._visible(session, actor, quote_id)
        names = await QuoteRepository(session).store_names({quote.store_id})
        return quote_read(quote, rfq.title, names.get(quote.store_id, ""))

    async def attachment_file(
        self, session: AsyncSession, actor: Actor, storage: MediaStorage, quote_id: int, index: int
    ) -> tuple[dict[str, Any], Path]:
        quote, _rfq = await self._visible(session, actor, quote_id)
        attachments = quote.attachments or []
        if index < 0 or index >= len(attachments):
            raise AttachmentNotFound()
        attachment = attachments[index]
        return attachment, storage.private_file(str(attachment["path"]))

    async def list_for_store(
        self,
        session: AsyncSession,
        actor: Actor,
        store_id: int,
        *,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[QuoteRead]:
        """The store's quotes, newest first, each with its RFQ's title."""
        store = await get_store_for(session, actor, store_id, "store:read")
        size = clamp_limit(limit)
        rows = await QuoteRepository(session).page_for_store(store.id, _before_id(cursor), size)
        items = rows[:size]
        next_cursor = None
        if len(rows) > size and items:
            from souk.kit.pagination import encode_cursor

            next_cursor = encode_cursor([items[-1][0].id])
        return Page[QuoteRead](
            items=[quote_read(q, title, store.name) for q, title in items], next_cursor=next_cursor
        )

    async def quota(self, session: AsyncSession, actor: Actor, store_id: int) -> QuotaRead:
        """The store's organisation's quotes this month: the policy's quota, used and left."""
        store = await get_store_for(session, actor, store_id, "store:read")
        quota = get_policy("sourcing").quote_quota_per_month
        period = period_of(utcnow().date())
        used = (
            await QuoteRepository(session).quota_used(store.organization_id, period)
            if store.organization_id
            else 0
        )
        return QuotaRead(period=period, quota=quota, used=used, left=max(quota - used, 0))

    async def comparison(
        self, session: AsyncSession, actor: Actor, rfq_id: int, sort: str = "price"
    ) -> Comparison:
        """The RFQ's quotes side by side for its buyer: the unit price for the RFQ quantity, the landed total,
        in the RFQ currency when the quote is in it (no FX rates yet: "no rate" otherwise), sorted."""
        if sort not in SORT_KEYS:
            raise Invalid(
                f"sort: must be one of {', '.join(SORT_KEYS)}",
                fields={"sort": f"must be one of {', '.join(SORT_KEYS)}"},
            )
        rfq = await rfq_service.get_for_buyer(session, actor, rfq_id)
        rows: list[ComparisonRow] = []
        for quote, store, organization in await QuoteRepository(session).for_rfq(rfq.id):
            unit = unit_price_for(quote, rfq.quantity)
            landed = unit * rfq.quantity + quote.shipping_amount
            same = quote.currency == rfq.currency
            summary = await review_service.summary(session, store_id=store.id)
            _points, level = await review_service.credit(session, store.id, store.trade_model)
            rows.append(
                ComparisonRow(
                    quote_id=quote.id,
                    store_id=store.id,
                    store_name=store.name,
                    verified=bool(organization and organization.status == "approved"),
                    status=quote.status,  # type: ignore[arg-type]
                    currency=quote.currency,
                    unit_price_amount=unit,
                    landed_total_amount=landed,
                    shipping_amount=quote.shipping_amount,
                    converted_unit_price_amount=unit if same else None,
                    converted_landed_total_amount=landed if same else None,
                    has_rate=same,
                    lead_time_days=quote.lead_time_days,
                    moq=quote.moq,
                    incoterm=quote.incoterm,
                    place=quote.place,
                    deposit_bps=quote.deposit_bps,
                    valid_until=quote.valid_until,
                    rating=summary.average,
                    rating_count=summary.count,
                    credit_level=level,
                    response_seconds=quote.response_seconds,
                    response_time=humanise_seconds(quote.response_seconds),
                    version=quote.version,
                )
            )
        rows.sort(key=_SORTS[sort])  # type: ignore[index]
        return Comparison(
            rfq_id=rfq.id,
            currency=rfq.currency,
            quantity=rfq.quantity,
            sort=sort,  # type: ignore[arg-type]
            missing_rates=any(not r.has_rate for r in rows),
            rows=rows,
        )


_SORTS: dict[str, Any] = {
    "price": lambda r: (not r.has_rate, r.converted_unit_price_amount or r.unit_price_amount, r.quote_id),
    "landed": lambda r: (
        not r.has_rate,
        r.converted_landed_total_amount or r.landed_total_amount,
        r.quote_id,
    ),
    "lead_time": lambda r: (r.lead_time_days, r.quote_id),
    "rating": lambda r: (r.rating is None, -(r.rating or 0), -r.rating_count, r.quote_id),
    "response": lambda r: (r.response_seconds, r.quote_id),
}


quote_service = QuoteService()
