"""The read side of refund requests and disputes: reads scoped to the actor for buyers, stores and operators,
and the read models the API and the pages show. Every statement runs in ``souk.dispute.repository``; scoping
goes through it (a dispute of the buyer, of ``souk.authz.store_ids(actor, ...)``, a seller order of the buyer),
so out of scope is a 404 and no owner id is compared here. The transitions live in ``souk.dispute.service``
(``DisputeService`` extends this)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import get_store_for, require_operator, require_user, store_ids
from souk.dispute.errors import DisputeDocumentNotFound, DisputeNotFound
from souk.dispute.repository import DisputeRepository
from souk.dispute.schemas import DisputeDocumentRead, DisputeEventRead, DisputeRead
from souk.errors import Invalid, NotFound
from souk.kit.uploads import MediaStorage
from souk.ledger import accounts
from souk.ledger.service import ledger_service
from souk.models import Dispute, DisputeEvent, SellerOrder
from souk.order.repository import OrderRepository

REFUND_OUTCOMES = ("refund_full", "refund_partial")
# how many disputes a list shows
LIST_LIMIT = 200
# who a document download is for: anyone who may read the dispute (the API), or the one audience of a page
DocumentAudience = Literal["any", "buyer", "store", "operator"]


def document_url(dispute_id: int, event_id: int, index: int) -> str:
    return f"/api/v1/disputes/{dispute_id}/documents/{event_id}/{index}"


def event_read(event: DisputeEvent) -> DisputeEventRead:
    """An entry of the log. Its evidence documents are listed with their download URLs; where they are stored
    stays private, so ``data`` leaves them out."""
    data = dict(event.data or {})
    stored = data.pop("documents", None) or []
    documents = [
        DisputeDocumentRead(
            index=n,
            filename=str(d.get("filename") or "document.pdf"),
            content_type=str(d.get("content_type") or "application/pdf"),
            size_bytes=int(d.get("size_bytes") or 0),
            url=document_url(event.dispute_id, event.id, n),
        )
        for n, d in enumerate(stored)
    ]
    return DisputeEventRead.model_validate(event).model_copy(update={"data": data, "documents": documents})


class DisputeQueries:
    """The read side of disputes (and the scoped reads of the seller orders they are about)."""

    # --- reads ------------------------------------------------------------------------------------------

    async def _dispute(self, session: AsyncSession, dispute_id: int) -> Dispute | None:
        """Unscoped: for operators, timers and re-reads after a scoped read."""
        return await DisputeRepository(session).dispute(dispute_id)

    async def _events(self, session: AsyncSession, dispute_id: int) -> Sequence[DisputeEvent]:
        return await DisputeRepository(session).events(dispute_id)

    async def read(self, session: AsyncSession, dispute: Dispute, *, events: bool = True) -> DisputeRead:
        result = DisputeRead.model_validate(dispute)
        if events:
            result.events = [event_read(e) for e in await self._events(session, dispute.id)]
        return result

    async def for_buyer(self, session: AsyncSession, actor: Actor, dispute_id: int) -> Dispute:
        """A dispute the actor opened (else 404; 401 without a user)."""
        user_id = require_user(actor)
        dispute = await DisputeRepository(session).dispute_of_buyer(dispute_id, user_id)
        if dispute is None:
            raise DisputeNotFound()
        return dispute

    async def _for_store(
        self, session: AsyncSession, actor: Actor, dispute_id: int, permission: str
    ) -> Dispute:
        """A dispute about one of the actor's stores (else 404) on which the actor holds ``permission`` (else
        403; 401 without a user)."""
        require_user(actor)
        dispute = await DisputeRepository(session).dispute_of_stores(
            dispute_id, store_ids(actor, "store:read")
        )
        if dispute is None:
            raise DisputeNotFound()
        try:
            await get_store_for(session, actor, dispute.store_id, permission)
        except NotFound:
            raise DisputeNotFound() from None
        return dispute

    async def _visible(self, session: AsyncSession, actor: Actor, dispute_id: int) -> Dispute:
        """A dispute for its buyer, the store's people or an operator (else 404; 401 without a user)."""
        user_id = require_user(actor)
        repo = DisputeRepository(session)
        if actor.is_operator:
            dispute = await repo.dispute(dispute_id)
        else:
            dispute = await repo.dispute_of_buyer_or_stores(
                dispute_id, user_id, store_ids(actor, "store:read")
            )
        if dispute is None:
            raise DisputeNotFound()
        return dispute

    async def document_file(
        self,
        session: AsyncSession,
        actor: Actor,
        storage: MediaStorage,
        dispute_id: int,
        event_id: int,
        index: int,
        *,
        audience: DocumentAudience = "any",
        store_id: int | None = None,
    ) -> tuple[dict[str, Any], Path]:
        """An evidence document and its file. ``any``: for the dispute's buyer, the store's people
        (``store:read``) and operators; ``buyer``: the buyer's own dispute; ``store``: a dispute of ``store_id``
        the actor works on; ``operator``: operators. Anyone else, and an event or index that is not this
        dispute's, gets a 404."""
        if audience == "buyer":
            dispute = await self.for_buyer(session, actor, dispute_id)
        elif audience == "store":
            dispute = await self._for_store(session, actor, dispute_id, "store:read")
            if dispute.store_id != store_id:
                raise DisputeNotFound()
        elif audience == "operator":
            if not actor.is_operator:
                raise DisputeNotFound()
            found = await self._dispute(session, dispute_id)
            if found is None:
                raise DisputeNotFound()
            dispute = found
        else:
            dispute = await self._visible(session, actor, dispute_id)
        event = await DisputeRepository(session).event(dispute.id, event_id)
        documents = ((event.data or {}).get("documents") or []) if event is not None else []
        if not 0 <= index < len(documents):
            raise DisputeDocumentNotFound()
        document = documents[index]
        try:
            path = storage.private_file(str(document["path"]))
        except Invalid:
            raise DisputeDocumentNotFound() from None
        if not path.is_file():
            raise DisputeDocumentNotFound()
        return document, path

    async def get(self, session: AsyncSession, actor: Actor, dispute_id: int) -> DisputeRead:
        """One dispute with its log, for its buyer, the store's people or an operator (else 404)."""
        return await self.read(session, await self._visible(session, actor, dispute_id))

    async def list_for_buyer(self, session: AsyncSession, actor: Actor) -> list[DisputeRead]:
        rows = await DisputeRepository(session).of_buyer(require_user(actor), LIST_LIMIT)
        return [await self.read(session, d, events=False) for d in rows]

    async def list_for_store(self, session: AsyncSession, actor: Actor, store_id: int) -> list[DisputeRead]:
        store = await get_store_for(session, actor, store_id, "store:read")
        rows = await DisputeRepository(session).of_store(store.id, LIST_LIMIT)
        return [await self.read(session, d, events=False) for d in rows]

    async def list_for_operator(
        self, session: AsyncSession, actor: Actor, status: str | None = "escalated"
    ) -> list[DisputeRead]:
        require_operator(actor)
        rows = await DisputeRepository(session).latest(status, LIST_LIMIT)
        return [await self.read(session, d, events=False) for d in rows]

    async def counts(self, session: AsyncSession) -> dict[str, int]:
        """How many disputes are in each status (the operators' queue)."""
        return await DisputeRepository(session).status_counts()

    async def open_for(self, session: AsyncSession, seller_order_ids: Sequence[int]) -> dict[int, Dispute]:
        """The open dispute of each of these seller orders (for the order pages)."""
        return await DisputeRepository(session).open_for(seller_order_ids)

    async def refunded_amount(self, session: AsyncSession, seller_order_id: int) -> int:
        """What disputes of this seller order have refunded so far."""
        return await DisputeRepository(session).resolved_total(seller_order_id, REFUND_OUTCOMES)

    async def refundable(self, session: AsyncSession, so: SellerOrder) -> int:
        """What may still be asked for: before receipt, what is left in the seller order's escrow; after it was
        released (a claim on a completed order), what was paid less what disputes refunded already."""
        if so.status == "completed":
            return max(0, so.total_amount - await self.refunded_amount(session, so.id))
        return await ledger_service.balance(session, accounts.escrow(so.store_id, so.id), so.currency)

    async def case(self, session: AsyncSession, actor: Actor, dispute_id: int) -> dict[str, Any]:
        """What an operator reads before ruling: the dispute with its log, its seller order, the order's
        timeline and the ledger movements of the seller order (each entry with its postings)."""
        require_operator(actor)
        dispute = await self._dispute(session, dispute_id)
        if dispute is None:
            raise DisputeNotFound()
        so = await self._seller_order(session, dispute)
        timeline = await DisputeRepository(session).timeline(so.id)
        entries = []
        for entry in await ledger_service.entries_for(session, ("seller_order", so.id)):
            entries.append({"entry": entry, "postings": await ledger_service.postings_of(session, entry.id)})
        return {
            "dispute": await self.read(session, dispute),
            "seller_order": so,
            "timeline": timeline,
            "ledger": entries,
            "refundable": await self.refundable(session, so),
        }

    async def _seller_order(self, session: AsyncSession, dispute: Dispute) -> SellerOrder:
        so = await OrderRepository(session).seller_order(dispute.seller_order_id)
        assert so is not None
        return so

    async def seller_order_of(self, session: AsyncSession, actor: Actor, dispute_id: int) -> SellerOrder:
        """The seller order a dispute is about, for whoever may read the dispute (else 404)."""
        return await self._seller_order(session, await self._visible(session, actor, dispute_id))

    async def buyer_seller_order(
        self, session: AsyncSession, actor: Actor, seller_order_id: int
    ) -> SellerOrder:
        """One of the actor's own seller orders, the one a refund request would be about (else 404)."""
        if actor.user_id is None:
            raise DisputeNotFound()
        so = await DisputeRepository(session).seller_order_of_buyer(seller_order_id, actor.user_id)
        if so is None:
            raise DisputeNotFound()
        return so
