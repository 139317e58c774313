"""The negotiation API: a quote's history, the supplier's one revision, counter-offers from both sides,
accepting the other side's offer, declining, the award (idempotent, once per RFQ) and the thread; 404 for
strangers on every route."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from fixtures.core import api_token_for
from souk.models import Contract, Notification, Offer, Quote, Rfq


async def _h(session, user, key: str | None = None) -> dict[str, str]:
    headers = await api_token_for(session, user)
    return {**headers, "Idempotency-Key": key} if key else headers


async def _fresh(session, model, id_):
    return await session.scalar(
        select(model).where(model.id == id_).execution_options(populate_existing=True)
    )


async def _notes(session, user_id: int, kind: str) -> list[Notification]:
    rows = await session.scalars(
        select(Notification).where(Notification.user_id == user_id, Notification.kind == kind)
    )
    return list(rows.all())


@dataclass
class World:
    """Plain ids (they survive the rollback of a refused request)."""

    buyer_id: int
    supplier_id: int
    store_id: int
    rfq_id: int
    quote_id: int
    title: str
    b: dict[str, str]
    s: dict[str, str]


async def _setup(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory, **kw) -> World:
    buyer = await sourcing_buyer()
    supplier = await sourcing_supplier()
    rfq = await rfq_factory(buyer, quantity=1000)
    quote = await quote_factory(rfq, supplier, unit_price_amount=250, **kw)
    return World(
        buyer.user.id,
        supplier.user.id,
        supplier.store_id,
        rfq.id,
        quote.id,
        rfq.title,
        await _h(session, buyer.user),
        await _h(session, supplier.user),
    )


class TestHistoryAndAccess:
    async def test_read_history_and_404_for_strangers(
        self, client, session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory, user_factory
    ):
        w = await _setup(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory)
        other_supplier = await sourcing_supplier()
        stranger = await _h(session, await user_factory())
        rival = await _h(session, other_supplier.user)
        await session.commit()

        r = await client.get(f"/api/v1/quotes/{w.quote_id}/offers", headers=w.b)
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["side"] == "buyer"
        assert data["rfq"]["id"] == w.rfq_id and data["rfq"]["title"] == w.title
        assert data["quote"]["unit_price_amount"] == 250 and data["quote"]["revisions_allowed"] == 1
        assert [(o["version"], o["kind"], o["side"], o["status"]) for o in data["offers"]] == [
            (1, "quote", "supplier", "open")
        ]
        assert data["can"]["accept"]["allowed"] is True and data["can"]["award"]["allowed"] is True
        assert data["can"]["revise"]["allowed"] is False
        r = await client.get(f"/api/v1/quotes/{w.quote_id}/offers", headers=w.s)
        assert r.json()["side"] == "supplier" and r.json()["can"]["revise"]["allowed"] is True
        assert r.json()["can"]["accept"]["reason"].startswith("Your offer is the latest")

        offer_id = data["offers"][0]["id"]
        for headers in (stranger, rival):
            assert (
                await client.get(f"/api/v1/quotes/{w.quote_id}/offers", headers=headers)
            ).status_code == 404
            assert (
                await client.get(f"/api/v1/quotes/{w.quote_id}/messages", headers=headers)
            ).status_code == 404
            for path, body in (
                ("revisions", {"unit_price_amount": 200}),
                ("offers", {"unit_price_amount": 200, "based_on_version": 1}),
                (f"offers/{offer_id}/accept", None),
                ("decline", None),
                ("messages", {"body": "hello"}),
            ):
                r = await client.post(f"/api/v1/quotes/{w.quote_id}/{path}", json=body, headers=headers)
                assert r.status_code == 404, (path, r.text)
                assert r.json()["error"] == "quote_not_found"
            r = await client.post(
                f"/api/v1/quotes/{w.quote_id}/award", headers={**headers, "Idempotency-Key": "x1"}
            )
            assert r.status_code == 404
        assert (await client.get("/api/v1/quotes/999999/offers", headers=w.b)).status_code == 404

    async def test_read_only_token_cannot_write(
        self, client, session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory
    ):
        buyer = await sourcing_buyer()
        supplier = await sourcing_supplier()
        rfq = await rfq_factory(buyer)
        quote = await quote_factory(rfq, supplier)
        quote_id = quote.id
        reader = await api_token_for(session, buyer.user, scopes="read")
        await session.commit()
        assert (await client.get(f"/api/v1/quotes/{quote_id}/offers", headers=reader)).status_code == 200
        r = await client.post(
            f"/api/v1/quotes/{quote_id}/offers",
            json={"unit_price_amount": 1, "based_on_version": 1},
            headers=reader,
        )
        assert r.status_code == 403 and r.json()["error"] == "token_read_only"
        assert (await _fresh(session, Quote, quote_id)).version == 1


class TestRevision:
    async def test_one_revision_only(
        self, client, session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory
    ):
        w = await _setup(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory)
        await session.commit()
        body = {
            "unit_price_amount": 230,
            "moq": 800,
            "tiers": [[1000, 230], [5000, 210]],
            "sample_price_amount": 1200,
            "message": "Better price after checking with the factory.",
            "based_on_version": 1,
        }
        # the buyer cannot revise the supplier's quote
        r = await client.post(f"/api/v1/quotes/{w.quote_id}/revisions", json=body, headers=w.b)
        assert r.status_code == 404
        r = await client.post(f"/api/v1/quotes/{w.quote_id}/revisions", json=body, headers=w.s)
        assert r.status_code == 201, r.text
        data = r.json()
        assert [(o["version"], o["kind"], o["status"]) for o in data["offers"]] == [
            (2, "revision", "open"),
            (1, "quote", "superseded"),
        ]
        assert data["offers"][0]["changes"] == ["price 2.50 → 2.30"]
        q = await _fresh(session, Quote, w.quote_id)
        assert (q.unit_price_amount, q.moq, q.tiers, q.sample_price_amount) == (
            230,
            800,
            [[1000, 230], [5000, 210]],
            1200,
        )
        assert (q.version, q.revisions_used) == (2, 1)
        assert q.message == "Better price after checking with the factory."
        assert data["can"]["revise"] == {"allowed": False, "reason": "You have used your 1 revision."}
        notes = await _notes(session, w.buyer_id, "sourcing.quote_revised")
        assert len(notes) == 1 and notes[0].link == f"/rfqs/{w.rfq_id}/quotes/{w.quote_id}"
        # a second revision: refused, nothing written
        r = await client.post(
            f"/api/v1/quotes/{w.quote_id}/revisions", json={**body, "based_on_version": 2}, headers=w.s
        )
        assert r.status_code == 409 and r.json()["error"] == "revision_not_allowed"
        assert r.json()["message"] == "You have used your 1 revision."
        count = await session.scalar(
            select(func.count()).select_from(Offer).where(Offer.quote_id == w.quote_id)
        )
        assert count == 2

    async def test_no_revision_after_the_buyer_answered(
        self, client, session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory
    ):
        w = await _setup(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory)
        await session.commit()
        r = await client.post(
            f"/api/v1/quotes/{w.quote_id}/offers",
            json={"unit_price_amount": 200, "based_on_version": 1, "message": "Can you do 2.00?"},
            headers=w.b,
        )
        assert r.status_code == 201, r.text
        q = await _fresh(session, Quote, w.quote_id)
        assert q.buyer_answered_at is not None and q.revisions_used == 0
        r = await client.post(
            f"/api/v1/quotes/{w.quote_id}/revisions", json={"unit_price_amount": 240}, headers=w.s
        )
        assert r.status_code == 409 and r.json()["error"] == "revision_not_allowed"
        assert "buyer has answered" in r.json()["message"]

    async def test_bad_input_names_the_field(
        self, client, session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory
    ):
        w = await _setup(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory)
        await session.commit()
        for body, field in (
            ({"unit_price_amount": 0}, "unit_price_amount"),
            ({"unit_price_amount": "2.30"}, "unit_price_amount"),
            ({"deposit_bps": 10001}, "deposit_bps"),
            ({"incoterm": "XYZ"}, "incoterm"),
            ({"tiers": [[5000, 210], [1000, 230]]}, "tiers"),
        ):
            r = await client.post(f"/api/v1/quotes/{w.quote_id}/revisions", json=body, headers=w.s)
            assert r.status_code == 422, body
            assert any(k.startswith(field) for k in r.json()["fields"]), r.json()


class TestCounterAndAccept:
    async def test_counters_accept_and_versions(
        self, client, session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory
    ):
        w = await _setup(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory)
        await session.commit()
        r = await client.post(
            f"/api/v1/quotes/{w.quote_id}/offers",
            json={
                "unit_price_amount": 210,
                "quantity": 2000,
                "incoterm": "CIF",
                "place": "Hamburg",
                "deposit_bps": 2000,
                "balance_due": "on_documents",
                "based_on_version": 1,
            },
            headers=w.b,
        )
        assert r.status_code == 201, r.text
        newest = r.json()["offers"][0]
        assert (newest["version"], newest["kind"], newest["side"]) == (2, "counter", "buyer")
        assert newest["changes"] == [
            "price 2.50 → 2.10",
            "quantity 1000 → 2000",
            "Incoterm FOB Ningbo → CIF Hamburg",
            "deposit 30% → 20%",
            "balance due before shipment → on shipping documents",
        ]
        q = await _fresh(session, Quote, w.quote_id)
        assert (q.unit_price_amount, q.quantity, q.incoterm, q.place, q.deposit_bps, q.balance_due) == (
            210,
            2000,
            "CIF",
            "Hamburg",
            2000,
            "on_documents",
        )
        assert len(await _notes(session, w.supplier_id, "sourcing.counter_offer")) == 1
        # a stale counter (based on version 1) is refused
        r = await client.post(
            f"/api/v1/quotes/{w.quote_id}/offers",
            json={"unit_price_amount": 220, "based_on_version": 1},
            headers=w.s,
        )
        assert r.status_code == 409 and r.json()["error"] == "offer_outdated"
        # the buyer cannot accept their own offer
        r = await client.post(f"/api/v1/quotes/{w.quote_id}/offers/{newest['id']}/accept", headers=w.b)
        assert r.status_code == 409 and r.json()["error"] == "own_offer"
        # the supplier counters, the buyer accepts the supplier's counter
        r = await client.post(
            f"/api/v1/quotes/{w.quote_id}/offers",
            json={"unit_price_amount": 220, "based_on_version": 2},
            headers=w.s,
        )
        assert r.status_code == 201, r.text
        supplier_offer = r.json()["offers"][0]
        assert (supplier_offer["version"], supplier_offer["side"]) == (3, "supplier")
        assert supplier_offer["quantity"] == 2000  # terms left out keep the newest values
        # the old buyer offer is superseded and cannot be accepted any more
        r = await client.post(f"/api/v1/quotes/{w.quote_id}/offers/{newest['id']}/accept", headers=w.s)
        assert r.status_code == 409 and r.json()["error"] == "offer_outdated"
        r = await client.post(
            f"/api/v1/quotes/{w.quote_id}/offers/{supplier_offer['id']}/accept", headers=w.s
        )
        assert r.status_code == 409 and r.json()["error"] == "own_offer"
        r = await client.post(
            f"/api/v1/quotes/{w.quote_id}/offers/{supplier_offer['id']}/accept", headers=w.b
        )
        assert r.status_code == 200, r.text
        q = await _fresh(session, Quote, w.quote_id)
        assert (q.status, q.agreed_offer_id, q.unit_price_amount) == ("accepted", supplier_offer["id"], 220)
        statuses = {
            o.version: o.status
            for o in (await session.scalars(select(Offer).where(Offer.quote_id == w.quote_id)))
        }
        assert statuses == {1: "superseded", 2: "superseded", 3: "accepted"}
        assert len(await _notes(session, w.supplier_id, "sourcing.offer_accepted")) == 1
        # no more counters once agreed
        r = await client.post(
            f"/api/v1/quotes/{w.quote_id}/offers",
            json={"unit_price_amount": 100, "based_on_version": 3},
            headers=w.b,
        )
        assert r.status_code == 409 and r.json()["error"] == "quote_not_open"

    async def test_supplier_accepts_buyer_counter(
        self, client, session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory
    ):
        w = await _setup(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory)
        await session.commit()
        r = await client.post(
            f"/api/v1/quotes/{w.quote_id}/offers",
            json={"lead_time_days": 15, "based_on_version": 1},
            headers=w.b,
        )
        offer_id = r.json()["offers"][0]["id"]
        r = await client.post(f"/api/v1/quotes/{w.quote_id}/offers/{offer_id}/accept", headers=w.s)
        assert r.status_code == 200, r.text
        assert r.json()["quote"]["status"] == "accepted" and r.json()["quote"]["agreed_offer_id"] == offer_id
        assert r.json()["quote"]["lead_time_days"] == 15
        assert len(await _notes(session, w.buyer_id, "sourcing.offer_accepted")) == 1

    async def test_decline(
        self, client, session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory
    ):
        w = await _setup(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory)
        await session.commit()
        r = await client.post(f"/api/v1/quotes/{w.quote_id}/decline", headers=w.s)
        assert r.status_code == 404  # the decline is the buyer's; the supplier is not on that side
        r = await client.post(f"/api/v1/quotes/{w.quote_id}/decline", headers=w.b)
        assert r.status_code == 200 and r.json()["quote"]["status"] == "declined"
        assert r.json()["offers"][0]["status"] == "declined"
        assert len(await _notes(session, w.supplier_id, "sourcing.quote_declined")) == 1
        r = await client.post(f"/api/v1/quotes/{w.quote_id}/decline", headers=w.b)
        assert r.status_code == 409 and r.json()["error"] == "quote_not_open"


class TestAward:
    async def test_award_declines_the_others_once(
        self, client, session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory
    ):
        w = await _setup(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory)
        loser = await sourcing_supplier()
        losing = await quote_factory(await session.get(Rfq, w.rfq_id), loser, unit_price_amount=300)
        losing_id, loser_id, loser_store = losing.id, loser.user.id, loser.store_id
        await session.commit()
        path = f"/api/v1/quotes/{w.quote_id}/award"
        r = await client.post(path, headers=w.b)
        assert r.status_code == 422 and r.json()["error"] == "idempotency_key_required"
        r = await client.post(path, headers={**w.b, "Idempotency-Key": "award-1"})
        assert r.status_code == 201, r.text
        award = r.json()
        contract = await session.get(Contract, award["contract_id"])
        assert contract is not None and contract.quote_id == w.quote_id and contract.unit_price_amount == 250
        assert award["buyer_url"] == f"/contracts/{contract.id}"
        assert award["supplier_url"] == f"/seller/stores/{w.store_id}/contracts/{contract.id}"
        assert award["declined_quote_ids"] == [losing_id]
        r_ = await _fresh(session, Rfq, w.rfq_id)
        assert (r_.status, r_.awarded_quote_id) == ("awarded", w.quote_id)
        assert (await _fresh(session, Quote, w.quote_id)).status == "awarded"
        assert (await _fresh(session, Quote, losing_id)).status == "declined"
        lost = await _notes(session, loser_id, "sourcing.quote_not_selected")
        assert len(lost) == 1 and lost[0].link == f"/seller/stores/{loser_store}/quotes/{losing_id}"
        won = await _notes(session, w.supplier_id, "sourcing.quote_awarded")
        assert len(won) == 1 and won[0].link == award["supplier_url"]
        # the same key replays the same answer; another key gets 409, and there is one contract
        again = await client.post(path, headers={**w.b, "Idempotency-Key": "award-1"})
        assert again.status_code == 201 and again.json() == award
        assert again.headers.get("Idempotent-Replayed") == "true"
        r = await client.post(path, headers={**w.b, "Idempotency-Key": "award-2"})
        assert r.status_code == 409 and r.json()["error"] == "rfq_already_awarded"
        r = await client.post(
            f"/api/v1/quotes/{losing_id}/award", headers={**w.b, "Idempotency-Key": "award-3"}
        )
        assert r.status_code == 409 and r.json()["error"] == "rfq_already_awarded"
        contracts = await session.scalar(
            select(func.count()).select_from(Contract).where(Contract.rfq_id == w.rfq_id)
        )
        assert contracts == 1
        data = (await client.get(f"/api/v1/quotes/{w.quote_id}/offers", headers=w.b)).json()
        assert data["contract_id"] == award["contract_id"] and data["can"]["award"]["allowed"] is False

    async def test_unanswered_buyer_counter_cannot_be_awarded(
        self, client, session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory
    ):
        w = await _setup(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory)
        await session.commit()
        r = await client.post(
            f"/api/v1/quotes/{w.quote_id}/offers",
            json={"unit_price_amount": 180, "based_on_version": 1},
            headers=w.b,
        )
        assert r.status_code == 201
        assert r.json()["can"]["award"]["allowed"] is False
        r = await client.post(f"/api/v1/quotes/{w.quote_id}/award", headers={**w.b, "Idempotency-Key": "a1"})
        assert r.status_code == 409 and r.json()["error"] == "offer_not_agreed"
        assert (await _fresh(session, Rfq, w.rfq_id)).status == "open"
        # the supplier accepts: now it can be awarded on the agreed terms
        offer_id = r_id = (await client.get(f"/api/v1/quotes/{w.quote_id}/offers", headers=w.b)).json()[
            "offers"
        ][0]["id"]
        assert r_id
        r = await client.post(f"/api/v1/quotes/{w.quote_id}/offers/{offer_id}/accept", headers=w.s)
        assert r.status_code == 200
        # the first key keeps its answer (the refusal); a new attempt takes a new key
        r = await client.post(f"/api/v1/quotes/{w.quote_id}/award", headers={**w.b, "Idempotency-Key": "a1"})
        assert r.status_code == 409 and r.json()["error"] == "offer_not_agreed"
        r = await client.post(f"/api/v1/quotes/{w.quote_id}/award", headers={**w.b, "Idempotency-Key": "a2"})
        assert r.status_code == 201, r.text
        contract = await session.get(Contract, r.json()["contract_id"])
        assert contract.unit_price_amount == 180 and contract.offer_id == offer_id

    async def test_supplier_cannot_award(
        self, client, session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory
    ):
        w = await _setup(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory)
        await session.commit()
        r = await client.post(f"/api/v1/quotes/{w.quote_id}/award", headers={**w.s, "Idempotency-Key": "s1"})
        assert r.status_code == 404


class TestThread:
    async def test_messages(
        self, client, session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory
    ):
        w = await _setup(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory)
        await session.commit()
        assert (await client.get(f"/api/v1/quotes/{w.quote_id}/messages", headers=w.b)).json() == []
        r = await client.post(
            f"/api/v1/quotes/{w.quote_id}/messages", json={"body": "Is 304 steel ok?"}, headers=w.b
        )
        assert r.status_code == 201, r.text
        assert r.json()["sender_side"] == "buyer"
        r = await client.post(
            f"/api/v1/quotes/{w.quote_id}/messages", json={"body": "Yes, 304."}, headers=w.s
        )
        assert r.status_code == 201 and r.json()["sender_side"] == "supplier"
        r = await client.post(f"/api/v1/quotes/{w.quote_id}/messages", json={"body": "  "}, headers=w.s)
        assert r.status_code == 422 and "body" in r.json()["fields"]
        msgs = (await client.get(f"/api/v1/quotes/{w.quote_id}/messages", headers=w.s)).json()
        assert [(m["sender_side"], m["body"]) for m in msgs] == [
            ("buyer", "Is 304 steel ok?"),
            ("supplier", "Yes, 304."),
        ]
        data = (await client.get(f"/api/v1/quotes/{w.quote_id}/offers", headers=w.b)).json()
        assert data["conversation_id"] is not None and len(data["messages"]) == 2


class TestAwardRfqStatus:
    async def test_closed_rfq_can_be_awarded_cancelled_cannot(
        self, client, session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory
    ):
        buyer = await sourcing_buyer()
        supplier = await sourcing_supplier()
        closed = await quote_factory(await rfq_factory(buyer, status="closed"), supplier)
        cancelled = await quote_factory(await rfq_factory(buyer, status="cancelled"), supplier)
        closed_id, cancelled_id = closed.id, cancelled.id
        b = await _h(session, buyer.user)
        s = await _h(session, supplier.user)
        await session.commit()
        r = await client.post(f"/api/v1/quotes/{cancelled_id}/award", headers={**b, "Idempotency-Key": "c1"})
        assert r.status_code == 409 and r.json()["error"] == "rfq_not_open"
        r = await client.post(
            f"/api/v1/quotes/{cancelled_id}/revisions", json={"unit_price_amount": 200}, headers=s
        )
        assert r.status_code == 409 and r.json()["error"] == "rfq_not_open"
        r = await client.post(f"/api/v1/quotes/{closed_id}/award", headers={**b, "Idempotency-Key": "c2"})
        assert r.status_code == 201, r.text
        assert (await _fresh(session, Quote, closed_id)).status == "awarded"


class TestValidity:
    async def test_expired_quote_cannot_be_accepted_or_awarded_until_the_supplier_renews_its_terms(
        self, client, session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory
    ):
        from datetime import timedelta

        from souk.kit.clock import clock

        clock.freeze()
        w = await _setup(
            session,
            sourcing_buyer,
            sourcing_supplier,
            rfq_factory,
            quote_factory,
            valid_until=(clock.now() + timedelta(days=5)).date(),
        )
        await session.commit()
        view = (await client.get(f"/api/v1/quotes/{w.quote_id}/offers", headers=w.b)).json()
        first_offer = view["offers"][-1]["id"]
        assert view["can"]["award"]["allowed"] is True
        clock.advance(timedelta(days=6))
        view = (await client.get(f"/api/v1/quotes/{w.quote_id}/offers", headers=w.b)).json()
        assert view["can"]["award"]["allowed"] is False and "valid until" in view["can"]["award"]["reason"]
        r = await client.post(f"/api/v1/quotes/{w.quote_id}/award", headers={**w.b, "Idempotency-Key": "e1"})
        assert r.status_code == 409 and r.json()["error"] == "quote_expired"
        r = await client.post(f"/api/v1/quotes/{w.quote_id}/offers/{first_offer}/accept", headers=w.b)
        assert r.status_code == 409 and r.json()["error"] == "quote_expired"
        # fresh terms from the supplier (a counter-offer made now) may be taken again
        r = await client.post(
            f"/api/v1/quotes/{w.quote_id}/offers",
            json={"unit_price_amount": 260, "based_on_version": 1},
            headers=w.s,
        )
        assert r.status_code in (200, 201), r.text
        r = await client.post(f"/api/v1/quotes/{w.quote_id}/award", headers={**w.b, "Idempotency-Key": "e2"})
        assert r.status_code in (200, 201), r.text
        clock.reset()
