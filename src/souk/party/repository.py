"""All SQL for organisations, memberships, invitations and documents. No rules, no commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import organization_ids
from souk.errors import invalid_field
from souk.kit.pagination import decode_cursor, encode_cursor
from souk.models import Invitation, Membership, Organization, OrganizationDocument, User


def id_after(cursor: str | None) -> int | None:
    """The id a "newest first" cursor points after (cursors are ``[id]``)."""
    values = decode_cursor(cursor)
    if values is None:
        return None
    if len(values) != 1 or not isinstance(values[0], int) or isinstance(values[0], bool):
        raise invalid_field("cursor", "is not a cursor this API issued")
    return values[0]


AnySelect = TypeVar("AnySelect", bound=Select[*tuple[Any, ...]])


def newest_first(stmt: AnySelect, id_column: Any, after: int | None, limit: int) -> AnySelect:
    """``stmt`` ordered by id descending, after the cursor's id, one row more than a page."""
    if after is not None:
        stmt = stmt.where(id_column < after)
    return stmt.order_by(id_column.desc()).limit(limit + 1)


def page_rows(rows: Sequence[Any], limit: int, id_of: Any = None) -> tuple[list[Any], str | None]:
    """Cut the extra row off and make the cursor for the next page."""
    items = list(rows[:limit])
    if len(rows) <= limit or not items:
        return items, None
    last = items[-1]
    return items, encode_cursor([id_of(last) if id_of else last.id])


class OrganizationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, organization_id: int, *, for_update: bool = False) -> Organization | None:
        stmt = select(Organization).where(Organization.id == organization_id)
        if for_update:  # lock the row and read its current values, not the ones already in the session
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return await self.session.scalar(stmt)

    async def lock(self, organization_id: int) -> None:
        """Serialise member changes of one organisation (a row lock on PostgreSQL; SQLite writes are serial)."""
        await self.session.execute(
            select(Organization.id).where(Organization.id == organization_id).with_for_update()
        )

    async def registration_taken(self, country: str, number: str, exclude_id: int | None = None) -> bool:
        stmt = select(Organization.id).where(
            Organization.country == country,
            func.upper(Organization.registration_number) == number.upper(),
        )
        if exclude_id is not None:
            stmt = stmt.where(Organization.id != exclude_id)
        return (await self.session.scalar(stmt.limit(1))) is not None

    async def page_for(self, actor: Actor, after: int | None, limit: int) -> Sequence[Organization]:
        stmt = select(Organization).where(Organization.id.in_(organization_ids(actor, "org:read")))
        return (await self.session.scalars(newest_first(stmt, Organization.id, after, limit))).all()

    async def all_for(self, actor: Actor) -> list[tuple[Organization, str]]:
        """Every organisation the actor belongs to, with the actor's role, newest first."""
        rows = await self.session.execute(
            select(Organization, Membership.role)
            .join(Membership, Membership.organization_id == Organization.id)
            .where(Membership.user_id == actor.user_id)
            .order_by(Organization.id.desc())
        )
        return [(org, role) for org, role in rows]

    async def page_by_status(
        self, status: str | None, after: int | None, limit: int
    ) -> Sequence[Organization]:
        stmt = select(Organization)
        if status is not None:
            stmt = stmt.where(Organization.status == status)
        return (await self.session.scalars(newest_first(stmt, Organization.id, after, limit))).all()

    async def count_by_status(self, status: str) -> int:
        stmt = select(func.count()).select_from(Organization).where(Organization.status == status)
        return int(await self.session.scalar(stmt) or 0)

    # --- members ---------------------------------------------------------------------------------

    async def members(self, organization_id: int) -> list[tuple[Membership, User]]:
        rows = await self.session.execute(
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.organization_id == organization_id)
            .order_by(Membership.created_at, Membership.id)
        )
        return [(membership, user) for membership, user in rows]

    async def member(self, organization_id: int, user_id: int) -> tuple[Membership, User] | None:
        row = (
            await self.session.execute(
                select(Membership, User)
                .join(User, User.id == Membership.user_id)
                .where(Membership.organization_id == organization_id, Membership.user_id == user_id)
            )
        ).first()
        return (row[0], row[1]) if row else None

    async def owner_count(self, organization_id: int) -> int:
        stmt = select(func.count()).where(
            Membership.organization_id == organization_id, Membership.role == "owner"
        )
        return int(await self.session.scalar(stmt) or 0)

    async def is_member_email(self, organization_id: int, email: str) -> bool:
        stmt = (
            select(Membership.id)
            .join(User, User.id == Membership.user_id)
            .where(Membership.organization_id == organization_id, func.lower(User.email) == email.lower())
        )
        return (await self.session.scalar(stmt.limit(1))) is not None

    async def member_counts(self, organization_ids: Sequence[int]) -> dict[int, int]:
        if not organization_ids:
            return {}
        rows = await self.session.execute(
            select(Membership.organization_id, func.count())
            .where(Membership.organization_id.in_(organization_ids))
            .group_by(Membership.organization_id)
        )
        return {org_id: int(n) for org_id, n in rows}

    # --- invitations -----------------------------------------------------------------------------

    async def invitation(self, invitation_id: int, *, for_update: bool = False) -> Invitation | None:
        stmt = select(Invitation).where(Invitation.id == invitation_id)
        if for_update:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return await self.session.scalar(stmt)

    async def invitations(self, organization_id: int) -> list[tuple[Invitation, Organization, User]]:
        rows = await self.session.execute(
            select(Invitation, Organization, User)
            .join(Organization, Organization.id == Invitation.organization_id)
            .join(User, User.id == Invitation.invited_by_id)
            .where(Invitation.organization_id == organization_id)
            .order_by(Invitation.id.desc())
        )
        return [(invitation, organization, inviter) for invitation, organization, inviter in rows]

    async def open_invitation(self, organization_id: int, email: str, now: datetime) -> Invitation | None:
        return await self.session.scalar(
            select(Invitation).where(
                Invitation.organization_id == organization_id,
                func.lower(Invitation.email) == email.lower(),
                Invitation.accepted_at.is_(None),
                Invitation.declined_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now,
            )
        )

    async def open_invitations_for_email(
        self, email: str, now: datetime
    ) -> list[tuple[Invitation, Organization, User]]:
        rows = await self.session.execute(
            select(Invitation, Organization, User)
            .join(Organization, Organization.id == Invitation.organization_id)
            .join(User, User.id == Invitation.invited_by_id)
            .where(
                func.lower(Invitation.email) == email.lower(),
                Invitation.accepted_at.is_(None),
                Invitation.declined_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now,
            )
            .order_by(Invitation.id.desc())
        )
        return [(invitation, organization, inviter) for invitation, organization, inviter in rows]

    async def invitation_context(self, invitation: Invitation) -> tuple[Organization, User]:
        row = (
            await self.session.execute(
                select(Organization, User)
                .join(User, User.id == invitation.invited_by_id)
                .where(Organization.id == invitation.organization_id)
            )
        ).one()
        return row[0], row[1]

    # --- documents -------------------------------------------------------------------------------

    async def documents(
        self, organization_id: int, *, store_id: int | None = None, kind: str | None = None
    ) -> Sequence[OrganizationDocument]:
        stmt = select(OrganizationDocument).where(OrganizationDocument.organization_id == organization_id)
        if store_id is not None:
            stmt = stmt.where(OrganizationDocument.store_id == store_id)
        if kind is not None:
            stmt = stmt.where(OrganizationDocument.kind == kind)
        return (await self.session.scalars(stmt.order_by(OrganizationDocument.id.desc()))).all()

    async def document(self, organization_id: int, document_id: int) -> OrganizationDocument | None:
        return await self.session.scalar(
            select(OrganizationDocument).where(
                OrganizationDocument.id == document_id,
                OrganizationDocument.organization_id == organization_id,
            )
        )
