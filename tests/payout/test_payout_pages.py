"""The seller centre's balance page and its "Request payout" form."""

from __future__ import annotations

import html
import re
from types import SimpleNamespace
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import form, login_as
from fixtures.factories import actor_of
from fixtures.ledger import fund_store
from souk.config import Settings
from souk.kit.idempotency import issue_form_token
from souk.models import Membership, Payout, User


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _request_for(settings: Settings) -> Any:
    """What ``issue_form_token`` reads of a request: the app's settings (for its secret key)."""
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(settings=settings)))


def _token(page: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', page)
    assert match, "the payout form has a one-time token"
    return match.group(1)


async def _payouts(session: AsyncSession) -> list[tuple[int, str]]:
    rows = await session.execute(select(Payout.amount, Payout.currency).order_by(Payout.id))
    return [(r[0], r[1]) for r in rows]


async def _seller_with_money(session: AsyncSession, client: httpx.AsyncClient, store_factory) -> int:
    store = await store_factory(name="Lantern House")
    owner = await session.get(User, store.owner_user_id)
    assert owner is not None
    await fund_store(session, store.id, 10_000, commission_bps=200)
    await fund_store(session, store.id, 2_500, released=False)
    await login_as(client, session, owner)
    store_id = store.id
    await session.commit()
    return store_id


class TestBalancePage:
    async def test_the_three_numbers_the_chart_and_the_movements(
        self, client: httpx.AsyncClient, session: AsyncSession, store_factory
    ) -> None:
        store_id = await _seller_with_money(session, client, store_factory)
        response = await client.get(f"/seller/stores/{store_id}/balance")
        assert response.status_code == 200
        page = response.text
        text = _text(page)
        assert "<title>Balance and payouts · Lantern House" in page
        assert "Escrow pending US$25.00" in text
        assert "Available US$98.00 ready to pay out" in text
        assert "Paid out US$0.00" in text
        assert f'href="/seller/stores/{store_id}/balance" class="current"' in page
        assert '<svg viewBox="0 0 300 80" role="img"' in page and 'class="up"' in page
        assert "Order paid, held in escrow" in text and "Receipt confirmed, released to you" in text
        assert "+US$98.00" in text and "-US$100.00" in text
        assert "Smallest payout: US$10.00" in text
        assert 'name="form_token"' in page and "Request payout" in text
        assert "No payouts yet" in text

    async def test_an_empty_store(
        self, client: httpx.AsyncClient, session: AsyncSession, store_factory
    ) -> None:
        store = await store_factory(currency="EUR")
        owner = await session.get(User, store.owner_user_id)
        await login_as(client, session, owner)  # type: ignore[arg-type]
        response = await client.get(f"/seller/stores/{store.id}/balance")
        text = _text(response.text)
        assert response.status_code == 200
        assert "Escrow pending €0.00" in text and "Available €0.00" in text
        assert "No money has moved yet" in text and "<svg" not in response.text

    async def test_who_sees_what(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        settings: Settings,
        store_factory,
        user_factory,
        organization_factory,
    ) -> None:
        owner, staff, stranger = await user_factory(), await user_factory(), await user_factory()
        organization = await organization_factory(owner=owner)
        session.add(Membership(organization_id=organization.id, user_id=staff.id, role="staff"))
        store = await store_factory("sourcing", organization=organization)
        store_id, staff_id, stranger_id = store.id, staff.id, stranger.id
        await session.commit()

        anonymous = await client.get(f"/seller/stores/{store_id}/balance")
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
        # a refused request rolls the test's savepoint back, which expires the loaded users: load them again
        await login_as(client, session, await session.get(User, stranger_id))  # type: ignore[arg-type]
        assert (await client.get(f"/seller/stores/{store_id}/balance")).status_code == 404
        await login_as(client, session, await session.get(User, staff_id))  # type: ignore[arg-type]
        page = await client.get(f"/seller/stores/{store_id}/balance")
        assert page.status_code == 200
        assert "Only the store's owner and admins can request payouts" in _text(page.text)
        assert 'name="form_token"' not in page.text
        # even with a valid form token of their own, staff may not pay out
        staff_user = await session.get(User, staff_id)
        assert staff_user is not None
        staff_token = issue_form_token(_request_for(settings), actor_of(staff_user), "payout")
        refused = await client.post(
            f"/seller/stores/{store_id}/payouts", data=form(client, currency="USD", form_token=staff_token)
        )
        assert refused.status_code == 403

    async def test_movement_pages(
        self, client: httpx.AsyncClient, session: AsyncSession, store_factory
    ) -> None:
        store_id = await _seller_with_money(session, client, store_factory)
        for _ in range(10):
            await fund_store(session, store_id, 100)
        await session.commit()
        first = await client.get(f"/seller/stores/{store_id}/balance")
        match = re.search(r'href="([^"]*cursor=[^"]+)" rel="next">Older', first.text)
        assert match
        older = await client.get(html.unescape(match.group(1)))
        assert older.status_code == 200 and "Order paid, held in escrow" in older.text
        assert "← Newest" in older.text


class TestPayoutForm:
    async def test_a_double_click_makes_one_payout(
        self, client: httpx.AsyncClient, session: AsyncSession, store_factory
    ) -> None:
        store_id = await _seller_with_money(session, client, store_factory)
        token = _token((await client.get(f"/seller/stores/{store_id}/balance")).text)
        data = form(client, currency="USD", amount="40.00", form_token=token)
        first = await client.post(f"/seller/stores/{store_id}/payouts", data=data)
        assert first.status_code == 303 and first.headers["location"] == f"/seller/stores/{store_id}/balance"
        assert "of US$40.00 requested" in _text((await client.get(first.headers["location"])).text)
        second = await client.post(f"/seller/stores/{store_id}/payouts", data=data)
        assert second.status_code == 303 and second.headers["location"] == first.headers["location"]
        assert await _payouts(session) == [(4_000, "USD")]

        page = await client.get(second.headers["location"])
        text = _text(page.text)
        assert "This payout request was already sent" in text
        assert "Available US$58.00" in text and "Paid out US$40.00 US$40.00 on its way" in text
        assert "On its way" in text and "Payout requested" in text
        assert _token(page.text) != token  # the next form has a new token

        # the old page's form sent again with another amount: no second payout
        again = await client.post(
            f"/seller/stores/{store_id}/payouts",
            data=form(client, currency="USD", amount="10", form_token=token),
        )
        assert again.status_code == 303
        assert "already sent" in _text((await client.get(again.headers["location"])).text)
        assert await _payouts(session) == [(4_000, "USD")]

    async def test_everything_available_by_default(
        self, client: httpx.AsyncClient, session: AsyncSession, store_factory, run_worker
    ) -> None:
        store_id = await _seller_with_money(session, client, store_factory)
        token = _token((await client.get(f"/seller/stores/{store_id}/balance")).text)
        response = await client.post(
            f"/seller/stores/{store_id}/payouts",
            data=form(client, currency="USD", amount="", form_token=token),
        )
        assert response.status_code == 303
        assert await _payouts(session) == [(9_800, "USD")]
        await run_worker()
        text = _text((await client.get(f"/seller/stores/{store_id}/balance")).text)
        assert "Paid out US$98.00 to your bank account" in text and "Paid po_sim_" in text
        # the payout is one movement of the store's money (its payment by the provider moves platform accounts)
        assert text.count("Payout requested") == 1 and "-US$98.00" in text

    async def test_errors_are_shown_next_to_the_amount(
        self, client: httpx.AsyncClient, session: AsyncSession, store_factory
    ) -> None:
        store_id = await _seller_with_money(session, client, store_factory)
        token = _token((await client.get(f"/seller/stores/{store_id}/balance")).text)
        for amount, problem in [
            ("98.01", "must be at most US$98.00, your available balance"),
            ("9.99", "must be at least US$10.00, the smallest payout"),
            ("12.345", "enter an amount like 12.50"),
            ("ten", "enter an amount like 12.50"),
            ("-5", "must be more than zero"),
        ]:
            response = await client.post(
                f"/seller/stores/{store_id}/payouts",
                data=form(client, currency="USD", amount=amount, form_token=token),
            )
            assert response.status_code == 422, amount
            assert f'<p class="error" id="e-amount">{html.escape(problem)}</p>' in response.text
            assert f'value="{amount}"' in response.text
            assert _token(response.text) == token
        assert await _payouts(session) == []
        # the same token works once the amount is right
        ok = await client.post(
            f"/seller/stores/{store_id}/payouts",
            data=form(client, currency="USD", amount="98", form_token=token),
        )
        assert ok.status_code == 303 and await _payouts(session) == [(9_800, "USD")]

    async def test_refused_without_csrf_or_token(
        self, client: httpx.AsyncClient, session: AsyncSession, store_factory
    ) -> None:
        store_id = await _seller_with_money(session, client, store_factory)
        token = _token((await client.get(f"/seller/stores/{store_id}/balance")).text)
        no_csrf = await client.post(
            f"/seller/stores/{store_id}/payouts", data={"currency": "USD", "form_token": token}
        )
        assert no_csrf.status_code == 403
        for bad in ("", "forged.123.abc", token[:-2] + "xx"):
            response = await client.post(
                f"/seller/stores/{store_id}/payouts", data=form(client, currency="USD", form_token=bad)
            )
            assert response.status_code == 422 and "This form has expired" in response.text
        bad_currency = await client.post(
            f"/seller/stores/{store_id}/payouts", data=form(client, currency="XYZ", form_token=token)
        )
        assert bad_currency.status_code == 422 and "choose a currency" in bad_currency.text
        assert int(await session.scalar(select(func.count()).select_from(Payout)) or 0) == 0
