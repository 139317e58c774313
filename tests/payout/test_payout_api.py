"""The balance and payout API: GET /balance, GET /balance/movements, POST/GET /payouts."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import api_token_for
from fixtures.ledger import fund_store
from souk.models import Payout, User


async def _funded(
    session: AsyncSession, store_factory, user_factory
) -> tuple[int, dict[str, str], dict[str, str]]:
    """A store with US$98.00 available, US$25.00 in escrow and €30.00 in escrow; its owner's and a stranger's
    API headers (committed: some requests below fail and roll back)."""
    store = await store_factory()
    owner = await session.get(User, store.owner_user_id)
    assert owner is not None
    await fund_store(session, store.id, 10_000, commission_bps=200)
    await fund_store(session, store.id, 2_500, released=False)
    await fund_store(session, store.id, 3_000, "EUR", released=False)
    headers = await api_token_for(session, owner)
    stranger = await api_token_for(session, await user_factory())
    store_id = store.id
    await session.commit()
    return store_id, headers, stranger


async def _payouts(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Payout)) or 0)


class TestBalance:
    async def test_balances_per_currency(
        self, client: httpx.AsyncClient, session: AsyncSession, store_factory, user_factory
    ) -> None:
        store_id, headers, stranger = await _funded(session, store_factory, user_factory)
        response = await client.get(f"/api/v1/balance?store_id={store_id}", headers=headers)
        assert response.status_code == 200
        assert response.json() == {
            "store_id": store_id,
            "balances": [
                {"currency": "EUR", "escrow_pending": 3_000, "available": 0, "paid_out": 0},
                {"currency": "USD", "escrow_pending": 2_500, "available": 9_800, "paid_out": 0},
            ],
        }
        assert (await client.get(f"/api/v1/balance?store_id={store_id}", headers=stranger)).status_code == 404
        anonymous = await client.get(f"/api/v1/balance?store_id={store_id}")
        assert anonymous.status_code == 401
        for query in ("", "?store_id=0", "?store_id=abc", f"?store_id={2**31}"):
            assert (await client.get(f"/api/v1/balance{query}", headers=headers)).status_code == 422

    async def test_movements(
        self, client: httpx.AsyncClient, session: AsyncSession, store_factory, user_factory
    ) -> None:
        store_id, headers, stranger = await _funded(session, store_factory, user_factory)
        first = await client.get(f"/api/v1/balance/movements?store_id={store_id}&limit=3", headers=headers)
        assert first.status_code == 200
        body = first.json()
        assert [(m["kind"], m["account_kind"], m["amount"], m["currency"]) for m in body["items"]] == [
            ("payment_captured", "escrow", 3_000, "EUR"),
            ("payment_captured", "escrow", 2_500, "USD"),
            ("escrow_released", "payable", 9_800, "USD"),
        ]
        second = await client.get(
            f"/api/v1/balance/movements?store_id={store_id}&limit=3&cursor={body['next_cursor']}",
            headers=headers,
        )
        assert [m["amount"] for m in second.json()["items"]] == [-10_000, 10_000]
        assert second.json()["next_cursor"] is None
        assert (
            await client.get(f"/api/v1/balance/movements?store_id={store_id}", headers=stranger)
        ).status_code == 404
        bad = await client.get(f"/api/v1/balance/movements?store_id={store_id}&cursor=nope", headers=headers)
        assert bad.status_code == 422 and bad.json()["fields"] == {
            "cursor": "is not a cursor this API issued"
        }


class TestPayouts:
    async def test_request_with_an_idempotency_key(
        self, client: httpx.AsyncClient, session: AsyncSession, store_factory, user_factory
    ) -> None:
        store_id, headers, _ = await _funded(session, store_factory, user_factory)
        body = {"store_id": store_id, "currency": "USD", "amount": 4_000}
        response = await client.post(
            "/api/v1/payouts", json=body, headers={**headers, "Idempotency-Key": "p-1"}
        )
        assert response.status_code == 201, response.text
        payout = response.json()
        assert (payout["amount"], payout["currency"], payout["status"], payout["store_id"]) == (
            4_000,
            "USD",
            "requested",
            store_id,
        )
        again = await client.post("/api/v1/payouts", json=body, headers={**headers, "Idempotency-Key": "p-1"})
        assert again.status_code == 201 and again.json() == payout
        assert again.headers["Idempotent-Replayed"] == "true"

        other = await client.post(
            "/api/v1/payouts", json={**body, "amount": 5_000}, headers={**headers, "Idempotency-Key": "p-1"}
        )
        assert other.status_code == 422 and other.json()["error"] == "idempotency_error"
        assert await _payouts(session) == 1

        balance = await client.get(f"/api/v1/balance?store_id={store_id}", headers=headers)
        usd = next(b for b in balance.json()["balances"] if b["currency"] == "USD")
        assert (usd["available"], usd["paid_out"]) == (5_800, 4_000)

        listed = await client.get(f"/api/v1/payouts?store_id={store_id}", headers=headers)
        assert [p["id"] for p in listed.json()["items"]] == [payout["id"]]
        one = await client.get(f"/api/v1/payouts/{payout['id']}", headers=headers)
        assert one.status_code == 200 and one.json()["amount"] == 4_000

    async def test_the_whole_balance_by_default(
        self, client: httpx.AsyncClient, session: AsyncSession, store_factory, user_factory
    ) -> None:
        store_id, headers, _ = await _funded(session, store_factory, user_factory)
        response = await client.post(
            "/api/v1/payouts",
            json={"store_id": store_id, "currency": "USD"},
            headers={**headers, "Idempotency-Key": "all"},
        )
        assert response.status_code == 201 and response.json()["amount"] == 9_800

    async def test_refusals(
        self, client: httpx.AsyncClient, session: AsyncSession, store_factory, user_factory
    ) -> None:
        store_id, headers, stranger = await _funded(session, store_factory, user_factory)
        ok = {"store_id": store_id, "currency": "USD", "amount": 4_000}
        cases = [
            (ok, headers, 422, "idempotency_key_required", "Idempotency-Key"),
            (
                {**ok, "amount": 9_801},
                {**headers, "Idempotency-Key": "a"},
                422,
                "payout_above_available",
                "amount",
            ),
            (
                {**ok, "amount": 500},
                {**headers, "Idempotency-Key": "b"},
                422,
                "payout_below_minimum",
                "amount",
            ),
            (
                {**ok, "currency": "EUR"},
                {**headers, "Idempotency-Key": "c"},
                422,
                "payout_above_available",
                "amount",
            ),
            ({**ok, "amount": 40.5}, {**headers, "Idempotency-Key": "d"}, 422, "invalid", "amount"),
            ({**ok, "currency": "usd"}, {**headers, "Idempotency-Key": "e"}, 422, "invalid", "currency"),
            ({**ok, "extra": 1}, {**headers, "Idempotency-Key": "f"}, 422, "invalid", "extra"),
            (ok, {**stranger, "Idempotency-Key": "g"}, 404, "store_not_found", None),
            (ok, {"Idempotency-Key": "h"}, 401, "unauthenticated", None),
        ]
        for body, hdrs, status, code, field in cases:
            response = await client.post("/api/v1/payouts", json=body, headers=hdrs)
            assert response.status_code == status, (body, response.text)
            assert response.json()["error"] == code, body
            if field:
                assert field in response.json()["fields"], response.json()
        assert await _payouts(session) == 0

    async def test_a_read_only_token_reads_but_does_not_pay_out(
        self, client: httpx.AsyncClient, session: AsyncSession, store_factory, user_factory
    ) -> None:
        store = await store_factory()
        await fund_store(session, store.id, 5_000)
        owner = await session.get(User, store.owner_user_id)
        assert owner is not None
        read_only = await api_token_for(session, owner, scopes="read")
        store_id = store.id
        await session.commit()
        assert (
            await client.get(f"/api/v1/balance?store_id={store_id}", headers=read_only)
        ).status_code == 200
        response = await client.post(
            "/api/v1/payouts",
            json={"store_id": store_id, "currency": "USD"},
            headers={**read_only, "Idempotency-Key": "ro"},
        )
        assert response.status_code == 403 and response.json()["error"] == "token_read_only"

    async def test_other_peoples_payouts_are_not_found(
        self, client: httpx.AsyncClient, session: AsyncSession, store_factory, user_factory
    ) -> None:
        store_id, headers, stranger = await _funded(session, store_factory, user_factory)
        created = await client.post(
            "/api/v1/payouts",
            json={"store_id": store_id, "currency": "USD"},
            headers={**headers, "Idempotency-Key": "x"},
        )
        payout_id = created.json()["id"]
        assert (await client.get(f"/api/v1/payouts/{payout_id}", headers=stranger)).status_code == 404
        assert (await client.get(f"/api/v1/payouts?store_id={store_id}", headers=stranger)).status_code == 404
        assert (await client.get(f"/api/v1/payouts/{2**31}", headers=headers)).status_code == 422
