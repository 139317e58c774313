"""Ops console: disputes. The queue (counts per status, the list of one status, escalated first) and a dispute's
page with the seller order's timeline, the dispute's log and the ledger movements of the seller order, where an
operator rules: full refund, partial refund (amount) or release to the seller, with a required reason, and writes
in the log (with evidence photos and PDF documents); the log's documents are sent by an operators-only route."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import ValidationError

from souk.authz import require_operator
from souk.deps import DbSession, Storage
from souk.dispute.endpoints import DocumentIndex, document_response, read_documents
from souk.dispute.schemas import DisputeRuling
from souk.dispute.service import dispute_service
from souk.errors import Conflict, Invalid
from souk.kit.money import parse_amount
from souk.kit.schemas import IdPath
from souk.web.buyer.disputes import REASON_LABELS
from souk.web.buyer.messages import form_images
from souk.web.deps import UserPage
from souk.web.render import checked_form, errors_of, flash, form_files, form_values, redirect, render

router = APIRouter()

QUEUE = [
    ("escalated", "To rule"),
    ("awaiting_seller", "Waiting for the seller"),
    ("awaiting_buyer", "Rejected, buyer may escalate"),
    ("resolved", "Resolved"),
]
OUTCOMES = [
    ("refund_full", "Full refund"),
    ("refund_partial", "Partial refund"),
    ("released", "Release to the seller"),
]


@router.get("/ops/disputes", name="ops:disputes", response_class=HTMLResponse)
async def disputes_page(request: Request, actor: UserPage, session: DbSession) -> HTMLResponse:
    status = request.query_params.get("status", "escalated")
    if status not in dict(QUEUE):
        status = "escalated"
    disputes = await dispute_service.list_for_operator(session, actor, status)
    counts = await dispute_service.counts(session)
    return render(
        request,
        "ops/disputes.html",
        {
            "section": "disputes",
            "disputes": disputes,
            "status": status,
            "tabs": [(key, label, counts.get(key, 0)) for key, label in QUEUE],
            "reasons": REASON_LABELS,
        },
    )


@router.get("/ops/disputes/{dispute_id}", name="ops:dispute", response_class=HTMLResponse)
async def dispute_page(
    request: Request, dispute_id: IdPath, actor: UserPage, session: DbSession, storage: Storage
) -> HTMLResponse:
    case = await dispute_service.case(session, actor, dispute_id)
    return render(
        request,
        "ops/dispute.html",
        {
            "section": "disputes",
            **case,
            "d": case["dispute"],
            "outcomes": OUTCOMES,
            "reasons": REASON_LABELS,
            "media_url": storage.url,
            "documents_base": f"/ops/disputes/{dispute_id}/documents",
        },
    )


@router.get("/ops/disputes/{dispute_id}/documents/{event_id}/{index}")
async def document(
    dispute_id: IdPath,
    event_id: IdPath,
    index: DocumentIndex,
    actor: UserPage,
    session: DbSession,
    storage: Storage,
) -> FileResponse:
    """An evidence document, for operators (404 to anyone else)."""
    found, path = await dispute_service.document_file(
        session, actor, storage, dispute_id, event_id, index, audience="operator"
    )
    return document_response(found, path)


@router.post("/ops/disputes/{dispute_id}/messages")
async def message(
    request: Request, dispute_id: IdPath, actor: UserPage, session: DbSession, storage: Storage
) -> Response:
    form = await checked_form(request)
    require_operator(actor)
    body = form_values(form).get("body", "").strip()
    if not body:
        flash(request, "Write a message first.", "error")
        return redirect(f"/ops/disputes/{dispute_id}")
    try:
        images = await form_images(form, storage)
        documents = await read_documents(form_files(form, "documents"), storage.max_bytes)
        await dispute_service.add_message(
            session, actor, dispute_id, body[:4000], images, storage=storage, documents=documents
        )
    except (Conflict, Invalid) as error:
        flash(request, errors_of(error)["_"], "error")
        return redirect(f"/ops/disputes/{dispute_id}")
    flash(request, "Message added.")
    return redirect(f"/ops/disputes/{dispute_id}")


@router.post("/ops/disputes/{dispute_id}/ruling")
async def rule(request: Request, dispute_id: IdPath, actor: UserPage, session: DbSession) -> Response:
    values = form_values(await checked_form(request))
    typed = values.get("amount", "").strip()
    try:
        currency = (await dispute_service.case(session, actor, dispute_id))["dispute"].currency
        ruling = DisputeRuling.model_validate(
            {
                "outcome": values.get("outcome", ""),
                "amount": parse_amount(typed, currency) if typed else None,
                "reason": values.get("reason", ""),
            }
        )
        await dispute_service.rule(session, actor, dispute_id, ruling)
    except (ValidationError, Conflict, Invalid) as error:
        await session.rollback()
        errors = errors_of(error)
        detail = "; ".join(f"{k}: {v}" for k, v in errors.items() if k != "_")
        flash(request, f"{errors['_']} {detail}".strip(), "error")
        return redirect(f"/ops/disputes/{dispute_id}")
    flash(request, "Ruling recorded.")
    return redirect(f"/ops/disputes/{dispute_id}")
