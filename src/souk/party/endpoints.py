"""JSON routes under /api/v1: organisations, their documents, members and invitations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from fastapi.responses import FileResponse

from souk.deps import ApiActor, DbSession, Storage
from souk.kit.openapi import ERROR_RESPONSES
from souk.kit.pagination import Page
from souk.kit.schemas import MAX_ID, IdPath
from souk.kit.uploads import read_upload
from souk.models import Organization, OrganizationDocument
from souk.party.schemas import (
    DocumentKind,
    DocumentRead,
    InvitationCreate,
    InvitationRead,
    MemberRead,
    OrganizationCreate,
    OrganizationRead,
    OrganizationUpdate,
    RoleChange,
    UploadIn,
)
from souk.party.service import party_service

router = APIRouter(responses=ERROR_RESPONSES)
TAG = "Organizations"


@router.post(
    "/organizations",
    tags=[TAG],
    summary="Register an organisation (you become its owner; it waits for review)",
    response_model=OrganizationRead,
    status_code=201,
)
async def create_organization(body: OrganizationCreate, actor: ApiActor, session: DbSession) -> Organization:
    return await party_service.create_organization(session, actor, body)


@router.get(
    "/organizations",
    tags=[TAG],
    summary="My organisations, newest first",
    response_model=Page[OrganizationRead],
)
async def list_my_organizations(
    actor: ApiActor,
    session: DbSession,
    cursor: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> Page[OrganizationRead]:
    return await party_service.list_mine(session, actor, cursor=cursor, limit=limit)


@router.get(
    "/organizations/{organization_id}",
    tags=[TAG],
    summary="One of my organisations",
    response_model=OrganizationRead,
)
async def get_organization(organization_id: IdPath, actor: ApiActor, session: DbSession) -> Organization:
    return await party_service.get_organization(session, actor, organization_id)


@router.patch(
    "/organizations/{organization_id}",
    tags=[TAG],
    summary="Edit an organisation (legal details are fixed once it is verified)",
    response_model=OrganizationRead,
)
async def update_organization(
    organization_id: IdPath, body: OrganizationUpdate, actor: ApiActor, session: DbSession
) -> Organization:
    return await party_service.update_organization(session, actor, organization_id, body)


@router.post(
    "/organizations/{organization_id}/submit",
    tags=[TAG],
    summary="Send a rejected organisation for review again",
    response_model=OrganizationRead,
)
async def submit_organization(organization_id: IdPath, actor: ApiActor, session: DbSession) -> Organization:
    return await party_service.submit_organization(session, actor, organization_id)


@router.post(
    "/organizations/{organization_id}/documents",
    tags=[TAG],
    summary="Upload a document (PDF or image); a brand authorisation names its mall store",
    response_model=DocumentRead,
    status_code=201,
)
async def upload_document(
    organization_id: IdPath,
    actor: ApiActor,
    session: DbSession,
    storage: Storage,
    file: Annotated[UploadFile, File(description="PDF, JPEG, PNG or WebP")],
    kind: Annotated[DocumentKind, Form()],
    store_id: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
) -> OrganizationDocument:
    data = await read_upload(file, storage.max_bytes, "file")
    return await party_service.upload_document(
        session,
        actor,
        storage,
        organization_id,
        kind=kind,
        upload=UploadIn(data=data, filename=file.filename or ""),
        store_id=store_id,
    )


@router.get(
    "/organizations/{organization_id}/documents",
    tags=[TAG],
    summary="The organisation's documents (members and operators)",
    response_model=list[DocumentRead],
)
async def list_documents(
    organization_id: IdPath, actor: ApiActor, session: DbSession
) -> list[OrganizationDocument]:
    return await party_service.list_documents(session, actor, organization_id)


@router.get(
    "/organizations/{organization_id}/documents/{document_id}/file",
    tags=[TAG],
    summary="Download a document (members and operators; 404 to anyone else)",
    response_class=FileResponse,
    responses={200: {"content": {"application/pdf": {}, "image/*": {}}}},
)
async def download_document(
    organization_id: IdPath, document_id: IdPath, actor: ApiActor, session: DbSession, storage: Storage
) -> FileResponse:
    document, path = await party_service.document_file(session, actor, storage, organization_id, document_id)
    return document_response(document, path)


def document_response(document: OrganizationDocument, path: object) -> FileResponse:
    """A private document, sent inline with headers that keep the browser from running anything in it."""
    return FileResponse(
        str(path),
        media_type=document.content_type,
        filename=document.filename,
        content_disposition_type="inline",
        headers={"Content-Security-Policy": "sandbox", "Cache-Control": "private, no-store"},
    )


@router.get(
    "/organizations/{organization_id}/members",
    tags=[TAG],
    summary="Members and their roles",
    response_model=list[MemberRead],
)
async def list_members(organization_id: IdPath, actor: ApiActor, session: DbSession) -> list[MemberRead]:
    return await party_service.list_members(session, actor, organization_id)


@router.patch(
    "/organizations/{organization_id}/members/{user_id}",
    tags=[TAG],
    summary="Change a member's role (only owners grant or remove the owner role)",
    response_model=MemberRead,
)
async def change_member_role(
    organization_id: IdPath, user_id: IdPath, body: RoleChange, actor: ApiActor, session: DbSession
) -> MemberRead:
    return await party_service.change_role(session, actor, organization_id, user_id, body)


@router.delete(
    "/organizations/{organization_id}/members/{user_id}",
    tags=[TAG],
    summary="Remove a member, or leave the organisation (never its last owner)",
    status_code=204,
)
async def remove_member(
    organization_id: IdPath, user_id: IdPath, actor: ApiActor, session: DbSession
) -> Response:
    await party_service.remove_member(session, actor, organization_id, user_id)
    return Response(status_code=204)


@router.post(
    "/organizations/{organization_id}/invitations",
    tags=[TAG],
    summary="Invite someone by email with a role (valid 14 days)",
    response_model=InvitationRead,
    status_code=201,
)
async def invite_member(
    organization_id: IdPath, body: InvitationCreate, actor: ApiActor, session: DbSession
) -> InvitationRead:
    return await party_service.invite(session, actor, organization_id, body)


@router.get(
    "/organizations/{organization_id}/invitations",
    tags=[TAG],
    summary="The organisation's invitations",
    response_model=list[InvitationRead],
)
async def list_invitations(
    organization_id: IdPath, actor: ApiActor, session: DbSession
) -> list[InvitationRead]:
    return await party_service.list_invitations(session, actor, organization_id)


@router.delete(
    "/organizations/{organization_id}/invitations/{invitation_id}",
    tags=[TAG],
    summary="Withdraw a pending invitation",
    status_code=204,
)
async def revoke_invitation(
    organization_id: IdPath, invitation_id: IdPath, actor: ApiActor, session: DbSession
) -> Response:
    await party_service.revoke_invitation(session, actor, organization_id, invitation_id)
    return Response(status_code=204)


@router.get(
    "/me/invitations",
    tags=["Invitations"],
    summary="Pending invitations sent to my email address",
    response_model=list[InvitationRead],
)
async def my_invitations(actor: ApiActor, session: DbSession) -> list[InvitationRead]:
    return await party_service.my_invitations(session, actor)


@router.post(
    "/invitations/{invitation_id}/accept",
    tags=["Invitations"],
    summary="Accept an invitation: join the organisation with the offered role",
    response_model=MemberRead,
)
async def accept_invitation(invitation_id: IdPath, actor: ApiActor, session: DbSession) -> MemberRead:
    return await party_service.accept_invitation(session, actor, invitation_id)


@router.post(
    "/invitations/{invitation_id}/decline",
    tags=["Invitations"],
    summary="Decline an invitation",
    response_model=InvitationRead,
)
async def decline_invitation(invitation_id: IdPath, actor: ApiActor, session: DbSession) -> InvitationRead:
    return await party_service.decline_invitation(session, actor, invitation_id)
