from __future__ import annotations

from sqlalchemy import func, select

from fixtures.core import form, login_as
from fixtures.party import pdf_bytes
from souk.models import OpsDecision, OrganizationDocument, Store


async def decision_count(session, subject_type: str, subject_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(OpsDecision)
            .where(OpsDecision.subject_type == subject_type, OpsDecision.subject_id == subject_id)
        )
        or 0
    )


class TestAccess:
    async def test_non_operator_sees_not_allowed(self, client, session, user_factory):
        await login_as(client, session, await user_factory())
        await session.commit()
        for url in ("/ops", "/ops/organizations", "/ops/stores", "/ops/decisions"):
            r = await client.get(url)
            assert r.status_code == 403 and "Not allowed" in r.text, url

    async def test_anonymous_goes_to_login(self, client):
        r = await client.get("/ops")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/ops"

    async def test_non_operator_cannot_post_a_decision(
        self, client, session, user_factory, organization_factory
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner, status="pending_review")
        org_id = org.id
        await login_as(client, session, owner)
        await session.commit()
        r = await client.post(
            f"/ops/organizations/{org_id}/decision", data=form(client, decision="approve", reason="me")
        )
        assert r.status_code == 403
        assert await decision_count(session, "organization", org_id) == 0


class TestQueue:
    async def test_queue_counts_and_items(
        self, client, session, operator_factory, organization_factory, store_factory
    ):
        org = await organization_factory(status="pending_review", legal_name="Queue Test Ltd")
        approved = await organization_factory(status="approved")
        store = await store_factory(
            trade_model="sourcing", organization=approved, status="pending_review", name="Queued Store"
        )
        await login_as(client, session, await operator_factory())
        r = await client.get("/ops")
        assert r.status_code == 200
        assert "organisations to verify" in r.text and "Queue Test Ltd" in r.text and "Queued Store" in r.text
        assert f'href="/ops/organizations/{org.id}"' in r.text and f'href="/ops/stores/{store.id}"' in r.text
        listed = await client.get("/ops/stores?status=queue")
        assert "Queued Store" in listed.text
        listed = await client.get("/ops/organizations?status=approved")
        assert approved.legal_name in listed.text and "Queue Test Ltd" not in listed.text
        assert (await client.get("/ops/organizations?status=bogus")).status_code == 422


class TestOrganisationReview:
    async def test_review_page_and_decisions(
        self,
        client,
        session,
        user_factory,
        operator_factory,
        organization_factory,
        member_factory,
        store_factory,
        app,
    ):
        owner = await user_factory(display_name="Founder Fu")
        org = await organization_factory(owner=owner, status="pending_review", legal_name="Review Me Ltd")
        await member_factory(org, "admin", display_name="Admin Ada")
        store = await store_factory(
            trade_model="sourcing", organization=org, status="pending_review", name="Review Store"
        )
        stored = app.state.storage.save_document(pdf_bytes(), "licence.pdf", subdir=f"organizations/{org.id}")
        doc = OrganizationDocument(
            organization_id=org.id,
            kind="registration",
            filename=stored.filename,
            path=stored.path,
            content_type=stored.content_type,
            size_bytes=stored.size_bytes,
            uploaded_by_id=owner.id,
        )
        session.add(doc)
        await session.flush()
        org_id, store_id, doc_id = org.id, store.id, doc.id
        operator = await operator_factory(display_name="Olga Operator")
        await login_as(client, session, operator)
        await session.commit()

        page = await client.get(f"/ops/organizations/{org_id}")
        assert page.status_code == 200
        for text in (
            "Review Me Ltd",
            org.registration_number,
            "Founder Fu",
            "Admin Ada",
            "Review Store",
            "licence.pdf",
        ):
            assert text in page.text
        assert f'href="/ops/organizations/{org_id}/documents/{doc_id}"' in page.text
        assert "Record decision" in page.text and "No decision yet." in page.text

        r = await client.post(
            f"/ops/organizations/{org_id}/decision", data=form(client, decision="reject", reason="")
        )
        assert r.status_code == 422 and 'id="e-reason"' in r.text and "Review Me Ltd" in r.text
        assert await decision_count(session, "organization", org_id) == 0

        r = await client.post(
            f"/ops/organizations/{org_id}/decision",
            data=form(client, decision="reject", reason="The address does not match the licence"),
        )
        assert r.status_code == 303 and r.headers["location"] == f"/ops/organizations/{org_id}"
        page = await client.get(r.headers["location"])
        assert "Review Me Ltd rejected." in page.text
        assert "Olga Operator" in page.text and "The address does not match the licence" in page.text
        assert "Record decision" not in page.text
        log = await client.get("/ops/decisions")
        assert "The address does not match the licence" in log.text

        # the seller sees the reason on the seller dashboard
        await session.refresh(owner)
        await login_as(client, session, owner)
        dashboard = await client.get("/seller")
        assert "Reason: The address does not match the licence" in dashboard.text
        store_row = await session.get(Store, store_id)
        assert store_row is not None and store_row.status == "pending_review"

    async def test_approve_opens_stores(
        self, client, session, operator_factory, organization_factory, store_factory
    ):
        org = await organization_factory(status="pending_review")
        store = await store_factory(trade_model="crossborder", organization=org, status="pending_review")
        org_id, store_id = org.id, store.id
        await login_as(client, session, await operator_factory())
        await session.commit()
        r = await client.post(
            f"/ops/organizations/{org_id}/decision", data=form(client, decision="approve", reason="All good")
        )
        assert r.status_code == 303
        store_row = await session.get(Store, store_id, populate_existing=True)
        assert store_row is not None and store_row.status == "active"


class TestStoreReview:
    async def test_mall_store_page_and_suspension(
        self, client, session, user_factory, operator_factory, organization_factory, store_factory, app
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner, status="approved")
        store = await store_factory(
            trade_model="mall",
            organization=org,
            status="pending_review",
            brand_name="Aurora",
            name="Aurora Official",
        )
        stored = app.state.storage.save_document(
            pdf_bytes(), "aurora-letter.pdf", subdir=f"organizations/{org.id}"
        )
        session.add(
            OrganizationDocument(
                organization_id=org.id,
                kind="brand_authorization",
                store_id=store.id,
                filename=stored.filename,
                path=stored.path,
                content_type=stored.content_type,
                size_bytes=stored.size_bytes,
                uploaded_by_id=owner.id,
            )
        )
        store_id = store.id
        await login_as(client, session, await operator_factory())
        await session.commit()
        page = await client.get(f"/ops/stores/{store_id}")
        assert page.status_code == 200 and "Aurora" in page.text and "aurora-letter.pdf" in page.text
        assert "Approve the brand authorisation" in page.text

        r = await client.post(
            f"/ops/stores/{store_id}/decision",
            data=form(client, decision="approve", reason="Letter signed by Aurora"),
        )
        assert r.status_code == 303
        page = await client.get(f"/ops/stores/{store_id}")
        assert "Aurora Official approved." in page.text and "Suspend: close the store to buyers" in page.text

        r = await client.post(
            f"/ops/stores/{store_id}/decision", data=form(client, decision="suspend", reason="  ")
        )
        assert r.status_code == 422 and 'id="e-reason"' in r.text
        r = await client.post(
            f"/ops/stores/{store_id}/decision",
            data=form(client, decision="suspend", reason="Counterfeit reports"),
        )
        assert r.status_code == 303
        assert await decision_count(session, "store", store_id) == 2
        store_row = await session.get(Store, store_id, populate_existing=True)
        assert store_row is not None and (store_row.status, store_row.review_reason) == (
            "suspended",
            "Counterfeit reports",
        )

    async def test_csrf_missing_is_403(self, client, session, operator_factory, store_factory):
        store = await store_factory()
        store_id = store.id
        await login_as(client, session, await operator_factory())
        await session.commit()
        r = await client.post(f"/ops/stores/{store_id}/decision", data={"decision": "suspend", "reason": "x"})
        assert r.status_code == 403
        assert await decision_count(session, "store", store_id) == 0
