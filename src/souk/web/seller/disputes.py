"""Seller centre: a store's refund requests ("Refunds and disputes"): the list and a request's page with its log,
where the store accepts (the refund is paid from escrow) or rejects with a reason, and writes messages. The forms
are CSRF-checked and call the same service as the API. Evidence documents (PDF) in the log are sent by a route
that checks the dispute is the store's."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse

from souk.authz import get_store_for
from souk.deps import DbSession, Storage
from souk.dispute.endpoints import DocumentIndex, document_response, read_documents
from souk.dispute.errors import DisputeNotFound
from souk.dispute.service import dispute_service
from souk.errors import Conflict, Invalid
from souk.kit.schemas import IdPath
from souk.web.buyer.disputes import REASON_LABELS, STATUS_LABELS
from souk.web.buyer.messages import form_images
from souk.web.deps import UserPage
from souk.web.render import checked_form, errors_of, flash, form_files, form_values, redirect, render
from souk.web.seller.catalog import store_info

router = APIRouter()
ACTION_ERRORS = (Conflict, Invalid)
SELLER_STATUS_LABELS = {
    **STATUS_LABELS,
    "awaiting_seller": "Waiting for your answer",
    "awaiting_buyer": "Rejected",
}


@router.get("/seller/stores/{store_id}/disputes", response_class=HTMLResponse)
async def disputes_page(
    request: Request, store_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    disputes = await dispute_service.list_for_store(session, actor, store_id)
    store = await get_store_for(session, actor, store_id, "store:read")
    return render(
        request,
        "seller/disputes.html",
        {
            "store": store_info(store),
            "section": "disputes",
            "disputes": disputes,
            "status_labels": SELLER_STATUS_LABELS,
            "reasons": REASON_LABELS,
        },
    )


def _base(store_id: int, dispute_id: int) -> str:
    return f"/seller/stores/{store_id}/disputes/{dispute_id}"


@router.get("/seller/stores/{store_id}/disputes/{dispute_id}", response_class=HTMLResponse)
async def dispute_page(
    request: Request,
    store_id: IdPath,
    dispute_id: IdPath,
    actor: UserPage,
    session: DbSession,
    storage: Storage,
) -> HTMLResponse:
    store = await get_store_for(session, actor, store_id, "store:read")
    dispute = await dispute_service.get(session, actor, dispute_id)
    if dispute.store_id != store.id:
        raise DisputeNotFound()
    so = await dispute_service.seller_order_of(session, actor, dispute_id)
    return render(
        request,
        "seller/dispute.html",
        {
            "store": store_info(store),
            "section": "disputes",
            "d": dispute,
            "so": so,
            "status_labels": SELLER_STATUS_LABELS,
            "reasons": REASON_LABELS,
            "media_url": storage.url,
            "documents_base": f"{_base(store.id, dispute_id)}/documents",
        },
    )


@router.get("/seller/stores/{store_id}/disputes/{dispute_id}/documents/{event_id}/{index}")
async def document(
    store_id: IdPath,
    dispute_id: IdPath,
    event_id: IdPath,
    index: DocumentIndex,
    actor: UserPage,
    session: DbSession,
    storage: Storage,
) -> FileResponse:
    """An evidence document of a dispute about this store, for its people (404 otherwise)."""
    found, path = await dispute_service.document_file(
        session, actor, storage, dispute_id, event_id, index, audience="store", store_id=store_id
    )
    return document_response(found, path)


async def _checked(
    request: Request, session: DbSession, actor: UserPage, store_id: int, dispute_id: int
) -> dict[str, str]:
    values = form_values(await checked_form(request))
    store = await get_store_for(session, actor, store_id, "store:read")
    dispute = await dispute_service.get(session, actor, dispute_id)
    if dispute.store_id != store.id:
        raise DisputeNotFound()
    return values


@router.post("/seller/stores/{store_id}/disputes/{dispute_id}/accept")
async def accept(
    request: Request, store_id: IdPath, dispute_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    values = await _checked(request, session, actor, store_id, dispute_id)
    address = values.get("return_address", "").strip()
    try:
        view = await dispute_service.accept(session, actor, dispute_id, address[:1000] or None)
    except ACTION_ERRORS as error:
        flash(request, errors_of(error)["_"], "error")
        return redirect(_base(store_id, dispute_id))
    if view.status == "awaiting_return":
        flash(request, "Return accepted: the refund is paid when the item is back.")
    else:
        flash(request, "Refund accepted: it is paid back from escrow.")
    return redirect(_base(store_id, dispute_id))


@router.post("/seller/stores/{store_id}/disputes/{dispute_id}/reject")
async def reject(
    request: Request, store_id: IdPath, dispute_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    values = await _checked(request, session, actor, store_id, dispute_id)
    reason = values.get("reason", "").strip()
    if len(reason) < 3:
        flash(request, "Give the buyer a reason for rejecting the request.", "error")
        return redirect(_base(store_id, dispute_id))
    try:
        await dispute_service.reject(session, actor, dispute_id, reason[:2000])
    except ACTION_ERRORS as error:
        flash(request, errors_of(error)["_"], "error")
        return redirect(_base(store_id, dispute_id))
    flash(request, "Request rejected. The buyer may ask the platform to decide.")
    return redirect(_base(store_id, dispute_id))


@router.post("/seller/stores/{store_id}/disputes/{dispute_id}/messages")
async def message(
    request: Request,
    store_id: IdPath,
    dispute_id: IdPath,
    actor: UserPage,
    session: DbSession,
    storage: Storage,
) -> Response:
    values = await _checked(request, session, actor, store_id, dispute_id)
    form = await request.form()
    body = values.get("body", "").strip()
    if not body:
        flash(request, "Write a message first.", "error")
        return redirect(_base(store_id, dispute_id))
    try:
        images = await form_images(form, storage)
        documents = await read_documents(form_files(form, "documents"), storage.max_bytes)
        await dispute_service.add_message(
            session, actor, dispute_id, body[:4000], images, storage=storage, documents=documents
        )
    except ACTION_ERRORS as error:
        flash(request, errors_of(error)["_"], "error")
        return redirect(_base(store_id, dispute_id))
    flash(request, "Message added.")
    return redirect(_base(store_id, dispute_id))


@router.post("/seller/stores/{store_id}/disputes/{dispute_id}/return-received")
async def return_received(
    request: Request, store_id: IdPath, dispute_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    await _checked(request, session, actor, store_id, dispute_id)
    try:
        await dispute_service.confirm_return(session, actor, dispute_id)
    except ACTION_ERRORS as error:
        flash(request, errors_of(error)["_"], "error")
        return redirect(_base(store_id, dispute_id))
    flash(request, "Return received: the refund is paid back from escrow.")
    return redirect(_base(store_id, dispute_id))
