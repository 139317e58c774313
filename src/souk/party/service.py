"""Organisations (businesses), their members, invitations and documents: the rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import (
    get_organization_for,
    get_organization_for_review,
    organization_role,
    require_user,
    require_writer,
)
from souk.errors import Conflict, Forbidden, NotFound, invalid_field
from souk.kit.clock import utcnow
from souk.kit.pagination import Page, clamp_limit
from souk.kit.uploads import MediaStorage
from souk.models import Invitation, Membership, Organization, OrganizationDocument, Store, User
from souk.party.repository import OrganizationRepository, id_after, page_rows
from souk.party.schemas import (
    INVITATION_DAYS,
    InvitationCreate,
    InvitationRead,
    InvitationStatus,
    MemberRead,
    OrganizationCreate,
    OrganizationRead,
    OrganizationUpdate,
    RoleChange,
    UploadIn,
)
from souk.store.repository import StoreRepository

DOCUMENT_KINDS = ("registration", "brand_authorization", "other")
# changing these after an operator verified the organisation would bypass the verification
VERIFIED_FIELDS = ("legal_name", "registration_number", "country")


def normalise_registration(number: str) -> str:
    return " ".join(number.split()).upper()


def invitation_status(invitation: Invitation, now: datetime) -> InvitationStatus:
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.declined_at is not None:
        return "declined"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= now:
        return "expired"
    return "pending"


def invitation_read(invitation: Invitation, organization: Organization, inviter: User) -> InvitationRead:
    return InvitationRead(
        id=invitation.id,
        organization_id=invitation.organization_id,
        organization_name=organization.legal_name,
        email=invitation.email,
        role=invitation.role,  # type: ignore[arg-type]
        status=invitation_status(invitation, utcnow()),
        invited_by_name=inviter.display_name,
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
    )


def member_read(membership: Membership, user: User) -> MemberRead:
    return MemberRead(
        organization_id=membership.organization_id,
        user_id=user.id,
        display_name=user.display_name,
        email=user.email,
        role=membership.role,  # type: ignore[arg-type]
        created_at=membership.created_at,
    )


async def attach_document(
    session: AsyncSession,
    actor: Actor,
    storage: MediaStorage,
    organization: Organization,
    *,
    kind: str,
    upload: UploadIn,
    store: Store | None = None,
    field: str = "file",
) -> OrganizationDocument:
    """Store a document of an organisation whose ``org:manage`` permission the caller already checked."""
    if kind not in DOCUMENT_KINDS:
        raise invalid_field("kind", "must be registration, brand_authorization or other")
    if kind == "brand_authorization":
        if store is None:
            raise invalid_field("store_id", "a brand authorisation belongs to one mall store: give its id")
        if store.trade_model != "mall":
            raise invalid_field("store_id", "brand authorisations are for mall stores")
    stored = storage.save_document(
        upload.data, upload.filename, subdir=f"organizations/{organization.id}", field=field
    )
    document = OrganizationDocument(
        organization_id=organization.id,
        kind=kind,
        store_id=store.id if store else None,
        filename=stored.filename,
        path=stored.path,
        content_type=stored.content_type,
        size_bytes=stored.size_bytes,
        uploaded_by_id=actor.user_id,
    )
    session.add(document)
    await session.flush()
    return document


class PartyService:
    # --- organisations ---------------------------------------------------------------------------

    async def create_organization(
        self,
        session: AsyncSession,
        actor: Actor,
        payload: OrganizationCreate,
        *,
        storage: MediaStorage | None = None,
        registration_document: UploadIn | None = None,
    ) -> Organization:
        """Register a business; the creator becomes its owner; it waits for an operator's review."""
        user_id = require_writer(actor)
        repo = OrganizationRepository(session)
        number = normalise_registration(payload.registration_number)
        if await repo.registration_taken(payload.country, number):
            raise self._registration_taken()
        organization = Organization(
            legal_name=payload.legal_name,
            registration_number=number,
            country=payload.country,
            address=payload.address,
            status="pending_review",
            created_by_id=user_id,
        )
        try:
            async with session.begin_nested():
                session.add(organization)
                await session.flush()
        except IntegrityError as exc:  # registered at the same moment by someone else
            raise self._registration_taken() from exc
        session.add(Membership(organization_id=organization.id, user_id=user_id, role="owner"))
        await session.flush()
        if registration_document is not None:
            if storage is None:
                raise ValueError("storage is needed to save a document")
            await attach_document(
                session,
                actor,
                storage,
                organization,
                kind="registration",
                upload=registration_document,
                field="document",
            )
        return organization

    @staticmethod
    def _registration_taken() -> Conflict:
        return Conflict(
            "An organisation with this registration number is already registered in that country.",
            code="registration_taken",
            fields={"registration_number": "is already registered in this country"},
        )

    async def get_organization(
        self, session: AsyncSession, actor: Actor, organization_id: int
    ) -> Organization:
        return await get_organization_for(session, actor, organization_id, "org:read")

    async def my_role(self, session: AsyncSession, actor: Actor, organization_id: int) -> str | None:
        return await organization_role(session, actor, organization_id)

    async def list_mine(
        self, session: AsyncSession, actor: Actor, *, cursor: str | None = None, limit: int | None = None
    ) -> Page[OrganizationRead]:
        require_user(actor)
        size = clamp_limit(limit)
        rows = await OrganizationRepository(session).page_for(actor, id_after(cursor), size)
        items, next_cursor = page_rows(rows, size)
        return Page[OrganizationRead](
            items=[OrganizationRead.model_validate(o) for o in items], next_cursor=next_cursor
        )

    async def all_mine(self, session: AsyncSession, actor: Actor) -> list[tuple[Organization, str]]:
        """Every organisation of the actor with the actor's role (for the seller dashboard)."""
        require_user(actor)
        return await OrganizationRepository(session).all_for(actor)

    async def update_organization(
        self, session: AsyncSession, actor: Actor, organization_id: int, payload: OrganizationUpdate
    ) -> Organization:
        organization = await get_organization_for(session, actor, organization_id, "org:manage")
        changes = {
            key: value
            for key, value in payload.model_dump(exclude_unset=True, exclude_none=True).items()
            if value != getattr(organization, key)
        }
        if "registration_number" in changes:
            changes["registration_number"] = normalise_registration(changes["registration_number"])
            if changes["registration_number"] == organization.registration_number:
                del changes["registration_number"]
        locked = [key for key in VERIFIED_FIELDS if key in changes]
        if organization.status == "approved" and locked:
            raise Conflict(
                "A verified organisation's legal details cannot be changed here; contact support.",
                code="organization_verified",
                fields={key: "cannot be changed after verification" for key in locked},
            )
        if "registration_number" in changes or "country" in changes:
            country = changes.get("country", organization.country)
            number = changes.get("registration_number", organization.registration_number)
            if await OrganizationRepository(session).registration_taken(country, number, organization.id):
                raise self._registration_taken()
        for key, value in changes.items():
            setattr(organization, key, value)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError as exc:
            raise self._registration_taken() from exc
        return organization

    async def submit_organization(
        self, session: AsyncSession, actor: Actor, organization_id: int
    ) -> Organization:
        """Send a rejected organisation back for review after fixing it."""
        await get_organization_for(session, actor, organization_id, "org:manage")
        organization = await OrganizationRepository(session).get(organization_id, for_update=True)
        if organization is None:
            raise NotFound("No such organisation.", code="organization_not_found")
        if organization.status != "rejected":
            raise Conflict("Only a rejected organisation can be sent for review again.", code="not_rejected")
        organization.status = "pending_review"
        organization.review_reason = None
        await session.flush()
        return organization

    # --- documents -------------------------------------------------------------------------------

    async def upload_document(
        self,
        session: AsyncSession,
        actor: Actor,
        storage: MediaStorage,
        organization_id: int,
        *,
        kind: str,
        upload: UploadIn,
        store_id: int | None = None,
        field: str = "file",
    ) -> OrganizationDocument:
        organization = await get_organization_for(session, actor, organization_id, "org:manage")
        store = None
        if store_id is not None:
            store = await StoreRepository(session).get(store_id)
            if store is None or store.organization_id != organization.id:
                raise invalid_field("store_id", "is not a store of this organisation")
        return await attach_document(
            session, actor, storage, organization, kind=kind, upload=upload, store=store, field=field
        )

    async def list_documents(
        self, session: AsyncSession, actor: Actor, organization_id: int
    ) -> list[OrganizationDocument]:
        await get_organization_for_review(session, actor, organization_id)
        return list(await OrganizationRepository(session).documents(organization_id))

    async def document_file(
        self,
        session: AsyncSession,
        actor: Actor,
        storage: MediaStorage,
        organization_id: int,
        document_id: int,
    ) -> tuple[OrganizationDocument, Path]:
        """A private document and its file, for the organisation's people and operators only (else 404)."""
        await get_organization_for_review(session, actor, organization_id)
        document = await OrganizationRepository(session).document(organization_id, document_id)
        if document is None:
            raise NotFound("No such document.", code="document_not_found")
        path = storage.private_file(document.path)
        if not path.is_file():
            raise NotFound("The document's file is missing.", code="document_not_found")
        return document, path

    # --- members ---------------------------------------------------------------------------------

    async def list_members(
        self, session: AsyncSession, actor: Actor, organization_id: int
    ) -> list[MemberRead]:
        await get_organization_for_review(session, actor, organization_id)
        rows = await OrganizationRepository(session).members(organization_id)
        return [member_read(m, u) for m, u in rows]

    async def change_role(
        self, session: AsyncSession, actor: Actor, organization_id: int, user_id: int, payload: RoleChange
    ) -> MemberRead:
        await get_organization_for(session, actor, organization_id, "org:members")
        repo = OrganizationRepository(session)
        await repo.lock(organization_id)
        my_role = await organization_role(session, actor, organization_id)
        found = await repo.member(organization_id, user_id)
        if found is None:
            raise NotFound("No such member.", code="member_not_found")
        membership, user = found
        if membership.role == payload.role:
            return member_read(membership, user)
        if "owner" in (membership.role, payload.role) and my_role != "owner":
            raise Forbidden("Only an owner can give or take away the owner role.", code="owner_only")
        if membership.role == "owner" and await repo.owner_count(organization_id) <= 1:
            raise self._last_owner()
        membership.role = payload.role
        await session.flush()
        return member_read(membership, user)

    async def remove_member(
        self, session: AsyncSession, actor: Actor, organization_id: int, user_id: int
    ) -> None:
        """Remove a member (``org:members``), or leave the organisation yourself (any role)."""
        leaving = user_id == actor.user_id
        await get_organization_for(session, actor, organization_id, "org:read" if leaving else "org:members")
        if leaving:
            require_writer(actor)
        repo = OrganizationRepository(session)
        await repo.lock(organization_id)
        my_role = await organization_role(session, actor, organization_id)
        found = await repo.member(organization_id, user_id)
        if found is None:
            raise NotFound("No such member.", code="member_not_found")
        membership, _user = found
        if membership.role == "owner" and my_role != "owner":
            raise Forbidden("Only an owner can remove an owner.", code="owner_only")
        if membership.role == "owner" and await repo.owner_count(organization_id) <= 1:
            raise self._last_owner()
        await session.delete(membership)
        await session.flush()

    @staticmethod
    def _last_owner() -> Conflict:
        return Conflict(
            "An organisation always needs an owner: make someone else an owner first.",
            code="last_owner",
            fields={"role": "the organisation's only owner must stay an owner"},
        )

    # --- invitations -----------------------------------------------------------------------------

    async def invite(
        self, session: AsyncSession, actor: Actor, organization_id: int, payload: InvitationCreate
    ) -> InvitationRead:
        organization = await get_organization_for(session, actor, organization_id, "org:members")
        if payload.role == "owner" and await organization_role(session, actor, organization_id) != "owner":
            raise Forbidden("Only an owner can invite another owner.", code="owner_only")
        repo = OrganizationRepository(session)
        email = str(payload.email).lower()
        now = utcnow()
        if await repo.is_member_email(organization_id, email):
            raise Conflict(
                "This person is already a member.",
                code="already_member",
                fields={"email": "is already a member of this organisation"},
            )
        if await repo.open_invitation(organization_id, email, now) is not None:
            raise Conflict(
                "This address already has a pending invitation.",
                code="invitation_pending",
                fields={"email": "already has a pending invitation"},
            )
        invitation = Invitation(
            organization_id=organization_id,
            email=email,
            role=payload.role,
            invited_by_id=actor.user_id,
            created_at=now,
            expires_at=now + timedelta(days=INVITATION_DAYS),
        )
        session.add(invitation)
        await session.flush()
        inviter = await session.get(User, actor.user_id)
        assert inviter is not None
        return invitation_read(invitation, organization, inviter)

    async def list_invitations(
        self, session: AsyncSession, actor: Actor, organization_id: int
    ) -> list[InvitationRead]:
        await get_organization_for(session, actor, organization_id, "org:read")
        rows = await OrganizationRepository(session).invitations(organization_id)
        return [invitation_read(i, o, u) for i, o, u in rows]

    async def revoke_invitation(
        self, session: AsyncSession, actor: Actor, organization_id: int, invitation_id: int
    ) -> None:
        await get_organization_for(session, actor, organization_id, "org:members")
        invitation = await OrganizationRepository(session).invitation(invitation_id, for_update=True)
        if invitation is None or invitation.organization_id != organization_id:
            raise NotFound("No such invitation.", code="invitation_not_found")
        if invitation_status(invitation, utcnow()) != "pending":
            raise Conflict("This invitation is no longer pending.", code="invitation_closed")
        invitation.revoked_at = utcnow()
        await session.flush()

    async def my_invitations(self, session: AsyncSession, actor: Actor) -> list[InvitationRead]:
        """Pending invitations sent to the actor's email address."""
        require_user(actor)
        if not actor.email:
            return []
        rows = await OrganizationRepository(session).open_invitations_for_email(actor.email, utcnow())
        return [invitation_read(i, o, u) for i, o, u in rows]

    async def _my_open_invitation(
        self, session: AsyncSession, actor: Actor, invitation_id: int
    ) -> Invitation:
        require_writer(actor)
        invitation = await OrganizationRepository(session).invitation(invitation_id, for_update=True)
        if invitation is None or not actor.email or invitation.email.lower() != actor.email.lower():
            raise NotFound("No such invitation.", code="invitation_not_found")
        status = invitation_status(invitation, utcnow())
        if status == "expired":
            raise Conflict("This invitation has expired; ask for a new one.", code="invitation_expired")
        if status != "pending":
            raise Conflict(f"This invitation was already {status}.", code="invitation_closed")
        return invitation

    async def accept_invitation(self, session: AsyncSession, actor: Actor, invitation_id: int) -> MemberRead:
        invitation = await self._my_open_invitation(session, actor, invitation_id)
        repo = OrganizationRepository(session)
        if await organization_role(session, actor, invitation.organization_id) is not None:
            raise Conflict("You are already a member of this organisation.", code="already_member")
        membership = Membership(
            organization_id=invitation.organization_id, user_id=actor.user_id, role=invitation.role
        )
        session.add(membership)
        invitation.accepted_at = utcnow()
        await session.flush()
        found = await repo.member(invitation.organization_id, membership.user_id)
        assert found is not None
        return member_read(*found)

    async def decline_invitation(
        self, session: AsyncSession, actor: Actor, invitation_id: int
    ) -> InvitationRead:
        invitation = await self._my_open_invitation(session, actor, invitation_id)
        invitation.declined_at = utcnow()
        await session.flush()
        organization, inviter = await OrganizationRepository(session).invitation_context(invitation)
        return invitation_read(invitation, organization, inviter)


party_service = PartyService()
