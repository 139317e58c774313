"""Sourcing pages: contracts. The buyer's (``/contracts``: the contracts of all their organisations) and a
supplier store's (``/seller/stores/{id}/contracts``); a contract's page shows its terms as a document, both
confirmations, the version history and the order it became, with the forms to edit a draft, confirm it and
propose an amendment. Every form is CSRF-checked and calls the same service as the API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.address.service import address_service
from souk.auth.actor import Actor
from souk.authz import get_store_for
from souk.deps import DbSession
from souk.errors import Conflict, Forbidden, Invalid, SoukError
from souk.kit.money import bps_percent, format_money, from_minor, parse_amount
from souk.kit.schemas import IdPath
from souk.models import Contract, SellerOrder, User
from souk.trade.sourcing.contract.errors import ContractNotFound
from souk.trade.sourcing.contract.schemas import (
    AmendmentCreate,
    ContractConfirm,
    ContractRead,
    ContractSummary,
    ContractUpdate,
)
from souk.trade.sourcing.contract.service import AMENDABLE_ORDER, BUYER, SUPPLIER, contract_service
from souk.web.deps import UserPage
from souk.web.render import (
    DEFAULT_LOCALE,
    checked_form,
    errors_of,
    flash,
    form_values,
    redirect,
    render,
    visitor_locale,
)
from souk.web.seller.catalog import store_info

router = APIRouter()

BUYER_TEMPLATE = "sourcing/contract_buyer.html"
SELLER_TEMPLATE = "sourcing/contract_seller.html"
STATUS_LABELS = {
    "draft": "Draft",
    "confirmed": "Confirmed",
    "superseded": "Superseded",
    "cancelled": "Cancelled",
}
FIELD_LABELS = {
    "product_specification": "Specification",
    "quantity": "Quantity",
    "unit_price_amount": "Unit price",
    "goods_amount": "Goods",
    "shipping_amount": "Shipping",
    "total_amount": "Total",
    "ship_by": "Ship by",
    "quality_terms": "Quality terms",
    "deposit_amount": "Deposit",
    "balance_amount": "Balance",
    "shipping_address": "Shipping address",
}
MONEY_FIELDS = {
    "unit_price_amount",
    "goods_amount",
    "shipping_amount",
    "total_amount",
    "deposit_amount",
    "balance_amount",
}
FORM_ERRORS = (ValidationError, Invalid, Conflict, Forbidden)


def _money(amount: int, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    return format_money(amount, currency, locale)


def payment_plan(c: ContractRead, locale: str = DEFAULT_LOCALE) -> str:
    """ "30 % deposit US$x now, 70 % balance US$y before shipment", in the visitor's locale (like the page's
    other amounts)."""
    when = "before shipment" if c.balance_due == "before_shipment" else "on receipt of shipping documents"
    if c.deposit_bps == 0:
        return f"Full payment {_money(c.total_amount, c.currency, locale)} {when}"
    if c.deposit_bps == 10000:
        return f"Full payment {_money(c.total_amount, c.currency, locale)} now"
    return (
        f"{bps_percent(c.deposit_bps)} % deposit {_money(c.deposit_amount, c.currency, locale)} now, "
        f"{bps_percent(10000 - c.deposit_bps)} % balance {_money(c.balance_amount, c.currency, locale)} {when}"
    )


def next_step(c: ContractSummary | ContractRead, side: str) -> str:
    if c.status == "draft":
        mine = c.buyer_confirmed_at if side == BUYER else c.supplier_confirmed_at
        other = c.supplier_confirmed_at if side == BUYER else c.buyer_confirmed_at
        what = "the amendment" if c.version > 1 else "the terms"
        has_address = c.has_address if isinstance(c, ContractSummary) else bool(c.shipping_address)
        if side == BUYER and not has_address and mine is None:
            return f"Pick a shipping address, then confirm {what}"
        if mine is None:
            return f"Confirm {what}"
        if other is None:
            return (
                "Waiting for the supplier to confirm" if side == BUYER else "Waiting for the buyer to confirm"
            )
    if c.status == "confirmed":
        return "In force: see the order" if c.seller_order_id else "In force"
    if c.status == "superseded":
        return "Replaced by a newer version"
    return STATUS_LABELS.get(c.status, c.status)


def _shown(name: str, value: Any, currency: str) -> str:
    if value is None:
        return ""
    if name in MONEY_FIELDS:
        return _money(int(value), currency)
    if name == "shipping_address":
        return ", ".join(str(v) for v in (value or {}).values() if v) or "none"
    return str(value)


async def _name(session: AsyncSession, user_id: int | None) -> str:
    if user_id is None:
        return ""
    user = await session.get(User, user_id)
    return user.display_name if user else ""


async def _detail_context(
    session: AsyncSession, actor: Actor, contract_id: int, side: str, store_id: int | None = None
) -> dict[str, Any]:
    c = await contract_service.get(session, actor, contract_id, side)  # type: ignore[arg-type]
    if store_id is not None and c.store_id != store_id:
        raise ContractNotFound()
    versions = await contract_service.versions(session, actor, contract_id, side)  # type: ignore[arg-type]
    holder: ContractRead | None = c
    if not c.seller_order_id:
        # an older version or an amendment being confirmed: the order is the contract in force's
        row = await session.get(Contract, c.id)
        holder = await contract_service.order_link_contract(session, row) if row else None
    order_url = None
    if holder is not None and holder.seller_order_id:
        order_url = (
            f"/orders/{holder.order_id}"
            if side == BUYER
            else f"/seller/stores/{holder.store_id}/orders/{holder.seller_order_id}"
        )
    base = f"/contracts/{c.id}" if side == BUYER else f"/seller/stores/{c.store_id}/contracts/{c.id}"
    newest = versions[-1]
    in_force = next((v for v in versions if v.status == "confirmed"), None)
    can_amend = False
    if c.status == "confirmed" and newest.id == c.id:
        so_status = None
        if c.seller_order_id:
            so = await session.get(SellerOrder, c.seller_order_id)
            so_status = so.status if so else None
        can_amend = so_status is None or so_status in AMENDABLE_ORDER
    history = [
        {
            "id": v.id,
            "version": v.version,
            "status": v.status,
            "created_at": v.created_at,
            "confirmed_at": v.confirmed_at,
            "changes": [
                {
                    "label": FIELD_LABELS.get(ch.field, ch.field),
                    "before": _shown(ch.field, ch.before, c.currency),
                    "after": _shown(ch.field, ch.after, c.currency),
                }
                for ch in v.changes
            ],
        }
        for v in versions
    ]
    ctx: dict[str, Any] = {
        "c": c,
        "side": side,
        "base": base,
        "status_labels": STATUS_LABELS,
        "plan": payment_plan(c),
        "next_step": next_step(c, side),
        "buyer_confirmer": await _name(session, c.buyer_confirmed_by_id),
        "supplier_confirmer": await _name(session, c.supplier_confirmed_by_id),
        "history": history,
        "newest_id": newest.id,
        "in_force_id": in_force.id if in_force else None,
        "order_url": order_url,
        "can_amend": can_amend,
        "addresses": [],
        "unit_price": from_minor(c.unit_price_amount, c.currency),
        "form": "",
    }
    if side == BUYER:
        ctx["addresses"] = [
            (a.id, ", ".join(x for x in (a.full_name, a.line1, a.city, a.postal_code, a.country) if x))
            for a in await address_service.list_mine(session, actor)
        ]
        ctx["section"] = "contracts"
    else:
        store = await get_store_for(session, actor, c.store_id, "store:read")
        ctx["store"] = store_info(store)
        ctx["section"] = "contracts"
    return ctx


def _edit_defaults(ctx: dict[str, Any]) -> dict[str, str]:
    c: ContractRead = ctx["c"]
    return {
        "ship_by": c.ship_by.isoformat(),
        "quality_terms": c.quality_terms,
        "product_specification": c.product_specification,
        "quantity": str(c.quantity),
        "unit_price": ctx["unit_price"],
    }


def _page(request: Request, template: str, ctx: dict[str, Any]) -> HTMLResponse:
    plan = payment_plan(ctx["c"], visitor_locale(request))
    return render(request, template, {**ctx, "plan": plan, "values": _edit_defaults(ctx), "errors": {}})


# --- lists ----------------------------------------------------------------------------------------------


@router.get("/contracts", response_class=HTMLResponse)
async def buyer_contracts(request: Request, actor: UserPage, session: DbSession) -> HTMLResponse:
    rows = await contract_service.list_for_buyer(session, actor)
    return render(
        request,
        "sourcing/contract_list.html",
        {
            "contracts": [{"c": r, "next": next_step(r, BUYER)} for r in rows],
            "status_labels": STATUS_LABELS,
            "section": "contracts",
        },
    )


@router.get("/seller/stores/{store_id}/contracts", response_class=HTMLResponse)
async def store_contracts(
    request: Request, store_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    rows = await contract_service.list_for_store(session, actor, store_id)
    store = await get_store_for(session, actor, store_id, "store:read")
    return render(
        request,
        "sourcing/contract_store_list.html",
        {
            "store": store_info(store),
            "section": "contracts",
            "contracts": [{"c": r, "next": next_step(r, SUPPLIER)} for r in rows],
            "status_labels": STATUS_LABELS,
        },
    )


# --- a contract -----------------------------------------------------------------------------------------


@router.get("/contracts/{contract_id}", response_class=HTMLResponse)
async def buyer_contract(
    request: Request, contract_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    return _page(request, BUYER_TEMPLATE, await _detail_context(session, actor, contract_id, BUYER))


@router.get("/seller/stores/{store_id}/contracts/{contract_id}", response_class=HTMLResponse)
async def seller_contract(
    request: Request, store_id: IdPath, contract_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    ctx = await _detail_context(session, actor, contract_id, SUPPLIER, store_id)
    return _page(request, SELLER_TEMPLATE, ctx)


async def _act(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    contract_id: int,
    side: str,
    store_id: int | None,
    action: str,
) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    template = BUYER_TEMPLATE if side == BUYER else SELLER_TEMPLATE
    # the contract must be on this page's side (and store): else 404 before anything changes
    ctx = await _detail_context(session, actor, contract_id, side, store_id)
    c: ContractRead = ctx["c"]
    try:
        if action == "edit":
            data: dict[str, Any] = {
                "based_on_updated_at": values.get("based_on_updated_at", ""),
                "quality_terms": values.get("quality_terms", ""),
                "product_specification": values.get("product_specification", ""),
                "side": side,
            }
            if values.get("ship_by", "").strip():
                data["ship_by"] = values["ship_by"].strip()
            if side == BUYER and values.get("shipping_address_id", "").strip():
                raw = values["shipping_address_id"].strip()
                data["shipping_address_id"] = int(raw) if raw.isdigit() else raw
            contract = await contract_service.update(
                session, actor, contract_id, ContractUpdate.model_validate(data)
            )
            message = "Contract changed. Both sides confirm the new terms."
            target = contract.id
        elif action == "confirm":
            payload = ContractConfirm.model_validate(
                {"based_on_updated_at": values.get("based_on_updated_at") or None, "side": side}
            )
            contract = await contract_service.confirm(session, actor, contract_id, payload)
            message = (
                "Contract confirmed by both sides: the order is placed."
                if contract.status == "confirmed"
                else "You confirmed the contract. The other side is told."
            )
            target = contract.id
        else:
            amend: dict[str, Any] = {
                "quality_terms": values.get("quality_terms", ""),
                "product_specification": values.get("product_specification", ""),
                "side": side,
            }
            if values.get("ship_by", "").strip():
                amend["ship_by"] = values["ship_by"].strip()
            quantity = values.get("quantity", "").strip()
            if quantity:
                amend["quantity"] = int(quantity) if quantity.isdigit() else quantity
            price = values.get("unit_price", "").strip()
            if price:
                amend["unit_price_amount"] = parse_amount(price, c.currency, "unit_price_amount")
            contract = await contract_service.amend(
                session, actor, contract_id, AmendmentCreate.model_validate(amend)
            )
            message = f"Amendment proposed (version {contract.version}). The other side is told."
            target = contract.id
    except FORM_ERRORS as error:
        await session.rollback()
        ctx = await _detail_context(session, actor, contract_id, side, store_id)
        status = error.status_code if isinstance(error, SoukError) else 422
        kept = {**_edit_defaults(ctx), **values}
        return render(
            request,
            template,
            {
                **ctx,
                "plan": payment_plan(ctx["c"], visitor_locale(request)),
                "errors": errors_of(error),
                "values": kept,
                "form": action,
            },
            status=status,
        )
    flash(request, message)
    if side == BUYER:
        return redirect(f"/contracts/{target}")
    return redirect(f"/seller/stores/{c.store_id}/contracts/{target}")


@router.post("/contracts/{contract_id}/edit")
async def buyer_edit(request: Request, contract_id: IdPath, actor: UserPage, session: DbSession) -> Response:
    return await _act(request, session, actor, contract_id, BUYER, None, "edit")


@router.post("/contracts/{contract_id}/confirm")
async def buyer_confirm(
    request: Request, contract_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    return await _act(request, session, actor, contract_id, BUYER, None, "confirm")


@router.post("/contracts/{contract_id}/amendments")
async def buyer_amend(request: Request, contract_id: IdPath, actor: UserPage, session: DbSession) -> Response:
    return await _act(request, session, actor, contract_id, BUYER, None, "amend")


@router.post("/seller/stores/{store_id}/contracts/{contract_id}/edit")
async def seller_edit(
    request: Request, store_id: IdPath, contract_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    return await _act(request, session, actor, contract_id, SUPPLIER, store_id, "edit")


@router.post("/seller/stores/{store_id}/contracts/{contract_id}/confirm")
async def seller_confirm(
    request: Request, store_id: IdPath, contract_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    return await _act(request, session, actor, contract_id, SUPPLIER, store_id, "confirm")


@router.post("/seller/stores/{store_id}/contracts/{contract_id}/amendments")
async def seller_amend(
    request: Request, store_id: IdPath, contract_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    return await _act(request, session, actor, contract_id, SUPPLIER, store_id, "amend")
