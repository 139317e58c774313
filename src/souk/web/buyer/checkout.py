"""The checkout page: one currency group of the cart, an address (from the book or a new one), a shipping method
per store, the totals, a card, and "Place order and pay". It calls the same flow as ``POST /api/v1/checkouts``;
the form carries a one-time token, so a double click or a reload after submitting shows the same order.

Without JavaScript the shipping choices and the address change the totals through "Update totals" (the same
form, another button), which places nothing.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.address.schemas import AddressRead
from souk.auth.actor import Actor
from souk.checkout.errors import NothingToCheckOut
from souk.checkout.flows import FORM_PURPOSE, checkout_flow
from souk.checkout.schemas import CheckoutCreate, CheckoutPreview
from souk.checkout.service import checkout_service
from souk.deps import DbSession
from souk.errors import SoukError
from souk.kit.countries import countries
from souk.kit.idempotency import FORM_TOKEN_FIELD, issue_form_token
from souk.kit.money import is_currency
from souk.payment.simulated import CARD_DECLINED, CARD_INSUFFICIENT_FUNDS, CARD_SUCCEEDS
from souk.shipping.service import kind_label
from souk.web.deps import UserPage
from souk.web.render import checked_form, errors_of, flash, form_values, redirect, render

router = APIRouter()

TEMPLATE = "buyer/checkout.html"
ADDRESS_FIELDS = ("full_name", "phone", "line1", "line2", "city", "region", "postal_code", "country")
TEST_CARDS = [
    (CARD_SUCCEEDS, "succeeds"),
    (CARD_DECLINED, "is declined"),
    (CARD_INSUFFICIENT_FUNDS, "is declined for insufficient funds"),
]
# where the schema's error names a field, the form's field of that name shows it
FIELD_NAMES = {
    "card.number": "card_number",
    "card.exp_month": "card_exp_month",
    "card.exp_year": "card_exp_year",
    "card.cvc": "card_cvc",
    "card": "card_number",
}
_INT = re.compile(r"^\d{1,9}$")
_SHIPPING = re.compile(r"^shipping\.(\d{1,9})$")


def _int(text: str | None) -> int | str | None:
    if text is None or text == "":
        return None
    return int(text) if _INT.match(text) else text


def _choices(values: dict[str, str]) -> dict[int, int]:
    """{store_id: method_id} from the form's ``shipping.<store_id>`` fields."""
    found = {}
    for key, value in values.items():
        match = _SHIPPING.match(key)
        if match and _INT.match(value):
            found[int(match.group(1))] = int(value)
    return found


def _preview_context(preview: CheckoutPreview) -> dict[str, Any]:
    """The preview as plain data (it survives the rollback of a failed attempt)."""
    stores = []
    for quote in preview.stores:
        group = quote.group
        stores.append(
            {
                "id": group.store_id,
                "name": group.store_name,
                "url": group.store_url,
                "lines": [line for line in group.lines if line.purchasable],
                "left_out": [line for line in group.lines if not line.purchasable],
                "methods": [
                    {
                        "id": m.method.id,
                        "name": m.method.name,
                        "kind": kind_label(m.method.kind),
                        "price_amount": m.price_amount,
                        "list_price_amount": m.method.price_amount,
                        "free_over_amount": m.method.free_over_amount,
                    }
                    for m in quote.methods
                ],
                "selected": quote.selected.method.id if quote.selected else None,
                "items_amount": quote.items_amount,
                "shipping_amount": quote.shipping_amount,
                "total_amount": quote.total_amount,
                "problem": preview.problems.get(group.store_id),
            }
        )
    left_out_stores = [s for s in preview.group.stores if not any(line.purchasable for line in s.lines)]
    return {
        "currency": preview.currency,
        "stores": stores,
        "left_out_stores": left_out_stores,
        "addresses": [AddressRead.model_validate(a) for a in preview.addresses],
        "items_amount": preview.items_amount,
        "shipping_amount": preview.shipping_amount,
        "total_amount": preview.total_amount,
        "ready": preview.ready,
    }


async def _context(
    session: AsyncSession, request: Request, actor: Actor, currency: str, values: dict[str, str]
) -> dict[str, Any]:
    preview = await checkout_service.preview(session, actor, currency, shipping=_choices(values))
    ctx = _preview_context(preview)
    defaults: dict[str, str] = {}
    if ctx["addresses"]:
        defaults["address_id"] = str(ctx["addresses"][0].id)
    else:
        defaults["address_id"] = "new"
    for store in ctx["stores"]:
        if store["selected"] is not None:
            defaults[f"shipping.{store['id']}"] = str(store["selected"])
    shown = {**defaults, **{k: v for k, v in values.items() if k not in ("card_number", "card_cvc")}}
    for store in ctx["stores"]:  # the method actually priced (a stale choice falls back to the first)
        if store["selected"] is not None:
            shown[f"shipping.{store['id']}"] = str(store["selected"])
    shown["expected_total_amount"] = str(ctx["total_amount"])
    return {
        **ctx,
        "values": shown,
        "countries": list(countries().items()),
        "test_cards": TEST_CARDS,
        "form_token": issue_form_token(request, actor, FORM_PURPOSE),
        "form_token_field": FORM_TOKEN_FIELD,
        "section": "orders",
    }


def _currency(request: Request, values: dict[str, str] | None = None) -> str:
    raw = (values or {}).get("currency") or request.query_params.get("currency") or ""
    code = raw.strip().upper()
    return code if is_currency(code) else ""


def _payload(values: dict[str, str], currency: str) -> CheckoutCreate:
    data: dict[str, Any] = {
        "currency": currency,
        "shipping": [
            {"store_id": store_id, "shipping_method_id": method_id}
            for store_id, method_id in sorted(_choices(values).items())
        ],
        "card": {
            "number": values.get("card_number", ""),
            "exp_month": _int(values.get("card_exp_month")),
            "exp_year": _int(values.get("card_exp_year")),
            "cvc": values.get("card_cvc", ""),
        },
    }
    expected = _int(values.get("expected_total_amount"))
    if isinstance(expected, int):
        data["expected_total_amount"] = expected
    if values.get("address_id", "new") == "new":
        data["address"] = {key: values.get(key, "") for key in ADDRESS_FIELDS}
    else:
        data["address_id"] = _int(values.get("address_id"))
    return CheckoutCreate.model_validate(data)


def _form_errors(error: Exception) -> dict[str, str]:
    found = errors_of(error)
    shown: dict[str, str] = {}
    for key, message in found.items():
        name = FIELD_NAMES.get(key, key)
        if name.startswith("address.") and name != "address_id":
            name = name.removeprefix("address.")
        shown.setdefault(name, message)
    return shown


@router.get("/checkout", response_class=HTMLResponse)
async def checkout_page(request: Request, actor: UserPage, session: DbSession) -> Response:
    currency = _currency(request)
    if not currency:
        flash(request, "Choose which currency of your cart to check out.", "info")
        return redirect("/cart")
    values = {k: v for k, v in request.query_params.items() if _SHIPPING.match(k) or k == "address_id"}
    try:
        ctx = await _context(session, request, actor, currency, values)
    except NothingToCheckOut as error:
        flash(request, error.message, "error")
        return redirect("/cart")
    return render(request, TEMPLATE, ctx)


@router.post("/checkout")
async def place_order(request: Request, actor: UserPage, session: DbSession) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    currency = _currency(request, values)
    if not currency:
        return redirect("/cart")
    if values.get("action") == "update":
        try:
            ctx = await _context(session, request, actor, currency, values)
        except NothingToCheckOut as error:
            flash(request, error.message, "error")
            return redirect("/cart")
        return render(request, TEMPLATE, ctx)
    try:
        outcome = await checkout_flow.checkout_form(
            session, actor, request, values.get(FORM_TOKEN_FIELD), _payload(values, currency)
        )
    except (ValidationError, SoukError) as error:
        await session.rollback()
        try:
            ctx = await _context(session, request, actor, currency, values)
        except NothingToCheckOut as empty:
            flash(request, errors_of(error)["_"] if isinstance(error, SoukError) else empty.message, "error")
            return redirect("/cart")
        status = error.status_code if isinstance(error, SoukError) else 422
        return render(request, TEMPLATE, {**ctx, "errors": _form_errors(error)}, status=status)
    if outcome.repeated:
        flash(request, "This order was placed already; here it is.", "info")
        return redirect(outcome.url or "/orders")
    if outcome.payment_status == "failed":
        flash(
            request,
            f"Order placed, but the payment failed: {outcome.failure_message or 'the card was declined'} "
            "Pay with another card below.",
            "error",
        )
    elif outcome.payment_status == "succeeded":
        flash(request, "Order placed and paid")
    else:
        flash(request, "Order placed. The payment provider is confirming your payment.")
    return redirect(f"/orders/{outcome.order_id}")
