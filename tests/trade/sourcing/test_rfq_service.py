"""The quote service's atomic limits called directly (no request around it): a refused quote leaves nothing
written, the RFQ's count included, even before the caller rolls back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from fixtures.factories import actor_of
from souk.kit.clock import clock
from souk.models import Offer, Quote, QuoteQuotaUse, Rfq
from souk.trade.sourcing.quote.errors import QuoteQuotaExhausted
from souk.trade.sourcing.quote.schemas import QuoteCreate
from souk.trade.sourcing.quote.service import humanise_seconds, quote_service, unit_price_for
from souk.trade.sourcing.rfq.errors import RfqNotTakingQuotes


def _payload(store_id: int) -> QuoteCreate:
    return QuoteCreate(store_id=store_id, unit_price_amount=250, moq=10, lead_time_days=15, incoterm="FOB")


async def test_quota_refusal_rolls_back_the_rfq_slot(session, sourcing_buyer, sourcing_supplier, rfq_factory):
    clock.freeze(datetime(2026, 11, 15, 9, 0, tzinfo=UTC))
    rfq = await rfq_factory(await sourcing_buyer())
    supplier = await sourcing_supplier()
    session.add(QuoteQuotaUse(organization_id=supplier.organization.id, period="2026-11", used=20))
    await session.flush()
    rfq_id, org_id = rfq.id, supplier.organization.id
    with pytest.raises(QuoteQuotaExhausted):
        await quote_service.create(session, actor_of(supplier.user), rfq_id, _payload(supplier.store_id))
    assert await session.scalar(select(Rfq.quote_count).where(Rfq.id == rfq_id)) == 0
    assert (
        await session.scalar(select(QuoteQuotaUse.used).where(QuoteQuotaUse.organization_id == org_id)) == 20
    )
    assert await session.scalar(select(func.count()).select_from(Quote)) == 0
    assert await session.scalar(select(func.count()).select_from(Offer)) == 0


async def test_full_rfq_refusal_does_not_touch_the_quota(
    session, sourcing_buyer, sourcing_supplier, rfq_factory
):
    rfq = await rfq_factory(await sourcing_buyer(), quote_count=10)
    supplier = await sourcing_supplier()
    org_id, rfq_id = supplier.organization.id, rfq.id
    with pytest.raises(RfqNotTakingQuotes):
        await quote_service.create(session, actor_of(supplier.user), rfq_id, _payload(supplier.store_id))
    assert await session.scalar(select(func.count()).select_from(QuoteQuotaUse)) == 0
    assert await session.scalar(select(Rfq.quote_count).where(Rfq.id == rfq_id)) == 10
    assert org_id


def test_tier_price_and_humanised_response() -> None:
    quote = Quote(unit_price_amount=300, tiers=[[500, 250], [1000, 200]], version=1)
    assert [unit_price_for(quote, q) for q in (100, 500, 999, 1000, 5000)] == [300, 250, 250, 200, 200]
    quote.version = 2  # a counter-offer's price applies to every quantity
    assert unit_price_for(quote, 1000) == 300
    assert humanise_seconds(90) == "2 minutes"
    assert humanise_seconds(3 * 86400) == "3 days"
