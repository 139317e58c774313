"""The authorization choke point: what an Actor may see and touch.

Two questions, always in this order (ARCHITECTURE rule 8):
1. scope: fetch through a statement limited to what the actor can see (out of scope -> 404);
2. permission: the actor's role on that store/organisation must grant the permission (else 403).
No route or service checks ownership on its own; they call these functions.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Select, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.errors import Forbidden, NotFound, Unauthenticated
from souk.models import Membership, Organization, Store

Permission = Literal[
    "store:read",  # see the store's drafts, stock, history
    "store:manage",  # edit store settings
    "catalog:write",  # create and edit products, variants, images
    "stock:write",  # adjust stock
    "org:read",
    "org:manage",  # edit the organisation, open stores, upload documents
    "org:members",  # invite, change roles, remove members
]

Role = Literal["owner", "admin", "staff"]

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "owner": frozenset(
        {
            "store:read",
            "store:manage",
            "catalog:write",
            "stock:write",
            "org:read",
            "org:manage",
            "org:members",
        }
    ),
    "admin": frozenset(
        {
            "store:read",
            "store:manage",
            "catalog:write",
            "stock:write",
            "org:read",
            "org:manage",
            "org:members",
        }
    ),
    "staff": frozenset({"store:read", "catalog:write", "stock:write", "org:read"}),
}
# Permissions an API token without the "write" scope may still use.
READ_PERMISSIONS = frozenset({"store:read", "org:read"})


def roles_with(permission: str) -> list[str]:
    return [role for role, perms in ROLE_PERMISSIONS.items() if permission in perms]


def require_user(actor: Actor) -> int:
    if actor.user_id is None:
        raise Unauthenticated("Log in to continue.")
    return actor.user_id


def require_operator(actor: Actor) -> int:
    user_id = require_user(actor)
    if not actor.is_operator:
        raise Forbidden("Only platform operators can do this.", code="operator_only")
    _require_scope(actor, "write")
    return user_id


def _require_scope(actor: Actor, permission: str) -> None:
    if permission not in READ_PERMISSIONS and not actor.can_write():
        raise Forbidden("This API token is read-only.", code="token_read_only")


def store_ids(actor: Actor, permission: str = "store:read") -> Select[Any]:
    """Ids of the stores on which the actor holds ``permission`` (a subquery for ``IN``)."""
    if actor.user_id is None:
        return select(Store.id).where(literal(False))
    roles = roles_with(permission)
    owned = select(Store.id).where(Store.owner_user_id == actor.user_id)
    via_org = (
        select(Store.id)
        .join(Membership, Membership.organization_id == Store.organization_id)
        .where(Membership.user_id == actor.user_id, Membership.role.in_(roles))
    )
    return select(union_all(owned, via_org).subquery().c[0])


def organization_ids(actor: Actor, permission: str = "org:read") -> Select[Any]:
    if actor.user_id is None:
        return select(Organization.id).where(literal(False))
    return select(Membership.organization_id).where(
        Membership.user_id == actor.user_id, Membership.role.in_(roles_with(permission))
    )


async def store_role(session: AsyncSession, actor: Actor, store: Store) -> str | None:
    if actor.user_id is None:
        return None
    if store.owner_user_id == actor.user_id:
        return "owner"
    if store.organization_id is None:
        return None
    return await organization_role(session, actor, store.organization_id)


async def organization_role(session: AsyncSession, actor: Actor, organization_id: int) -> str | None:
    if actor.user_id is None:
        return None
    role: str | None = await session.scalar(
        select(Membership.role).where(
            Membership.organization_id == organization_id, Membership.user_id == actor.user_id
        )
    )
    return role


async def get_store_for(session: AsyncSession, actor: Actor, store_id: int, permission: str) -> Store:
    """The store if the actor is one of its people (else 404), with ``permission`` (else 403)."""
    require_user(actor)
    store = await session.scalar(
        select(Store).where(Store.id == store_id, or_(Store.id.in_(store_ids(actor, "store:read"))))
    )
    if store is None:
        raise NotFound("No such store.", code="store_not_found")
    role = await store_role(session, actor, store)
    if role is None or permission not in ROLE_PERMISSIONS[role]:
        raise Forbidden(f"Your role on this store does not allow {permission}.", code="role_forbids")
    _require_scope(actor, permission)
    return store


async def get_organization_for(
    session: AsyncSession, actor: Actor, organization_id: int, permission: str
) -> Organization:
    require_user(actor)
    role = await organization_role(session, actor, organization_id)
    organization = await session.get(Organization, organization_id) if role else None
    if organization is None or role is None:
        raise NotFound("No such organisation.", code="organization_not_found")
    if permission not in ROLE_PERMISSIONS[role]:
        raise Forbidden(f"Your role in this organisation does not allow {permission}.", code="role_forbids")
    _require_scope(actor, permission)
    return organization


def visible_store_condition():  # type: ignore[no-untyped-def]
    """SQL condition: the store is open to buyers."""
    return Store.status == "active"


def require_writer(actor: Actor) -> int:
    """A logged-in user whose credentials may write (a web session, or an API token with "write")."""
    user_id = require_user(actor)
    _require_scope(actor, "write")
    return user_id


async def get_organization_for_review(
    session: AsyncSession, actor: Actor, organization_id: int, permission: str = "org:read"
) -> Organization:
    """For reading an organisation's private records (documents): its people with ``permission``, or a
    platform operator reviewing it. Anyone else gets 404."""
    require_user(actor)
    if actor.is_operator:
        organization = await session.get(Organization, organization_id)
        if organization is None:
            raise NotFound("No such organisation.", code="organization_not_found")
        return organization
    return await get_organization_for(session, actor, organization_id, permission)
