"""Seller centre pages: the dashboard, opening and configuring stores, organisations and their teams."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from souk.auth.actor import Actor
from souk.authz import ROLE_PERMISSIONS
from souk.deps import DbSession, Storage
from souk.errors import SoukError, invalid_field
from souk.kit.countries import countries
from souk.kit.money import SUPPORTED_CURRENCIES
from souk.kit.schemas import IdPath
from souk.kit.uploads import MediaStorage, read_upload
from souk.party.endpoints import document_response
from souk.party.schemas import (
    DocumentRead,
    InvitationCreate,
    OrganizationCreate,
    OrganizationRead,
    OrganizationUpdate,
    RoleChange,
    UploadIn,
)
from souk.party.service import party_service
from souk.store.schemas import StoreCreate, StoreUpdate
from souk.store.service import store_service
from souk.web.deps import UserPage
from souk.web.render import checked_form, flash, form_error, form_files, form_values, redirect, render

router = APIRouter()

TRADE_MODEL_CHOICES = [
    ("market", "Market: sell to consumers (personal or business)"),
    ("sourcing", "Sourcing: sell in bulk to businesses"),
    ("mall", "Mall: official brand store"),
    ("crossborder", "Global: sell to buyers abroad"),
]
ROLE_CHOICES = [("owner", "Owner"), ("admin", "Admin"), ("staff", "Staff")]
DOCUMENT_KIND_CHOICES = [
    ("registration", "Business registration"),
    ("brand_authorization", "Brand authorisation"),
    ("other", "Other"),
]


def _choices() -> dict[str, Any]:
    return {
        "country_choices": list(countries().items()),
        "currency_choices": [(c, c) for c in sorted(SUPPORTED_CURRENCIES)],
        "trade_model_choices": TRADE_MODEL_CHOICES,
        "role_choices": ROLE_CHOICES,
        "document_kind_choices": DOCUMENT_KIND_CHOICES,
    }


async def _upload(form: FormData, name: str, storage: MediaStorage) -> UploadIn | None:
    """The file sent in the form field ``name`` (413 when too large), or None when none was chosen."""
    files = form_files(form, name)
    if not files:
        return None
    data = await read_upload(files[0], storage.max_bytes, name)
    return UploadIn(data=data, filename=files[0].filename or "")


def _filled(values: dict[str, str], *keys: str) -> dict[str, str]:
    return {key: values[key] for key in keys if values.get(key, "") != ""}


# --- dashboard ----------------------------------------------------------------------------------------


@router.get("/seller", name="seller:dashboard")
async def dashboard(request: Request, actor: UserPage, session: DbSession) -> HTMLResponse:
    stores = await store_service.my_store_views(session, actor)
    organizations = [
        (OrganizationRead.model_validate(org), role)
        for org, role in await party_service.all_mine(session, actor)
    ]
    invitations = await party_service.my_invitations(session, actor)
    return render(
        request,
        "seller/dashboard.html",
        {
            "section": "dashboard",
            "store": None,
            "stores": stores,
            "organizations": organizations,
            "invitations": invitations,
        },
    )


@router.post("/seller/invitations/{invitation_id}/accept", name="seller:accept_invitation")
async def accept_invitation(
    request: Request, invitation_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    await checked_form(request)
    member = await party_service.accept_invitation(session, actor, invitation_id)
    flash(request, f"You joined the organisation as {member.role}.")
    return redirect(f"/seller/organizations/{member.organization_id}")


@router.post("/seller/invitations/{invitation_id}/decline", name="seller:decline_invitation")
async def decline_invitation(
    request: Request, invitation_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    await checked_form(request)
    invitation = await party_service.decline_invitation(session, actor, invitation_id)
    flash(request, f"Invitation from {invitation.organization_name} declined.", "info")
    return redirect("/seller")


# --- stores -------------------------------------------------------------------------------------------


async def _new_store_context(session: AsyncSession, actor: Actor) -> dict[str, Any]:
    manageable = [
        (OrganizationRead.model_validate(org), role)
        for org, role in await party_service.all_mine(session, actor)
        if "org:manage" in ROLE_PERMISSIONS[role]
    ]
    return {"section": "new_store", "store": None, "organizations": manageable, **_choices()}


@router.get("/seller/stores/new", name="seller:new_store")
async def new_store_page(request: Request, actor: UserPage, session: DbSession) -> HTMLResponse:
    ctx = await _new_store_context(session, actor)
    values = {"trade_model": "market", "organization_id": request.query_params.get("organization_id", "")}
    if values["organization_id"]:
        values["trade_model"] = request.query_params.get("trade_model", "sourcing")
    return render(request, "seller/store_new.html", {**ctx, "values": values})


@router.post("/seller/stores/new")
async def create_store(request: Request, actor: UserPage, session: DbSession, storage: Storage) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    ctx = await _new_store_context(session, actor)
    try:
        payload = StoreCreate.model_validate(
            {
                **_filled(values, "name", "country", "currency", "organization_id", "brand_name"),
                "description": values.get("description", ""),
                "trade_model": values.get("trade_model", "market"),
            }
        )
        logo = await _upload(form, "logo", storage)
        brand_document = await _upload(form, "brand_document", storage)
        store = await store_service.create(
            session, actor, payload, storage=storage, logo=logo, brand_document=brand_document
        )
    except (ValidationError, SoukError) as error:
        return await form_error(request, session, "seller/store_new.html", error, {**ctx, "values": values})
    if store.status == "active":
        flash(request, f"Your store {store.name} is open. Add your first product.")
        return redirect(f"/seller/stores/{store.id}/products")
    flash(request, f"Store {store.name} created. It opens once the marketplace team has reviewed it.")
    return redirect(f"/seller/stores/{store.id}/settings")


async def _settings_context(session: AsyncSession, actor: Actor, store_id: IdPath) -> dict[str, Any]:
    settings = await store_service.settings(session, actor, store_id)
    store = settings.view.store
    return {
        "section": "settings",
        "store": store,
        "view": settings.view,
        "currency_locked": settings.currency_locked,
        "brand_documents": settings.brand_documents,
        "brand_locked": store.trade_model == "mall" and store.status == "active",
        **_choices(),
    }


def _store_values(ctx: dict[str, Any]) -> dict[str, str]:
    store = ctx["store"]
    return {
        "name": store.name,
        "description": store.description,
        "country": store.country,
        "currency": store.currency,
        "brand_name": store.brand_name or "",
    }


@router.get("/seller/stores/{store_id}/settings", name="seller:store_settings")
async def store_settings_page(
    request: Request, store_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    ctx = await _settings_context(session, actor, store_id)
    return render(request, "seller/store_settings.html", {**ctx, "values": _store_values(ctx)})


@router.post("/seller/stores/{store_id}/settings")
async def save_store_settings(
    request: Request, store_id: IdPath, actor: UserPage, session: DbSession, storage: Storage
) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    ctx = await _settings_context(session, actor, store_id)
    try:
        fields = _filled(values, "name", "country", "currency", "brand_name")
        if "name" not in fields:
            fields["name"] = ""  # an emptied name is an error, not "unchanged"
        if ctx["currency_locked"]:
            fields.pop("currency", None)
        if ctx["store"].trade_model != "mall":
            fields.pop("brand_name", None)
        payload = StoreUpdate.model_validate({**fields, "description": values.get("description", "")})
        logo = await _upload(form, "logo", storage)
        store = await store_service.update(session, actor, store_id, payload)
        if logo is not None:
            await store_service.set_logo(session, actor, storage, store_id, logo)
    except (ValidationError, SoukError) as error:
        return await form_error(
            request, session, "seller/store_settings.html", error, {**ctx, "values": values}
        )
    flash(request, f"Settings of {store.name} saved.")
    return redirect(f"/seller/stores/{store_id}/settings")


@router.post("/seller/stores/{store_id}/brand-document")
async def upload_brand_document(
    request: Request, store_id: IdPath, actor: UserPage, session: DbSession, storage: Storage
) -> Response:
    form = await checked_form(request)
    ctx = await _settings_context(session, actor, store_id)
    store = ctx["store"]
    try:
        upload = await _upload(form, "brand_document", storage)
        if upload is None:
            raise invalid_field("brand_document", "choose a PDF or an image to upload")
        await party_service.upload_document(
            session,
            actor,
            storage,
            store.organization_id or 0,
            kind="brand_authorization",
            upload=upload,
            store_id=store.id,
            field="brand_document",
        )
    except (ValidationError, SoukError) as error:
        return await form_error(
            request, session, "seller/store_settings.html", error, {**ctx, "values": _store_values(ctx)}
        )
    message = "Brand authorisation uploaded."
    if store.status in ("rejected", "suspended"):
        message += " Send the store for review again when you are ready."
    flash(request, message)
    return redirect(f"/seller/stores/{store_id}/settings")


@router.post("/seller/stores/{store_id}/submit")
async def submit_store(request: Request, store_id: IdPath, actor: UserPage, session: DbSession) -> Response:
    await checked_form(request)
    ctx = await _settings_context(session, actor, store_id)
    try:
        store = await store_service.submit(session, actor, store_id)
    except SoukError as error:
        return await form_error(
            request, session, "seller/store_settings.html", error, {**ctx, "values": _store_values(ctx)}
        )
    flash(request, f"{store.name} was sent for review.")
    return redirect(f"/seller/stores/{store_id}/settings")


# --- organisations ------------------------------------------------------------------------------------


@router.get("/seller/organizations/new", name="seller:new_organization")
async def new_organization_page(request: Request, actor: UserPage) -> HTMLResponse:
    return render(
        request,
        "seller/organization_new.html",
        {"section": "new_organization", "store": None, **_choices()},
    )


@router.post("/seller/organizations/new")
async def create_organization(
    request: Request, actor: UserPage, session: DbSession, storage: Storage
) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    ctx = {"section": "new_organization", "store": None, **_choices()}
    try:
        payload = OrganizationCreate.model_validate(
            {key: values.get(key, "") for key in ("legal_name", "registration_number", "country", "address")}
        )
        document = await _upload(form, "document", storage)
        organization = await party_service.create_organization(
            session, actor, payload, storage=storage, registration_document=document
        )
    except (ValidationError, SoukError) as error:
        return await form_error(
            request, session, "seller/organization_new.html", error, {**ctx, "values": values}
        )
    flash(request, f"{organization.legal_name} registered. We will review it; you can open its stores now.")
    return redirect(f"/seller/organizations/{organization.id}")


async def _organization_context(
    session: AsyncSession, actor: Actor, organization_id: IdPath
) -> dict[str, Any]:
    organization = OrganizationRead.model_validate(
        await party_service.get_organization(session, actor, organization_id)
    )
    role = await party_service.my_role(session, actor, organization_id) or "staff"
    permissions = ROLE_PERMISSIONS[role]
    invitations = await party_service.list_invitations(session, actor, organization_id)
    return {
        "section": "organization",
        "store": None,
        "organization": organization,
        "my_role": role,
        "my_user_id": actor.user_id,
        "can_manage": "org:manage" in permissions,
        "can_manage_members": "org:members" in permissions,
        # plain values: a form error rolls the session back (expiring its rows) before the page is rendered
        "documents": [
            DocumentRead.model_validate(d)
            for d in await party_service.list_documents(session, actor, organization_id)
        ],
        "members": await party_service.list_members(session, actor, organization_id),
        "invitations": [i for i in invitations if i.status == "pending"],
        "stores": await store_service.organization_store_views(session, actor, organization_id),
        "active_form": None,
        **_choices(),
    }


def _organization_values(organization: OrganizationRead) -> dict[str, str]:
    return {
        "legal_name": organization.legal_name,
        "registration_number": organization.registration_number,
        "country": organization.country,
        "address": organization.address,
    }


async def _organization_error(
    request: Request, session: AsyncSession, error: Exception, ctx: dict[str, Any], active_form: str
) -> HTMLResponse:
    values = ctx.pop("values", None) or _organization_values(ctx["organization"])
    return await form_error(
        request,
        session,
        "seller/organization.html",
        error,
        {**ctx, "values": values, "active_form": active_form},
    )


@router.get("/seller/organizations/{organization_id}", name="seller:organization")
async def organization_page(
    request: Request, organization_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    ctx = await _organization_context(session, actor, organization_id)
    return render(
        request, "seller/organization.html", {**ctx, "values": _organization_values(ctx["organization"])}
    )


@router.post("/seller/organizations/{organization_id}")
async def update_organization(
    request: Request, organization_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    ctx = await _organization_context(session, actor, organization_id)
    try:
        payload = OrganizationUpdate.model_validate(
            {key: values.get(key, "") for key in ("legal_name", "registration_number", "country", "address")}
        )
        organization = await party_service.update_organization(session, actor, organization_id, payload)
    except (ValidationError, SoukError) as error:
        return await _organization_error(request, session, error, {**ctx, "values": values}, "details")
    flash(request, f"{organization.legal_name} saved.")
    return redirect(f"/seller/organizations/{organization_id}")


@router.post("/seller/organizations/{organization_id}/submit")
async def submit_organization(
    request: Request, organization_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    await checked_form(request)
    ctx = await _organization_context(session, actor, organization_id)
    try:
        organization = await party_service.submit_organization(session, actor, organization_id)
    except SoukError as error:
        return await _organization_error(request, session, error, ctx, "details")
    flash(request, f"{organization.legal_name} was sent for review.")
    return redirect(f"/seller/organizations/{organization_id}")


@router.post("/seller/organizations/{organization_id}/documents")
async def upload_organization_document(
    request: Request, organization_id: IdPath, actor: UserPage, session: DbSession, storage: Storage
) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    ctx = await _organization_context(session, actor, organization_id)
    try:
        upload = await _upload(form, "document", storage)
        if upload is None:
            raise invalid_field("document", "choose a PDF or an image to upload")
        store_id = values.get("store_id") or None
        document = await party_service.upload_document(
            session,
            actor,
            storage,
            organization_id,
            kind=values.get("kind", "registration"),
            upload=upload,
            store_id=int(store_id) if store_id and store_id.isdigit() else None,
            field="document",
        )
    except (ValidationError, SoukError) as error:
        return await _organization_error(request, session, error, ctx, "documents")
    flash(request, f"{document.filename} uploaded.")
    return redirect(f"/seller/organizations/{organization_id}")


@router.get("/seller/organizations/{organization_id}/documents/{document_id}", name="seller:document")
async def download_document(
    organization_id: IdPath, document_id: IdPath, actor: UserPage, session: DbSession, storage: Storage
) -> FileResponse:
    document, path = await party_service.document_file(session, actor, storage, organization_id, document_id)
    return document_response(document, path)


@router.post("/seller/organizations/{organization_id}/members/{user_id}/role")
async def change_member_role(
    request: Request, organization_id: IdPath, user_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    ctx = await _organization_context(session, actor, organization_id)
    try:
        member = await party_service.change_role(
            session, actor, organization_id, user_id, RoleChange.model_validate({"role": values.get("role")})
        )
    except (ValidationError, SoukError) as error:
        return await _organization_error(request, session, error, ctx, "members")
    flash(request, f"{member.display_name} is now {member.role}.")
    return redirect(f"/seller/organizations/{organization_id}")


@router.post("/seller/organizations/{organization_id}/members/{user_id}/remove")
async def remove_member(
    request: Request, organization_id: IdPath, user_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    await checked_form(request)
    ctx = await _organization_context(session, actor, organization_id)
    leaving = user_id == actor.user_id
    try:
        await party_service.remove_member(session, actor, organization_id, user_id)
    except SoukError as error:
        return await _organization_error(request, session, error, ctx, "members")
    if leaving:
        flash(request, f"You left {ctx['organization'].legal_name}.")
        return redirect("/seller")
    flash(request, "Member removed.")
    return redirect(f"/seller/organizations/{organization_id}")


@router.post("/seller/organizations/{organization_id}/invitations")
async def invite_member(
    request: Request, organization_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    ctx = await _organization_context(session, actor, organization_id)
    try:
        payload = InvitationCreate.model_validate(
            {"email": values.get("email", ""), "role": values.get("role", "staff")}
        )
        invitation = await party_service.invite(session, actor, organization_id, payload)
    except (ValidationError, SoukError) as error:
        ctx["values"] = {**_organization_values(ctx["organization"]), **values}
        return await _organization_error(request, session, error, ctx, "invite")
    flash(request, f"Invitation sent to {invitation.email}. It is valid for 14 days.")
    return redirect(f"/seller/organizations/{organization_id}")


@router.post("/seller/organizations/{organization_id}/invitations/{invitation_id}/revoke")
async def revoke_invitation(
    request: Request, organization_id: IdPath, invitation_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    await checked_form(request)
    ctx = await _organization_context(session, actor, organization_id)
    try:
        await party_service.revoke_invitation(session, actor, organization_id, invitation_id)
    except SoukError as error:
        return await _organization_error(request, session, error, ctx, "invite")
    flash(request, "Invitation withdrawn.", "info")
    return redirect(f"/seller/organizations/{organization_id}")
