"""Contract API and pages: both sides, strangers 404, edit/confirm/amend without JS, CSRF."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from fixtures.core import api_token_for, form, login_as
from souk.kit.clock import utcnow
from souk.models import Contract, Offer, SellerOrder, User
from souk.trade.sourcing.contract.service import contract_service


@pytest.fixture
def deal(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory, address_factory):
    async def make():
        buyer = await sourcing_buyer()
        supplier = await sourcing_supplier()
        rfq = await rfq_factory(buyer, quantity=1000)
        quote = await quote_factory(
            rfq, supplier, unit_price_amount=250, shipping_amount=30_000, deposit_bps=3000
        )
        offer = (await session.scalars(select(Offer).where(Offer.quote_id == quote.id))).one()
        contract = await contract_service.draft(
            session, rfq=rfq, quote=quote, offer=offer, buyer_user_id=buyer.user.id
        )
        address = await address_factory(buyer.user, full_name="Bea Buyer", city="Berlin", country="DE")
        # requests that fail roll back to the last commit (a savepoint in tests): keep the setup
        await session.commit()
        return buyer, supplier, contract, address

    return make


def token(html: str) -> str:
    return re.search(r'name="based_on_updated_at" value="([^"]+)"', html).group(1)


async def test_api_flow(client, session, deal, user_factory):
    buyer, supplier, contract, address = await deal()
    cid, number, store_id, address_id = contract.id, contract.number, supplier.store_id, address.id
    hb = await api_token_for(session, buyer.user)
    hs = await api_token_for(session, supplier.user)
    r = await client.get(f"/api/v1/contracts/{cid}", headers=hb)
    assert r.status_code == 200
    body = r.json()
    assert (
        body["total_amount"] == 280_000
        and body["deposit_amount"] == 84_000
        and body["balance_amount"] == 196_000
    )
    r = await client.get("/api/v1/contracts", headers=hb)
    assert [x["number"] for x in r.json()] == [number]
    r = await client.get(f"/api/v1/contracts?store_id={store_id}", headers=hs)
    assert [x["id"] for x in r.json()] == [cid]
    assert (await client.get(f"/api/v1/contracts?store_id={store_id}", headers=hb)).status_code == 404

    # the buyer cannot confirm without an address
    r = await client.post(f"/api/v1/contracts/{cid}/confirm", headers={**hb, "Idempotency-Key": "b0"})
    assert r.status_code == 422 and "shipping_address" in r.json()["fields"]
    # quantity is not editable here
    r = await client.patch(
        f"/api/v1/contracts/{cid}",
        headers=hb,
        json={"based_on_updated_at": body["updated_at"], "quantity": 5},
    )
    assert r.status_code == 422
    r = await client.patch(
        f"/api/v1/contracts/{cid}",
        headers=hb,
        json={"based_on_updated_at": body["updated_at"], "shipping_address_id": address_id},
    )
    assert r.status_code == 200 and r.json()["shipping_address"]["city"] == "Berlin"
    # stale
    r = await client.patch(
        f"/api/v1/contracts/{cid}",
        headers=hs,
        json={"based_on_updated_at": body["updated_at"], "quality_terms": "x"},
    )
    assert r.status_code == 409 and r.json()["error"] == "contract_outdated"
    fresh = (await client.get(f"/api/v1/contracts/{cid}", headers=hs)).json()
    r = await client.post(
        f"/api/v1/contracts/{cid}/confirm",
        headers={**hs, "Idempotency-Key": "s1"},
        json={"based_on_updated_at": fresh["updated_at"]},
    )
    assert r.status_code == 200 and r.json()["status"] == "draft" and r.json()["supplier_confirmed_at"]
    r = await client.post(f"/api/v1/contracts/{cid}/confirm", headers={**hb, "Idempotency-Key": "b1"})
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    assert r.json()["seller_order_id"] and r.json()["order_id"]
    # replay: same answer, no second order
    again = await client.post(f"/api/v1/contracts/{cid}/confirm", headers={**hb, "Idempotency-Key": "b1"})
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    count = await session.scalar(
        select(func.count()).select_from(SellerOrder).where(SellerOrder.store_id == store_id)
    )
    assert count == 1
    # confirmed: PATCH refused
    r = await client.patch(
        f"/api/v1/contracts/{cid}",
        headers=hb,
        json={"based_on_updated_at": fresh["updated_at"], "quality_terms": "x"},
    )
    assert r.status_code == 409 and r.json()["error"] == "contract_confirmed"
    # amendment
    new_date = (utcnow().date() + timedelta(days=50)).isoformat()
    r = await client.post(f"/api/v1/contracts/{cid}/amendments", headers=hs, json={"ship_by": new_date})
    assert r.status_code == 201 and r.json()["version"] == 2 and r.json()["number"] == number
    r = await client.get(f"/api/v1/contracts/{cid}/versions", headers=hb)
    assert [(v["version"], v["status"]) for v in r.json()] == [(1, "confirmed"), (2, "draft")]
    assert [c["field"] for c in r.json()[1]["changes"]] == ["ship_by"]


async def test_api_strangers_get_404(client, session, deal, user_factory):
    _buyer, _supplier, contract, _ = await deal()
    cid = contract.id
    stranger_id = (await user_factory()).id
    await session.commit()
    for path in (f"/api/v1/contracts/{cid}", f"/api/v1/contracts/{cid}/versions"):
        headers = await api_token_for(session, await session.get(User, stranger_id))
        await session.commit()
        assert (await client.get(path, headers=headers)).status_code == 404
    headers = await api_token_for(session, await session.get(User, stranger_id))
    await session.commit()
    r = await client.post(f"/api/v1/contracts/{cid}/confirm", headers={**headers, "Idempotency-Key": "x"})
    assert r.status_code == 404


async def test_pages_buyer_and_supplier(client, session, deal, user_factory):
    buyer, supplier, contract, address = await deal()
    cid, number, store_id, address_id = contract.id, contract.number, supplier.store_id, address.id
    supplier_id = supplier.user.id
    await login_as(client, session, buyer.user)
    r = await client.get("/contracts")
    assert r.status_code == 200 and number in r.text and "Pick a shipping address" in r.text
    r = await client.get(f"/contracts/{cid}")
    assert r.status_code == 200
    assert "30 % deposit US$840.00 now, 70 % balance US$1,960.00 before shipment" in r.text
    print(r.text[r.text.find("<main") :][:6000])
    assert "FOB Ningbo" in r.text and "Bea Buyer" in r.text
    seen = token(r.text)
    # CSRF: a form without the token is refused and changes nothing
    r = await client.post(f"/contracts/{cid}/edit", data={"quality_terms": "x", "based_on_updated_at": seen})
    assert r.status_code in (400, 403)
    # confirm without address -> error on the page
    r = await client.post(f"/contracts/{cid}/confirm", data=form(client, based_on_updated_at=seen))
    assert r.status_code == 422 and "pick a shipping address" in r.text
    ship_by = (utcnow().date() + timedelta(days=40)).isoformat()
    r = await client.post(
        f"/contracts/{cid}/edit",
        data=form(
            client,
            based_on_updated_at=seen,
            shipping_address_id=address_id,
            ship_by=ship_by,
            quality_terms="AQL 2.5 <b>",
            product_specification="Bottles 750 ml",
        ),
    )
    assert r.status_code == 303
    r = await client.get(f"/contracts/{cid}")
    assert "AQL 2.5 &lt;b&gt;" in r.text and "Berlin" in r.text
    # a stale form is a 409 re-render
    r = await client.post(
        f"/contracts/{cid}/edit",
        data=form(
            client, based_on_updated_at=seen, ship_by=ship_by, quality_terms="y", product_specification="z"
        ),
    )
    assert r.status_code == 409 and "changed since you opened it" in r.text
    r = await client.get(f"/contracts/{cid}")
    r = await client.post(f"/contracts/{cid}/confirm", data=form(client, based_on_updated_at=token(r.text)))
    assert r.status_code == 303

    # the supplier side
    await login_as(client, session, await session.get(User, supplier_id))
    base = f"/seller/stores/{store_id}/contracts"
    r = await client.get(base)
    assert r.status_code == 200 and number in r.text
    r = await client.get(f"{base}/{cid}")
    assert r.status_code == 200 and "confirmed by" in r.text
    assert "Ship to" in r.text and "shipping_address_id" not in r.text
    r = await client.post(f"{base}/{cid}/confirm", data=form(client, based_on_updated_at=token(r.text)))
    assert r.status_code == 303
    contract = await session.get(Contract, cid)
    await session.refresh(contract)
    assert contract.status == "confirmed" and contract.seller_order_id is not None
    r = await client.get(f"{base}/{cid}")
    assert f"/seller/stores/{store_id}/orders/{contract.seller_order_id}" in r.text
    assert "Propose an amendment" in r.text and 'action="' + f"{base}/{cid}/edit" not in r.text
    # the edit form is gone, and posting it anyway is a 409
    r = await client.post(
        f"{base}/{cid}/edit",
        data=form(
            client,
            based_on_updated_at="2020-01-01T00:00:00+00:00",
            ship_by=ship_by,
            quality_terms="q",
            product_specification="p",
        ),
    )
    assert r.status_code == 409 and "confirmed" in r.text
    # an amendment from the page
    r = await client.post(
        f"{base}/{cid}/amendments",
        data=form(
            client,
            ship_by=(utcnow().date() + timedelta(days=60)).isoformat(),
            quality_terms="AQL 2.5 <b>",
            product_specification="Bottles 750 ml",
            quantity="1000",
            unit_price="2.50",
        ),
    )
    assert r.status_code == 303
    v2 = (
        await session.scalars(select(Contract).where(Contract.number == number, Contract.version == 2))
    ).one()
    assert r.headers["location"] == f"{base}/{v2.id}"
    r = await client.get(f"{base}/{v2.id}")
    assert "Version 2" in r.text and "Ship by" in r.text

    # a stranger gets 404 on both sides' pages
    await login_as(client, session, await user_factory())
    await session.commit()
    assert (await client.get(f"/contracts/{cid}")).status_code == 404
    assert (await client.get(f"{base}/{cid}")).status_code == 404
    r = await client.post(f"/contracts/{cid}/confirm", data=form(client))
    assert r.status_code == 404


async def test_supplier_page_of_another_store_is_404(client, session, deal, sourcing_supplier):
    _buyer, supplier, contract, _ = await deal()
    cid, store_id = contract.id, supplier.store_id
    other = await sourcing_supplier()
    await login_as(client, session, other.user)
    await session.commit()
    assert (await client.get(f"/seller/stores/{other.store_id}/contracts/{cid}")).status_code == 404
    assert (await client.get(f"/seller/stores/{store_id}/contracts/{cid}")).status_code == 404
