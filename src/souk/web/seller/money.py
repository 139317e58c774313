"""Seller centre: the store's balance (escrow pending, available, paid out), every ledger movement, payouts and
the "Request payout" form. Same services as the JSON API.

The payout form carries a one-time form token (ADR 0005, ``souk.kit.idempotency``): a double click or a
resubmitted page finds the token used and shows the payout the first submission made.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.deps import DbSession
from souk.errors import Invalid, invalid_field
from souk.kit.idempotency import (
    FORM_TOKEN_FIELD,
    FormTokenInvalid,
    consume_form_token,
    issue_form_token,
    record_form_result,
)
from souk.kit.money import format_money, is_currency, parse_amount
from souk.kit.schemas import IdPath
from souk.ledger.service import DayChange, StoreBalance, ledger_service
from souk.models import Store
from souk.payout.service import payout_service
from souk.web.deps import UserPage
from souk.web.render import (
    checked_form,
    flash,
    form_error,
    form_values,
    redirect,
    render,
    url_with,
    visitor_locale,
)
from souk.web.seller.catalog import store_info

router = APIRouter()

TEMPLATE = "seller/balance.html"
FORM_PURPOSE = "payout"

KIND_LABELS = {
    "payment_captured": "Order paid, held in escrow",
    "escrow_released": "Receipt confirmed, released to you",
    "refund": "Refund to the buyer",
    "payout": "Payout requested",
    "payout_paid": "Payout paid",
    "payout_failed": "Payout failed, money returned",
}
PAYOUT_STATUS = {"requested": "On its way", "paid": "Paid", "failed": "Failed"}

CHART_DAYS = 30
CHART_WIDTH = 300
CHART_HEIGHT = 80


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def chart(days: list[DayChange], currency: str, locale: str) -> dict[str, Any] | None:
    """Bars for an inline SVG: the daily change of the available balance (up: money in, down: money out)."""
    if not any(d.amount for d in days):
        return None
    peak = max(abs(d.amount) for d in days)
    slot = CHART_WIDTH / len(days)
    middle = CHART_HEIGHT / 2
    bars = []
    for n, day in enumerate(days):
        if not day.amount:
            continue
        height = max(1.0, abs(day.amount) / peak * (middle - 2))
        bars.append(
            {
                "x": round(n * slot + 1, 1),
                "y": round(middle - height if day.amount > 0 else middle, 1),
                "width": round(slot - 2, 1),
                "height": round(height, 1),
                "up": day.amount > 0,
                "title": f"{day.day.isoformat()}: {'+' if day.amount > 0 else ''}"
                f"{format_money(day.amount, currency, locale)}",
            }
        )
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "middle": middle,
        "bars": bars,
        "first": days[0].day,
        "last": days[-1].day,
    }


def _cards(
    store: Store,
    balances: dict[str, StoreBalance],
    in_transit: dict[str, int],
    days: dict[str, list[DayChange]],
    locale: str,
) -> list[dict[str, Any]]:
    currencies = [store.currency, *sorted(c for c in balances if c != store.currency)]
    cards = []
    for currency in currencies:
        balance = balances.get(currency) or StoreBalance(currency, 0, 0, 0)
        cards.append(
            {
                "currency": currency,
                "escrow_pending": balance.escrow_pending,
                "available": balance.available,
                "paid_out": balance.paid_out,
                "in_transit": in_transit.get(currency, 0),
                "minimum": payout_service.minimum(store, currency),
                "chart": chart(days.get(currency, []), currency, locale),
            }
        )
    return cards


async def _context(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    store_id: int,
    cursor: str | None = None,
    pcursor: str | None = None,
) -> dict[str, Any]:
    store, balances = await ledger_service.store_balances(session, actor, store_id)
    locale = visitor_locale(request)
    days = await ledger_service.daily_changes(session, actor, store.id, days=CHART_DAYS)
    in_transit = await payout_service.in_transit(session, store.id)
    movements = await ledger_service.movements(session, actor, store.id, cursor=cursor)
    payouts = await payout_service.list(session, actor, store.id, cursor=pcursor, limit=10)
    cards = _cards(store, balances, in_transit, days, locale)
    can_request = await payout_service.can_request(session, actor, store)
    return {
        "store": store_info(store),
        "section": "balance",
        "cards": cards,
        "movements": [
            {
                "at": m.created_at,
                "what": kind_label(m.kind),
                "memo": m.memo,
                "account": "Escrow" if m.account_kind == "escrow" else "Available",
                "seller_order_id": m.seller_order_id,
                "amount": m.amount,
                "currency": m.currency,
            }
            for m in movements.items
        ],
        "movements_first_url": url_with(request, cursor=None) if cursor else None,
        "movements_next_url": url_with(request, cursor=movements.next_cursor)
        if movements.next_cursor
        else None,
        "payouts": [
            {
                "id": p.id,
                "at": p.created_at,
                "amount": p.amount,
                "currency": p.currency,
                "status": p.status,
                "status_label": PAYOUT_STATUS.get(p.status, p.status),
                "reference": p.provider_reference,
                "failure_reason": p.failure_reason,
            }
            for p in payouts.items
        ],
        "payouts_first_url": url_with(request, pcursor=None) if pcursor else None,
        "payouts_next_url": url_with(request, pcursor=payouts.next_cursor) if payouts.next_cursor else None,
        "can_request": can_request,
        "payable_currencies": [c["currency"] for c in cards if c["available"] > 0] or [store.currency],
        "payout_choices": [
            (
                c["currency"],
                f"{c['currency']} ({format_money(c['available'], c['currency'], locale)} available)",
            )
            for c in cards
            if c["available"] > 0
        ],
        "token": issue_form_token(request, actor, FORM_PURPOSE) if can_request else "",
    }


@router.get("/seller/stores/{store_id}/balance", name="seller:balance")
async def balance_page(
    request: Request,
    store_id: IdPath,
    actor: UserPage,
    session: DbSession,
    cursor: str | None = None,
    pcursor: str | None = None,
) -> HTMLResponse:
    ctx = await _context(request, session, actor, store_id, cursor, pcursor)
    values = {"currency": ctx["payable_currencies"][0], "amount": ""}
    return render(request, TEMPLATE, {**ctx, "values": values})


def _amount(text: str, currency: str) -> int | None:
    if not text:
        return None
    return parse_amount(text, currency, "amount", hint="enter an amount like {example}")


@router.post("/seller/stores/{store_id}/payouts", name="seller:request_payout")
async def request_payout(request: Request, store_id: IdPath, actor: UserPage, session: DbSession) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    token = values.pop(FORM_TOKEN_FIELD, "")
    here = f"/seller/stores/{store_id}/balance"
    try:
        currency = values.get("currency", "")
        if not is_currency(currency):
            raise invalid_field("currency", "choose a currency")
        amount = _amount(values.get("amount", ""), currency)
        submission = await consume_form_token(session, request, actor, FORM_PURPOSE, token)
        if not submission.first:
            # a double click or a resubmitted page: the first submission made the payout
            flash(request, "This payout request was already sent; here it is below.", "info")
            return redirect(submission.result or here)
        payout = await payout_service.request(
            session, actor, store_id, currency, amount, idempotency_key=f"form:{submission.id}"
        )
        await record_form_result(session, submission, here)
    except Invalid as error:
        await session.rollback()
        ctx = await _context(request, session, actor, store_id)
        # a failed attempt wrote nothing (its token use rolled back too): the same token may be sent again
        kept = ctx["token"] if isinstance(error, FormTokenInvalid) else token
        return await form_error(request, session, TEMPLATE, error, {**ctx, "values": values, "token": kept})
    locale = visitor_locale(request)
    flash(
        request, f"Payout #{payout.id} of {format_money(payout.amount, payout.currency, locale)} requested."
    )
    return redirect(here)
