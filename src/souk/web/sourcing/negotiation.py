"""Sourcing pages: a quote's negotiation, for the buyer (``/rfqs/{rfq_id}/quotes/{quote_id}``) and for the
supplier (``/seller/stores/{store_id}/quotes/{quote_id}``): the current terms, the version history, the thread,
and the forms that apply now (revise, counter, accept the latest offer, award, decline), each with the reason when
it does not apply. Every form is CSRF-checked and calls the same service as the API; amounts are typed as
decimals ("2.30"); the award form carries a one-time token so a double submit drafts one contract."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import get_store_for
from souk.deps import DbSession
from souk.errors import Conflict, Invalid, SoukError, invalid_field
from souk.kit.idempotency import (
    FORM_TOKEN_FIELD,
    FormTokenInvalid,
    consume_form_token,
    issue_form_token,
    record_form_result,
)
from souk.kit.money import from_minor, parse_amount
from souk.kit.schemas import IdPath
from souk.models.sourcing import INCOTERMS
from souk.trade.sourcing.negotiation.schemas import CounterCreate, NegotiationRead, RevisionCreate
from souk.trade.sourcing.negotiation.service import BALANCE_LABELS, negotiation_service, percent
from souk.web.deps import UserPage
from souk.web.render import checked_form, errors_of, flash, form_values, redirect, render
from souk.web.seller.catalog import store_info

router = APIRouter()

BUYER_TEMPLATE = "sourcing/negotiation_buyer.html"
SUPPLIER_TEMPLATE = "sourcing/negotiation_supplier.html"
STATUS_LABELS = {
    "submitted": "Negotiating",
    "accepted": "Terms agreed",
    "awarded": "Awarded",
    "declined": "Declined",
    "withdrawn": "Withdrawn",
}
OFFER_STATUS_LABELS = {
    "open": "Open",
    "accepted": "Accepted",
    "superseded": "Superseded",
    "declined": "Declined",
}
KIND_LABELS = {"quote": "Quote", "revision": "Revision", "counter": "Counter-offer"}
# form field -> the schema field it feeds (errors are shown next to the form field)
FORM_FIELDS = {
    "unit_price": "unit_price_amount",
    "shipping": "shipping_amount",
    "deposit_percent": "deposit_bps",
    "sample_price": "sample_price_amount",
}
SCHEMA_TO_FORM = {v: k for k, v in FORM_FIELDS.items()}
_INT = re.compile(r"^\d{1,12}$")


def award_purpose(quote_id: int) -> str:
    return f"sourcing.award:{quote_id}"


def _int_or_text(text: str) -> int | str | None:
    text = text.strip()
    if not text:
        return None
    return int(text) if _INT.match(text) else text


def _deposit_bps(text: str) -> int | None:
    text = text.strip().rstrip("%").strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise invalid_field("deposit_percent", "enter a percentage like 30") from None
    bps = value * 100
    if not value.is_finite() or bps != bps.to_integral_value() or not 0 <= bps <= 10_000:
        raise invalid_field("deposit_percent", "enter a percentage from 0 to 100, like 30 or 12.5")
    return int(bps)


def _terms(values: dict[str, str], currency: str) -> dict[str, Any]:
    """The TermsChange fields of a counter / revise form (amounts typed as decimals)."""
    price = values.get("unit_price", "")
    shipping = values.get("shipping", "")
    return {
        "unit_price_amount": parse_amount(price, currency, "unit_price") if price else None,
        "quantity": _int_or_text(values.get("quantity", "")),
        "lead_time_days": _int_or_text(values.get("lead_time_days", "")),
        "incoterm": values.get("incoterm") or None,
        "place": values.get("place", ""),
        "shipping_amount": parse_amount(shipping, currency, "shipping", minimum=0) if shipping else None,
        "deposit_bps": _deposit_bps(values.get("deposit_percent", "")),
        "balance_due": values.get("balance_due") or None,
        "message": values.get("message", ""),
    }


def _tiers(text: str, currency: str) -> list[list[Any]] | None:
    """Tiers typed one per line as "<min quantity> <unit price>" ("1000 2.30")."""
    rows = [line.replace(",", " ").replace(":", " ").split() for line in text.splitlines() if line.strip()]
    if not rows:
        return None
    tiers: list[list[Any]] = []
    for row in rows:
        if len(row) != 2 or not _INT.match(row[0]):
            raise invalid_field(
                "tiers", 'write one tier per line: the minimum quantity and its price, "1000 2.30"'
            )
        tiers.append([int(row[0]), parse_amount(row[1], currency, "tiers")])
    return tiers


def _defaults(view: NegotiationRead) -> dict[str, str]:
    """The forms start from the current terms."""
    q = view.quote
    c = q.currency
    return {
        "unit_price": from_minor(q.unit_price_amount, c),
        "quantity": str(q.quantity),
        "lead_time_days": str(q.lead_time_days),
        "incoterm": q.incoterm,
        "place": q.place,
        "shipping": from_minor(q.shipping_amount, c),
        "deposit_percent": percent(q.deposit_bps),
        "balance_due": q.balance_due,
        "moq": str(q.moq),
        "sample_price": from_minor(q.sample_price_amount, c) if q.sample_price_amount else "",
        "valid_until": q.valid_until.isoformat(),
        "tiers": "\n".join(f"{t[0]} {from_minor(t[1], c)}" for t in q.tiers),
        "message": "",
        "based_on_version": str(q.version),
    }


def _form_errors(error: Exception) -> dict[str, str]:
    return {SCHEMA_TO_FORM.get(k, k): v for k, v in errors_of(error).items()}


def _context(view: NegotiationRead) -> dict[str, Any]:
    return {
        "n": view,
        "q": view.quote,
        "rfq": view.rfq,
        "defaults": _defaults(view),
        "status_labels": STATUS_LABELS,
        "offer_status_labels": OFFER_STATUS_LABELS,
        "kind_labels": KIND_LABELS,
        "balance_labels": BALANCE_LABELS,
        "incoterm_options": [(i, i) for i in INCOTERMS],
        "balance_options": list(BALANCE_LABELS.items()),
        "percent": percent,
        "newest": view.offers[0] if view.offers else None,
        "failed": "",
    }


# --- buyer ---------------------------------------------------------------------------------------------


def _buyer_url(rfq_id: int, quote_id: int) -> str:
    return f"/rfqs/{rfq_id}/quotes/{quote_id}"


async def _buyer_context(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    rfq_id: int,
    quote_id: int,
    *,
    mark_read: bool = False,
) -> dict[str, Any]:
    view = await negotiation_service.view(session, actor, quote_id, rfq_id=rfq_id, mark_read=mark_read)
    ctx = _context(view)
    ctx["base"] = _buyer_url(rfq_id, quote_id)
    ctx["award_token"] = (
        issue_form_token(request, actor, award_purpose(quote_id)) if view.can.award.allowed else ""
    )
    ctx["form_token_field"] = FORM_TOKEN_FIELD
    return ctx


@router.get("/rfqs/{rfq_id}/quotes/{quote_id}", response_class=HTMLResponse)
async def buyer_page(
    request: Request, rfq_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    ctx = await _buyer_context(request, session, actor, rfq_id, quote_id, mark_read=True)
    return render(request, BUYER_TEMPLATE, ctx)


async def _rerender_buyer(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    rfq_id: int,
    quote_id: int,
    failed: str,
    error: Exception,
    values: dict[str, str],
) -> HTMLResponse:
    await session.rollback()
    ctx = await _buyer_context(request, session, actor, rfq_id, quote_id)
    status = error.status_code if isinstance(error, SoukError) else 422
    return render(
        request,
        BUYER_TEMPLATE,
        {**ctx, "failed": failed, "errors": _form_errors(error), "values": values},
        status,
    )


@router.post("/rfqs/{rfq_id}/quotes/{quote_id}/counter")
async def buyer_counter(
    request: Request, rfq_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    values = form_values(await checked_form(request))
    here = _buyer_url(rfq_id, quote_id)
    view = await negotiation_service.view(session, actor, quote_id, rfq_id=rfq_id)
    try:
        payload = CounterCreate.model_validate(
            {
                **_terms(values, view.quote.currency),
                "based_on_version": _int_or_text(values.get("based_on_version", "")),
            }
        )
        await negotiation_service.counter(session, actor, quote_id, payload, rfq_id=rfq_id)
    except Conflict as error:
        await session.rollback()
        flash(request, error.message, "error")
        return redirect(here)
    except (ValidationError, Invalid) as error:
        return await _rerender_buyer(request, session, actor, rfq_id, quote_id, "counter", error, values)
    flash(request, "Counter-offer sent. The supplier has been told.")
    return redirect(here)


@router.post("/rfqs/{rfq_id}/quotes/{quote_id}/accept")
async def buyer_accept(
    request: Request, rfq_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    values = form_values(await checked_form(request))
    here = _buyer_url(rfq_id, quote_id)
    offer_id = values.get("offer_id", "")
    try:
        if not offer_id.isdigit() or len(offer_id) > 10:
            raise invalid_field("offer_id", "choose the offer to accept")
        await negotiation_service.accept(session, actor, quote_id, int(offer_id), rfq_id=rfq_id)
    except (Conflict, Invalid) as error:
        await session.rollback()
        flash(request, error.message, "error")
        return redirect(here)
    flash(request, "Terms accepted. You can award this quote now.")
    return redirect(here)


@router.post("/rfqs/{rfq_id}/quotes/{quote_id}/decline")
async def buyer_decline(
    request: Request, rfq_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    await checked_form(request)
    here = _buyer_url(rfq_id, quote_id)
    try:
        await negotiation_service.decline(session, actor, quote_id, rfq_id=rfq_id)
    except Conflict as error:
        await session.rollback()
        flash(request, error.message, "error")
        return redirect(here)
    flash(request, "Quote declined. The supplier has been told.")
    return redirect(here)


@router.post("/rfqs/{rfq_id}/quotes/{quote_id}/award")
async def buyer_award(
    request: Request, rfq_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    values = form_values(await checked_form(request))
    here = _buyer_url(rfq_id, quote_id)
    # the quote must be the actor's to look at before anything is recorded (404 otherwise)
    await negotiation_service.view(session, actor, quote_id, rfq_id=rfq_id)
    try:
        submission = await consume_form_token(
            session, request, actor, award_purpose(quote_id), values.get(FORM_TOKEN_FIELD)
        )
        if not submission.first:
            flash(request, "This quote was already awarded; here is its contract.", "info")
            return redirect(submission.result or here)
        result = await negotiation_service.award(session, actor, quote_id, rfq_id=rfq_id)
        await record_form_result(session, submission, result.buyer_url)
    except (Conflict, FormTokenInvalid) as error:
        await session.rollback()
        flash(request, error.message, "error")
        return redirect(here)
    flash(
        request,
        f"Quote awarded. Contract {result.contract_number} is drafted: review it and confirm. "
        "The other suppliers have been told.",
    )
    return redirect(result.buyer_url)


@router.post("/rfqs/{rfq_id}/quotes/{quote_id}/messages")
async def buyer_message(
    request: Request, rfq_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    values = form_values(await checked_form(request))
    here = _buyer_url(rfq_id, quote_id)
    try:
        await negotiation_service.post_message(
            session, actor, quote_id, values.get("body", ""), rfq_id=rfq_id
        )
    except (Conflict, Invalid) as error:
        return await _rerender_buyer(request, session, actor, rfq_id, quote_id, "message", error, values)
    flash(request, "Message sent.")
    return redirect(here + "#thread")


# --- supplier ------------------------------------------------------------------------------------------


def _supplier_url(store_id: int, quote_id: int) -> str:
    return f"/seller/stores/{store_id}/quotes/{quote_id}"


async def _supplier_context(
    session: AsyncSession, actor: Actor, store_id: int, quote_id: int, *, mark_read: bool = False
) -> dict[str, Any]:
    store = await get_store_for(session, actor, store_id, "store:read")
    view = await negotiation_service.view(session, actor, quote_id, store_id=store_id, mark_read=mark_read)
    ctx = _context(view)
    ctx.update({"store": store_info(store), "section": "quotes", "base": _supplier_url(store_id, quote_id)})
    return ctx


@router.get("/seller/stores/{store_id}/quotes/{quote_id}", response_class=HTMLResponse)
async def supplier_page(
    request: Request, store_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    ctx = await _supplier_context(session, actor, store_id, quote_id, mark_read=True)
    return render(request, SUPPLIER_TEMPLATE, ctx)


async def _rerender_supplier(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    store_id: int,
    quote_id: int,
    failed: str,
    error: Exception,
    values: dict[str, str],
) -> HTMLResponse:
    await session.rollback()
    ctx = await _supplier_context(session, actor, store_id, quote_id)
    status = error.status_code if isinstance(error, SoukError) else 422
    return render(
        request,
        SUPPLIER_TEMPLATE,
        {**ctx, "failed": failed, "errors": _form_errors(error), "values": values},
        status,
    )


@router.post("/seller/stores/{store_id}/quotes/{quote_id}/revise")
async def supplier_revise(
    request: Request, store_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    values = form_values(await checked_form(request))
    here = _supplier_url(store_id, quote_id)
    view = await negotiation_service.view(session, actor, quote_id, store_id=store_id)
    currency = view.quote.currency
    try:
        sample = values.get("sample_price", "")
        valid = values.get("valid_until", "")
        try:
            valid_until = date.fromisoformat(valid) if valid else None
        except ValueError:
            raise invalid_field("valid_until", "enter a date like 2026-12-31") from None
        payload = RevisionCreate.model_validate(
            {
                **_terms(values, currency),
                "based_on_version": _int_or_text(values.get("based_on_version", "")),
                "moq": _int_or_text(values.get("moq", "")),
                "tiers": _tiers(values.get("tiers", ""), currency),
                "sample_price_amount": parse_amount(sample, currency, "sample_price") if sample else None,
                "valid_until": valid_until,
            }
        )
        await negotiation_service.revise(session, actor, quote_id, payload, store_id=store_id)
    except Conflict as error:
        await session.rollback()
        flash(request, error.message, "error")
        return redirect(here)
    except (ValidationError, Invalid) as error:
        return await _rerender_supplier(request, session, actor, store_id, quote_id, "revise", error, values)
    flash(request, "Quote revised. The buyer has been told.")
    return redirect(here)


@router.post("/seller/stores/{store_id}/quotes/{quote_id}/counter")
async def supplier_counter(
    request: Request, store_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    values = form_values(await checked_form(request))
    here = _supplier_url(store_id, quote_id)
    view = await negotiation_service.view(session, actor, quote_id, store_id=store_id)
    try:
        payload = CounterCreate.model_validate(
            {
                **_terms(values, view.quote.currency),
                "based_on_version": _int_or_text(values.get("based_on_version", "")),
            }
        )
        await negotiation_service.counter(session, actor, quote_id, payload, store_id=store_id)
    except Conflict as error:
        await session.rollback()
        flash(request, error.message, "error")
        return redirect(here)
    except (ValidationError, Invalid) as error:
        return await _rerender_supplier(request, session, actor, store_id, quote_id, "counter", error, values)
    flash(request, "Counter-offer sent. The buyer has been told.")
    return redirect(here)


@router.post("/seller/stores/{store_id}/quotes/{quote_id}/accept")
async def supplier_accept(
    request: Request, store_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    values = form_values(await checked_form(request))
    here = _supplier_url(store_id, quote_id)
    offer_id = values.get("offer_id", "")
    try:
        if not offer_id.isdigit() or len(offer_id) > 10:
            raise invalid_field("offer_id", "choose the offer to accept")
        await negotiation_service.accept(session, actor, quote_id, int(offer_id), store_id=store_id)
    except (Conflict, Invalid) as error:
        await session.rollback()
        flash(request, error.message, "error")
        return redirect(here)
    flash(request, "Terms accepted. The buyer has been told and may award your quote.")
    return redirect(here)


@router.post("/seller/stores/{store_id}/quotes/{quote_id}/messages")
async def supplier_message(
    request: Request, store_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    values = form_values(await checked_form(request))
    here = _supplier_url(store_id, quote_id)
    try:
        await negotiation_service.post_message(
            session, actor, quote_id, values.get("body", ""), store_id=store_id
        )
    except (Conflict, Invalid) as error:
        return await _rerender_supplier(request, session, actor, store_id, quote_id, "message", error, values)
    flash(request, "Message sent.")
    return redirect(here + "#thread")
