"""The RFQ pages: the buyer's list, the post form, the detail page with the comparison and the close button; the
supplier's board, the quote form and "my quotes". They call the same services as the API."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from fixtures.core import form, login_as
from souk.kit.clock import utcnow
from souk.models import Quote, QuoteQuotaUse, Rfq


async def test_anonymous_is_sent_to_login(client) -> None:
    r = await client.get("/rfqs")
    assert r.status_code in (302, 303, 401)
    if r.status_code != 401:
        assert "/login" in r.headers["location"]


async def test_user_without_business_is_told_to_register_one(client, session, user_factory) -> None:
    user = await user_factory()
    await login_as(client, session, user)
    for url in ("/rfqs", "/rfqs/new"):
        r = await client.get(url)
        assert r.status_code == 200
        assert "Register a business" in r.text and 'href="/seller/organizations/new"' in r.text


async def test_post_rfq_through_the_form(client, session, sourcing_buyer) -> None:
    buyer = await sourcing_buyer()
    await login_as(client, session, buyer.user)
    page = await client.get("/rfqs/new")
    assert page.status_code == 200 and 'name="quote_deadline"' in page.text
    deadline = (utcnow() + timedelta(days=10)).date().isoformat()
    r = await client.post(
        "/rfqs/new",
        data=form(
            client,
            title="Bamboo cutting boards",
            requirements="40 x 30 cm, food safe oil, logo branded.",
            quantity="2000",
            unit="pieces",
            target_unit_price_amount="3.25",
            currency="usd",
            destination_country="DE",
            incoterm="CIF",
            quote_deadline=deadline,
            visibility="public",
        ),
    )
    assert r.status_code == 303, r.text
    rfq = await session.scalar(select(Rfq).where(Rfq.title == "Bamboo cutting boards"))
    assert rfq is not None
    assert (rfq.quantity, rfq.target_unit_price_amount, rfq.currency, rfq.incoterm) == (
        2000,
        325,
        "USD",
        "CIF",
    )
    assert rfq.quote_deadline.strftime("%Y-%m-%d %H:%M:%S") == f"{deadline} 23:59:59"
    assert r.headers["location"] == f"/rfqs/{rfq.id}"
    detail = await client.get(r.headers["location"])
    assert "Bamboo cutting boards" in detail.text and "No quotes yet" in detail.text
    listed = await client.get("/rfqs")
    assert f'href="/rfqs/{rfq.id}"' in listed.text and "0 / 10" in listed.text


async def test_post_form_errors_keep_values(client, session, sourcing_buyer) -> None:
    buyer = await sourcing_buyer()
    await login_as(client, session, buyer.user)
    await session.commit()
    r = await client.post(
        "/rfqs/new",
        data=form(
            client,
            title="Chairs <b>bold</b>",
            requirements="Stackable office chairs, black.",
            quantity="0",
            unit="pieces",
            currency="USD",
            destination_country="DE",
            incoterm="FOB",
            quote_deadline=(utcnow() - timedelta(days=1)).date().isoformat(),
        ),
    )
    assert r.status_code == 422
    assert 'id="e-quantity"' in r.text
    assert "Chairs &lt;b&gt;bold&lt;/b&gt;" in r.text
    assert await session.scalar(select(func.count()).select_from(Rfq)) == 0
    r = await client.post(
        "/rfqs/new",
        data=form(
            client,
            title="Chairs",
            requirements="Stackable office chairs, black.",
            quantity="10",
            unit="pieces",
            currency="USD",
            destination_country="DE",
            incoterm="FOB",
            quote_deadline=(utcnow() - timedelta(days=1)).date().isoformat(),
        ),
    )
    assert r.status_code == 422 and 'id="e-quote_deadline"' in r.text and "must be in the future" in r.text


async def test_detail_compares_and_sorts_and_closes(
    client, session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory
) -> None:
    buyer = await sourcing_buyer()
    rfq = await rfq_factory(buyer, quantity=1000)
    slow = await sourcing_supplier(name="Slow Works")
    euro = await sourcing_supplier(currency="EUR", name="Euro Works")
    await quote_factory(rfq, slow, unit_price_amount=200, lead_time_days=40)
    await quote_factory(rfq, euro, unit_price_amount=150, lead_time_days=10)
    await login_as(client, session, buyer.user)
    rfq_id = rfq.id
    page = await client.get(f"/rfqs/{rfq_id}")
    assert page.status_code == 200
    assert "no rate" in page.text and "rfq-compare-wrap" in page.text and "Verified" in page.text
    assert page.text.index("Slow Works") < page.text.index("Euro Works")
    by_lead = await client.get(f"/rfqs/{rfq_id}?sort=lead_time")
    assert by_lead.text.index("Euro Works") < by_lead.text.index("Slow Works")
    closed = await client.post(f"/rfqs/{rfq_id}/close", data=form(client))
    assert closed.status_code == 303
    after = await client.get(f"/rfqs/{rfq_id}")
    assert "takes no more quotes" in after.text and "Close RFQ now" not in after.text


async def test_other_organisations_rfq_page_is_404(client, session, sourcing_buyer, rfq_factory) -> None:
    rfq = await rfq_factory(await sourcing_buyer())
    other = await sourcing_buyer()
    await login_as(client, session, other.user)
    assert (await client.get(f"/rfqs/{rfq.id}")).status_code == 404


async def test_supplier_board_quote_form_and_my_quotes(
    client, session, sourcing_buyer, sourcing_supplier, rfq_factory
) -> None:
    buyer = await sourcing_buyer()
    rfq = await rfq_factory(buyer, title="Ceramic mugs", search_text="ceramic mugs 350 ml")
    await rfq_factory(buyer, title="Steel pans", search_text="steel pans")
    supplier = await sourcing_supplier()
    store_id, rfq_id, org_id = supplier.store_id, rfq.id, supplier.organization.id
    await login_as(client, session, supplier.user)
    await session.commit()
    board = await client.get(f"/seller/stores/{store_id}/rfqs")
    assert board.status_code == 200
    assert "Ceramic mugs" in board.text and "Steel pans" in board.text
    assert "<strong>20</strong> of 20 quotes left this month" in board.text
    searched = await client.get(f"/seller/stores/{store_id}/rfqs?q=mugs")
    assert "Ceramic mugs" in searched.text and "Steel pans" not in searched.text
    page = await client.get(f"/seller/stores/{store_id}/rfqs/{rfq_id}")
    assert page.status_code == 200 and "Send quote" in page.text
    bad = await client.post(
        f"/seller/stores/{store_id}/rfqs/{rfq_id}/quote",
        data=form(client, unit_price_amount="abc", moq="100", lead_time_days="20", incoterm="FOB"),
    )
    assert bad.status_code == 422 and 'id="e-unit_price_amount"' in bad.text
    bad_deposit = await client.post(
        f"/seller/stores/{store_id}/rfqs/{rfq_id}/quote",
        data=form(
            client,
            unit_price_amount="2.50",
            moq="100",
            lead_time_days="20",
            incoterm="FOB",
            deposit_percent="150",
        ),
    )
    assert bad_deposit.status_code == 422 and 'id="e-deposit_percent"' in bad_deposit.text
    assert await session.scalar(select(func.count()).select_from(Quote)) == 0
    ok = await client.post(
        f"/seller/stores/{store_id}/rfqs/{rfq_id}/quote",
        data=form(
            client,
            unit_price_amount="2.50",
            tiers="2000 2.30\n5000 2.10",
            moq="100",
            lead_time_days="20",
            incoterm="FOB",
            place="Ningbo",
            shipping_amount="300",
            deposit_percent="30",
            balance_due="on_documents",
            valid_until=(utcnow() + timedelta(days=20)).date().isoformat(),
            message="Best price.",
        ),
    )
    assert ok.status_code == 303, ok.text
    quote = await session.scalar(select(Quote).where(Quote.store_id == store_id))
    assert quote is not None
    assert ok.headers["location"] == f"/seller/stores/{store_id}/quotes/{quote.id}"
    assert (
        quote.unit_price_amount,
        quote.tiers,
        quote.shipping_amount,
        quote.deposit_bps,
        quote.balance_due,
    ) == (
        250,
        [[2000, 230], [5000, 210]],
        30_000,
        3000,
        "on_documents",
    )
    assert (
        await session.scalar(select(QuoteQuotaUse.used).where(QuoteQuotaUse.organization_id == org_id)) == 1
    )
    again = await client.get(f"/seller/stores/{store_id}/rfqs/{rfq_id}")
    assert "See your quote" in again.text and "Send quote" not in again.text
    mine = await client.get(f"/seller/stores/{store_id}/quotes")
    assert mine.status_code == 200
    assert f'href="/seller/stores/{store_id}/quotes/{quote.id}"' in mine.text and "Ceramic mugs" in mine.text
    assert "<strong>19</strong> of 20 quotes left this month" in mine.text
