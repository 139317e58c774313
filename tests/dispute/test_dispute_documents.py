"""Evidence documents (PDF) in disputes: a claim on a completed sourcing order opened with an inspection report,
through the API and through the buyer's page; messages with documents from the store and an operator; private
downloads for the buyer, the store's people and operators only (404 for a stranger, another store, and an event
or index that is not the dispute's), sent inline with a sandbox CSP and no-store; a non-PDF named .pdf and more
than 3 documents refused with a 422 naming ``documents``. The ledger balances after each test (conftest)."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from fixtures.core import api_token_for, form, login_as
from fixtures.orders import seller_orders, ship
from fixtures.party import pdf_bytes, png_bytes
from souk.kit.clock import clock
from souk.models import Dispute, DisputeEvent, User
from souk.order.service import order_service

API = "/api/v1/disputes"


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


async def _headers(session, user_id: int, key: str | None = None) -> dict[str, str]:
    headers = await api_token_for(session, await session.get(User, user_id))
    return {**headers, "Idempotency-Key": key} if key else headers


async def _claimable(session, market, buy):
    """Two sourcing stores; the first store's order was shipped and received (a claim is open to it), the
    second's is paid (a refund request is open to it)."""
    clock.freeze()
    m = await market(kinds=("express", "express"), trade_model="sourcing")
    order = await buy(m)
    first, second = sorted(await seller_orders(session, order.id), key=lambda so: so.store_id)
    await ship(session, m, first)
    await order_service.confirm_receipt(session, m.actor, order.id, first.id)
    return m, order.id, first.id, first.store_id, second.id, second.store_id


def _files(*docs: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("documents", (name, data, "application/pdf")) for name, data in docs]


def _private_files(app) -> set[str]:  # type: ignore[no-untyped-def]
    """The stored dispute documents (the storage folder outlives a test: compare before and after)."""
    folder = app.state.storage.private_root / "disputes"
    return {p.name for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


async def _dispute(session, so_id: int) -> Dispute:
    d = await session.scalar(
        select(Dispute).where(Dispute.seller_order_id == so_id).execution_options(populate_existing=True)
    )
    assert d is not None
    return d


async def _events(session, dispute_id: int) -> list[DisputeEvent]:
    rows = await session.scalars(
        select(DisputeEvent)
        .where(DisputeEvent.dispute_id == dispute_id)
        .order_by(DisputeEvent.id)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


def _assert_private_pdf(r, data: bytes, filename: str) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code == 200, r.text
    assert r.content == data
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-security-policy"] == "sandbox"
    assert "no-store" in r.headers["cache-control"]
    assert filename in r.headers["content-disposition"]


class TestDocumentsApi:
    async def test_claim_with_an_inspection_report(
        self, app, client, session, market, buy, user_factory, operator_factory
    ):
        m, _order_id, so_id, store_id, other_so_id, other_store_id = await _claimable(session, market, buy)
        buyer = await _headers(session, m.buyer_id)
        seller = await _headers(session, m.seller_of(store_id).user_id)
        other_seller = await _headers(session, m.seller_of(other_store_id).user_id)
        stranger = await _headers(session, (await user_factory()).id)
        operator = await _headers(session, (await operator_factory()).id)
        await session.commit()
        report = pdf_bytes("Inspection report: 12 % defects")
        before = _private_files(app)
        fields = {
            "seller_order_id": str(so_id),
            "reason": "quality_mismatch",
            "amount": "800",
            "message": "See.",
        }
        url = f"{API}/with-images"
        files = [
            *_files(("inspection report.pdf", report)),
            ("images", ("lot.png", png_bytes(), "image/png")),
        ]
        r = await client.post(url, headers={**buyer, "Idempotency-Key": "c1"}, data=fields, files=files)
        assert r.status_code == 201, r.text
        dispute = r.json()
        assert (dispute["kind"], dispute["requested_amount"], dispute["status"]) == (
            "claim",
            800,
            "awaiting_seller",
        )
        opened = dispute["events"][0]
        doc_url = f"{API}/{dispute['id']}/documents/{opened['id']}/0"
        assert opened["documents"] == [
            {
                "index": 0,
                "filename": "inspection report.pdf",
                "content_type": "application/pdf",
                "size_bytes": len(report),
                "url": doc_url,
            }
        ]
        # the storage path stays private; the photo is still listed with the images
        assert "documents" not in opened["data"] and len(opened["data"]["images"]) == 1
        stored = (await _events(session, dispute["id"]))[0].data["documents"]
        assert [(d["filename"], d["content_type"], d["size_bytes"]) for d in stored] == [
            ("inspection report.pdf", "application/pdf", len(report))
        ]
        assert stored[0]["path"].startswith("disputes/") and stored[0]["path"].endswith(".pdf")
        assert len(_private_files(app) - before) == 1
        # the same request again replays; the same key with another document is a reused key
        again = await client.post(url, headers={**buyer, "Idempotency-Key": "c1"}, data=fields, files=files)
        assert again.status_code == 201 and again.json()["id"] == dispute["id"]
        r = await client.post(
            url,
            headers={**buyer, "Idempotency-Key": "c1"},
            data=fields,
            files=_files(("inspection report.pdf", pdf_bytes("another report"))),
        )
        assert r.status_code == 422 and r.json()["error"] == "idempotency_error"

        # the buyer, the store's people and operators download it; anyone else gets a 404
        for who in (buyer, seller, operator):
            _assert_private_pdf(await client.get(doc_url, headers=who), report, "inspection")
        for who in (stranger, other_seller):
            r = await client.get(doc_url, headers=who)
            assert r.status_code == 404 and r.content != report
        assert (await client.get(doc_url)).status_code == 401  # nobody signed in
        # an index or an event that is not this dispute's: 404
        assert (await client.get(doc_url[:-1] + "1", headers=buyer)).status_code == 404
        ours = pdf_bytes("ours 2")
        r = await client.post(
            f"{API}/{dispute['id']}/messages/with-images",
            headers=seller,
            data={"body": "Our own report."},
            files=_files(("ours-1.pdf", pdf_bytes("ours 1")), ("ours-2.pdf", ours)),
        )
        assert r.status_code == 201, r.text
        message = r.json()["events"][-1]
        assert [(d["index"], d["filename"]) for d in message["documents"]] == [
            (0, "ours-1.pdf"),
            (1, "ours-2.pdf"),
        ]
        r = await client.get(message["documents"][1]["url"], headers=buyer)
        _assert_private_pdf(r, ours, "ours-2.pdf")
        # the claim's opening event holds one document, not two
        assert (await client.get(doc_url[:-1] + "1", headers=operator)).status_code == 404
        # a refund request on the other store's order, with its own document
        other_pdf = pdf_bytes("other")
        r = await client.post(
            url,
            headers={**buyer, "Idempotency-Key": "r1"},
            data={"seller_order_id": str(other_so_id), "reason": "other", "message": "Never mind."},
            files=_files(("other.pdf", other_pdf)),
        )
        assert r.status_code == 201, r.text
        other = r.json()
        other_event = other["events"][0]["id"]
        # its event is not the claim's, even for the buyer of both
        assert (
            await client.get(f"{API}/{dispute['id']}/documents/{other_event}/0", headers=buyer)
        ).status_code == 404
        assert (
            await client.get(f"{API}/{other['id']}/documents/{opened['id']}/0", headers=buyer)
        ).status_code == 404
        # the other store sees its own dispute's document, not the claim's
        _assert_private_pdf(
            await client.get(other["events"][0]["documents"][0]["url"], headers=other_seller),
            other_pdf,
            "other.pdf",
        )
        assert (
            await client.get(other["events"][0]["documents"][0]["url"], headers=seller)
        ).status_code == 404

    async def test_refused_documents(self, app, client, session, market, buy):
        m, _order_id, so_id, store_id, _, _ = await _claimable(session, market, buy)
        buyer = await _headers(session, m.buyer_id)
        seller = await _headers(session, m.seller_of(store_id).user_id)
        await session.commit()
        url = f"{API}/with-images"
        fields = {"seller_order_id": str(so_id), "reason": "quality_mismatch", "message": "See."}
        before = _private_files(app)
        # a PNG, and plain text, named .pdf and sent as application/pdf: refused by their content
        for n, fake in enumerate((png_bytes(), b"not a PDF at all, just text")):
            r = await client.post(
                url,
                headers={**buyer, "Idempotency-Key": f"x{n}"},
                data=fields,
                files=_files(("report.pdf", fake)),
            )
            assert r.status_code == 422, r.text
            assert r.json()["fields"] == {"documents": "must be a PDF file"}
        # a good PDF next to a bad one: nothing is stored
        r = await client.post(
            url,
            headers={**buyer, "Idempotency-Key": "x2"},
            data=fields,
            files=_files(("good.pdf", pdf_bytes()), ("bad.pdf", png_bytes())),
        )
        assert r.status_code == 422 and "documents" in r.json()["fields"]
        # more than 3
        four = _files(*((f"r{n}.pdf", pdf_bytes(f"report {n}")) for n in range(4)))
        r = await client.post(url, headers={**buyer, "Idempotency-Key": "x3"}, data=fields, files=four)
        assert r.status_code == 422 and r.json()["fields"] == {"documents": "at most 3 PDF files"}
        assert (await client.get(API, headers=buyer)).json() == []
        assert _private_files(app) == before

        # three is fine
        r = await client.post(url, headers={**buyer, "Idempotency-Key": "x4"}, data=fields, files=four[:3])
        assert r.status_code == 201, r.text
        dispute = r.json()
        assert [d["filename"] for d in dispute["events"][0]["documents"]] == ["r0.pdf", "r1.pdf", "r2.pdf"]
        assert len(_private_files(app) - before) == 3
        # and for messages
        base = f"{API}/{dispute['id']}/messages/with-images"
        r = await client.post(base, headers=seller, data={"body": "x"}, files=_files(("a.pdf", png_bytes())))
        assert r.status_code == 422 and r.json()["fields"] == {"documents": "must be a PDF file"}
        r = await client.post(base, headers=seller, data={"body": "x"}, files=four)
        assert r.status_code == 422 and "documents" in r.json()["fields"]
        events = (await client.get(f"{API}/{dispute['id']}", headers=seller)).json()["events"]
        assert [e["kind"] for e in events] == ["opened"]
        assert len(_private_files(app) - before) == 3


class TestDocumentsPages:
    async def test_claim_with_a_report_through_the_pages(
        self, client, session, market, buy, user_factory, operator_factory
    ):
        m, _order_id, so_id, store_id, _, other_store_id = await _claimable(session, market, buy)
        buyer_id, seller_id = m.buyer_id, m.seller_of(store_id).user_id
        other_seller_id = m.seller_of(other_store_id).user_id
        stranger_id = (await user_factory()).id
        operator_id = (await operator_factory()).id
        report = pdf_bytes("Inspection report, lot 7")

        await login_as(client, session, await session.get(User, buyer_id))
        await session.commit()
        page = await client.get(f"/disputes/new?seller_order_id={so_id}")
        assert page.status_code == 200
        assert "Evidence: inspection report (PDF) or photos" in text_of(page.text)
        assert 'name="documents" type="file" accept="application/pdf,.pdf" multiple' in page.text
        # a non-PDF: the form comes back naming the field, nothing is opened
        r = await client.post(
            "/disputes",
            data=form(client, seller_order_id=so_id, reason="quality_mismatch", message="Defects."),
            files=_files(("report.pdf", png_bytes())),
        )
        assert r.status_code == 422
        assert "documents: must be a PDF file" in text_of(r.text)
        assert '<p class="error" id="e-documents">must be a PDF file</p>' in r.text
        assert await session.scalar(select(Dispute.id).where(Dispute.seller_order_id == so_id)) is None
        r = await client.post(
            "/disputes",
            data=form(client, seller_order_id=so_id, reason="quality_mismatch", message="Defects."),
            files=_files(("lot-7 report.pdf", report)),
        )
        assert r.status_code == 303, r.text
        dispute = await _dispute(session, so_id)
        dispute_id = dispute.id
        assert dispute.kind == "claim"
        opened = (await _events(session, dispute_id))[0]
        assert [d["filename"] for d in opened.data["documents"]] == ["lot-7 report.pdf"]
        opened_id = opened.id  # plain ids: a refused request rolls back and expires the session's objects
        page = await client.get(f"/disputes/{dispute_id}")
        link = f"/disputes/{dispute_id}/documents/{opened_id}/0"
        assert f'<a href="{link}">lot-7 report.pdf</a>' in page.text
        assert f"(PDF, {len(report) / 1000:.1f} kB)" in text_of(page.text)
        _assert_private_pdf(await client.get(link), report, "lot-7")
        assert (await client.get(f"/disputes/{dispute_id}/documents/{opened_id}/1")).status_code == 404
        # the buyer has no way in through the seller's or the operators' routes
        seller_link = f"/seller/stores/{store_id}/disputes/{dispute_id}/documents/{opened_id}/0"
        ops_link = f"/ops/disputes/{dispute_id}/documents/{opened_id}/0"
        assert (await client.get(seller_link)).status_code == 404
        assert (await client.get(ops_link)).status_code == 404

        # the store: the log links the document; it answers with one
        await login_as(client, session, await session.get(User, seller_id))
        await session.commit()
        page = await client.get(f"/seller/stores/{store_id}/disputes/{dispute_id}")
        assert f'<a href="{seller_link}">lot-7 report.pdf</a>' in page.text
        _assert_private_pdf(await client.get(seller_link), report, "lot-7")
        assert (await client.get(link)).status_code == 404  # the buyer's route is the buyer's
        r = await client.post(
            f"/seller/stores/{store_id}/disputes/{dispute_id}/messages",
            data=form(client, body="Our outgoing inspection."),
            files=_files(("outgoing.pdf", pdf_bytes("outgoing"))),
        )
        assert r.status_code == 303
        answer = (await _events(session, dispute_id))[-1]
        assert (answer.kind, answer.body, [d["filename"] for d in answer.data["documents"]]) == (
            "message",
            "Our outgoing inspection.",
            ["outgoing.pdf"],
        )
        answer_id = answer.id
        r = await client.post(
            f"/seller/stores/{store_id}/disputes/{dispute_id}/messages",
            data=form(client, body="And more."),
            files=_files(*((f"o{n}.pdf", pdf_bytes()) for n in range(4))),
        )
        assert r.status_code == 303
        assert "Send at most 3 documents" in text_of((await client.get(page.url)).text)
        assert len(await _events(session, dispute_id)) == 2

        # another store's people and a stranger: 404 on every route
        for who in (other_seller_id, stranger_id):
            await login_as(client, session, await session.get(User, who))
            await session.commit()
            for url in (
                link,
                seller_link,
                f"/seller/stores/{other_store_id}/disputes/{dispute_id}/documents/{opened_id}/0",
                ops_link,
            ):
                r = await client.get(url)
                assert r.status_code == 404, (who, url)
                assert r.content != report

        # an operator reads both documents and writes with one
        await login_as(client, session, await session.get(User, operator_id))
        await session.commit()
        page = await client.get(f"/ops/disputes/{dispute_id}")
        assert f'<a href="{ops_link}">lot-7 report.pdf</a>' in page.text
        assert f'href="/ops/disputes/{dispute_id}/documents/{answer_id}/0">outgoing.pdf</a>' in page.text
        _assert_private_pdf(await client.get(ops_link), report, "lot-7")
        checklist = pdf_bytes("checklist")
        r = await client.post(
            f"/ops/disputes/{dispute_id}/messages",
            data=form(client, body="Please both send the contract's quality clause."),
            files=_files(("checklist.pdf", checklist)),
        )
        assert r.status_code == 303
        note = (await _events(session, dispute_id))[-1]
        note_id = note.id
        assert (note.actor_role, [d["filename"] for d in note.data["documents"]]) == (
            "operator",
            ["checklist.pdf"],
        )

        # the buyer reads the operator's document from the buyer's page
        await login_as(client, session, await session.get(User, buyer_id))
        await session.commit()
        page = await client.get(f"/disputes/{dispute_id}")
        note_link = f"/disputes/{dispute_id}/documents/{note_id}/0"
        assert f'<a href="{note_link}">checklist.pdf</a>' in page.text
        _assert_private_pdf(await client.get(note_link), checklist, "checklist.pdf")
        # a non-operator may not write through the ops console
        r = await client.post(f"/ops/disputes/{dispute_id}/messages", data=form(client, body="Me too."))
        assert r.status_code == 403
        assert len(await _events(session, dispute_id)) == 3
