"""Who may read and act on a dispute, through the scoped reads of the dispute repository: the buyer who opened
it, the people of its store (with the permission the step needs), any operator; anyone else gets the same 404 as
for a dispute that does not exist."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from fixtures.factories import actor_of
from fixtures.orders import seller_orders, ship
from souk.auth.actor import Actor
from souk.dispute.errors import DisputeNotFound
from souk.dispute.schemas import DisputeCreate
from souk.dispute.service import dispute_service
from souk.errors import Forbidden
from souk.models import DisputeEvent


async def _opened(session, market, buy):
    m = await market(kinds=("express", "express"))
    order = await buy(m)
    so = sorted(await seller_orders(session, order.id), key=lambda s: s.store_id)[0]
    await ship(session, m, so)
    d = await dispute_service.open(
        session, m.actor, DisputeCreate(seller_order_id=so.id, reason="damaged", message="Broken.")
    )
    other_store = m.store_ids[1] if m.store_ids[0] == so.store_id else m.store_ids[0]
    return m, so.id, so.store_id, other_store, d.id


async def _roles(session, dispute_id):
    rows = await session.execute(
        select(DisputeEvent.kind, DisputeEvent.actor_role)
        .where(DisputeEvent.dispute_id == dispute_id)
        .order_by(DisputeEvent.id)
    )
    return [tuple(r) for r in rows.all()]


class TestScope:
    async def test_each_party_reads_and_writes_as_its_role(self, session, market, buy, operator_factory):
        m, so_id, store_id, _other, dispute_id = await _opened(session, market, buy)
        op = actor_of(await operator_factory())
        seller = m.seller_of(store_id)
        for actor in (m.actor, seller, op):
            assert (await dispute_service.get(session, actor, dispute_id)).id == dispute_id
            assert (await dispute_service.seller_order_of(session, actor, dispute_id)).id == so_id
        assert (await dispute_service.for_buyer(session, m.actor, dispute_id)).id == dispute_id
        assert (await dispute_service.buyer_seller_order(session, m.actor, so_id)).id == so_id
        await dispute_service.add_message(session, m.actor, dispute_id, "from the buyer")
        await dispute_service.add_message(session, seller, dispute_id, "from the seller")
        await dispute_service.add_message(session, op, dispute_id, "from the platform")
        assert (await _roles(session, dispute_id))[-3:] == [
            ("message", "buyer"),
            ("message", "seller"),
            ("message", "operator"),
        ]
        case = await dispute_service.case(session, op, dispute_id)
        assert case["seller_order"].id == so_id and case["dispute"].id == dispute_id

    async def test_out_of_scope_is_404_like_a_missing_dispute(self, session, market, buy, user_factory):
        m, so_id, store_id, other_store, dispute_id = await _opened(session, market, buy)
        stranger = Actor(user_id=(await user_factory()).id)
        other_seller = m.seller_of(other_store)
        missing = dispute_id + 10_000
        for actor in (stranger, other_seller):
            for target in (dispute_id, missing):
                with pytest.raises(DisputeNotFound):
                    await dispute_service.get(session, actor, target)
                with pytest.raises(DisputeNotFound):
                    await dispute_service.seller_order_of(session, actor, target)
                with pytest.raises(DisputeNotFound):
                    await dispute_service.add_message(session, actor, target, "let me in")
                with pytest.raises(DisputeNotFound):
                    await dispute_service.for_buyer(session, actor, target)
                with pytest.raises(DisputeNotFound):
                    await dispute_service.add_return_tracking(session, actor, target, "RT1")
                with pytest.raises(DisputeNotFound):
                    await dispute_service.reject(session, actor, target, "no")
        # the store's seller is no buyer of its own seller order
        with pytest.raises(DisputeNotFound):
            await dispute_service.buyer_seller_order(session, m.seller_of(store_id), so_id)
        with pytest.raises(DisputeNotFound):
            await dispute_service.buyer_seller_order(session, stranger, so_id)
        assert [k for k, _ in await _roles(session, dispute_id)] == ["opened"]

    async def test_read_only_token_of_the_store_reads_but_cannot_answer(self, session, market, buy):
        m, _so_id, store_id, _other, dispute_id = await _opened(session, market, buy)
        read_only = dataclasses.replace(m.seller_of(store_id), scopes=frozenset({"read"}))
        assert (await dispute_service.get(session, read_only, dispute_id)).status == "awaiting_seller"
        with pytest.raises(Forbidden) as caught:
            await dispute_service.accept(session, read_only, dispute_id)
        assert caught.value.code == "token_read_only"
        assert (await dispute_service.get(session, m.actor, dispute_id)).status == "awaiting_seller"
