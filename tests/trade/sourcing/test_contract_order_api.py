"""A contract order through the JSON API and the pages: milestones, paying with an Idempotency-Key (a replay pays
once), production finished, shipping, 404 for strangers, the pages' milestones and buttons."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from conftest_contract_order import contract_world, escrow_of, fresh_so, milestones_of
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import api_token_for, form, login_as
from fixtures.orders import card
from souk.models import Payment, User
from souk.trade.sourcing.contract.orders import contract_orders

TOTAL = 280_000
DEPOSIT = 84_000


@pytest.fixture(autouse=True)
async def _audit_after_each_test(
    session: AsyncSession, assert_ledger_balanced: Callable[[AsyncSession], Awaitable[None]]
) -> AsyncIterator[None]:
    yield
    await assert_ledger_balanced(session)


@pytest.fixture
def placed(
    session: AsyncSession, sourcing_buyer: Any, sourcing_supplier: Any, rfq_factory: Any, quote_factory: Any
) -> Callable[..., Awaitable[Any]]:
    async def make(**kw: Any) -> tuple[Any, int, int]:
        w = await contract_world(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory, **kw)
        so = await contract_orders.place(session, w.contract)
        return w, so.order_id, so.id

    return make


async def test_api_pay_deposit_replay_pays_once(
    session: AsyncSession, client: Any, placed: Any, run_worker: Any
) -> None:
    w, order_id, so_id = await placed()
    headers = await api_token_for(session, w.buyer.user)
    listed = await client.get(f"/api/v1/orders/{order_id}/milestones", headers=headers)
    assert listed.status_code == 200
    body = listed.json()
    assert [(m["kind"], m["amount"], m["status"]) for m in body] == [
        ("deposit", DEPOSIT, "due"),
        ("balance", TOTAL - DEPOSIT, "pending"),
    ]
    deposit_id = body[0]["id"]
    url = f"/api/v1/orders/{order_id}/milestones/{deposit_id}/pay"
    # no key: 422 naming the header
    missing = await client.post(url, json={"card": card()}, headers=headers)
    assert missing.status_code == 422
    keyed = {**headers, "Idempotency-Key": "dep-1"}
    first = await client.post(url, json={"card": card()}, headers=keyed)
    assert first.status_code == 200, first.text
    assert first.json()["milestones"][0]["payment_status"] == "processing"
    replay = await client.post(url, json={"card": card()}, headers=keyed)
    assert replay.status_code == 200
    assert replay.headers.get("Idempotent-Replayed") == "true"
    other_key = await client.post(url, json={"card": card()}, headers={**headers, "Idempotency-Key": "dep-2"})
    assert other_key.status_code == 409
    assert other_key.json()["error"] == "payment_in_progress"
    await run_worker()
    after = await client.post(url, json={"card": card()}, headers={**headers, "Idempotency-Key": "dep-3"})
    assert after.status_code == 409 and after.json()["error"] == "milestone_not_due"
    payments = (await session.scalars(select(Payment).where(Payment.order_id == order_id))).all()
    assert [(p.amount, p.status) for p in payments] == [(DEPOSIT, "succeeded")]
    so = await fresh_so(session, so_id)
    assert so.status == "in_production"
    assert await escrow_of(session, so) == DEPOSIT
    order = (await client.get(f"/api/v1/orders/{order_id}", headers=headers)).json()
    assert order["seller_orders"][0]["status"] == "in_production"
    assert order["seller_orders"][0]["next_action"]["kind"] == "in_production"


async def test_api_supplier_steps_and_bad_input(
    session: AsyncSession, client: Any, placed: Any, run_worker: Any
) -> None:
    w, order_id, so_id = await placed()
    buyer = await api_token_for(session, w.buyer.user)
    supplier = await api_token_for(session, w.supplier.user)
    deposit_id = (await milestones_of(session, so_id))["deposit"].id
    await session.commit()  # a refused request rolls its transaction back: keep the setup
    bad = await client.post(
        f"/api/v1/orders/{order_id}/milestones/{deposit_id}/pay",
        json={"card": {**card(), "number": "12"}},
        headers={**buyer, "Idempotency-Key": "bad"},
    )
    assert bad.status_code == 422
    await client.post(
        f"/api/v1/orders/{order_id}/milestones/{deposit_id}/pay",
        json={"card": card()},
        headers={**buyer, "Idempotency-Key": "ok"},
    )
    await run_worker()
    store_id = w.store_id
    ship = await client.post(
        f"/api/v1/stores/{store_id}/orders/{so_id}/ship",
        json={"carrier": "COSCO", "tracking_number": "COSU1234567"},
        headers=supplier,
    )
    assert ship.status_code == 409
    await session.commit()
    done = await client.post(
        f"/api/v1/stores/{store_id}/orders/{so_id}/production-finished", headers=supplier
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "awaiting_balance"
    assert [m["status"] for m in done.json()["milestones"]] == ["paid", "due"]
    listed = await client.get(f"/api/v1/stores/{store_id}/orders?status=awaiting_balance", headers=supplier)
    assert [o["id"] for o in listed.json()["items"]] == [so_id]
    # the buyer cannot mark production finished
    assert (
        await client.post(f"/api/v1/stores/{store_id}/orders/{so_id}/production-finished", headers=buyer)
    ).status_code == 404


async def test_api_strangers_get_404(
    session: AsyncSession, client: Any, placed: Any, user_factory: Any
) -> None:
    w, order_id, so_id = await placed()
    stranger = await api_token_for(session, await user_factory())
    deposit_id = (await milestones_of(session, so_id))["deposit"].id
    await session.commit()  # a refused request rolls its transaction back: keep the setup
    assert (await client.get(f"/api/v1/orders/{order_id}/milestones", headers=stranger)).status_code == 404
    paid = await client.post(
        f"/api/v1/orders/{order_id}/milestones/{deposit_id}/pay",
        json={"card": card()},
        headers={**stranger, "Idempotency-Key": "x"},
    )
    assert paid.status_code == 404
    assert paid.json()["error"] == "milestone_not_found"
    assert (
        await client.post(f"/api/v1/stores/{w.store_id}/orders/{so_id}/production-finished", headers=stranger)
    ).status_code == 404


def _token(html: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


async def test_pages_show_milestones_and_pay_once(
    session: AsyncSession, client: Any, placed: Any, run_worker: Any, app: Any
) -> None:
    w, order_id, so_id = await placed()
    buyer = await session.get(User, w.buyer_actor.user_id)
    assert buyer is not None
    await login_as(client, session, buyer)
    page = await client.get(f"/orders/{order_id}")
    assert page.status_code == 200
    assert "Payments under the contract" in page.text
    assert "Deposit due" in page.text
    deposit_id = (await milestones_of(session, so_id))["deposit"].id
    assert f"/orders/{order_id}/milestones/{deposit_id}/pay" in page.text
    pay_page = await client.get(f"/orders/{order_id}/milestones/{deposit_id}/pay")
    assert pay_page.status_code == 200
    assert "Pay US$840.00" in pay_page.text
    from souk.kit.idempotency import FORM_TOKEN_FIELD

    token = re.search(rf'name="{FORM_TOKEN_FIELD}" value="([^"]+)"', pay_page.text)
    assert token
    fields = {
        FORM_TOKEN_FIELD: token.group(1),
        "card_number": "4242424242424242",
        "card_exp_month": "12",
        "card_exp_year": str(card()["exp_year"]),
        "card_cvc": "123",
    }
    first = await client.post(f"/orders/{order_id}/milestones/{deposit_id}/pay", data=form(client, **fields))
    assert first.status_code == 303
    second = await client.post(f"/orders/{order_id}/milestones/{deposit_id}/pay", data=form(client, **fields))
    assert second.status_code == 303
    await run_worker()
    payments = (await session.scalars(select(Payment).where(Payment.order_id == order_id))).all()
    assert [(p.amount, p.status) for p in payments] == [(DEPOSIT, "succeeded")]
    page = await client.get(f"/orders/{order_id}")
    assert "In production" in page.text
    assert "The supplier is producing your order" in page.text
    assert "Deposit of US$840.00 paid" in page.text


async def test_supplier_page_buttons(
    session: AsyncSession, client: Any, placed: Any, run_worker: Any
) -> None:
    w, _order_id, so_id = await placed()
    from conftest_contract_order import pay_milestone

    await pay_milestone(session, run_worker, w, so_id, "deposit")
    supplier = await session.get(User, w.supplier_actor.user_id)
    assert supplier is not None
    await login_as(client, session, supplier)
    page = await client.get(f"/seller/stores/{w.store_id}/orders/{so_id}")
    assert page.status_code == 200
    assert "Production finished" in page.text
    assert "Payments under the contract" in page.text
    done = await client.post(
        f"/seller/stores/{w.store_id}/orders/{so_id}/production-finished", data=form(client)
    )
    assert done.status_code == 303
    assert (await fresh_so(session, so_id)).status == "awaiting_balance"
    page = await client.get(f"/seller/stores/{w.store_id}/orders/{so_id}")
    assert "Waiting for the buyer&#39;s balance payment" in page.text or "balance payment" in page.text
    listing = await client.get(f"/seller/stores/{w.store_id}/orders?status=awaiting_balance")
    assert listing.status_code == 200 and "Awaiting balance" in listing.text


async def test_supplier_ships_with_documents_page(
    session: AsyncSession, client: Any, placed: Any, run_worker: Any
) -> None:
    w, _order_id, so_id = await placed(balance_due="on_documents")
    from conftest_contract_order import pay_milestone

    await pay_milestone(session, run_worker, w, so_id, "deposit")
    supplier = await session.get(User, w.supplier_actor.user_id)
    assert supplier is not None
    await login_as(client, session, supplier)
    page = await client.get(f"/seller/stores/{w.store_id}/orders/{so_id}")
    assert "contract-shipment" in page.text
    pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    shipped = await client.post(
        f"/seller/stores/{w.store_id}/orders/{so_id}/contract-shipment",
        data=form(client, carrier="Maersk", tracking_number="MAEU123456789"),
        files={"document": ("bill-of-lading.pdf", pdf, "application/pdf")},
    )
    assert shipped.status_code == 303
    so = await fresh_so(session, so_id)
    assert (so.status, so.auto_confirm_at) == ("awaiting_balance", None)
    assert so.shipped_at is not None
    page = await client.get(f"/seller/stores/{w.store_id}/orders/{so_id}")
    assert "bill-of-lading.pdf" in page.text
