"""Sourcing pages of a contract's order: the buyer pays a due milestone (deposit, balance) on its own page with a
card (a one-time form token: a double submit pays once); the supplier marks production finished and ships with
the shipping documents (carrier, tracking number, an optional PDF or image). The order pages themselves
(souk.web.buyer.orders, souk.web.seller.orders) show the milestones and link here. Same services as the API."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.deps import DbSession, Storage
from souk.errors import Conflict, Invalid, SoukError
from souk.kit.idempotency import FORM_TOKEN_FIELD, issue_form_token
from souk.kit.schemas import IdPath
from souk.order.errors import MilestoneNotFound
from souk.order.schemas import MilestoneRead, ShipCreate
from souk.payment.schemas import CardIn
from souk.payment.simulated import CARD_DECLINED, CARD_SUCCEEDS
from souk.trade.sourcing.contract.orders import PAY_FORM_PURPOSE, contract_orders
from souk.web.deps import UserPage
from souk.web.render import checked_form, errors_of, flash, form_files, form_values, redirect, render

router = APIRouter()

PAY_TEMPLATE = "sourcing/contract_order_pay.html"
_INT = re.compile(r"^\d{1,9}$")
CARD_FIELDS = {
    "number": "card_number",
    "exp_month": "card_exp_month",
    "exp_year": "card_exp_year",
    "cvc": "card_cvc",
}


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


async def _pay_context(
    request: Request, session: AsyncSession, actor: Actor, order_id: int, milestone_id: int
) -> dict[str, Any]:
    found = [
        m for m in await contract_orders.list_milestones(session, actor, order_id) if m.id == milestone_id
    ]
    if not found:
        raise MilestoneNotFound()
    milestone: MilestoneRead = found[0]
    return {
        "order_id": order_id,
        "milestone": milestone,
        "pay_token": issue_form_token(request, actor, PAY_FORM_PURPOSE),
        "form_token_field": FORM_TOKEN_FIELD,
        "test_cards": [(CARD_SUCCEEDS, "succeeds"), (CARD_DECLINED, "is declined")],
        "section": "orders",
    }


@router.get("/orders/{order_id}/milestones/{milestone_id}/pay", response_class=HTMLResponse)
async def pay_page(
    request: Request, order_id: IdPath, milestone_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    return render(request, PAY_TEMPLATE, await _pay_context(request, session, actor, order_id, milestone_id))


@router.post("/orders/{order_id}/milestones/{milestone_id}/pay")
async def pay(
    request: Request, order_id: IdPath, milestone_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    try:
        first, view = await contract_orders.pay_form(
            session, actor, request, values.get(FORM_TOKEN_FIELD), order_id, milestone_id, _card(values)
        )
    except (ValidationError, Invalid, Conflict) as error:
        await session.rollback()
        ctx = await _pay_context(request, session, actor, order_id, milestone_id)
        errors = {CARD_FIELDS.get(k.removeprefix("card."), k): v for k, v in errors_of(error).items()}
        status = error.status_code if isinstance(error, SoukError) else 422
        keep = {k: v for k, v in values.items() if k in ("card_exp_month", "card_exp_year")}
        return render(request, PAY_TEMPLATE, {**ctx, "errors": errors, "values": keep}, status=status)
    if not first:
        flash(request, "This payment was submitted already.", "info")
    else:
        paid = next((m for m in view.milestones if m.id == milestone_id), None) if view else None
        if paid is not None and paid.payment_status == "failed":
            flash(request, "The payment failed: the card was declined. Try another card.", "error")
        else:
            flash(request, "Payment sent. The payment provider is confirming it.")
    return redirect(f"/orders/{order_id}")


@router.post("/seller/stores/{store_id}/orders/{seller_order_id}/production-finished")
async def production_finished(
    request: Request, store_id: IdPath, seller_order_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    await checked_form(request)
    try:
        view = await contract_orders.production_finished(session, actor, store_id, seller_order_id)
    except (Invalid, Conflict) as error:
        flash(request, errors_of(error)["_"], "error")
    else:
        flash(request, f"Order {view.number}: production finished; the buyer was asked to pay the balance")
    return redirect(f"/seller/stores/{store_id}/orders/{seller_order_id}")


@router.post("/seller/stores/{store_id}/orders/{seller_order_id}/contract-shipment")
async def ship_with_documents(
    request: Request,
    store_id: IdPath,
    seller_order_id: IdPath,
    actor: UserPage,
    session: DbSession,
    storage: Storage,
) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    try:
        payload = ShipCreate.model_validate(
            {"carrier": values.get("carrier", ""), "tracking_number": values.get("tracking_number", "")}
        )
        documents = []
        for upload in form_files(form, "document")[:3]:
            stored = storage.save_document(
                await upload.read(),
                upload.filename or "document",
                subdir="shipping-documents",
                field="document",
            )
            documents.append(
                {
                    "filename": stored.filename,
                    "path": stored.path,
                    "content_type": stored.content_type,
                    "size_bytes": stored.size_bytes,
                }
            )
        view = await contract_orders.ship(session, actor, store_id, seller_order_id, payload, documents)
    except (ValidationError, Invalid, Conflict) as error:
        await session.rollback()
        problems = "; ".join(
            f"{k.replace('_', ' ')}: {v}" if k != "_" else v for k, v in errors_of(error).items()
        )
        flash(request, f"Not shipped: {problems}", "error")
        return redirect(f"/seller/stores/{store_id}/orders/{seller_order_id}")
    flash(request, f"Order {view.number} shipped with its documents; the buyer was asked to pay the balance")
    return redirect(f"/seller/stores/{store_id}/orders/{seller_order_id}")
