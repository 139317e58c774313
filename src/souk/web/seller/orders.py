"""Seller centre: a store's orders. Those to ship come first with their ship-by deadlines, the buyer's address
and a ship form (carrier and tracking number); an order's page shows its lines, address, shipment and timeline.
They call the same service as the JSON API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import get_store_for
from souk.deps import DbSession
from souk.errors import Conflict, Invalid, SoukError
from souk.kit.schemas import IdPath
from souk.order.schemas import ShipCreate
from souk.order.service import order_service
from souk.web.buyer.orders import until  # noqa: F401  (registers the deadline filter the pages use)
from souk.web.deps import UserPage
from souk.web.render import checked_form, errors_of, flash, form_values, redirect, render, url_with
from souk.web.seller.catalog import store_info

router = APIRouter()

LIST_TEMPLATE = "seller/orders.html"
DETAIL_TEMPLATE = "seller/orders_detail.html"
TABS = [
    ("", "All"),
    ("paid", "To ship"),
    ("pending_payment", "Awaiting payment"),
    ("awaiting_deposit", "Awaiting deposit"),
    ("in_production", "In production"),
    ("awaiting_balance", "Awaiting balance"),
    ("shipped", "Shipped"),
    ("completed", "Completed"),
    ("cancelled", "Cancelled"),
]
STATUS_LABELS = {
    "pending_payment": "Awaiting payment",
    "paid": "To ship",
    "shipped": "Shipped",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
    "awaiting_deposit": "Awaiting deposit",
    "in_production": "In production",
    "awaiting_balance": "Awaiting balance",
}
FORM_ERRORS = (ValidationError, Invalid, Conflict)


async def _list_context(
    session: AsyncSession, request: Request, actor: Actor, store_id: int
) -> dict[str, Any]:
    status = request.query_params.get("status") or None
    if status not in dict(TABS):
        status = None
    cursor = request.query_params.get("cursor") or None
    result = await order_service.list_for_store(
        session, actor, store_id, status=status, cursor=cursor, limit=20
    )
    return {
        "store": store_info(result.store),
        "section": "orders",
        "orders": result.page.items,
        "tabs": [
            {
                "key": key,
                "label": label,
                "count": result.counts.get(key, 0) if key else sum(result.counts.values()),
                "url": url_with(request, status=key or None, cursor=None),
            }
            for key, label in TABS
        ],
        "status": status or "",
        "status_labels": STATUS_LABELS,
        "first_url": url_with(request, cursor=None) if cursor else None,
        "next_url": url_with(request, cursor=result.page.next_cursor) if result.page.next_cursor else None,
    }


@router.get("/seller/stores/{store_id}/orders", response_class=HTMLResponse)
async def orders_page(
    request: Request, store_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    return render(request, LIST_TEMPLATE, await _list_context(session, request, actor, store_id))


async def _detail_context(session: AsyncSession, actor: Actor, store_id: int, so_id: int) -> dict[str, Any]:
    view = await order_service.get_for_store(session, actor, store_id, so_id)
    store = await get_store_for(session, actor, store_id, "store:read")
    return {"store": store_info(store), "section": "orders", "so": view, "status_labels": STATUS_LABELS}


@router.get("/seller/stores/{store_id}/orders/{seller_order_id}", response_class=HTMLResponse)
async def order_page(
    request: Request, store_id: IdPath, seller_order_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    return render(request, DETAIL_TEMPLATE, await _detail_context(session, actor, store_id, seller_order_id))


@router.post("/seller/stores/{store_id}/orders/{seller_order_id}/ship")
async def ship_order(
    request: Request, store_id: IdPath, seller_order_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    from_list = values.get("from") == "list"
    try:
        payload = ShipCreate.model_validate(
            {"carrier": values.get("carrier", ""), "tracking_number": values.get("tracking_number", "")}
        )
        view = await order_service.ship(session, actor, store_id, seller_order_id, payload)
    except FORM_ERRORS as error:
        await session.rollback()
        errors = errors_of(error)
        shown = {
            f"{key}.{seller_order_id}" if key != "_" else key: message for key, message in errors.items()
        }
        kept = {f"{key}.{seller_order_id}": values.get(key, "") for key in ("carrier", "tracking_number")}
        status = error.status_code if isinstance(error, SoukError) else 422
        if from_list:
            ctx = await _list_context(session, request, actor, store_id)
        else:
            ctx = await _detail_context(session, actor, store_id, seller_order_id)
        return render(
            request,
            LIST_TEMPLATE if from_list else DETAIL_TEMPLATE,
            {**ctx, "errors": shown, "values": kept, "failed_id": seller_order_id},
            status=status,
        )
    flash(request, f"Order {view.number} shipped with {view.shipment.carrier if view.shipment else ''}")
    if from_list:
        return redirect(f"/seller/stores/{store_id}/orders")
    return redirect(f"/seller/stores/{store_id}/orders/{seller_order_id}")


@router.post("/seller/stores/{store_id}/orders/{seller_order_id}/messages")
async def message_buyer(
    request: Request, store_id: IdPath, seller_order_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    """Open (or reopen) the conversation with the buyer about this order."""
    await checked_form(request)
    conversation = await order_service.store_conversation(session, actor, store_id, seller_order_id)
    return redirect(f"/seller/stores/{store_id}/messages/{conversation.id}")
