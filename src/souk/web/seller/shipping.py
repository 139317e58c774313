"""Seller centre: a store's shipping methods. Prices are typed as decimals ("4.90") and converted to minor
units of the store's currency before validation; the same service as the JSON API does the rest."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.catalog.schemas import MAX_PRICE_AMOUNT
from souk.deps import DbSession
from souk.errors import Conflict, Invalid
from souk.kit.money import from_minor, parse_amount
from souk.kit.schemas import IdPath
from souk.models import ShippingMethod
from souk.shipping.schemas import KIND_LABELS, ShippingMethodCreate, ShippingMethodUpdate
from souk.shipping.service import shipping_service
from souk.web.deps import UserPage
from souk.web.render import checked_form, flash, form_error, form_values, redirect, render
from souk.web.seller.catalog import store_info

router = APIRouter()

LIST_TEMPLATE = "seller/shipping.html"
EDIT_TEMPLATE = "seller/shipping_form.html"
FORM_ERRORS = (ValidationError, Invalid, Conflict)
KINDS = [("surface", "Surface mail (slower, cheaper)"), ("express", "Express")]
_INT = re.compile(r"^\d{1,6}$")
HINT = "enter an amount like {example}"


def _row(method: ShippingMethod) -> dict[str, Any]:
    """A method as plain data (it survives the rollback of a failed form)."""
    return {
        "id": method.id,
        "name": method.name,
        "kind": method.kind,
        "kind_label": KIND_LABELS.get(method.kind, method.kind),
        "price_amount": method.price_amount,
        "free_over_amount": method.free_over_amount,
        "currency": method.currency,
        "active": method.active,
        "position": method.position,
    }


def parse_method_form(values: dict[str, str], currency: str) -> dict[str, Any]:
    """The typed text to a payload for ShippingMethodCreate/Update; decimals that do not parse raise 422."""
    errors: dict[str, str] = {}
    payload: dict[str, Any] = {
        "name": values.get("name", ""),
        "kind": values.get("kind", ""),
        "active": values.get("active") == "on",
    }
    for key, required in (("price_amount", True), ("free_over_amount", False)):
        text = values.get(key, "").strip()
        if not text:
            if required:
                errors[key] = f"enter a price like {from_minor(490, currency)}, or 0 for free shipping"
            else:
                payload[key] = None
            continue
        try:
            # zero and "more than zero" are the schema's rules (0 = free shipping)
            payload[key] = parse_amount(
                text, currency, key, minimum=0, maximum=MAX_PRICE_AMOUNT, hint=HINT, example=490
            )
        except Invalid as error:
            errors.update(error.fields)
    position = values.get("position", "")
    if position:
        if _INT.match(position):
            payload["position"] = int(position)
        else:
            errors["position"] = "must be a whole number"
    if errors:
        raise Invalid("Please correct the fields marked below.", fields=errors)
    return payload


async def _list_context(session: AsyncSession, actor: Actor, store_id: int) -> dict[str, Any]:
    view = await shipping_service.seller_view(session, actor, store_id)
    return {
        "store": store_info(view.store),
        "section": "shipping",
        "methods": [_row(m) for m in view.methods],
        "can_manage": view.can_manage,
        "kinds": KINDS,
    }


@router.get("/seller/stores/{store_id}/shipping", response_class=HTMLResponse, name="seller:shipping")
async def shipping_page(
    request: Request, store_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    ctx = await _list_context(session, actor, store_id)
    return render(request, LIST_TEMPLATE, {**ctx, "values": {"active": "on", "kind": "surface"}})


@router.post("/seller/stores/{store_id}/shipping")
async def add_method(request: Request, store_id: IdPath, actor: UserPage, session: DbSession) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    ctx = await _list_context(session, actor, store_id)
    try:
        payload = parse_method_form(values, ctx["store"]["currency"])
        method = await shipping_service.create(
            session, actor, store_id, ShippingMethodCreate.model_validate(payload)
        )
    except FORM_ERRORS as error:
        return await form_error(request, session, LIST_TEMPLATE, error, {**ctx, "values": values})
    flash(request, f"Shipping method “{method.name}” added")
    return redirect(f"/seller/stores/{store_id}/shipping")


async def _edit_context(session: AsyncSession, actor: Actor, store_id: int, method_id: int) -> dict[str, Any]:
    store, method = await shipping_service.get_for_seller(session, actor, store_id, method_id, "store:manage")
    return {"store": store_info(store), "section": "shipping", "method": _row(method), "kinds": KINDS}


def _method_values(method: dict[str, Any]) -> dict[str, str]:
    currency = method["currency"]
    return {
        "name": method["name"],
        "kind": method["kind"],
        "price_amount": from_minor(method["price_amount"], currency),
        "free_over_amount": (
            from_minor(method["free_over_amount"], currency) if method["free_over_amount"] is not None else ""
        ),
        "active": "on" if method["active"] else "",
        "position": str(method["position"]),
    }


@router.get("/seller/stores/{store_id}/shipping/{method_id}/edit", response_class=HTMLResponse)
async def edit_method_page(
    request: Request, store_id: IdPath, method_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    ctx = await _edit_context(session, actor, store_id, method_id)
    return render(request, EDIT_TEMPLATE, {**ctx, "values": _method_values(ctx["method"])})


@router.post("/seller/stores/{store_id}/shipping/{method_id}/edit")
async def save_method(
    request: Request, store_id: IdPath, method_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    ctx = await _edit_context(session, actor, store_id, method_id)
    try:
        payload = parse_method_form(values, ctx["store"]["currency"])
        method = await shipping_service.update(
            session, actor, store_id, method_id, ShippingMethodUpdate.model_validate(payload)
        )
    except FORM_ERRORS as error:
        return await form_error(request, session, EDIT_TEMPLATE, error, {**ctx, "values": values})
    flash(request, f"Shipping method “{method.name}” saved")
    return redirect(f"/seller/stores/{store_id}/shipping")


@router.post("/seller/stores/{store_id}/shipping/{method_id}/delete")
async def delete_method(
    request: Request, store_id: IdPath, method_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    await checked_form(request)
    method = await shipping_service.delete(session, actor, store_id, method_id)
    flash(request, f"Shipping method “{method.name}” deleted")
    return redirect(f"/seller/stores/{store_id}/shipping")
