"""The ops console: what waits for a platform operator, and the operator's decisions.

Every decision needs a reason and writes an ``OpsDecision`` row (who, when, what, why). Approving an
organisation opens its pending stores, except mall stores whose brand authorisation an operator has not
approved yet; a mall store opens when both its organisation and its brand authorisation are approved.
Every store status change re-indexes the store's products in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import require_operator
from souk.errors import Conflict, NotFound, invalid_field
from souk.kit.clock import utcnow
from souk.kit.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from souk.models import OpsDecision, Organization, Store, User
from souk.ops.repository import DECISION_SOURCE, RULING_SOURCE, DecisionRepository, LogKey, RulingRow
from souk.ops.schemas import (
    OpsDecisionRead,
    OrganizationDecision,
    OrganizationReview,
    QueueCounts,
    StoreDecision,
    StoreReview,
    UserBrief,
)
from souk.party.repository import OrganizationRepository, id_after, page_rows
from souk.party.schemas import DocumentRead, OrganizationRead
from souk.party.service import party_service
from souk.search.indexing import reindex_store
from souk.store.repository import StoreRepository, brand_review_condition, store_review_condition
from souk.store.schemas import StoreRead


def decision_read(
    decision: OpsDecision, operator_name: str, subject_status: str | None = None
) -> OpsDecisionRead:
    return OpsDecisionRead(
        id=decision.id,
        operator_id=decision.operator_id,
        operator_name=operator_name,
        subject_type=decision.subject_type,  # type: ignore[arg-type]
        subject_id=decision.subject_id,
        decision=decision.decision,  # type: ignore[arg-type]
        reason=decision.reason,
        created_at=decision.created_at,
        subject_status=subject_status,
    )


def ruling_read(row: RulingRow) -> OpsDecisionRead:
    """An operator's dispute ruling as a line of the decision log."""
    event = row.event
    data = event.data or {}
    return OpsDecisionRead(
        id=event.id,
        operator_id=event.actor_id or 0,
        operator_name=row.operator_name,
        subject_type="dispute",
        subject_id=event.dispute_id,
        decision="rule",
        reason=event.body,
        created_at=event.created_at,
        outcome=data.get("outcome", "released" if event.kind == "released" else None),
        amount=int(data.get("amount", 0)),
        currency=row.currency,
    )


def _log_key(cursor: str | None) -> LogKey | None:
    """The position a decision-log cursor points after (cursors are ``[created_at, source, id]``)."""
    values = decode_cursor(cursor)
    if values is None:
        return None
    try:
        moment, source, row_id = values
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (source, row_id)):
            raise ValueError("not a cursor")
        created_at = datetime.fromisoformat(moment)
        if created_at.tzinfo is None:
            raise ValueError("not a cursor")
    except (TypeError, ValueError) as exc:
        raise invalid_field("cursor", "is not a cursor this API issued") from exc
    return LogKey(created_at, source, row_id)


class OpsService:
    async def queue(self, session: AsyncSession, actor: Actor) -> QueueCounts:
        require_operator(actor)
        organizations = await OrganizationRepository(session).count_by_status("pending_review")
        stores = StoreRepository(session)
        brands = await stores.count_where(brand_review_condition())
        others = await stores.count_where(store_review_condition())
        return QueueCounts(
            organizations=organizations,
            brand_authorizations=brands,
            stores=others,
            total=organizations + brands + others,
        )

    # --- organisations ---------------------------------------------------------------------------

    async def organizations(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        status: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[OrganizationRead]:
        require_operator(actor)
        size = clamp_limit(limit)
        rows = await OrganizationRepository(session).page_by_status(status, id_after(cursor), size)
        items, next_cursor = page_rows(rows, size)
        return Page[OrganizationRead](
            items=[OrganizationRead.model_validate(o) for o in items], next_cursor=next_cursor
        )

    async def organization_review(
        self, session: AsyncSession, actor: Actor, organization_id: int
    ) -> OrganizationReview:
        """Everything an operator needs to decide on an organisation."""
        require_operator(actor)
        organization = await OrganizationRepository(session).get(organization_id)
        if organization is None:
            raise NotFound("No such organisation.", code="organization_not_found")
        documents = await party_service.list_documents(session, actor, organization_id)
        members = await party_service.list_members(session, actor, organization_id)
        stores = await StoreRepository(session).of_organization(organization_id)
        decisions = await DecisionRepository(session).for_subject("organization", organization_id)
        return OrganizationReview(
            organization=OrganizationRead.model_validate(organization),
            documents=[DocumentRead.model_validate(d) for d in documents],
            members=members,
            stores=[StoreRead.model_validate(s) for s in stores],
            decisions=[decision_read(d, name) for d, name in decisions],
        )

    async def decide_organization(
        self, session: AsyncSession, actor: Actor, organization_id: int, payload: OrganizationDecision
    ) -> OpsDecisionRead:
        operator_id = require_operator(actor)
        organization = await OrganizationRepository(session).get(organization_id, for_update=True)
        if organization is None:
            raise NotFound("No such organisation.", code="organization_not_found")
        if organization.status != "pending_review":
            raise Conflict(
                f"This organisation is {organization.status.replace('_', ' ')}, not waiting for review.",
                code="not_pending",
            )
        now = utcnow()
        opened: list[Store] = []
        if payload.decision == "approve":
            organization.status = "approved"
            organization.review_reason = None
            for store in await StoreRepository(session).waiting_for_organization(organization.id):
                store.status = "active"
                store.approved_at = store.approved_at or now
                store.review_reason = None
                store.reviewed_at = now
                store.reviewed_by_id = operator_id
                opened.append(store)
        else:
            organization.status = "rejected"
            organization.review_reason = payload.reason
        organization.reviewed_at = now
        organization.reviewed_by_id = operator_id
        decision = OpsDecision(
            operator_id=operator_id,
            subject_type="organization",
            subject_id=organization.id,
            decision=payload.decision,
            reason=payload.reason,
            created_at=now,
        )
        session.add(decision)
        await session.flush()
        for store in opened:
            await reindex_store(session, store.id)
        return decision_read(decision, await self._operator_name(session, actor), organization.status)

    # --- stores ----------------------------------------------------------------------------------

    async def stores(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        status: str | None = None,
        to_review: bool = False,
        trade_model: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[StoreRead]:
        """Stores for operators; ``to_review`` keeps only those waiting for an operator's decision."""
        require_operator(actor)
        size = clamp_limit(limit)
        conditions = []
        if to_review:
            conditions.append(or_(brand_review_condition(), store_review_condition()))
        if status is not None:
            conditions.append(Store.status == status)
        if trade_model is not None:
            conditions.append(Store.trade_model == trade_model)
        rows = await StoreRepository(session).page_where(conditions, id_after(cursor), size)
        items, next_cursor = page_rows(rows, size)
        return Page[StoreRead](items=[StoreRead.model_validate(s) for s in items], next_cursor=next_cursor)

    async def store_review(self, session: AsyncSession, actor: Actor, store_id: int) -> StoreReview:
        """Everything an operator needs to decide on a store (for a mall store: its brand authorisation)."""
        require_operator(actor)
        repo = StoreRepository(session)
        store = await repo.get(store_id)
        if store is None:
            raise NotFound("No such store.", code="store_not_found")
        organization: Organization | None = None
        owner: User | None = None
        brand_documents = []
        if store.organization_id is not None:
            organization = await OrganizationRepository(session).get(store.organization_id)
            brand_documents = list(
                await OrganizationRepository(session).documents(
                    store.organization_id, store_id=store.id, kind="brand_authorization"
                )
            )
        elif store.owner_user_id is not None:
            owner = await session.get(User, store.owner_user_id)
        blockers: list[str] = []
        if store.trade_model == "mall" and not brand_documents:
            blockers.append("No brand authorisation document has been uploaded yet.")
        if organization is not None and organization.status != "approved":
            blockers.append(
                f"The organisation is {organization.status.replace('_', ' ')}: "
                "the store opens only once it is approved."
            )
        if store.status == "pending_review" and store.approved_at is not None:
            blockers.append("Already approved; waiting for the organisation's verification.")
        in_queue = (
            await repo.count_where(
                and_(Store.id == store.id, or_(brand_review_condition(), store_review_condition()))
            )
            > 0
        )
        decisions = await DecisionRepository(session).for_subject("store", store.id)
        return StoreReview(
            store=StoreRead.model_validate(store),
            organization=OrganizationRead.model_validate(organization) if organization else None,
            owner=UserBrief.model_validate(owner) if owner else None,
            brand_documents=[DocumentRead.model_validate(d) for d in brand_documents],
            decisions=[decision_read(d, name) for d, name in decisions],
            product_count=await repo.product_count(store.id),
            blockers=blockers,
            in_queue=in_queue,
        )

    async def decide_store(
        self, session: AsyncSession, actor: Actor, store_id: int, payload: StoreDecision
    ) -> OpsDecisionRead:
        operator_id = require_operator(actor)
        repo = StoreRepository(session)
        found = await repo.get(store_id)
        if found is None:
            raise NotFound("No such store.", code="store_not_found")
        # lock in the same order as an organisation decision (organisation, then its stores), so that two
        # operators deciding on a mall store and on its organisation at once both see the other's result
        organization: Organization | None = None
        if found.organization_id is not None:
            organization = await OrganizationRepository(session).get(found.organization_id, for_update=True)
        store = await repo.get(store_id, for_update=True)
        assert store is not None
        now = utcnow()
        if payload.decision == "suspend":
            if store.status != "active":
                raise Conflict("Only an open store can be suspended.", code="not_active")
            store.status = "suspended"
            store.review_reason = payload.reason
        else:
            if store.status != "pending_review":
                raise Conflict(
                    f"This store is {store.status.replace('_', ' ')}, not waiting for review.",
                    code="not_pending",
                )
            if payload.decision == "reject":
                store.status = "rejected"
                store.review_reason = payload.reason
                store.approved_at = None
            else:
                await self._check_approvable(session, store)
                store.approved_at = now
                store.review_reason = None
                if organization is None or organization.status == "approved":
                    store.status = "active"
        store.reviewed_at = now
        store.reviewed_by_id = operator_id
        decision = OpsDecision(
            operator_id=operator_id,
            subject_type="store",
            subject_id=store.id,
            decision=payload.decision,
            reason=payload.reason,
            created_at=now,
        )
        session.add(decision)
        await session.flush()
        await reindex_store(session, store.id)
        return decision_read(decision, await self._operator_name(session, actor), store.status)

    async def _check_approvable(self, session: AsyncSession, store: Store) -> None:
        if store.approved_at is not None:
            raise Conflict(
                "This store is already approved; it opens when its organisation is approved.",
                code="already_approved",
            )
        if store.trade_model == "mall":
            has_document = store.id in await StoreRepository(session).brand_document_ids([store.id])
            if not store.brand_name or not has_document:
                raise Conflict(
                    "A mall store can be approved only with its brand and brand authorisation document.",
                    code="brand_authorization_missing",
                )

    # --- the decision log ------------------------------------------------------------------------

    async def decisions(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        subject_type: str | None = None,
        subject_id: int | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[OpsDecisionRead]:
        """The log, newest first: organisation and store decisions merged with the operators' dispute
        rulings (``subject_type="dispute"`` keeps only rulings; ``subject_id`` is then a dispute id)."""
        require_operator(actor)
        size = clamp_limit(limit)
        after = _log_key(cursor)
        repo = DecisionRepository(session)
        lines: list[tuple[LogKey, OpsDecisionRead]] = []
        if subject_type != "dispute":
            decisions = await repo.log_page(
                subject_type=subject_type, subject_id=subject_id, after=after, limit=size + 1
            )
            lines += [
                (LogKey(d.created_at, DECISION_SOURCE, d.id), decision_read(d, name)) for d, name in decisions
            ]
        if subject_type in (None, "dispute"):
            rulings = await repo.rulings_page(dispute_id=subject_id, after=after, limit=size + 1)
            lines += [
                (LogKey(r.event.created_at, RULING_SOURCE, r.event.id), ruling_read(r)) for r in rulings
            ]
        lines.sort(key=lambda line: (line[0].created_at, line[0].source, line[0].id), reverse=True)
        page = lines[:size]
        next_cursor = None
        if len(lines) > size:
            last = page[-1][0]
            next_cursor = encode_cursor([last.created_at.isoformat(), last.source, last.id])
        return Page[OpsDecisionRead](items=[read for _, read in page], next_cursor=next_cursor)

    async def _operator_name(self, session: AsyncSession, actor: Actor) -> str:
        if actor.display_name:
            return actor.display_name
        user = await session.get(User, actor.user_id)
        return user.display_name if user else ""


ops_service = OpsService()
