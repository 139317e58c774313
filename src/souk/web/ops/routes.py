"""Ops console pages (platform operators only): queues, review pages with a decision form, the decision log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import ValidationError

from souk.deps import DbSession, Storage
from souk.dispute.service import dispute_service
from souk.errors import SoukError, invalid_field
from souk.kit.schemas import IdPath
from souk.ops.schemas import OrganizationDecision, StoreDecision
from souk.ops.service import ops_service
from souk.party.endpoints import document_response
from souk.party.service import party_service
from souk.web.deps import UserPage
from souk.web.render import checked_form, flash, form_error, form_values, redirect, render, url_with

router = APIRouter()

ORG_STATUSES = [("pending_review", "To verify"), ("approved", "Approved"), ("rejected", "Rejected")]
STORE_FILTERS = [
    ("queue", "To verify"),
    ("pending_review", "Pending"),
    ("active", "Active"),
    ("rejected", "Rejected"),
    ("suspended", "Suspended"),
]
DECISION_WORDS = {"approve": "approved", "reject": "rejected", "suspend": "suspended"}
RULING_OUTCOMES = {
    "refund_full": "full refund",
    "refund_partial": "partial refund",
    "released": "released to the seller",
}


def _pager(request: Request, next_cursor: str | None) -> dict[str, Any]:
    return {
        "first_url": url_with(request, cursor=None) if request.query_params.get("cursor") else None,
        "next_url": url_with(request, cursor=next_cursor) if next_cursor else None,
    }


@router.get("/ops", name="ops:index")
async def index(request: Request, actor: UserPage, session: DbSession) -> HTMLResponse:
    counts = await ops_service.queue(session, actor)
    organizations = await ops_service.organizations(session, actor, status="pending_review", limit=10)
    stores = await ops_service.stores(session, actor, to_review=True, limit=10)
    return render(
        request,
        "ops/index.html",
        {
            "section": "queue",
            "counts": counts,
            "organizations": organizations.items,
            "stores": stores.items,
            "disputes_to_rule": (await dispute_service.counts(session)).get("escalated", 0),
        },
    )


@router.get("/ops/organizations", name="ops:organizations")
async def organizations_page(
    request: Request,
    actor: UserPage,
    session: DbSession,
    status: str = "pending_review",
    cursor: str | None = None,
) -> HTMLResponse:
    if status not in dict(ORG_STATUSES):
        raise invalid_field("status", "is not an organisation status")
    page = await ops_service.organizations(session, actor, status=status, cursor=cursor)
    return render(
        request,
        "ops/organizations.html",
        {
            "section": "organizations",
            "status": status,
            "filters": ORG_STATUSES,
            "organizations": page.items,
            **_pager(request, page.next_cursor),
        },
    )


@router.get("/ops/organizations/{organization_id}", name="ops:organization")
async def organization_page(
    request: Request, organization_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    review = await ops_service.organization_review(session, actor, organization_id)
    return render(
        request,
        "ops/organization.html",
        {"section": "organizations", "review": review, "values": {"decision": "approve"}},
    )


@router.post("/ops/organizations/{organization_id}/decision")
async def decide_organization(
    request: Request, organization_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    review = await ops_service.organization_review(session, actor, organization_id)
    try:
        payload = OrganizationDecision.model_validate(
            {"decision": values.get("decision", ""), "reason": values.get("reason", "")}
        )
        decision = await ops_service.decide_organization(session, actor, organization_id, payload)
    except (ValidationError, SoukError) as error:
        return await form_error(
            request,
            session,
            "ops/organization.html",
            error,
            {"section": "organizations", "review": review, "values": values},
        )
    flash(request, f"{review.organization.legal_name} {DECISION_WORDS[decision.decision]}.")
    return redirect(f"/ops/organizations/{organization_id}")


@router.get("/ops/organizations/{organization_id}/documents/{document_id}", name="ops:document")
async def organization_document(
    organization_id: IdPath, document_id: IdPath, actor: UserPage, session: DbSession, storage: Storage
) -> FileResponse:
    document, path = await party_service.document_file(session, actor, storage, organization_id, document_id)
    return document_response(document, path)


@router.get("/ops/stores", name="ops:stores")
async def stores_page(
    request: Request, actor: UserPage, session: DbSession, status: str = "queue", cursor: str | None = None
) -> HTMLResponse:
    if status not in dict(STORE_FILTERS):
        raise invalid_field("status", "is not a store status")
    page = await ops_service.stores(
        session,
        actor,
        status=None if status == "queue" else status,
        to_review=status == "queue",
        cursor=cursor,
    )
    return render(
        request,
        "ops/stores.html",
        {
            "section": "stores",
            "status": status,
            "filters": STORE_FILTERS,
            "stores": page.items,
            **_pager(request, page.next_cursor),
        },
    )


@router.get("/ops/stores/{store_id}", name="ops:store")
async def store_page(request: Request, store_id: IdPath, actor: UserPage, session: DbSession) -> HTMLResponse:
    review = await ops_service.store_review(session, actor, store_id)
    default = "suspend" if review.store.status == "active" else "approve"
    return render(
        request, "ops/store.html", {"section": "stores", "review": review, "values": {"decision": default}}
    )


@router.post("/ops/stores/{store_id}/decision")
async def decide_store(request: Request, store_id: IdPath, actor: UserPage, session: DbSession) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    review = await ops_service.store_review(session, actor, store_id)
    try:
        payload = StoreDecision.model_validate(
            {"decision": values.get("decision", ""), "reason": values.get("reason", "")}
        )
        decision = await ops_service.decide_store(session, actor, store_id, payload)
    except (ValidationError, SoukError) as error:
        return await form_error(
            request,
            session,
            "ops/store.html",
            error,
            {"section": "stores", "review": review, "values": values},
        )
    message = f"{review.store.name} {DECISION_WORDS[decision.decision]}."
    if decision.decision == "approve" and decision.subject_status != "active":
        message += " It opens when its organisation is approved."
    flash(request, message)
    return redirect(f"/ops/stores/{store_id}")


@router.get("/ops/decisions", name="ops:decisions")
async def decisions_page(
    request: Request, actor: UserPage, session: DbSession, cursor: str | None = None
) -> HTMLResponse:
    page = await ops_service.decisions(session, actor, cursor=cursor)
    return render(
        request,
        "ops/decisions.html",
        {
            "section": "decisions",
            "decisions": page.items,
            "RULING_OUTCOMES": RULING_OUTCOMES,
            **_pager(request, page.next_cursor),
        },
    )
