"""Sourcing pages: the buyer's requests for quotation (list, post form, detail with the side-by-side comparison
and the close button) and the supplier's RFQ board, an RFQ with the quote form, and "my quotes". Every form is
CSRF-checked and calls the same services as the JSON API. The quote detail pages belong to the negotiation
area (/rfqs/{id}/quotes/{quote_id} and /seller/stores/{id}/quotes/{quote_id})."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from souk.auth.actor import Actor
from souk.deps import DbSession, Storage
from souk.errors import SoukError, invalid_field
from souk.kit.clock import utcnow
from souk.kit.countries import countries
from souk.kit.money import bps_percent, from_minor, is_currency, parse_amount, parse_percent_bps
from souk.kit.schemas import IdPath
from souk.kit.uploads import MediaStorage, read_upload
from souk.models.sourcing import INCOTERMS
from souk.party.schemas import UploadIn
from souk.trade.policy import get_policy
from souk.trade.sourcing.quote.schemas import QuoteCreate
from souk.trade.sourcing.quote.service import SORT_KEYS, quote_service
from souk.trade.sourcing.rfq.endpoints import attachment_response
from souk.trade.sourcing.rfq.schemas import MAX_ATTACHMENTS, RfqCreate
from souk.trade.sourcing.rfq.service import rfq_service
from souk.web.buyer.orders import until  # noqa: F401  (registers the deadline filter the pages use)
from souk.web.deps import UserPage
from souk.web.render import (
    checked_form,
    errors_of,
    flash,
    form_error,
    form_files,
    form_values,
    redirect,
    render,
    url_with,
)
from souk.web.seller.catalog import store_info

router = APIRouter()

STATE_LABELS = {
    "open": "Open",
    "not_taking_quotes": "Not taking quotes",
    "closed": "Closed",
    "awarded": "Awarded",
    "cancelled": "Cancelled",
}
QUOTE_STATUS_LABELS = {
    "submitted": "Sent",
    "accepted": "Accepted",
    "awarded": "Awarded",
    "declined": "Declined",
    "withdrawn": "Withdrawn",
}
SORT_LABELS = {
    "price": "Unit price",
    "landed": "Landed total",
    "lead_time": "Lead time",
    "rating": "Rating",
    "response": "Response time",
}
BALANCE_DUE = [("before_shipment", "Before shipment"), ("on_documents", "On shipping documents")]
UNITS = ["pieces", "sets", "pairs", "boxes", "cartons", "kilograms", "tonnes", "metres", "litres"]
AttachmentIndex = Annotated[int, Path(ge=0, le=MAX_ATTACHMENTS)]
_INT = re.compile(r"^\d{1,15}$")
NEW_TEMPLATE = "sourcing/rfq_new.html"
SUPPLIER_TEMPLATE = "sourcing/rfq_supplier.html"


def _int_or_text(text: str) -> int | str:
    return int(text) if _INT.match(text) else text


def _date_or_text(text: str) -> date | str:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return text


async def _uploads(form: FormData, storage: MediaStorage, limit: int) -> list[UploadIn]:
    files = form_files(form, "attachments")
    if len(files) > limit:
        raise invalid_field("attachments", f"at most {limit} files")
    return [
        UploadIn(data=await read_upload(f, storage.max_bytes, "attachments"), filename=f.filename or "")
        for f in files
    ]


# --- buyer ----------------------------------------------------------------------------------------------


async def _new_context(session: AsyncSession, actor: Actor) -> dict[str, Any]:
    organizations = await rfq_service.buyer_organizations(session, actor)
    return {
        "section": "rfqs",
        "organizations": [(o.id, o.legal_name) for o in organizations],
        "categories": await rfq_service.category_choices(session),
        "countries": list(countries().items()),
        "incoterms": [(i, i) for i in INCOTERMS],
        "units": UNITS,
        "max_open_days": get_policy("sourcing").rfq_max_open_days,
        "max_attachments": MAX_ATTACHMENTS,
    }


@router.get("/rfqs", response_class=HTMLResponse)
async def rfqs_page(request: Request, actor: UserPage, session: DbSession) -> HTMLResponse:
    organizations = await rfq_service.buyer_organizations(session, actor)
    cursor = request.query_params.get("cursor") or None
    page = await rfq_service.list_mine(session, actor, cursor=cursor, limit=20) if organizations else None
    return render(
        request,
        "sourcing/rfq_list.html",
        {
            "section": "rfqs",
            "has_organization": bool(organizations),
            "rfqs": page.items if page else [],
            "state_labels": STATE_LABELS,
            "first_url": url_with(request, cursor=None) if cursor else None,
            "next_url": url_with(request, cursor=page.next_cursor) if page and page.next_cursor else None,
        },
    )


@router.get("/rfqs/new", response_class=HTMLResponse)
async def new_rfq_page(request: Request, actor: UserPage, session: DbSession) -> HTMLResponse:
    ctx = await _new_context(session, actor)
    deadline = (utcnow() + timedelta(days=14)).date()
    values = {
        "quantity": "",
        "unit": "pieces",
        "currency": "USD",
        "incoterm": "FOB",
        "visibility": "public",
        "quote_deadline": deadline.isoformat(),
        **_prefill(request.query_params, {cid for cid, _ in ctx["categories"]}),
    }
    return render(request, NEW_TEMPLATE, {**ctx, "values": values})


def _prefill(params: Any, category_ids: set[int]) -> dict[str, str]:
    """Form values from the query string ("Post an RFQ for this" on a product page, "Post a similar
    request"): the title, a category that exists, a positive quantity and a unit. Anything else is ignored
    (the posted form is checked again anyway)."""
    values = {"title": str(params.get("title", "")).strip()[:200]}
    category = str(params.get("category_id", "")).strip()
    if _INT.match(category) and int(category) in category_ids:
        values["category_id"] = str(int(category))
    quantity = str(params.get("quantity", "")).strip()
    if _INT.match(quantity) and 0 < int(quantity) <= 10**12:
        values["quantity"] = str(int(quantity))
    unit = str(params.get("unit", "")).strip()
    if unit and len(unit) <= 20 and unit.isprintable():
        values["unit"] = unit
    return values


def _rfq_payload(values: dict[str, str]) -> RfqCreate:
    currency = values.get("currency", "").strip().upper()
    target = values.get("target_unit_price_amount", "")
    deadline: Any = values.get("quote_deadline", "")
    typed_deadline = _date_or_text(deadline)
    if isinstance(typed_deadline, date):
        # the quote deadline is the end of the chosen day (UTC)
        deadline = datetime.combine(typed_deadline, time(23, 59, 59), tzinfo=UTC)
    invited = [
        _int_or_text(part) for part in re.split(r"[\s,;]+", values.get("invited_store_ids", "")) if part
    ]
    data: dict[str, Any] = {
        "title": values.get("title", ""),
        "category_id": _int_or_text(values["category_id"]) if values.get("category_id") else None,
        "requirements": values.get("requirements", ""),
        "quantity": _int_or_text(values.get("quantity", "")),
        "unit": values.get("unit", ""),
        "currency": currency,
        "destination_country": values.get("destination_country", ""),
        "incoterm": values.get("incoterm", ""),
        "needed_by": _date_or_text(values["needed_by"]) if values.get("needed_by") else None,
        "quote_deadline": deadline,
        "visibility": values.get("visibility", "public"),
        "invited_store_ids": invited if values.get("visibility") == "invited" else [],
    }
    if values.get("organization_id"):
        data["organization_id"] = _int_or_text(values["organization_id"])
    if target and is_currency(currency):
        data["target_unit_price_amount"] = parse_amount(target, currency, "target_unit_price_amount")
    return RfqCreate.model_validate(data)


@router.post("/rfqs/new")
async def create_rfq(request: Request, actor: UserPage, session: DbSession, storage: Storage) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    try:
        payload = _rfq_payload(values)
        uploads = await _uploads(form, storage, MAX_ATTACHMENTS)
        rfq = await rfq_service.create(session, actor, payload, storage=storage, uploads=uploads)
    except (ValidationError, SoukError) as error:
        await session.rollback()
        ctx = await _new_context(session, actor)
        return await form_error(request, session, NEW_TEMPLATE, error, {**ctx, "values": values})
    flash(request, f"RFQ posted: {rfq.title}. Suppliers can quote until its deadline.")
    return redirect(f"/rfqs/{rfq.id}")


@router.get("/rfqs/{rfq_id}", response_class=HTMLResponse)
async def rfq_page(request: Request, rfq_id: IdPath, actor: UserPage, session: DbSession) -> HTMLResponse:
    rfq = await rfq_service.get_for_buyer(session, actor, rfq_id)
    view = (await rfq_service.reads(session, [rfq], buyer=True))[0]
    sort = request.query_params.get("sort", "price")
    if sort not in SORT_KEYS:
        sort = "price"
    comparison = await quote_service.comparison(session, actor, rfq_id, sort)
    return render(
        request,
        "sourcing/rfq_detail.html",
        {
            "section": "rfqs",
            "rfq": view,
            "comparison": comparison,
            "state_labels": STATE_LABELS,
            "quote_status_labels": QUOTE_STATUS_LABELS,
            "sorts": [(key, SORT_LABELS[key], url_with(request, sort=key)) for key in SORT_KEYS],
            "country": countries().get(view.destination_country, view.destination_country),
        },
    )


@router.post("/rfqs/{rfq_id}/close")
async def close_rfq(request: Request, rfq_id: IdPath, actor: UserPage, session: DbSession) -> Response:
    await checked_form(request)
    try:
        rfq = await rfq_service.close(session, actor, rfq_id)
    except SoukError as error:
        if error.status_code == 404:
            raise
        flash(request, errors_of(error)["_"], "error")
        return redirect(f"/rfqs/{rfq_id}")
    flash(request, f"RFQ closed: {rfq.title} takes no more quotes.")
    return redirect(f"/rfqs/{rfq_id}")


@router.get("/rfqs/{rfq_id}/attachments/{index}")
async def rfq_attachment(
    rfq_id: IdPath, index: AttachmentIndex, actor: UserPage, session: DbSession, storage: Storage
) -> FileResponse:
    await rfq_service.get_for_buyer(session, actor, rfq_id)
    attachment, path = await rfq_service.attachment_file(session, actor, storage, rfq_id, index)
    return attachment_response(attachment, path)


# --- supplier ---------------------------------------------------------------------------------------------


@router.get("/seller/stores/{store_id}/rfqs", response_class=HTMLResponse)
async def board_page(request: Request, store_id: IdPath, actor: UserPage, session: DbSession) -> HTMLResponse:
    q = request.query_params.get("q", "")[:200]
    all_categories = request.query_params.get("all") == "1"
    cursor = request.query_params.get("cursor") or None
    board = await rfq_service.board(
        session, actor, store_id, q=q, all_categories=all_categories, cursor=cursor, limit=20
    )
    quota = await quote_service.quota(session, actor, store_id)
    return render(
        request,
        "sourcing/rfq_board.html",
        {
            "store": store_info(board.store),
            "section": "rfqs",
            "rfqs": board.page.items,
            "q": q,
            "all_categories": all_categories,
            "filtered": board.filtered,
            "category_names": board.category_names,
            "quota": quota,
            "state_labels": STATE_LABELS,
            "first_url": url_with(request, cursor=None) if cursor else None,
            "next_url": url_with(request, cursor=board.page.next_cursor) if board.page.next_cursor else None,
            "all_url": url_with(request, all="1", cursor=None),
            "mine_url": url_with(request, all=None, cursor=None),
        },
    )


async def _supplier_context(
    session: AsyncSession, actor: Actor, store_id: int, rfq_id: int
) -> dict[str, Any]:
    rfq = await rfq_service.get_for_store(session, actor, store_id, rfq_id)
    store = await rfq_service.supplier_store(session, actor, store_id)
    view = (await rfq_service.reads(session, [rfq], buyer=False, store_id=store_id))[0]
    return {
        "store": store_info(store),
        "section": "rfqs",
        "rfq": view,
        "quota": await quote_service.quota(session, actor, store_id),
        "state_labels": STATE_LABELS,
        "incoterms": [(i, i) for i in INCOTERMS],
        "balance_due": BALANCE_DUE,
        "country": countries().get(view.destination_country, view.destination_country),
        "max_attachments": MAX_ATTACHMENTS,
    }


def _quote_defaults(ctx: dict[str, Any]) -> dict[str, str]:
    rfq = ctx["rfq"]
    return {
        "quantity": str(rfq.quantity),
        "moq": str(rfq.quantity),
        "incoterm": rfq.incoterm,
        "shipping_amount": "0",
        "deposit_percent": bps_percent(get_policy("sourcing").default_deposit_bps),
        "balance_due": "before_shipment",
        "valid_until": (utcnow() + timedelta(days=30)).date().isoformat(),
    }


@router.get("/seller/stores/{store_id}/rfqs/{rfq_id}", response_class=HTMLResponse)
async def supplier_rfq_page(
    request: Request, store_id: IdPath, rfq_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    ctx = await _supplier_context(session, actor, store_id, rfq_id)
    return render(request, SUPPLIER_TEMPLATE, {**ctx, "values": _quote_defaults(ctx)})


def _tiers(text: str, currency: str) -> list[list[int]]:
    tiers: list[list[int]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not _INT.match(parts[0]):
            raise invalid_field(
                "tiers", f"line {number}: write a minimum quantity and a unit price, like 500 2.40"
            )
        tiers.append([int(parts[0]), parse_amount(parts[1], currency, "tiers")])
    return tiers


_FORM_FIELD = {"deposit_bps": "deposit_percent"}


def _quote_payload(values: dict[str, str], store_id: int, currency: str) -> QuoteCreate:
    data: dict[str, Any] = {
        "store_id": store_id,
        "unit_price_amount": parse_amount(values.get("unit_price_amount", ""), currency, "unit_price_amount"),
        "tiers": _tiers(values.get("tiers", ""), currency),
        "quantity": _int_or_text(values.get("quantity", "")) if values.get("quantity") else None,
        "moq": _int_or_text(values.get("moq", "")),
        "lead_time_days": _int_or_text(values.get("lead_time_days", "")),
        "incoterm": values.get("incoterm", ""),
        "place": values.get("place", ""),
        "shipping_amount": parse_amount(
            values.get("shipping_amount", "") or "0", currency, "shipping_amount", minimum=0
        ),
        "sample_price_amount": parse_amount(values["sample_price_amount"], currency, "sample_price_amount")
        if values.get("sample_price_amount")
        else None,
        "deposit_bps": parse_percent_bps(values.get("deposit_percent", ""), "deposit_percent"),
        "balance_due": values.get("balance_due", ""),
        "valid_until": _date_or_text(values["valid_until"]) if values.get("valid_until") else None,
        "message": values.get("message", ""),
    }
    return QuoteCreate.model_validate(data)


@router.post("/seller/stores/{store_id}/rfqs/{rfq_id}/quote")
async def send_quote(
    request: Request, store_id: IdPath, rfq_id: IdPath, actor: UserPage, session: DbSession, storage: Storage
) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    ctx = await _supplier_context(session, actor, store_id, rfq_id)
    try:
        payload = _quote_payload(values, store_id, ctx["store"]["currency"])
        uploads = await _uploads(form, storage, MAX_ATTACHMENTS)
        quote = await quote_service.create(session, actor, rfq_id, payload, storage=storage, uploads=uploads)
    except (ValidationError, SoukError) as error:
        errors = {_FORM_FIELD.get(k, k): v for k, v in errors_of(error).items()}
        await session.rollback()
        ctx = await _supplier_context(session, actor, store_id, rfq_id)
        return await form_error(
            request, session, SUPPLIER_TEMPLATE, error, {**ctx, "values": values, "errors": errors}
        )
    flash(request, f"Quote sent on {ctx['rfq'].title}. The buyer has been told.")
    return redirect(f"/seller/stores/{store_id}/quotes/{quote.id}")


@router.get("/seller/stores/{store_id}/rfqs/{rfq_id}/attachments/{index}")
async def supplier_rfq_attachment(
    store_id: IdPath,
    rfq_id: IdPath,
    index: AttachmentIndex,
    actor: UserPage,
    session: DbSession,
    storage: Storage,
) -> FileResponse:
    attachment, path = await rfq_service.attachment_file(
        session, actor, storage, rfq_id, index, store_id=store_id
    )
    return attachment_response(attachment, path)


@router.get("/seller/stores/{store_id}/quotes", response_class=HTMLResponse)
async def my_quotes_page(
    request: Request, store_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    store = await rfq_service.supplier_store(session, actor, store_id)
    cursor = request.query_params.get("cursor") or None
    page = await quote_service.list_for_store(session, actor, store_id, cursor=cursor, limit=20)
    return render(
        request,
        "sourcing/quote_list.html",
        {
            "store": store_info(store),
            "section": "quotes",
            "quotes": page.items,
            "quota": await quote_service.quota(session, actor, store_id),
            "status_labels": QUOTE_STATUS_LABELS,
            "first_url": url_with(request, cursor=None) if cursor else None,
            "next_url": url_with(request, cursor=page.next_cursor) if page.next_cursor else None,
            "decimal": from_minor,
        },
    )
