"""The buyer's orders: the list with status tabs, and an order's page with each store's part (lines, shipping,
tracking, timeline) and the next step with its deadline and buttons: pay (another card), cancel, confirm receipt,
extend the receipt time. Every button is a CSRF-checked form that calls the same service as the API."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from babel.dates import format_timedelta
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from souk.checkout.flows import PAY_FORM_PURPOSE, checkout_flow
from souk.deps import DbSession
from souk.errors import Conflict, Invalid, SoukError
from souk.kit.clock import utcnow
from souk.kit.idempotency import FORM_TOKEN_FIELD, issue_form_token
from souk.kit.schemas import IdPath
from souk.order.queries import BUYER_TABS
from souk.order.service import order_service
from souk.payment.schemas import CardIn
from souk.payment.simulated import CARD_DECLINED, CARD_SUCCEEDS
from souk.review.service import review_service
from souk.web.buyer.reviews import review_open
from souk.web.deps import UserPage
from souk.web.render import (
    checked_form,
    errors_of,
    flash,
    form_values,
    money,
    redirect,
    render,
    templates,
    url_with,
    visitor_locale,
)

router = APIRouter()

LIST_TEMPLATE = "buyer/orders.html"
DETAIL_TEMPLATE = "buyer/orders_detail.html"
TABS = [
    ("", "All"),
    ("to_pay", "To pay"),
    ("to_ship", "To ship"),
    ("shipped", "Shipped"),
    ("completed", "Completed"),
    ("cancelled", "Cancelled"),
]
STATUS_LABELS = {
    "pending_payment": "To pay",
    "paid": "To ship",
    "shipped": "Shipped",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
    "awaiting_deposit": "Deposit due",
    "in_production": "In production",
    "awaiting_balance": "Balance due",
}
# errors shown on the order page (in a flash); not-found and not-allowed become error pages
ACTION_ERRORS = (Conflict, Invalid)
_INT = re.compile(r"^\d{1,9}$")


def until(value: datetime | None) -> str:
    """A deadline as people say it: "in 6 days", "in 5 hours", "in 25 minutes"; "now" once it has passed.
    (Whole days up to two months, so "auto-confirms in 10 days" is not rounded to "in 1 week".)"""
    if value is None:
        return ""
    delta = value - utcnow()
    seconds = delta.total_seconds()
    if seconds <= 0:
        return "now"
    days = seconds / 86400
    if 2 <= days < 60:
        return f"in {round(days)} days"
    return str(format_timedelta(delta, threshold=1.5, add_direction=True, locale="en_US"))


templates.env.filters["until"] = until


def _tab_count(counts: dict[str, int], tab: str) -> int:
    if not tab:
        return 0
    return sum(counts.get(status, 0) for status in BUYER_TABS[tab])


@router.get("/orders", response_class=HTMLResponse)
async def orders_page(request: Request, actor: UserPage, session: DbSession) -> HTMLResponse:
    tab = request.query_params.get("tab", "")
    if tab not in BUYER_TABS:
        tab = ""
    cursor = request.query_params.get("cursor") or None
    result = await order_service.list_for_buyer(
        session, actor, statuses=BUYER_TABS[tab] if tab else None, cursor=cursor, limit=10
    )
    tabs = [
        {
            "key": key,
            "label": label,
            "count": _tab_count(result.counts, key),
            "url": url_with(request, tab=key or None, cursor=None),
        }
        for key, label in TABS
    ]
    return render(
        request,
        LIST_TEMPLATE,
        {
            "orders": result.page.items,
            "tabs": tabs,
            "tab": tab,
            "status_labels": STATUS_LABELS,
            "first_url": url_with(request, cursor=None) if cursor else None,
            "next_url": url_with(request, cursor=result.page.next_cursor)
            if result.page.next_cursor
            else None,
            "section": "orders",
        },
    )


async def _detail_context(request: Request, session: Any, actor: Any, order_id: int) -> dict[str, Any]:
    order = await order_service.get_for_buyer(session, actor, order_id)
    completed = [so.id for so in order.seller_orders if so.status == "completed"]
    ctx: dict[str, Any] = {
        "order": order,
        # lines already reviewed get no "Review" link
        "reviewed_lines": await review_service.reviewed_line_ids(session, completed) if completed else set(),
        "review_open": review_open,
        "now": utcnow(),
        "status_labels": STATUS_LABELS,
        "section": "orders",
        "test_cards": [(CARD_SUCCEEDS, "succeeds"), (CARD_DECLINED, "is declined")],
    }
    if "pay" in order.next_action.actions:
        ctx["pay_token"] = issue_form_token(request, actor, PAY_FORM_PURPOSE)
        ctx["form_token_field"] = FORM_TOKEN_FIELD
    return ctx


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(request: Request, order_id: IdPath, actor: UserPage, session: DbSession) -> HTMLResponse:
    return render(request, DETAIL_TEMPLATE, await _detail_context(request, session, actor, order_id))


def _card(values: dict[str, str]) -> CardIn:
    def number(key: str) -> int | str:
        text = values.get(key, "")
        return int(text) if _INT.match(text) else text

    return CardIn.model_validate(
        {
            "number": values.get("card_number", ""),
            "exp_month": number("card_exp_month"),
            "exp_year": number("card_exp_year"),
            "cvc": values.get("card_cvc", ""),
        }
    )


@router.post("/orders/{order_id}/pay")
async def pay_order(request: Request, order_id: IdPath, actor: UserPage, session: DbSession) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    try:
        outcome = await checkout_flow.pay_form(
            session, actor, request, values.get(FORM_TOKEN_FIELD), order_id, _card(values)
        )
    except (ValidationError, Invalid, Conflict) as error:
        await session.rollback()
        ctx = await _detail_context(request, session, actor, order_id)
        errors = {
            {"number": "card_number", "exp_month": "card_exp_month", "exp_year": "card_exp_year"}.get(k, k): v
            for k, v in errors_of(error).items()
        }
        status = error.status_code if isinstance(error, SoukError) else 422
        keep = {k: v for k, v in values.items() if k in ("card_exp_month", "card_exp_year")}
        return render(request, DETAIL_TEMPLATE, {**ctx, "errors": errors, "values": keep}, status=status)
    if outcome.repeated:
        flash(request, "This payment was submitted already.", "info")
    elif outcome.payment_status == "failed":
        flash(request, f"The payment failed: {outcome.failure_message or 'the card was declined'}", "error")
    else:
        flash(request, "Payment sent. The payment provider is confirming it.")
    return redirect(f"/orders/{order_id}")


async def _action(request: Request, order_id: int, work: Callable[[], Awaitable[str]]) -> Response:
    """Run one button's transition; its message (or the problem) is flashed on the order page."""
    await checked_form(request)
    try:
        message = await work()
    except ACTION_ERRORS as error:
        flash(request, errors_of(error)["_"], "error")
        return redirect(f"/orders/{order_id}")
    flash(request, message)
    return redirect(f"/orders/{order_id}")


def _amount(view: Any, locale: str) -> str:
    return money(view.total_amount, view.currency, locale)


@router.post("/orders/{order_id}/cancel")
async def cancel_order(request: Request, order_id: IdPath, actor: UserPage, session: DbSession) -> Response:
    async def work() -> str:
        view = await order_service.cancel_unpaid(session, actor, order_id)
        return f"Order {view.number} cancelled; the items went back on sale"

    return await _action(request, order_id, work)


@router.post("/orders/{order_id}/seller-orders/{seller_order_id}/cancel")
async def cancel_seller_order(
    request: Request, order_id: IdPath, seller_order_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    async def work() -> str:
        view = await order_service.cancel(session, actor, order_id, seller_order_id)
        return f"Order {view.number} cancelled; {_amount(view, visitor_locale(request))} is refunded to your card"

    return await _action(request, order_id, work)


@router.post("/orders/{order_id}/seller-orders/{seller_order_id}/confirm-receipt")
async def confirm_receipt(
    request: Request, order_id: IdPath, seller_order_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    async def work() -> str:
        view = await order_service.confirm_receipt(session, actor, order_id, seller_order_id)
        return f"Receipt of order {view.number} confirmed; the seller gets paid"

    return await _action(request, order_id, work)


@router.post("/orders/{order_id}/seller-orders/{seller_order_id}/extend-receipt")
async def extend_receipt(
    request: Request, order_id: IdPath, seller_order_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    async def work() -> str:
        view = await order_service.extend_receipt(session, actor, order_id, seller_order_id)
        return f"Receipt time of order {view.number} extended: it now auto-confirms on {view.auto_confirm_at:%Y-%m-%d}"

    return await _action(request, order_id, work)


@router.post("/orders/{order_id}/seller-orders/{seller_order_id}/messages")
async def message_seller(
    request: Request, order_id: IdPath, seller_order_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    """Open (or reopen) the conversation with the store about this order."""
    await checked_form(request)
    conversation = await order_service.buyer_conversation(session, actor, order_id, seller_order_id)
    return redirect(f"/messages/{conversation.id}")
