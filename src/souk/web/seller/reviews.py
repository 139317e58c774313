"""Seller centre: a store's reviews with a reply form under each one not yet answered."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import get_store_for
from souk.deps import DbSession
from souk.errors import Conflict, Invalid
from souk.kit.schemas import IdPath
from souk.review.schemas import ReplyCreate
from souk.review.service import review_service
from souk.web.deps import UserPage
from souk.web.render import checked_form, flash, form_error, form_values, redirect, render
from souk.web.seller.catalog import store_info

router = APIRouter()

TEMPLATE = "seller/reviews.html"
PAGE_SIZE = 20
FORM_ERRORS = (ValidationError, Invalid, Conflict)


def _page(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 10**6 else 1


async def _context(session: AsyncSession, actor: Actor, store_id: int, page: int) -> dict[str, Any]:
    store = await get_store_for(session, actor, store_id, "store:read")
    info = store_info(store)
    items, total = await review_service.store_reviews(session, actor, store_id, page=page, per_page=PAGE_SIZE)
    reputation = await review_service.summary(session, store_id=store_id)
    points, level = await review_service.credit(session, store_id, store.trade_model)
    return {
        "store": info,
        "section": "reviews",
        "reviews": items,
        "summary": reputation,
        "credit_points": points,
        "credit_level": level,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
    }


@router.get("/seller/stores/{store_id}/reviews", response_class=HTMLResponse)
async def reviews_page(
    request: Request, store_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    ctx = await _context(session, actor, store_id, _page(request.query_params.get("page")))
    return render(request, TEMPLATE, {**ctx, "values": {}, "errors": {}})


@router.post("/seller/stores/{store_id}/reviews/{review_id}/reply")
async def reply(
    request: Request, store_id: IdPath, review_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    try:
        await review_service.reply(
            session,
            actor,
            review_id,
            ReplyCreate.model_validate({"text": values.get("text", "")}),
            store_id=store_id,
        )
    except FORM_ERRORS as error:
        await session.rollback()
        ctx = await _context(session, actor, store_id, 1)
        return await form_error(
            request, session, TEMPLATE, error, {**ctx, "values": values, "reply_to": review_id}
        )
    flash(request, "Reply published")
    return redirect(f"/seller/stores/{store_id}/reviews")
