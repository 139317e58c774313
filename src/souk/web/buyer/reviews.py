"""The buyer's review form: stars as radio buttons (works without JavaScript), text, and the store ratings with
the first review of a seller order. It calls the same service as the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from souk.deps import DbSession, Storage
from souk.errors import Conflict, Invalid, NotFound, PayloadTooLarge
from souk.kit.clock import utcnow
from souk.kit.uploads import read_upload
from souk.review.schemas import ReviewCreate
from souk.review.service import MAX_PHOTOS, STORE_RATING_FIELDS, review_service
from souk.trade.policy import TradeModel, get_policy
from souk.web.deps import UserPage
from souk.web.render import (
    checked_form,
    flash,
    form_error,
    form_files,
    form_values,
    redirect,
    render,
)

router = APIRouter()


def review_open(completed_at: datetime | None) -> bool:
    """For the order page's "Review" links: whether a seller order completed at ``completed_at`` may still be
    in its review window (the longest of the trade policies; the form then applies the store's own)."""
    if completed_at is None:
        return False
    window = max(get_policy(model).review_window for model in TradeModel)
    return utcnow() <= completed_at + window


TEMPLATE = "buyer/review_form.html"
FORM_ERRORS = (ValidationError, Invalid, Conflict, PayloadTooLarge)
STORE_RATINGS = [
    ("item_as_described", "Item as described"),
    ("communication", "Communication"),
    ("shipping_speed", "Shipping speed"),
]


def _line_id(raw: str | None) -> int:
    if raw is None or not raw.strip().isdigit() or not 1 <= int(raw) <= 2**53:
        raise NotFound("No such order line.", code="order_line_not_found")
    return int(raw)


def _payload(values: dict[str, str], line_id: int) -> dict[str, Any]:
    data: dict[str, Any] = {"order_line_id": line_id, "text": values.get("text", "")}
    for name in ("rating", *STORE_RATING_FIELDS):
        raw = values.get(name, "").strip()
        if raw:
            data[name] = int(raw) if raw.isdigit() else raw
        elif name == "rating":
            data[name] = None
    return data


@router.get("/reviews/new", response_class=HTMLResponse)
async def review_form(request: Request, actor: UserPage, session: DbSession) -> HTMLResponse:
    line = await review_service.reviewable_line(session, actor, _line_id(request.query_params.get("line")))
    return render(
        request,
        TEMPLATE,
        {"line": line, "values": {}, "errors": {}, "store_ratings": STORE_RATINGS, "section": "orders"},
    )


@router.post("/reviews/new")
async def post_review(request: Request, actor: UserPage, session: DbSession, storage: Storage) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    line_id = _line_id(request.query_params.get("line") or values.get("order_line_id"))
    line = await review_service.reviewable_line(session, actor, line_id)
    try:
        files = [f for f in form_files(form, "photos")][: MAX_PHOTOS + 1]
        photos = [await read_upload(f, storage.max_bytes, "photos") for f in files]
        await review_service.create(
            session, actor, ReviewCreate.model_validate(_payload(values, line_id)), photos, storage=storage
        )
    except FORM_ERRORS as error:
        ctx = {"line": line, "values": values, "store_ratings": STORE_RATINGS, "section": "orders"}
        return await form_error(request, session, TEMPLATE, error, ctx)
    flash(request, f"Thank you: your review of {line.title} is published")
    return redirect(f"/orders/{line.order_id}")
