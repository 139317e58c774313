"""Sourcing pages: a quote's negotiation, for the buyer (``/rfqs/{rfq_id}/quotes/{quote_id}``) and for the
supplier (``/seller/stores/{store_id}/quotes/{quote_id}``): the current terms, the version history, the thread,
and the forms that apply now (revise, counter, accept the latest offer, award, decline), each with the reason when
it does not apply. Every form is CSRF-checked and calls the same service as the API; amounts are typed as
decimals ("2.30"); the award form carries a one-time token so a double submit drafts one contract."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date
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
from souk.kit.money import bps_percent, from_minor, parse_amount, parse_percent_bps
from souk.kit.schemas import IdPath
from souk.models.sourcing import INCOTERMS
from souk.trade.sourcing.negotiation.schemas import CounterCreate, NegotiationRead, RevisionCreate
from souk.trade.sourcing.negotiation.service import BALANCE_LABELS, negotiation_service
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
        "deposit_bps": parse_percent_bps(values.get("deposit_percent", ""), "deposit_percent"),
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
        "deposit_percent": bps_percent(q.deposit_bps),
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
        "percent": bps_percent,
        "newest": view.offers[0] if view.offers else None,
        "failed": "",
    }


class _Page:
    """One side's negotiation page of a quote: the buyer's (``rfq_id``) or the supplier's (``store_id``). The
    form routes of both sides share its steps: call the service, flash and redirect on success; on a refusal
    roll back, flash it and go back to the page; on bad input re-render the form with the errors."""

    def __init__(
        self,
        request: Request,
        session: AsyncSession,
        actor: Actor,
        quote_id: int,
        *,
        rfq_id: int | None = None,
        store_id: int | None = None,
    ) -> None:
        self.request, self.session, self.actor, self.quote_id = request, session, actor, quote_id
        self.rfq_id, self.store_id = rfq_id, store_id
        if rfq_id is not None:
            self.template, self.other = BUYER_TEMPLATE, "supplier"
            self.here = _buyer_url(rfq_id, quote_id)
        else:
            assert store_id is not None
            self.template, self.other = SUPPLIER_TEMPLATE, "buyer"
            self.here = _supplier_url(store_id, quote_id)

    async def view(self) -> NegotiationRead:
        """The negotiation as this side sees it (404 when the quote is not theirs)."""
        return await negotiation_service.view(
            self.session, self.actor, self.quote_id, rfq_id=self.rfq_id, store_id=self.store_id
        )

    async def context(self, *, mark_read: bool = False) -> dict[str, Any]:
        if self.rfq_id is not None:
            return await _buyer_context(
                self.request, self.session, self.actor, self.rfq_id, self.quote_id, mark_read=mark_read
            )
        assert self.store_id is not None
        return await _supplier_context(
            self.session, self.actor, self.store_id, self.quote_id, mark_read=mark_read
        )

    async def show(self) -> HTMLResponse:
        return render(self.request, self.template, await self.context(mark_read=True))

    async def rerender(self, failed: str, error: Exception, values: dict[str, str]) -> HTMLResponse:
        """Roll back and show the page again with the ``failed`` form's values and errors (4xx)."""
        await self.session.rollback()
        ctx = await self.context()
        status = error.status_code if isinstance(error, SoukError) else 422
        return render(
            self.request,
            self.template,
            {**ctx, "failed": failed, "errors": _form_errors(error), "values": values},
            status,
        )

    async def refuse(self, error: SoukError) -> Response:
        """Roll back, flash why and go back to the page."""
        await self.session.rollback()
        flash(self.request, error.message, "error")
        return redirect(self.here)

    async def run(
        self,
        step: Callable[[], Awaitable[object]],
        done: str,
        *,
        refused: tuple[type[SoukError], ...] = (Conflict,),
        rerendered: tuple[type[Exception], ...] = (),
        failed: str = "",
        values: dict[str, str] | None = None,
        anchor: str = "",
    ) -> Response:
        """Run ``step``; on success flash ``done`` and go back to the page (at ``anchor``). ``refused`` errors are
        flashed on the page, ``rerendered`` ones re-render the ``failed`` form with its ``values``."""
        try:
            await step()
        except refused as error:
            return await self.refuse(error)
        except rerendered as error:
            return await self.rerender(failed, error, values or {})
        flash(self.request, done)
        return redirect(self.here + anchor)


def _based_on(values: dict[str, str]) -> int | str | None:
    return _int_or_text(values.get("based_on_version", ""))


async def _counter(page: _Page) -> Response:
    """Either side's counter-offer form."""
    values = form_values(await checked_form(page.request))
    currency = (await page.view()).quote.currency

    async def step() -> None:
        payload = CounterCreate.model_validate(
            {**_terms(values, currency), "based_on_version": _based_on(values)}
        )
        await negotiation_service.counter(
            page.session, page.actor, page.quote_id, payload, rfq_id=page.rfq_id, store_id=page.store_id
        )

    return await page.run(
        step,
        f"Counter-offer sent. The {page.other} has been told.",
        rerendered=(ValidationError, Invalid),
        failed="counter",
        values=values,
    )


async def _accept(page: _Page, done: str) -> Response:
    """Either side accepts the other side's latest offer (the form names it)."""
    values = form_values(await checked_form(page.request))
    offer_id = values.get("offer_id", "")

    async def step() -> None:
        if not offer_id.isdigit() or len(offer_id) > 10:
            raise invalid_field("offer_id", "choose the offer to accept")
        await negotiation_service.accept(
            page.session, page.actor, page.quote_id, int(offer_id), rfq_id=page.rfq_id, store_id=page.store_id
        )

    return await page.run(step, done, refused=(Conflict, Invalid))


async def _message(page: _Page) -> Response:
    """Either side's message on the quote's thread."""
    values = form_values(await checked_form(page.request))

    async def step() -> None:
        await negotiation_service.post_message(
            page.session,
            page.actor,
            page.quote_id,
            values.get("body", ""),
            rfq_id=page.rfq_id,
            store_id=page.store_id,
        )

    return await page.run(
        step,
        "Message sent.",
        refused=(),
        rerendered=(Conflict, Invalid),
        failed="message",
        values=values,
        anchor="#thread",
    )


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


def _buyer(request: Request, session: AsyncSession, actor: Actor, rfq_id: int, quote_id: int) -> _Page:
    return _Page(request, session, actor, quote_id, rfq_id=rfq_id)


@router.get("/rfqs/{rfq_id}/quotes/{quote_id}", response_class=HTMLResponse)
async def buyer_page(
    request: Request, rfq_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    return await _buyer(request, session, actor, rfq_id, quote_id).show()


@router.post("/rfqs/{rfq_id}/quotes/{quote_id}/counter")
async def buyer_counter(
    request: Request, rfq_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    return await _counter(_buyer(request, session, actor, rfq_id, quote_id))


@router.post("/rfqs/{rfq_id}/quotes/{quote_id}/accept")
async def buyer_accept(
    request: Request, rfq_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    page = _buyer(request, session, actor, rfq_id, quote_id)
    return await _accept(page, "Terms accepted. You can award this quote now.")


@router.post("/rfqs/{rfq_id}/quotes/{quote_id}/decline")
async def buyer_decline(
    request: Request, rfq_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    await checked_form(request)
    page = _buyer(request, session, actor, rfq_id, quote_id)

    async def step() -> None:
        await negotiation_service.decline(session, actor, quote_id, rfq_id=rfq_id)

    return await page.run(step, "Quote declined. The supplier has been told.")


@router.post("/rfqs/{rfq_id}/quotes/{quote_id}/award")
async def buyer_award(
    request: Request, rfq_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    values = form_values(await checked_form(request))
    page = _buyer(request, session, actor, rfq_id, quote_id)
    # the quote must be the actor's to look at before anything is recorded (404 otherwise)
    await page.view()
    try:
        submission = await consume_form_token(
            session, request, actor, award_purpose(quote_id), values.get(FORM_TOKEN_FIELD)
        )
        if not submission.first:
            flash(request, "This quote was already awarded; here is its contract.", "info")
            return redirect(submission.result or page.here)
        result = await negotiation_service.award(session, actor, quote_id, rfq_id=rfq_id)
        await record_form_result(session, submission, result.buyer_url)
    except (Conflict, FormTokenInvalid) as error:
        return await page.refuse(error)
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
    return await _message(_buyer(request, session, actor, rfq_id, quote_id))


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


def _supplier(request: Request, session: AsyncSession, actor: Actor, store_id: int, quote_id: int) -> _Page:
    return _Page(request, session, actor, quote_id, store_id=store_id)


@router.get("/seller/stores/{store_id}/quotes/{quote_id}", response_class=HTMLResponse)
async def supplier_page(
    request: Request, store_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    return await _supplier(request, session, actor, store_id, quote_id).show()


@router.post("/seller/stores/{store_id}/quotes/{quote_id}/revise")
async def supplier_revise(
    request: Request, store_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    values = form_values(await checked_form(request))
    page = _supplier(request, session, actor, store_id, quote_id)
    currency = (await page.view()).quote.currency

    async def step() -> None:
        sample = values.get("sample_price", "")
        valid = values.get("valid_until", "")
        try:
            valid_until = date.fromisoformat(valid) if valid else None
        except ValueError:
            raise invalid_field("valid_until", "enter a date like 2026-12-31") from None
        payload = RevisionCreate.model_validate(
            {
                **_terms(values, currency),
                "based_on_version": _based_on(values),
                "moq": _int_or_text(values.get("moq", "")),
                "tiers": _tiers(values.get("tiers", ""), currency),
                "sample_price_amount": parse_amount(sample, currency, "sample_price") if sample else None,
                "valid_until": valid_until,
            }
        )
        await negotiation_service.revise(session, actor, quote_id, payload, store_id=store_id)

    return await page.run(
        step,
        "Quote revised. The buyer has been told.",
        rerendered=(ValidationError, Invalid),
        failed="revise",
        values=values,
    )


@router.post("/seller/stores/{store_id}/quotes/{quote_id}/counter")
async def supplier_counter(
    request: Request, store_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    return await _counter(_supplier(request, session, actor, store_id, quote_id))


@router.post("/seller/stores/{store_id}/quotes/{quote_id}/accept")
async def supplier_accept(
    request: Request, store_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    page = _supplier(request, session, actor, store_id, quote_id)
    return await _accept(page, "Terms accepted. The buyer has been told and may award your quote.")


@router.post("/seller/stores/{store_id}/quotes/{quote_id}/messages")
async def supplier_message(
    request: Request, store_id: IdPath, quote_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    return await _message(_supplier(request, session, actor, store_id, quote_id))
