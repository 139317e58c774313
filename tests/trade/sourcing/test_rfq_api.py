"""RFQs and quotes through the JSON API: posting rules, visibility, the board, one quote per store, the
10-quote cap, the deadline, closing, the monthly quota, the comparison, and who may see what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from fixtures.core import api_token_for
from souk.kit.clock import clock, utcnow
from souk.models import Notification, Offer, Quote, QuoteQuotaUse, Rfq


def snap(party):  # type: ignore[no-untyped-def]
    """Plain ids of a fixture party: a refused request rolls the session back and expires its objects."""
    store = party.store
    return SimpleNamespace(
        user=SimpleNamespace(id=party.user.id),
        organization=SimpleNamespace(id=party.organization.id),
        org_id=party.organization.id,
        store=SimpleNamespace(id=store.id, currency=store.currency) if store is not None else None,
        store_id=store.id if store is not None else None,
    )


async def token(session, user, scopes: str = "read write") -> dict[str, str]:  # type: ignore[no-untyped-def]
    """API headers for ``user``; commits the setup so that a refused request's rollback keeps it."""
    headers = await api_token_for(session, user, scopes)
    await session.commit()
    return headers


def rfq_body(**kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Stainless steel water bottles",
        "requirements": "750 ml, double wall, powder coated, logo laser engraved.",
        "quantity": 1000,
        "unit": "pieces",
        "currency": "USD",
        "destination_country": "DE",
        "incoterm": "FOB",
        "quote_deadline": (utcnow() + timedelta(days=7)).isoformat(),
    }
    body.update(kw)
    return body


def quote_body(store_id: int, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "store_id": store_id,
        "unit_price_amount": 250,
        "moq": 500,
        "lead_time_days": 20,
        "incoterm": "FOB",
        "place": "Ningbo",
        "shipping_amount": 30_000,
    }
    body.update(kw)
    return body


async def quota_used(session, organization_id: int) -> int:  # type: ignore[no-untyped-def]
    return int(
        await session.scalar(
            select(func.coalesce(func.sum(QuoteQuotaUse.used), 0)).where(
                QuoteQuotaUse.organization_id == organization_id
            )
        )
        or 0
    )


async def rfq_count(session, rfq_id: int) -> int:  # type: ignore[no-untyped-def]
    return int(await session.scalar(select(Rfq.quote_count).where(Rfq.id == rfq_id)) or 0)


# --- posting ----------------------------------------------------------------------------------------------


async def test_post_rfq_snapshots_cap_and_folds_search_text(
    client, session, sourcing_buyer, category_factory
) -> None:
    buyer = snap(await sourcing_buyer())
    category = await category_factory()
    headers = await token(session, buyer.user)
    r = await client.post(
        "/api/v1/rfqs",
        json=rfq_body(title="Café Crème mugs", category_id=category.id, target_unit_price_amount=199),
        headers=headers,
    )
    assert r.status_code == 201, r.text
    data = r.json()
    assert data["organization_id"] == buyer.org_id
    assert data["quote_cap"] == 10 and data["quote_count"] == 0
    assert data["status"] == "open" and data["state"] == "open" and data["taking_quotes"] is True
    assert data["target_unit_price_amount"] == 199 and data["currency"] == "USD"
    assert data["category_name"] == category.name
    rfq = await session.get(Rfq, data["id"])
    assert rfq is not None
    assert rfq.search_text.startswith("cafe creme mugs")
    listed = await client.get("/api/v1/rfqs", headers=headers)
    assert [i["id"] for i in listed.json()["items"]] == [data["id"]]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"quote_deadline": "PAST"}, "quote_deadline"),
        ({"quote_deadline": "FAR"}, "quote_deadline"),
        ({"incoterm": "XYZ"}, "incoterm"),
        ({"destination_country": "QQ"}, "destination_country"),
        ({"quantity": 0}, "quantity"),
        ({"currency": "ABC"}, "currency"),
        ({"title": ""}, "title"),
        ({"target_unit_price_amount": 0}, "target_unit_price_amount"),
        ({"category_id": 999999}, "category_id"),
        ({"visibility": "invited", "invited_store_ids": []}, "invited_store_ids"),
        ({"needed_by": "2000-01-01"}, "needed_by"),
    ],
)
async def test_post_rfq_refuses_bad_input_naming_the_field(
    client, session, sourcing_buyer, changes: dict[str, Any], field: str
) -> None:
    buyer = snap(await sourcing_buyer())
    headers = await token(session, buyer.user)
    if changes.get("quote_deadline") == "PAST":
        changes = {"quote_deadline": (utcnow() - timedelta(hours=1)).isoformat()}
    elif changes.get("quote_deadline") == "FAR":
        changes = {"quote_deadline": (utcnow() + timedelta(days=61)).isoformat()}
    r = await client.post("/api/v1/rfqs", json=rfq_body(**changes), headers=headers)
    assert r.status_code == 422, r.text
    assert field in r.json()["fields"], r.json()
    assert await session.scalar(select(func.count()).select_from(Rfq)) == 0


async def test_deadline_at_most_the_policy_days_ahead_is_accepted(client, session, sourcing_buyer):
    buyer = snap(await sourcing_buyer())
    headers = await token(session, buyer.user)
    deadline = utcnow() + timedelta(days=59, hours=23)
    r = await client.post("/api/v1/rfqs", json=rfq_body(quote_deadline=deadline.isoformat()), headers=headers)
    assert r.status_code == 201, r.text


async def test_invited_only_active_sourcing_stores(
    client, session, sourcing_buyer, sourcing_supplier, store_factory
) -> None:
    buyer = snap(await sourcing_buyer())
    good = snap(await sourcing_supplier())
    pending = snap(await sourcing_supplier(status="pending_review"))
    market_id = (await store_factory()).id
    headers = await token(session, buyer.user)
    bad = await client.post(
        "/api/v1/rfqs",
        json=rfq_body(visibility="invited", invited_store_ids=[good.store_id, pending.store_id, market_id]),
        headers=headers,
    )
    assert bad.status_code == 422
    message = bad.json()["fields"]["invited_store_ids"]
    assert (
        str(pending.store_id) in message and str(market_id) in message and str(good.store_id) not in message
    )
    ok = await client.post(
        "/api/v1/rfqs",
        json=rfq_body(visibility="invited", invited_store_ids=[good.store_id]),
        headers=headers,
    )
    assert ok.status_code == 201
    assert ok.json()["invited_store_ids"] == [good.store_id]
    note = await session.scalar(select(Notification).where(Notification.user_id == good.user.id))
    assert note is not None and note.link == f"/seller/stores/{good.store_id}/rfqs/{ok.json()['id']}"


async def test_user_without_organisation_gets_a_clear_conflict(client, session, user_factory):
    user = await user_factory()
    r = await client.post("/api/v1/rfqs", json=rfq_body(), headers=await token(session, user))
    assert r.status_code == 409
    assert r.json()["error"] == "organization_required"


async def test_rejected_organisation_cannot_post(client, session, sourcing_buyer):
    buyer = snap(await sourcing_buyer(status="rejected"))
    r = await client.post("/api/v1/rfqs", json=rfq_body(), headers=await token(session, buyer.user))
    assert r.status_code == 403 and r.json()["error"] == "organization_cannot_post"


async def test_pending_buyer_organisation_may_post(client, session, sourcing_buyer):
    buyer = snap(await sourcing_buyer(status="pending_review"))
    r = await client.post("/api/v1/rfqs", json=rfq_body(), headers=await token(session, buyer.user))
    assert r.status_code == 201
    assert r.json()["organization_verified"] is False


async def test_unauthenticated_is_401(client, sourcing_buyer, rfq_factory) -> None:
    rfq = await rfq_factory(await sourcing_buyer())
    rfq_id = rfq.id
    assert (await client.get("/api/v1/rfqs")).status_code == 401
    assert (await client.get(f"/api/v1/rfqs/{rfq_id}")).status_code == 401
    assert (await client.post("/api/v1/rfqs", json=rfq_body())).status_code == 401
    assert (await client.get(f"/api/v1/rfqs/{rfq_id}/quotes")).status_code == 401


# --- visibility -------------------------------------------------------------------------------------------


async def test_other_organisations_rfq_is_404(client, session, sourcing_buyer, rfq_factory):
    owner = snap(await sourcing_buyer())
    other = snap(await sourcing_buyer())
    rfq = await rfq_factory(owner)
    rfq_id = rfq.id
    headers = await token(session, other.user)
    assert (await client.get(f"/api/v1/rfqs/{rfq_id}", headers=headers)).status_code == 404
    assert (await client.get(f"/api/v1/rfqs/{rfq_id}/quotes", headers=headers)).status_code == 404
    assert (await client.post(f"/api/v1/rfqs/{rfq_id}/close", headers=headers)).status_code == 404
    assert (await client.get("/api/v1/rfqs", headers=headers)).json()["items"] == []


async def test_invited_rfq_is_404_for_stores_not_invited(
    client, session, sourcing_buyer, sourcing_supplier, rfq_factory
) -> None:
    buyer = snap(await sourcing_buyer())
    invited = snap(await sourcing_supplier())
    outsider = snap(await sourcing_supplier())
    headers = await token(session, buyer.user)
    r = await client.post(
        "/api/v1/rfqs",
        json=rfq_body(visibility="invited", invited_store_ids=[invited.store_id]),
        headers=headers,
    )
    rfq_id = r.json()["id"]
    out_headers = await token(session, outsider.user)
    assert (await client.get(f"/api/v1/rfqs/{rfq_id}", headers=out_headers)).status_code == 404
    board = await client.get(
        f"/api/v1/rfqs?board_store_id={outsider.store_id}&all_categories=true", headers=out_headers
    )
    assert board.json()["items"] == []
    quote = await client.post(
        f"/api/v1/rfqs/{rfq_id}/quotes", json=quote_body(outsider.store_id), headers=out_headers
    )
    assert quote.status_code == 404 and quote.json()["error"] == "rfq_not_found"
    assert await quota_used(session, outsider.org_id) == 0
    in_headers = await token(session, invited.user)
    seen = await client.get(f"/api/v1/rfqs/{rfq_id}", headers=in_headers)
    assert seen.status_code == 200 and seen.json()["invited_store_ids"] == []
    board = await client.get(
        f"/api/v1/rfqs?board_store_id={invited.store_id}&all_categories=true", headers=in_headers
    )
    assert [i["id"] for i in board.json()["items"]] == [rfq_id]
    quote = await client.post(
        f"/api/v1/rfqs/{rfq_id}/quotes", json=quote_body(invited.store_id), headers=in_headers
    )
    assert quote.status_code == 201


# --- the board --------------------------------------------------------------------------------------------


async def test_board_filters_by_store_categories_and_search(
    client,
    session,
    sourcing_buyer,
    sourcing_supplier,
    rfq_factory,
    category_factory,
    product_factory,
) -> None:
    buyer = snap(await sourcing_buyer())
    real = await sourcing_supplier()
    supplier = snap(real)
    bottles, chairs = await category_factory(), await category_factory()
    await product_factory(real.store, category=bottles, moq=100)
    a = await rfq_factory(
        buyer, category_id=bottles.id, title="Steel bottles", search_text="steel bottles 750 ml"
    )
    b = await rfq_factory(buyer, category_id=chairs.id, title="Office chairs", search_text="office chairs")
    c = await rfq_factory(
        buyer, category_id=bottles.id, title="Glass bottles", search_text="glass bottles creme"
    )
    # not on the board: closed, deadline passed, full
    await rfq_factory(buyer, category_id=bottles.id, status="closed")
    await rfq_factory(buyer, category_id=bottles.id, quote_deadline=utcnow() - timedelta(minutes=1))
    await rfq_factory(buyer, category_id=bottles.id, quote_count=10)
    headers = await token(session, supplier.user)
    url = f"/api/v1/rfqs?board_store_id={supplier.store_id}"
    mine = await client.get(url, headers=headers)
    assert mine.status_code == 200, mine.text
    assert [i["id"] for i in mine.json()["items"]] == [c.id, a.id]
    everything = await client.get(url + "&all_categories=true", headers=headers)
    assert [i["id"] for i in everything.json()["items"]] == [c.id, b.id, a.id]
    searched = await client.get(url + "&q=CRÈME%20Glass", headers=headers)
    assert [i["id"] for i in searched.json()["items"]] == [c.id]
    paged = await client.get(url + "&all_categories=true&limit=2", headers=headers)
    assert [i["id"] for i in paged.json()["items"]] == [c.id, b.id]
    cursor = paged.json()["next_cursor"]
    rest = await client.get(url + f"&all_categories=true&limit=2&cursor={cursor}", headers=headers)
    assert [i["id"] for i in rest.json()["items"]] == [a.id] and rest.json()["next_cursor"] is None


async def test_board_needs_a_sourcing_store_of_the_actor(
    client, session, sourcing_supplier, store_factory, user_factory
) -> None:
    supplier = snap(await sourcing_supplier())
    stranger = await user_factory()
    r = await client.get(
        f"/api/v1/rfqs?board_store_id={supplier.store_id}", headers=await token(session, stranger)
    )
    assert r.status_code == 404
    owner = await user_factory()
    market = await store_factory(owner=owner)
    market_id = market.id
    r = await client.get(f"/api/v1/rfqs?board_store_id={market_id}", headers=await token(session, owner))
    assert r.status_code == 409 and r.json()["error"] == "store_not_sourcing"


# --- quoting ------------------------------------------------------------------------------------------------


async def test_quote_is_written_with_its_offer_and_counts(
    client, session, sourcing_buyer, sourcing_supplier, rfq_factory
) -> None:
    buyer = snap(await sourcing_buyer())
    supplier = snap(await sourcing_supplier())
    clock.freeze(datetime(2026, 11, 10, 12, 0, tzinfo=UTC))
    rfq = await rfq_factory(buyer)
    rfq_id = rfq.id
    clock.advance(timedelta(hours=3))
    headers = await token(session, supplier.user)
    r = await client.post(
        f"/api/v1/rfqs/{rfq_id}/quotes",
        json=quote_body(supplier.store_id, tiers=[[500, 240], [1000, 220]], sample_price_amount=1500),
        headers=headers,
    )
    assert r.status_code == 201, r.text
    data = r.json()
    assert data["currency"] == "USD" and data["quantity"] == 1000 and data["deposit_bps"] == 3000
    assert data["balance_due"] == "before_shipment" and data["response_seconds"] == 3 * 3600
    assert data["valid_until"] == "2026-12-10" and data["tiers"] == [[500, 240], [1000, 220]]
    offer = await session.scalar(select(Offer).where(Offer.quote_id == data["id"]))
    assert offer is not None
    assert (offer.version, offer.kind, offer.side, offer.status, offer.unit_price_amount) == (
        1,
        "quote",
        "supplier",
        "open",
        250,
    )
    assert await rfq_count(session, rfq_id) == 1
    assert await quota_used(session, supplier.org_id) == 1
    quota = await client.get(f"/api/v1/stores/{supplier.store_id}/quote-quota", headers=headers)
    assert quota.json() == {"period": "2026-11", "quota": 20, "used": 1, "left": 19}
    note = await session.scalar(select(Notification).where(Notification.user_id == buyer.user.id))
    assert note is not None and note.link == f"/rfqs/{rfq_id}/quotes/{data['id']}"
    mine = await client.get(f"/api/v1/quotes?store_id={supplier.store_id}", headers=headers)
    assert [(q["id"], q["rfq_title"]) for q in mine.json()["items"]] == [(data["id"], rfq.title)]
    # either side reads it; a stranger gets 404
    assert (await client.get(f"/api/v1/quotes/{data['id']}", headers=headers)).status_code == 200
    buyer_headers = await token(session, buyer.user)
    assert (await client.get(f"/api/v1/quotes/{data['id']}", headers=buyer_headers)).status_code == 200
    stranger = snap(await sourcing_supplier())
    other = await token(session, stranger.user)
    assert (await client.get(f"/api/v1/quotes/{data['id']}", headers=other)).status_code == 404
    assert (
        await client.get(f"/api/v1/quotes?store_id={supplier.store_id}", headers=other)
    ).status_code == 404


async def test_one_quote_per_store(client, session, sourcing_buyer, sourcing_supplier, rfq_factory):
    rfq = await rfq_factory(await sourcing_buyer())
    rfq_id = rfq.id
    supplier = snap(await sourcing_supplier())
    headers = await token(session, supplier.user)
    first = await client.post(
        f"/api/v1/rfqs/{rfq_id}/quotes", json=quote_body(supplier.store_id), headers=headers
    )
    assert first.status_code == 201
    second = await client.post(
        f"/api/v1/rfqs/{rfq_id}/quotes", json=quote_body(supplier.store_id), headers=headers
    )
    assert second.status_code == 409 and second.json()["error"] == "quote_already_sent"
    assert await rfq_count(session, rfq_id) == 1
    assert await quota_used(session, supplier.org_id) == 1


async def test_the_eleventh_quote_is_refused_and_its_quota_untouched(
    client, session, sourcing_buyer, sourcing_supplier, rfq_factory
) -> None:
    rfq = await rfq_factory(await sourcing_buyer())
    rfq_id = rfq.id
    for _ in range(10):
        s = snap(await sourcing_supplier())
        r = await client.post(
            f"/api/v1/rfqs/{rfq_id}/quotes",
            json=quote_body(s.store_id),
            headers=await token(session, s.user),
        )
        assert r.status_code == 201, r.text
    late = snap(await sourcing_supplier())
    r = await client.post(
        f"/api/v1/rfqs/{rfq_id}/quotes",
        json=quote_body(late.store_id),
        headers=await token(session, late.user),
    )
    assert r.status_code == 409 and r.json()["error"] == "rfq_not_taking_quotes"
    assert await rfq_count(session, rfq_id) == 10
    assert await quota_used(session, late.org_id) == 0
    assert await session.scalar(select(func.count()).select_from(Quote).where(Quote.rfq_id == rfq_id)) == 10
    buyer_view = await client.get(f"/api/v1/rfqs/{rfq_id}", headers=await token(session, late.user))
    assert buyer_view.json()["state"] == "not_taking_quotes"


async def test_deadline_passed_is_409(client, session, sourcing_buyer, sourcing_supplier, rfq_factory):
    rfq = await rfq_factory(await sourcing_buyer(), quote_deadline=utcnow() + timedelta(hours=1))
    rfq_id = rfq.id
    supplier = snap(await sourcing_supplier())
    clock.advance(timedelta(hours=2))
    r = await client.post(
        f"/api/v1/rfqs/{rfq_id}/quotes",
        json=quote_body(supplier.store_id),
        headers=await token(session, supplier.user),
    )
    assert r.status_code == 409 and r.json()["error"] == "rfq_not_taking_quotes"
    assert await quota_used(session, supplier.org_id) == 0


async def test_buyer_closes_then_quotes_are_refused(
    client, session, sourcing_buyer, sourcing_supplier, rfq_factory
) -> None:
    buyer = snap(await sourcing_buyer())
    rfq = await rfq_factory(buyer)
    rfq_id = rfq.id
    headers = await token(session, buyer.user)
    closed = await client.post(f"/api/v1/rfqs/{rfq_id}/close", headers=headers)
    assert closed.status_code == 200
    assert (closed.json()["status"], closed.json()["close_reason"]) == ("closed", "buyer")
    again = await client.post(f"/api/v1/rfqs/{rfq_id}/close", headers=headers)
    assert again.status_code == 409 and again.json()["error"] == "rfq_not_open"
    supplier = snap(await sourcing_supplier())
    r = await client.post(
        f"/api/v1/rfqs/{rfq_id}/quotes",
        json=quote_body(supplier.store_id),
        headers=await token(session, supplier.user),
    )
    assert r.status_code == 409 and r.json()["error"] == "rfq_not_taking_quotes"
    assert await quota_used(session, supplier.org_id) == 0


async def test_monthly_quota_of_twenty_and_a_new_month_resets(
    client, session, sourcing_buyer, sourcing_supplier, rfq_factory
) -> None:
    clock.freeze(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    buyer = snap(await sourcing_buyer())
    supplier = snap(await sourcing_supplier())
    headers = await token(session, supplier.user)
    rfqs = [await rfq_factory(buyer, quote_deadline=utcnow() + timedelta(days=30)) for _ in range(22)]
    rfq_ids = [r.id for r in rfqs]
    for rfq_id in rfq_ids[:20]:
        r = await client.post(
            f"/api/v1/rfqs/{rfq_id}/quotes", json=quote_body(supplier.store_id), headers=headers
        )
        assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/v1/rfqs/{rfq_ids[20]}/quotes", json=quote_body(supplier.store_id), headers=headers
    )
    assert r.status_code == 409 and r.json()["error"] == "quote_quota_exhausted"
    # the RFQ's slot went back with the refused quote
    assert await rfq_count(session, rfq_ids[20]) == 0
    assert await quota_used(session, supplier.org_id) == 20
    quota = (await client.get(f"/api/v1/stores/{supplier.store_id}/quote-quota", headers=headers)).json()
    assert quota == {"period": "2026-11", "quota": 20, "used": 20, "left": 0}
    clock.freeze(datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC))
    r = await client.post(
        f"/api/v1/rfqs/{rfq_ids[20]}/quotes", json=quote_body(supplier.store_id), headers=headers
    )
    assert r.status_code == 201, r.text
    quota = (await client.get(f"/api/v1/stores/{supplier.store_id}/quote-quota", headers=headers)).json()
    assert quota == {"period": "2026-12", "quota": 20, "used": 1, "left": 19}
    assert await rfq_count(session, rfq_ids[20]) == 1


async def test_market_store_cannot_quote(
    client, session, sourcing_buyer, store_factory, user_factory, rfq_factory
):
    rfq = await rfq_factory(await sourcing_buyer())
    rfq_id = rfq.id
    owner = await user_factory()
    market = await store_factory(owner=owner)
    r = await client.post(
        f"/api/v1/rfqs/{rfq_id}/quotes",
        json=quote_body(market.id),
        headers=await token(session, owner),
    )
    assert r.status_code == 409 and r.json()["error"] == "store_not_sourcing"
    assert await rfq_count(session, rfq_id) == 0


async def test_unverified_or_inactive_supplier_cannot_quote(
    client, session, sourcing_buyer, sourcing_supplier, rfq_factory
) -> None:
    rfq = await rfq_factory(await sourcing_buyer())
    rfq_id = rfq.id
    pending_store = snap(await sourcing_supplier(status="pending_review"))
    r = await client.post(
        f"/api/v1/rfqs/{rfq_id}/quotes",
        json=quote_body(pending_store.store_id),
        headers=await token(session, pending_store.user),
    )
    assert r.status_code == 409 and r.json()["error"] == "store_not_active"
    real = await sourcing_supplier()
    real.organization.status = "pending_review"
    await session.flush()
    unverified = snap(real)
    r = await client.post(
        f"/api/v1/rfqs/{rfq_id}/quotes",
        json=quote_body(unverified.store_id),
        headers=await token(session, unverified.user),
    )
    assert r.status_code == 409 and r.json()["error"] == "organization_not_verified"


async def test_quote_input_is_checked(client, session, sourcing_buyer, sourcing_supplier, rfq_factory):
    rfq = await rfq_factory(await sourcing_buyer())
    rfq_id = rfq.id
    supplier = snap(await sourcing_supplier())
    headers = await token(session, supplier.user)
    cases = [
        ({"unit_price_amount": 0}, "unit_price_amount"),
        ({"currency": "EUR"}, "currency"),
        ({"tiers": [[1000, 200], [500, 190]]}, "tiers"),
        ({"incoterm": "ABC"}, "incoterm"),
        ({"deposit_bps": 10001}, "deposit_bps"),
        ({"balance_due": "later"}, "balance_due"),
        ({"valid_until": "2000-01-01"}, "valid_until"),
        ({"lead_time_days": -1}, "lead_time_days"),
    ]
    for changes, field in cases:
        r = await client.post(
            f"/api/v1/rfqs/{rfq_id}/quotes", json=quote_body(supplier.store_id, **changes), headers=headers
        )
        assert r.status_code == 422, (changes, r.text)
        assert field in r.json()["fields"], (changes, r.json())
    assert await rfq_count(session, rfq_id) == 0
    assert await quota_used(session, supplier.org_id) == 0


async def test_read_only_token_cannot_quote(client, session, sourcing_buyer, sourcing_supplier, rfq_factory):
    rfq = await rfq_factory(await sourcing_buyer())
    rfq_id = rfq.id
    supplier = snap(await sourcing_supplier())
    r = await client.post(
        f"/api/v1/rfqs/{rfq_id}/quotes",
        json=quote_body(supplier.store_id),
        headers=await token(session, supplier.user, "read"),
    )
    assert r.status_code == 403


# --- comparison ---------------------------------------------------------------------------------------------


async def test_comparison_values_and_sorting(
    client, session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory
) -> None:
    buyer = snap(await sourcing_buyer())
    rfq = await rfq_factory(buyer, quantity=1000, currency="USD")
    rfq_id = rfq.id
    cheap = snap(await sourcing_supplier())
    fast = snap(await sourcing_supplier())
    euro = snap(await sourcing_supplier(currency="EUR"))
    q_cheap = await quote_factory(
        rfq,
        cheap,
        unit_price_amount=300,
        tiers=[[500, 250], [1000, 200]],
        shipping_amount=50_000,
        lead_time_days=30,
        response_seconds=7200,
    )
    q_fast = await quote_factory(
        rfq, fast, unit_price_amount=240, shipping_amount=10_000, lead_time_days=7, response_seconds=600
    )
    q_euro = await quote_factory(rfq, euro, unit_price_amount=100, lead_time_days=14, response_seconds=60)
    headers = await token(session, buyer.user)
    r = await client.get(f"/api/v1/rfqs/{rfq_id}/quotes", headers=headers)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["missing_rates"] is True and data["sort"] == "price"
    rows = {row["quote_id"]: row for row in data["rows"]}
    # the tier price for 1000 pieces, landed = 200 x 1000 + 500.00 shipping
    assert rows[q_cheap.id]["unit_price_amount"] == 200
    assert rows[q_cheap.id]["landed_total_amount"] == 250_000
    assert rows[q_cheap.id]["converted_landed_total_amount"] == 250_000
    assert rows[q_fast.id]["landed_total_amount"] == 250_000
    assert rows[q_euro.id]["has_rate"] is False
    assert rows[q_euro.id]["converted_unit_price_amount"] is None
    assert rows[q_euro.id]["landed_total_amount"] == 100 * 1000 + 30_000
    assert rows[q_cheap.id]["verified"] is True
    assert rows[q_cheap.id]["response_time"] == "2 hours"
    assert [row["quote_id"] for row in data["rows"]] == [q_cheap.id, q_fast.id, q_euro.id]

    async def order(sort: str) -> list[int]:
        resp = await client.get(f"/api/v1/rfqs/{rfq_id}/quotes?sort={sort}", headers=headers)
        return [row["quote_id"] for row in resp.json()["rows"]]

    assert await order("landed") == [q_cheap.id, q_fast.id, q_euro.id]
    assert await order("lead_time") == [q_fast.id, q_euro.id, q_cheap.id]
    assert await order("response") == [q_euro.id, q_fast.id, q_cheap.id]
    bad = await client.get(f"/api/v1/rfqs/{rfq_id}/quotes?sort=colour", headers=headers)
    assert bad.status_code == 422 and "sort" in bad.json()["fields"]
    # suppliers do not see the comparison
    supplier_headers = await token(session, cheap.user)
    assert (await client.get(f"/api/v1/rfqs/{rfq_id}/quotes", headers=supplier_headers)).status_code == 404


async def test_attachments_are_private_to_buyer_and_suppliers_who_may_see(
    client, session, sourcing_buyer, sourcing_supplier, user_factory
) -> None:
    from fixtures.party import pdf_bytes

    buyer = snap(await sourcing_buyer())
    invited = snap(await sourcing_supplier())
    outsider = snap(await sourcing_supplier())
    headers = await token(session, buyer.user)
    r = await client.post(
        "/api/v1/rfqs",
        json=rfq_body(visibility="invited", invited_store_ids=[invited.store_id]),
        headers=headers,
    )
    rfq_id = r.json()["id"]
    up = await client.post(
        f"/api/v1/rfqs/{rfq_id}/attachments",
        files={"file": ("drawing.pdf", pdf_bytes(), "application/pdf")},
        headers=headers,
    )
    assert up.status_code == 201, up.text
    assert up.json()["attachments"] == [
        {
            "index": 0,
            "filename": "drawing.pdf",
            "content_type": "application/pdf",
            "size_bytes": len(pdf_bytes()),
        }
    ]
    own = await client.get(f"/api/v1/rfqs/{rfq_id}/attachments/0", headers=headers)
    assert own.status_code == 200 and own.content.startswith(b"%PDF-")
    assert own.headers["cache-control"] == "private, no-store"
    seen = await client.get(
        f"/api/v1/rfqs/{rfq_id}/attachments/0", headers=await token(session, invited.user)
    )
    assert seen.status_code == 200
    hidden = await client.get(
        f"/api/v1/rfqs/{rfq_id}/attachments/0", headers=await token(session, outsider.user)
    )
    assert hidden.status_code == 404
    nobody = await client.get(
        f"/api/v1/rfqs/{rfq_id}/attachments/0", headers=await token(session, await user_factory())
    )
    assert nobody.status_code == 404
    assert (await client.get(f"/api/v1/rfqs/{rfq_id}/attachments/1", headers=headers)).status_code == 404
    bad = await client.post(
        f"/api/v1/rfqs/{rfq_id}/attachments",
        files={"file": ("x.exe", b"MZ not a document", "application/pdf")},
        headers=headers,
    )
    assert bad.status_code == 422
