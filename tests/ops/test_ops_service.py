from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.factories import actor_of
from fixtures.party import pdf_bytes
from souk.auth.actor import Actor
from souk.errors import Conflict, Forbidden, NotFound
from souk.models import OpsDecision, OrganizationDocument, Product, SearchDocument, Sku, Store
from souk.ops.schemas import OrganizationDecision, StoreDecision
from souk.ops.service import ops_service
from souk.party.schemas import UploadIn
from souk.party.service import party_service
from souk.search.indexing import index_products
from souk.store.service import store_service


async def listed_product(session: AsyncSession, store: Store, category_id: int) -> Product:
    """An active product with one SKU in ``store``, indexed for search."""
    product = Product(
        store_id=store.id,
        category_id=category_id,
        title="Steel bolts M8",
        slug="bolts",
        currency="USD",
        status="active",
    )
    session.add(product)
    await session.flush()
    session.add(Sku(product_id=product.id, code=f"M8-{product.id}", price_amount=12, currency="USD"))
    await session.flush()
    await index_products(session, [product.id])
    return product


async def visible(session: AsyncSession, product_id: int) -> bool:
    doc = await session.get(SearchDocument, product_id, populate_existing=True)
    assert doc is not None
    return doc.visible


def owner_actor(store: Store) -> Actor:
    """The person who owns a personal store."""
    return Actor(user_id=store.owner_user_id)


def approve(reason: str = "Licence checked") -> OrganizationDecision:
    return OrganizationDecision(decision="approve", reason=reason)


class TestOrganisationDecisions:
    async def test_non_operator_cannot_decide(self, session, organization_factory, user_factory):
        owner = await user_factory()
        org = await organization_factory(owner=owner, status="pending_review")
        for actor in (actor_of(owner), actor_of(await user_factory())):
            with pytest.raises(Forbidden) as err:
                await ops_service.decide_organization(session, actor, org.id, approve())
            assert err.value.code == "operator_only"
        assert org.status == "pending_review"

    async def test_approval_opens_pending_stores_and_their_products(
        self, session, organization_factory, store_factory, operator_factory, category_factory
    ):
        org = await organization_factory(status="pending_review")
        sourcing = await store_factory(trade_model="sourcing", organization=org, status="pending_review")
        product = await listed_product(session, sourcing, (await category_factory()).id)
        mall = await store_factory(
            trade_model="mall", organization=org, status="pending_review", brand_name="Bolt"
        )
        assert not await visible(session, product.id)
        operator = await operator_factory(display_name="Op Ana")

        decision = await ops_service.decide_organization(session, actor_of(operator), org.id, approve())

        assert decision.subject_status == "approved" and decision.operator_name == "Op Ana"
        assert org.status == "approved" and org.reviewed_by_id == operator.id
        assert sourcing.status == "active"
        assert mall.status == "pending_review"  # a mall store also needs its brand authorisation approved
        assert await visible(session, product.id)
        row = await session.scalar(select(OpsDecision).where(OpsDecision.subject_id == org.id))
        assert row is not None
        assert (row.subject_type, row.decision, row.reason, row.operator_id) == (
            "organization",
            "approve",
            "Licence checked",
            operator.id,
        )

    async def test_rejection_keeps_the_reason_and_resubmission_requeues(
        self, session, organization_factory, user_factory, operator_factory
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner, status="pending_review")
        operator = await operator_factory()
        await ops_service.decide_organization(
            session,
            actor_of(operator),
            org.id,
            OrganizationDecision(decision="reject", reason="Licence expired"),
        )
        assert (org.status, org.review_reason) == ("rejected", "Licence expired")
        assert (await ops_service.queue(session, actor_of(operator))).organizations == 0
        with pytest.raises(Conflict) as err:
            await ops_service.decide_organization(session, actor_of(operator), org.id, approve())
        assert err.value.code == "not_pending"
        await party_service.submit_organization(session, actor_of(owner), org.id)
        assert (await ops_service.queue(session, actor_of(operator))).organizations == 1

    async def test_reason_is_required(self):
        with pytest.raises(ValidationError) as err:
            OrganizationDecision.model_validate({"decision": "approve", "reason": "   "})
        assert err.value.errors()[0]["loc"] == ("reason",)
        with pytest.raises(ValidationError):
            StoreDecision.model_validate({"decision": "approve"})
        with pytest.raises(ValidationError):
            OrganizationDecision.model_validate({"decision": "suspend", "reason": "x"})

    async def test_review_shows_everything(
        self,
        session,
        organization_factory,
        store_factory,
        member_factory,
        user_factory,
        operator_factory,
        app,
    ):
        owner = await user_factory(display_name="Founder")
        org = await organization_factory(owner=owner, status="pending_review")
        await member_factory(org, "staff", display_name="Clerk")
        store = await store_factory(trade_model="sourcing", organization=org, status="pending_review")
        doc = await party_service.upload_document(
            session,
            actor_of(owner),
            app.state.storage,
            org.id,
            kind="registration",
            upload=UploadIn(pdf_bytes(), "r.pdf"),
        )
        operator = await operator_factory()
        review = await ops_service.organization_review(session, actor_of(operator), org.id)
        assert review.organization.id == org.id
        assert [d.id for d in review.documents] == [doc.id]
        assert [(m.display_name, m.role) for m in review.members] == [
            ("Founder", "owner"),
            ("Clerk", "staff"),
        ]
        assert [s.id for s in review.stores] == [store.id]
        assert review.decisions == []
        with pytest.raises(Forbidden):
            await ops_service.organization_review(session, actor_of(owner), org.id)
        with pytest.raises(NotFound):
            await ops_service.organization_review(session, actor_of(operator), 999_999)


class TestStoreDecisions:
    async def test_mall_store_needs_brand_document_and_its_own_approval(
        self,
        session,
        organization_factory,
        store_factory,
        user_factory,
        operator_factory,
        category_factory,
        app,
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner, status="approved")
        mall = await store_factory(
            trade_model="mall", organization=org, status="pending_review", brand_name="Lumen"
        )
        product = await listed_product(session, mall, (await category_factory()).id)
        operator = actor_of(await operator_factory())
        assert (await ops_service.queue(session, operator)).brand_authorizations == 0  # nothing to check yet
        with pytest.raises(Conflict) as err:
            await ops_service.decide_store(
                session, operator, mall.id, StoreDecision(decision="approve", reason="ok")
            )
        assert err.value.code == "brand_authorization_missing"

        await party_service.upload_document(
            session,
            actor_of(owner),
            app.state.storage,
            org.id,
            kind="brand_authorization",
            upload=UploadIn(pdf_bytes(), "lumen.pdf"),
            store_id=mall.id,
        )
        queue = await ops_service.queue(session, operator)
        assert (queue.brand_authorizations, queue.stores) == (1, 0)
        review = await ops_service.store_review(session, operator, mall.id)
        assert [d.filename for d in review.brand_documents] == ["lumen.pdf"] and review.in_queue

        decision = await ops_service.decide_store(
            session, operator, mall.id, StoreDecision(decision="approve", reason="Authorisation letter valid")
        )
        assert decision.subject_status == "active" and mall.status == "active"
        assert await visible(session, product.id)

    async def test_mall_store_approved_before_its_organisation_opens_with_it(
        self, session, organization_factory, store_factory, operator_factory
    ):
        org = await organization_factory(status="pending_review")
        mall = await store_factory(
            trade_model="mall", organization=org, status="pending_review", brand_name="Lumen"
        )
        session.add(
            OrganizationDocument(
                organization_id=org.id,
                kind="brand_authorization",
                store_id=mall.id,
                filename="a.pdf",
                path="organizations/x/a.pdf",
                content_type="application/pdf",
                size_bytes=10,
                uploaded_by_id=org.created_by_id,
            )
        )
        await session.flush()
        operator = actor_of(await operator_factory())
        decision = await ops_service.decide_store(
            session, operator, mall.id, StoreDecision(decision="approve", reason="ok")
        )
        assert decision.subject_status == "pending_review" and mall.approved_at is not None
        views = await store_service.views(session, [mall])
        assert views[0].note == "Approved. It opens when your organisation is verified."
        with pytest.raises(Conflict) as err:
            await ops_service.decide_store(
                session, operator, mall.id, StoreDecision(decision="approve", reason="again")
            )
        assert err.value.code == "already_approved"
        await ops_service.decide_organization(session, operator, org.id, approve())
        assert mall.status == "active"

    async def test_reject_then_resubmit(
        self, session, organization_factory, store_factory, user_factory, operator_factory
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner, status="approved")
        store = await store_factory(trade_model="crossborder", organization=org, status="pending_review")
        operator = actor_of(await operator_factory())
        assert (await ops_service.queue(session, operator)).stores == 1
        await ops_service.decide_store(
            session, operator, store.id, StoreDecision(decision="reject", reason="Shipping policy missing")
        )
        assert (store.status, store.review_reason) == ("rejected", "Shipping policy missing")
        assert (await ops_service.queue(session, operator)).stores == 0
        await store_service.submit(session, actor_of(owner), store.id)
        assert store.status == "pending_review" and (await ops_service.queue(session, operator)).stores == 1
        decisions = await ops_service.decisions(session, operator, subject_type="store", subject_id=store.id)
        assert [(d.decision, d.reason) for d in decisions.items] == [("reject", "Shipping policy missing")]

    async def test_suspend_hides_products(self, session, store_factory, operator_factory, category_factory):
        store = await store_factory()
        product = await listed_product(session, store, (await category_factory()).id)
        assert await visible(session, product.id)
        operator = actor_of(await operator_factory())
        await ops_service.decide_store(
            session, operator, store.id, StoreDecision(decision="suspend", reason="Fakes")
        )
        assert store.status == "suspended" and store.review_reason == "Fakes"
        assert not await visible(session, product.id)
        with pytest.raises(Conflict) as err:
            await ops_service.decide_store(
                session, operator, store.id, StoreDecision(decision="suspend", reason="x")
            )
        assert err.value.code == "not_active"
        # the seller asks for a new review; a personal store is back in the stores queue
        await store_service.submit(session, owner_actor(store), store.id)
        assert (await ops_service.queue(session, operator)).stores == 1
        await ops_service.decide_store(
            session, operator, store.id, StoreDecision(decision="approve", reason="Fixed")
        )
        assert store.status == "active" and await visible(session, product.id)

    async def test_non_pending_store_cannot_be_approved_or_rejected(
        self, session, store_factory, operator_factory
    ):
        store = await store_factory(status="active")
        operator = actor_of(await operator_factory())
        for decision in ("approve", "reject"):
            with pytest.raises(Conflict):
                await ops_service.decide_store(
                    session, operator, store.id, StoreDecision(decision=decision, reason="x")
                )

    async def test_stores_list_and_queue_filter(
        self, session, organization_factory, store_factory, operator_factory
    ):
        approved = await organization_factory(status="approved")
        pending_org = await organization_factory(status="pending_review")
        queued = await store_factory(trade_model="sourcing", organization=approved, status="pending_review")
        await store_factory(trade_model="sourcing", organization=pending_org, status="pending_review")
        active = await store_factory()
        operator = actor_of(await operator_factory())
        to_review = await ops_service.stores(session, operator, to_review=True)
        assert queued.id in [s.id for s in to_review.items]
        assert all(s.status == "pending_review" for s in to_review.items)
        assert active.id in [
            s.id for s in (await ops_service.stores(session, operator, status="active")).items
        ]
        with pytest.raises(Forbidden):
            await ops_service.stores(session, owner_actor(active))
