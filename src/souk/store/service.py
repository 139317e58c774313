"""Stores: opening, settings, logo, resubmission after review. Operators' decisions live in ``souk.ops``."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import get_organization_for, get_store_for, require_user, require_writer
from souk.errors import Conflict, NotFound, invalid_field
from souk.kit.pagination import Page, clamp_limit
from souk.kit.text import slugify
from souk.kit.uploads import MediaStorage
from souk.models import Organization, Store
from souk.party.repository import OrganizationRepository, id_after, page_rows
from souk.party.schemas import DocumentRead, UploadIn
from souk.party.service import attach_document
from souk.search.indexing import reindex_store
from souk.store.repository import StoreRepository
from souk.store.schemas import StoreCreate, StoreRead, StoreUpdate

SLUG_LENGTH = 60


@dataclass(frozen=True)
class StoreView:
    """A store as its seller sees it: its state in words and what to do next."""

    store: StoreRead
    organization_name: str | None
    organization_status: str | None
    has_brand_authorization: bool
    note: str
    # the viewer may change the store's settings (``store:manage``)
    can_manage: bool = False


@dataclass(frozen=True)
class StoreSettings:
    """What the store settings page shows."""

    view: StoreView
    currency_locked: bool
    brand_documents: list[DocumentRead]


def store_note(store: Store, organization_status: str | None, has_brand_authorization: bool) -> str:
    if store.status == "active":
        return "Open: buyers can see your active products."
    if store.status == "rejected":
        return "Rejected. Fix what the reason says, then send the store for review again."
    if store.status == "suspended":
        return "Suspended by the marketplace. Fix what the reason says, then ask for a new review."
    if store.trade_model == "mall" and not has_brand_authorization:
        return "Upload the brand authorisation document so we can review this mall store."
    org_pending = organization_status is not None and organization_status != "approved"
    if store.approved_at is not None and org_pending:
        return "Approved. It opens when your organisation is verified."
    if store.trade_model == "mall":
        waiting = "The brand authorisation is waiting for review by the marketplace team."
        return f"{waiting} The store also needs your organisation verified." if org_pending else waiting
    if org_pending:
        return "Opens when your organisation is verified."
    return "Waiting for review by the marketplace team."


class StoreService:
    async def create(
        self,
        session: AsyncSession,
        actor: Actor,
        payload: StoreCreate,
        *,
        storage: MediaStorage | None = None,
        logo: UploadIn | None = None,
        brand_document: UploadIn | None = None,
    ) -> Store:
        """Open a store. A personal market store is active at once; an organisation's store waits for review.
        A mall store needs a brand name, and a brand authorisation (here or uploaded later) to be reviewed."""
        user_id = require_writer(actor)
        organization: Organization | None = None
        if payload.organization_id is not None:
            organization = await get_organization_for(session, actor, payload.organization_id, "org:manage")
        elif payload.trade_model != "market":
            raise invalid_field(
                "organization_id",
                "only market stores can belong to a person; choose the organisation that opens this store",
            )
        if payload.trade_model == "mall" and not payload.brand_name:
            raise invalid_field("brand_name", "a mall store needs the name of the brand it sells")
        if payload.trade_model != "mall" and payload.brand_name:
            raise invalid_field("brand_name", "only mall stores have a brand")
        if brand_document is not None and payload.trade_model != "mall":
            raise invalid_field("brand_document", "only mall stores have a brand authorisation")
        if (logo is not None or brand_document is not None) and storage is None:
            raise ValueError("storage is needed to save uploaded files")
        logo_path = None
        if logo is not None and storage is not None:
            logo_path = storage.save_image(logo.data, subdir="stores", field="logo").path
        store = Store(
            name=payload.name,
            description=payload.description,
            country=payload.country,
            currency=payload.currency,
            trade_model=payload.trade_model,
            status="pending_review" if organization else "active",
            owner_user_id=None if organization else user_id,
            organization_id=organization.id if organization else None,
            brand_name=payload.brand_name,
            logo_path=logo_path,
        )
        await self._insert_with_unique_slug(session, store)
        if brand_document is not None and organization is not None and storage is not None:
            await attach_document(
                session,
                actor,
                storage,
                organization,
                kind="brand_authorization",
                upload=brand_document,
                store=store,
                field="brand_document",
            )
        return store

    async def _insert_with_unique_slug(self, session: AsyncSession, store: Store) -> None:
        base = slugify(store.name, max_length=SLUG_LENGTH)
        repo = StoreRepository(session)
        for attempt in range(3):
            if attempt < 2:
                taken = await repo.slugs_like(base)
                slug, n = base, 2
                while slug in taken:
                    slug, n = f"{base}-{n}", n + 1
            else:
                slug = f"{base}-{secrets.token_hex(3)}"
            store.slug = slug
            try:
                async with session.begin_nested():
                    session.add(store)
                    await session.flush()
                return
            except IntegrityError:  # the same slug taken at the same moment: look again
                continue
        raise Conflict("Could not find a free address for this store; try another name.", code="slug_taken")

    async def get(self, session: AsyncSession, actor: Actor, store_id: int) -> Store:
        """A store: anyone sees an active one; otherwise only its people (others get 404)."""
        store = await StoreRepository(session).get(store_id)
        if store is None:
            raise NotFound("No such store.", code="store_not_found")
        if store.status == "active":
            return store
        if actor.user_id is None:
            raise NotFound("No such store.", code="store_not_found")
        return await get_store_for(session, actor, store_id, "store:read")

    async def get_for(self, session: AsyncSession, actor: Actor, store_id: int, permission: str) -> Store:
        """A store of the actor's with ``permission`` (404 out of scope, 403 role too weak)."""
        return await get_store_for(session, actor, store_id, permission)

    async def list_public(
        self,
        session: AsyncSession,
        *,
        trade_model: str | None = None,
        country: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[StoreRead]:
        size = clamp_limit(limit)
        rows = await StoreRepository(session).page_public(
            trade_model=trade_model,
            country=country.upper() if country else None,
            after=id_after(cursor),
            limit=size,
        )
        items, next_cursor = page_rows(rows, size)
        return Page[StoreRead](items=[StoreRead.model_validate(s) for s in items], next_cursor=next_cursor)

    async def list_mine(
        self, session: AsyncSession, actor: Actor, *, cursor: str | None = None, limit: int | None = None
    ) -> Page[StoreRead]:
        require_user(actor)
        size = clamp_limit(limit)
        rows = await StoreRepository(session).page_scoped(actor, id_after(cursor), size)
        items, next_cursor = page_rows(rows, size)
        return Page[StoreRead](items=[StoreRead.model_validate(s) for s in items], next_cursor=next_cursor)

    async def my_store_views(self, session: AsyncSession, actor: Actor) -> list[StoreView]:
        """Every store the actor works on, with its state explained (the seller dashboard)."""
        require_user(actor)
        stores = await StoreRepository(session).all_scoped(actor)
        return await self.views(session, stores, actor)

    async def organization_store_views(
        self, session: AsyncSession, actor: Actor, organization_id: int
    ) -> list[StoreView]:
        await get_organization_for(session, actor, organization_id, "org:read")
        stores = await StoreRepository(session).of_organization(organization_id)
        return await self.views(session, stores, actor)

    async def views(
        self, session: AsyncSession, stores: Sequence[Store], actor: Actor | None = None
    ) -> list[StoreView]:
        repo = StoreRepository(session)
        orgs = await repo.organization_statuses([s.organization_id for s in stores if s.organization_id])
        with_brand = await repo.brand_document_ids([s.id for s in stores if s.trade_model == "mall"])
        manageable = await repo.scoped_ids(actor, "store:manage") if actor is not None else set()
        views = []
        for store in stores:
            name, status = orgs.get(store.organization_id or 0, (None, None))
            views.append(
                StoreView(
                    store=StoreRead.model_validate(store),
                    organization_name=name,
                    organization_status=status,
                    has_brand_authorization=store.id in with_brand,
                    note=store_note(store, status, store.id in with_brand),
                    can_manage=store.id in manageable,
                )
            )
        return views

    async def settings(self, session: AsyncSession, actor: Actor, store_id: int) -> StoreSettings:
        """A store of the actor's (``store:manage``) with what its settings page needs."""
        store = await get_store_for(session, actor, store_id, "store:manage")
        documents: list[DocumentRead] = []
        if store.organization_id is not None and store.trade_model == "mall":
            rows = await OrganizationRepository(session).documents(
                store.organization_id, store_id=store.id, kind="brand_authorization"
            )
            documents = [DocumentRead.model_validate(d) for d in rows]
        return StoreSettings(
            view=(await self.views(session, [store], actor))[0],
            currency_locked=await StoreRepository(session).has_products(store.id),
            brand_documents=documents,
        )

    async def update(self, session: AsyncSession, actor: Actor, store_id: int, payload: StoreUpdate) -> Store:
        store = await get_store_for(session, actor, store_id, "store:manage")
        changes = {
            key: value
            for key, value in payload.model_dump(exclude_unset=True, exclude_none=True).items()
            if value != getattr(store, key)
        }
        if "currency" in changes and await StoreRepository(session).has_products(store.id):
            raise Conflict(
                "The currency cannot change once the store has products.",
                code="currency_locked",
                fields={"currency": "is fixed once the store has products"},
            )
        if "brand_name" in changes:
            if store.trade_model != "mall":
                raise invalid_field("brand_name", "only mall stores have a brand")
            if store.status == "active" or store.approved_at is not None:
                raise Conflict(
                    "The brand of an approved mall store cannot change; open a new store for another brand.",
                    code="brand_locked",
                    fields={"brand_name": "is fixed once the brand authorisation is approved"},
                )
        for key, value in changes.items():
            setattr(store, key, value)
        await session.flush()
        if {"name", "brand_name"} & changes.keys():
            await reindex_store(session, store.id)
        return store

    async def set_logo(
        self,
        session: AsyncSession,
        actor: Actor,
        storage: MediaStorage,
        store_id: int,
        upload: UploadIn,
        *,
        field: str = "logo",
    ) -> Store:
        store = await get_store_for(session, actor, store_id, "store:manage")
        store.logo_path = storage.save_image(upload.data, subdir="stores", field=field).path
        await session.flush()
        return store

    async def submit(self, session: AsyncSession, actor: Actor, store_id: int) -> Store:
        """Send a rejected or suspended store back for review (after fixing what the reason said)."""
        await get_store_for(session, actor, store_id, "store:manage")
        repo = StoreRepository(session)
        store = await repo.get(store_id, for_update=True)
        if store is None:
            raise NotFound("No such store.", code="store_not_found")
        if store.status not in ("rejected", "suspended"):
            raise Conflict("Only a rejected or suspended store can be sent for review.", code="not_rejected")
        if store.trade_model == "mall":
            if not store.brand_name:
                raise invalid_field("brand_name", "a mall store needs the name of the brand it sells")
            if store.id not in await repo.brand_document_ids([store.id]):
                raise invalid_field(
                    "brand_document",
                    "upload the brand authorisation document first",
                    code="brand_authorization_missing",
                )
        store.status = "pending_review"
        store.approved_at = None
        store.review_reason = None
        await session.flush()
        await reindex_store(session, store.id)
        return store


store_service = StoreService()
