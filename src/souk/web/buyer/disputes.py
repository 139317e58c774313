"""The buyer's refund requests: the list, the form to ask for a refund on a store order or claim after receipt
(reason, amount, message, evidence photos and PDF documents), and a request's page with its log (documents as
links to the private download route), a message form and the button to escalate a rejected request. Every form
is CSRF-checked and calls the same service as the API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import ValidationError

from souk.deps import DbSession, Storage
from souk.dispute.endpoints import DocumentIndex, document_response, read_documents
from souk.dispute.errors import DisputeNotFound
from souk.dispute.schemas import DisputeCreate, ReturnTracking
from souk.dispute.service import dispute_service
from souk.errors import Conflict, Invalid
from souk.kit.money import parse_amount
from souk.kit.schemas import IdPath
from souk.trade.policy import get_policy
from souk.web.buyer.messages import form_images
from souk.web.buyer.orders import until  # noqa: F401  (registers the deadline filter the pages use)
from souk.web.deps import UserPage
from souk.web.render import (
    checked_form,
    errors_of,
    flash,
    form_error,
    form_files,
    form_values,
    redirect,
    render,
)

router = APIRouter()

REASONS = [
    ("not_received", "I did not receive it"),
    ("not_as_described", "It is not as described"),
    ("damaged", "It arrived damaged"),
    ("other", "Something else"),
]
CLAIM_REASONS = [
    ("quality_mismatch", "The quality does not match the contract"),
    ("late_shipment", "It was shipped late"),
    ("not_as_described", "It is not as described"),
    ("damaged", "It arrived damaged"),
    ("other", "Something else"),
]
# every reason's label, for showing a dispute of either kind
REASON_LABELS = dict(CLAIM_REASONS + REASONS)
STATUS_LABELS = {
    "awaiting_seller": "Waiting for the seller",
    "awaiting_buyer": "Rejected by the seller",
    "escalated": "With the platform",
    "awaiting_return": "Return accepted",
    "resolved": "Closed",
}
ACTION_ERRORS = (Conflict, Invalid)


@router.get("/disputes", response_class=HTMLResponse)
async def disputes_page(request: Request, actor: UserPage, session: DbSession) -> HTMLResponse:
    disputes = await dispute_service.list_for_buyer(session, actor)
    return render(
        request,
        "buyer/disputes.html",
        {
            "disputes": disputes,
            "status_labels": STATUS_LABELS,
            "reasons": REASON_LABELS,
            "section": "orders",
        },
    )


async def _new_context(session: Any, actor: Any, seller_order_id: int) -> dict[str, Any]:
    so = await dispute_service.buyer_seller_order(session, actor, seller_order_id)
    claim = so.status == "completed"
    policy = get_policy(so.trade_model)
    return {
        "so": {"id": so.id, "number": so.number, "order_id": so.order_id, "currency": so.currency},
        "refundable": await dispute_service.refundable(session, so),
        "claim": claim,
        "claim_until": so.claim_until,
        "policy": policy,
        "reasons": CLAIM_REASONS if claim else REASONS,
        "section": "orders",
    }


@router.get("/disputes/new", response_class=HTMLResponse)
async def new_dispute_page(request: Request, actor: UserPage, session: DbSession) -> Response:
    raw = request.query_params.get("seller_order_id", "")
    if not raw.isdigit():
        raise DisputeNotFound()
    so_id = int(raw)
    existing = (await dispute_service.open_for(session, [so_id])).get(so_id)
    if existing is not None and existing.opened_by_id == actor.user_id:
        return redirect(f"/disputes/{existing.id}")
    ctx = await _new_context(session, actor, so_id)
    return render(
        request, "buyer/dispute_new.html", {**ctx, "values": {"reason": "not_as_described"}, "errors": {}}
    )


@router.post("/disputes")
async def open_dispute(request: Request, actor: UserPage, session: DbSession, storage: Storage) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    raw = values.get("seller_order_id", "")
    if not raw.isdigit():
        raise DisputeNotFound()
    typed = values.get("amount", "").strip()
    try:
        currency = (await _new_context(session, actor, int(raw)))["so"]["currency"]
        payload = DisputeCreate.model_validate(
            {
                "seller_order_id": int(raw),
                "reason": values.get("reason", ""),
                "amount": parse_amount(typed, currency) if typed else None,
                "message": values.get("message", ""),
                "wants_return": values.get("wants_return") == "1",
            }
        )
        images = await form_images(form, storage)
        documents = await read_documents(form_files(form, "documents"), storage.max_bytes)
        dispute = await dispute_service.open(
            session, actor, payload, images, storage=storage, documents=documents
        )
    except (ValidationError, *ACTION_ERRORS) as error:
        await session.rollback()
        ctx = await _new_context(session, actor, int(raw))
        return await form_error(request, session, "buyer/dispute_new.html", error, {**ctx, "values": values})
    flash(
        request,
        "Claim opened. The seller has been told."
        if dispute.kind == "claim"
        else "Refund requested. The seller has been told.",
    )
    return redirect(f"/disputes/{dispute.id}")


@router.get("/disputes/{dispute_id}", response_class=HTMLResponse)
async def dispute_page(
    request: Request, dispute_id: IdPath, actor: UserPage, session: DbSession, storage: Storage
) -> HTMLResponse:
    await dispute_service.for_buyer(session, actor, dispute_id)
    dispute = await dispute_service.get(session, actor, dispute_id)
    so = await dispute_service.seller_order_of(session, actor, dispute_id)
    return render(
        request,
        "buyer/dispute.html",
        {
            "d": dispute,
            "so": so,
            "status_labels": STATUS_LABELS,
            "reasons": REASON_LABELS,
            "section": "orders",
            "media_url": storage.url,
            "documents_base": f"/disputes/{dispute_id}/documents",
        },
    )


@router.get("/disputes/{dispute_id}/documents/{event_id}/{index}")
async def document(
    dispute_id: IdPath,
    event_id: IdPath,
    index: DocumentIndex,
    actor: UserPage,
    session: DbSession,
    storage: Storage,
) -> FileResponse:
    """An evidence document of the buyer's own dispute (404 otherwise)."""
    found, path = await dispute_service.document_file(
        session, actor, storage, dispute_id, event_id, index, audience="buyer"
    )
    return document_response(found, path)


@router.post("/disputes/{dispute_id}/escalate")
async def escalate(request: Request, dispute_id: IdPath, actor: UserPage, session: DbSession) -> Response:
    await checked_form(request)
    try:
        await dispute_service.escalate(session, actor, dispute_id)
    except ACTION_ERRORS as error:
        flash(request, errors_of(error)["_"], "error")
        return redirect(f"/disputes/{dispute_id}")
    flash(request, "Sent to the platform: an operator will decide.")
    return redirect(f"/disputes/{dispute_id}")


@router.post("/disputes/{dispute_id}/messages")
async def message(
    request: Request, dispute_id: IdPath, actor: UserPage, session: DbSession, storage: Storage
) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    await dispute_service.for_buyer(session, actor, dispute_id)
    body = values.get("body", "").strip()
    if not body:
        flash(request, "Write a message first.", "error")
        return redirect(f"/disputes/{dispute_id}")
    try:
        images = await form_images(form, storage)
        documents = await read_documents(form_files(form, "documents"), storage.max_bytes)
        await dispute_service.add_message(
            session, actor, dispute_id, body[:4000], images, storage=storage, documents=documents
        )
    except ACTION_ERRORS as error:
        flash(request, errors_of(error)["_"], "error")
        return redirect(f"/disputes/{dispute_id}")
    flash(request, "Message added.")
    return redirect(f"/disputes/{dispute_id}")


@router.post("/disputes/{dispute_id}/return-tracking")
async def return_tracking(
    request: Request, dispute_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    values = form_values(await checked_form(request))
    try:
        payload = ReturnTracking.model_validate({"tracking_number": values.get("tracking_number", "")})
        await dispute_service.add_return_tracking(session, actor, dispute_id, payload.tracking_number)
    except (ValidationError, *ACTION_ERRORS) as error:
        errors = errors_of(error)
        flash(request, errors.get("tracking_number") or errors["_"], "error")
        return redirect(f"/disputes/{dispute_id}")
    flash(request, "Return tracking number added. The seller has been told.")
    return redirect(f"/disputes/{dispute_id}")
