"""Operators' dispute rulings in the decision log: merged with the organisation and store decisions, newest
first, on the page and in the API, with one cursor over both."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest

from fixtures.core import api_token_for, login_as
from fixtures.factories import actor_of
from fixtures.orders import seller_orders, ship
from souk.dispute.schemas import DisputeCreate, DisputeRuling
from souk.dispute.service import dispute_service
from souk.errors import Invalid
from souk.kit.clock import clock
from souk.models import User
from souk.ops.schemas import OrganizationDecision
from souk.ops.service import ops_service


@pytest.fixture(autouse=True)
def _unfreeze():
    yield
    clock.reset()


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


async def _escalated(session, market, buy) -> int:
    """An escalated dispute over a shipped seller order (USD); its id."""
    m = await market(kinds=("express", "express"))
    order = await buy(m)
    so = sorted(await seller_orders(session, order.id), key=lambda s: s.store_id)[0]
    await ship(session, m, so)
    d = await dispute_service.open(
        session,
        m.actor,
        DisputeCreate(seller_order_id=so.id, reason="damaged", amount=1000, message="Broken."),
    )
    await dispute_service.reject(session, m.seller_of(so.store_id), d.id, "The photos show no damage.")
    d = await dispute_service.escalate(session, m.actor, d.id)
    assert d.status == "escalated"
    return d.id


async def _approve(session, actor, organization_factory, reason: str) -> int:
    org = await organization_factory(status="pending_review")
    decision = await ops_service.decide_organization(
        session, actor, org.id, OrganizationDecision(decision="approve", reason=reason)
    )
    return decision.subject_id


async def _log(session, market, buy, operator_factory, organization_factory):
    """Decision (t0), partial-refund ruling (t0 + 1 h), decision (t0 + 2 h)."""
    clock.freeze()
    operator = await operator_factory(display_name="Olga Operator")
    actor = actor_of(operator)
    dispute_id = await _escalated(session, market, buy)
    first_org = await _approve(session, actor, organization_factory, "Papers in order.")
    clock.advance(timedelta(hours=1))
    await dispute_service.rule(
        session,
        actor,
        dispute_id,
        DisputeRuling(outcome="refund_partial", amount=400, reason="Only the lid is chipped."),
    )
    clock.advance(timedelta(hours=1))
    last_org = await _approve(session, actor, organization_factory, "Licence checked.")
    return actor, dispute_id, first_org, last_org


class TestRulingsInTheLog:
    async def test_service_merges_newest_first_with_one_cursor(
        self, session, market, buy, operator_factory, organization_factory
    ):
        actor, dispute_id, first_org, last_org = await _log(
            session, market, buy, operator_factory, organization_factory
        )
        page = await ops_service.decisions(session, actor, limit=2)
        assert [(d.subject_type, d.subject_id) for d in page.items] == [
            ("organization", last_org),
            ("dispute", dispute_id),
        ]
        ruling = page.items[1]
        assert (ruling.decision, ruling.outcome, ruling.amount, ruling.currency) == (
            "rule",
            "refund_partial",
            400,
            "USD",
        )
        assert (ruling.operator_id, ruling.operator_name, ruling.reason) == (
            actor.user_id,
            "Olga Operator",
            "Only the lid is chipped.",
        )
        assert page.next_cursor
        rest = await ops_service.decisions(session, actor, limit=2, cursor=page.next_cursor)
        assert [(d.subject_type, d.subject_id) for d in rest.items] == [("organization", first_org)]
        assert rest.next_cursor is None
        # only the rulings, or only one kind of subject
        only = await ops_service.decisions(session, actor, subject_type="dispute")
        assert [(d.subject_id, d.outcome) for d in only.items] == [(dispute_id, "refund_partial")]
        orgs = await ops_service.decisions(session, actor, subject_type="organization")
        assert [d.subject_id for d in orgs.items] == [last_org, first_org]
        with pytest.raises(Invalid):
            await ops_service.decisions(session, actor, cursor="bm90IGEgY3Vyc29y")

    async def test_same_instant_pages_without_gaps(
        self, session, market, buy, operator_factory, organization_factory
    ):
        clock.freeze()  # every row at the same instant: the source and the id order them
        operator = await operator_factory()
        actor = actor_of(operator)
        dispute_id = await _escalated(session, market, buy)
        orgs = [await _approve(session, actor, organization_factory, f"ok {n}") for n in range(2)]
        await dispute_service.rule(
            session, actor, dispute_id, DisputeRuling(outcome="released", reason="As described.")
        )
        seen: list[tuple[str, int]] = []
        cursor = None
        for _ in range(5):
            page = await ops_service.decisions(session, actor, limit=1, cursor=cursor)
            seen += [(d.subject_type, d.subject_id) for d in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == [("dispute", dispute_id), ("organization", orgs[1]), ("organization", orgs[0])]
        released = (await ops_service.decisions(session, actor, subject_type="dispute")).items[0]
        assert (released.outcome, released.amount) == ("released", 0)

    async def test_api_lists_rulings(
        self, client, session, market, buy, operator_factory, organization_factory
    ):
        actor, dispute_id, first_org, last_org = await _log(
            session, market, buy, operator_factory, organization_factory
        )
        headers = await api_token_for(session, await session.get(User, actor.user_id))
        await session.commit()
        r = await client.get("/api/v1/ops/decisions", params={"limit": 2}, headers=headers)
        assert r.status_code == 200
        items = r.json()["items"]
        assert [(d["subject_type"], d["subject_id"]) for d in items] == [
            ("organization", last_org),
            ("dispute", dispute_id),
        ]
        ruling = items[1]
        assert {
            k: ruling[k] for k in ("decision", "outcome", "amount", "currency", "reason", "operator_id")
        } == {
            "decision": "rule",
            "outcome": "refund_partial",
            "amount": 400,
            "currency": "USD",
            "reason": "Only the lid is chipped.",
            "operator_id": actor.user_id,
        }
        assert items[0]["outcome"] is None and items[0]["amount"] is None
        rest = await client.get(
            "/api/v1/ops/decisions", params={"cursor": r.json()["next_cursor"]}, headers=headers
        )
        assert [(d["subject_type"], d["subject_id"]) for d in rest.json()["items"]] == [
            ("organization", first_org)
        ]
        only = await client.get("/api/v1/ops/decisions", params={"subject_type": "dispute"}, headers=headers)
        assert [(d["subject_id"], d["outcome"]) for d in only.json()["items"]] == [
            (dispute_id, "refund_partial")
        ]
        bad = await client.get("/api/v1/ops/decisions", params={"cursor": "WzEsMl0"}, headers=headers)
        assert (
            bad.status_code == 422 and bad.json()["error"] == "invalid" and "cursor" in bad.json()["fields"]
        )

    async def test_page_shows_the_ruling_with_a_link(
        self, client, session, market, buy, operator_factory, organization_factory
    ):
        actor, dispute_id, first_org, last_org = await _log(
            session, market, buy, operator_factory, organization_factory
        )
        await login_as(client, session, await session.get(User, actor.user_id))
        await session.commit()
        r = await client.get("/ops/decisions")
        assert r.status_code == 200
        assert f'<a href="/ops/disputes/{dispute_id}">Dispute #{dispute_id}</a>' in r.text
        text = text_of(r.text)
        assert "Olga Operator Dispute #" in text
        assert f"Dispute #{dispute_id} Ruled: partial refund US$4.00 Only the lid is chipped." in text
        # newest first: the later approval, the ruling, the first approval
        assert (
            text.index(f"Organization #{last_org}")
            < text.index(f"Dispute #{dispute_id}")
            < text.index(f"Organization #{first_org}")
        )
