from __future__ import annotations

from sqlalchemy import select

from fixtures.core import api_token_for
from fixtures.party import pdf_bytes
from souk.models import OpsDecision, Product, SearchDocument, Sku
from souk.search.indexing import index_products


class TestAccess:
    async def test_only_operators(self, client, session, user_factory, organization_factory):
        org = await organization_factory(status="pending_review")
        org_id = org.id
        user = await api_token_for(session, await user_factory())
        await session.commit()
        for method, url, body in [
            ("GET", "/api/v1/ops/queue", None),
            ("GET", "/api/v1/ops/organizations", None),
            ("GET", f"/api/v1/ops/organizations/{org_id}", None),
            (
                "POST",
                f"/api/v1/ops/organizations/{org_id}/decision",
                {"decision": "approve", "reason": "fine"},
            ),
            ("GET", "/api/v1/ops/stores", None),
            ("GET", "/api/v1/ops/decisions", None),
        ]:
            r = await client.request(method, url, json=body, headers=user)
            assert r.status_code == 403 and r.json()["error"] == "operator_only", url
        assert (await client.get("/api/v1/ops/queue")).status_code == 401


class TestDecisions:
    async def test_approving_an_organisation_opens_its_store_in_search(
        self,
        client,
        session,
        user_factory,
        operator_factory,
        organization_factory,
        store_factory,
        category_factory,
        app,
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner, status="pending_review")
        store = await store_factory(trade_model="sourcing", organization=org, status="pending_review")
        category = await category_factory()
        product = Product(
            store_id=store.id,
            category_id=category.id,
            title="Nylon rope",
            slug="rope",
            currency="USD",
            status="active",
        )
        session.add(product)
        await session.flush()
        session.add(Sku(product_id=product.id, code="ROPE", price_amount=300, currency="USD"))
        await session.flush()
        await index_products(session, [product.id])
        org_id, store_id, product_id = org.id, store.id, product.id
        seller = await api_token_for(session, owner)
        operator_user = await operator_factory(display_name="Reviewer")
        operator = await api_token_for(session, operator_user)
        await session.commit()
        r = await client.post(
            f"/api/v1/organizations/{org_id}/documents",
            files={"file": ("reg.pdf", pdf_bytes(), "application/pdf")},
            data={"kind": "registration"},
            headers=seller,
        )
        doc_url = r.json()["download_url"]

        queue = await client.get("/api/v1/ops/queue", headers=operator)
        assert queue.json()["organizations"] >= 1
        listed = await client.get(
            "/api/v1/ops/organizations", params={"status": "pending_review"}, headers=operator
        )
        assert org_id in [o["id"] for o in listed.json()["items"]]

        review = (await client.get(f"/api/v1/ops/organizations/{org_id}", headers=operator)).json()
        assert [d["download_url"] for d in review["documents"]] == [doc_url]
        assert [s["id"] for s in review["stores"]] == [store_id]
        assert (await client.get(doc_url, headers=operator)).status_code == 200

        r = await client.post(
            f"/api/v1/ops/organizations/{org_id}/decision", json={"decision": "approve"}, headers=operator
        )
        assert r.status_code == 422 and "reason" in r.json()["fields"]
        r = await client.post(
            f"/api/v1/ops/organizations/{org_id}/decision",
            json={"decision": "approve", "reason": " "},
            headers=operator,
        )
        assert r.status_code == 422 and "reason" in r.json()["fields"]
        r = await client.post(
            f"/api/v1/ops/organizations/{org_id}/decision",
            json={"decision": "maybe", "reason": "x"},
            headers=operator,
        )
        assert r.status_code == 422 and "decision" in r.json()["fields"]
        assert (await session.scalar(select(OpsDecision).where(OpsDecision.subject_id == org_id))) is None

        r = await client.post(
            f"/api/v1/ops/organizations/{org_id}/decision",
            json={"decision": "approve", "reason": "Registration verified"},
            headers=operator,
        )
        assert r.status_code == 201
        body = r.json()
        assert (body["decision"], body["reason"], body["subject_status"], body["operator_name"]) == (
            "approve",
            "Registration verified",
            "approved",
            "Reviewer",
        )
        store_now = await client.get(f"/api/v1/stores/{store_id}")
        assert store_now.status_code == 200 and store_now.json()["status"] == "active"
        doc = await session.get(SearchDocument, product_id, populate_existing=True)
        assert doc is not None and doc.visible

        again = await client.post(
            f"/api/v1/ops/organizations/{org_id}/decision",
            json={"decision": "reject", "reason": "x"},
            headers=operator,
        )
        assert again.status_code == 409
        log = await client.get(
            "/api/v1/ops/decisions",
            params={"subject_type": "organization", "subject_id": org_id},
            headers=operator,
        )
        assert [(d["decision"], d["operator_id"]) for d in log.json()["items"]] == [
            ("approve", operator_user.id)
        ]

    async def test_mall_store_review_flow(
        self, client, session, user_factory, operator_factory, organization_factory, store_factory
    ):
        owner = await user_factory()
        org = await organization_factory(owner=owner, status="approved")
        org_id = org.id
        seller = await api_token_for(session, owner)
        operator = await api_token_for(session, await operator_factory())
        await session.commit()
        r = await client.post(
            "/api/v1/stores",
            json={
                "name": "Lumen Official",
                "country": "CN",
                "currency": "CNY",
                "trade_model": "mall",
                "organization_id": org_id,
                "brand_name": "Lumen",
            },
            headers=seller,
        )
        store_id = r.json()["id"]
        decide = f"/api/v1/ops/stores/{store_id}/decision"
        r = await client.post(decide, json={"decision": "approve", "reason": "ok"}, headers=operator)
        assert r.status_code == 409 and r.json()["error"] == "brand_authorization_missing"

        r = await client.post(
            f"/api/v1/organizations/{org_id}/documents",
            files={"file": ("lumen.pdf", pdf_bytes(), "application/pdf")},
            data={"kind": "brand_authorization", "store_id": str(store_id)},
            headers=seller,
        )
        assert r.status_code == 201 and r.json()["store_id"] == store_id
        queued = await client.get("/api/v1/ops/stores", params={"to_review": "true"}, headers=operator)
        assert store_id in [s["id"] for s in queued.json()["items"]]
        review = (await client.get(f"/api/v1/ops/stores/{store_id}", headers=operator)).json()
        assert review["store"]["brand_name"] == "Lumen" and review["in_queue"]
        assert [d["filename"] for d in review["brand_documents"]] == ["lumen.pdf"]

        r = await client.post(
            decide, json={"decision": "reject", "reason": "Letter is not signed"}, headers=operator
        )
        assert r.status_code == 201 and r.json()["subject_status"] == "rejected"
        mine = await client.get(f"/api/v1/stores/{store_id}", headers=seller)
        assert (mine.json()["status"], mine.json()["review_reason"]) == ("rejected", "Letter is not signed")

        assert (await client.post(f"/api/v1/stores/{store_id}/submit", headers=seller)).json()[
            "status"
        ] == "pending_review"
        r = await client.post(
            decide, json={"decision": "approve", "reason": "Signed letter received"}, headers=operator
        )
        assert r.json()["subject_status"] == "active"
        r = await client.post(
            decide, json={"decision": "suspend", "reason": "Counterfeit reports"}, headers=operator
        )
        assert r.status_code == 201 and r.json()["subject_status"] == "suspended"
        assert (await client.get(f"/api/v1/stores/{store_id}")).status_code == 404

        log = await client.get(
            "/api/v1/ops/decisions", params={"subject_type": "store", "limit": 2}, headers=operator
        )
        assert [d["decision"] for d in log.json()["items"]] == ["suspend", "approve"] and log.json()[
            "next_cursor"
        ]
        rest = await client.get(
            "/api/v1/ops/decisions",
            params={"subject_type": "store", "cursor": log.json()["next_cursor"]},
            headers=operator,
        )
        assert [d["decision"] for d in rest.json()["items"]][:1] == ["reject"]
        assert (await client.get("/api/v1/ops/stores/999999", headers=operator)).status_code == 404
