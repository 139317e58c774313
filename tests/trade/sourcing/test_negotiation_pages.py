"""The negotiation pages: the buyer's and the supplier's view of a quote (current terms, the version history
with what changed, the thread, the forms that apply now and why the others do not), the forms themselves
(CSRF, decimals, errors next to the fields), the award with its one-time token, and 404 for strangers."""

from __future__ import annotations

import html
import re

from sqlalchemy import func, select

from fixtures.core import form, login_as
from souk.models import Contract, Offer, Quote, Rfq, User


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _token(page: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', page)
    assert match, "no award form"
    return match.group(1)


async def _fresh(session, model, id_):
    return await session.scalar(
        select(model).where(model.id == id_).execution_options(populate_existing=True)
    )


async def _login(client, session, user_id: int) -> None:
    await login_as(client, session, await session.get(User, user_id))
    await session.commit()


async def _world(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory):
    buyer = await sourcing_buyer()
    supplier = await sourcing_supplier()
    rfq = await rfq_factory(buyer, quantity=1000, title="Steel bottles")
    quote = await quote_factory(rfq, supplier, unit_price_amount=250)
    ids = {
        "buyer": buyer.user.id,
        "supplier": supplier.user.id,
        "store": supplier.store_id,
        "rfq": rfq.id,
        "quote": quote.id,
    }
    ids["buyer_url"] = f"/rfqs/{rfq.id}/quotes/{quote.id}"
    ids["supplier_url"] = f"/seller/stores/{supplier.store_id}/quotes/{quote.id}"
    return ids


class TestSupplierPage:
    async def test_revise_once_then_the_reason(
        self, client, session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory
    ):
        w = await _world(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory)
        await _login(client, session, w["supplier"])
        url = w["supplier_url"]
        page = await client.get(url)
        assert page.status_code == 200, page.text
        text = text_of(page.text)
        assert "Current terms" in text and "US$2.50" in text and "Steel bottles" in text
        assert f'action="{url}/revise"' in page.text
        # one terms form at a time (the revision while it is allowed)
        assert f'action="{url}/counter"' not in page.text
        assert "1 revision left" in text
        # the supplier's own quote is the latest: no accept form, with the reason
        assert f'action="{url}/accept"' not in page.text
        assert "Your offer is the latest; waiting for the buyer to answer." in text
        assert f'href="/seller/stores/{w["store"]}/quotes" class="current">My quotes' in page.text

        # CSRF is required
        r = await client.post(f"{url}/revise", data={"unit_price": "2.30", "based_on_version": "1"})
        assert r.status_code == 403
        # a bad amount is named next to its field, the typed values are kept
        r = await client.post(f"{url}/revise", data=form(client, unit_price="2.3x", based_on_version=1))
        assert r.status_code == 422
        assert "must be an amount like" in text_of(r.text) and 'value="2.3x"' in r.text
        r = await client.post(
            f"{url}/revise",
            data=form(
                client,
                unit_price="2.30",
                moq="800",
                tiers="1000 2.30\n5000 2.10",
                based_on_version=1,
                message="Better price.",
            ),
        )
        assert r.status_code == 303, r.text
        q = await _fresh(session, Quote, w["quote"])
        assert (q.unit_price_amount, q.moq, q.tiers, q.revisions_used, q.version) == (
            230,
            800,
            [[1000, 230], [5000, 210]],
            1,
            2,
        )
        page = await client.get(url)
        text = text_of(page.text)
        assert "Quote revised. The buyer has been told." in text
        assert "price 2.50 → 2.30" in text
        assert "Revise: You have used your 1 revision." in text
        assert f'action="{url}/revise"' not in page.text
        assert f'action="{url}/counter"' in page.text
        # a second revision posted anyway: refused with the reason, nothing written
        r = await client.post(f"{url}/revise", data=form(client, unit_price="2.20", based_on_version=2))
        assert r.status_code == 303
        page = await client.get(url)
        assert "You have used your 1 revision." in text_of(page.text)
        assert (await _fresh(session, Quote, w["quote"])).unit_price_amount == 230

    async def test_strangers_get_404(
        self, client, session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory, user_factory
    ):
        w = await _world(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory)
        rival = await sourcing_supplier()
        rival_store = rival.store_id
        await login_as(client, session, rival.user)
        await session.commit()
        for url in (w["supplier_url"], f"/seller/stores/{rival_store}/quotes/{w['quote']}", w["buyer_url"]):
            assert (await client.get(url)).status_code == 404, url
        for action in ("revise", "counter", "accept", "messages"):
            for base in (w["supplier_url"], f"/seller/stores/{rival_store}/quotes/{w['quote']}"):
                r = await client.post(
                    f"{base}/{action}", data=form(client, unit_price="1.00", offer_id=1, body="hi")
                )
                assert r.status_code == 404, (base, action)
        for action in ("counter", "accept", "award", "decline", "messages"):
            r = await client.post(
                f"{w['buyer_url']}/{action}", data=form(client, unit_price="1.00", offer_id=1, body="hi")
            )
            assert r.status_code == 404, action
        # the buyer page with another RFQ id in the URL: 404 for the buyer too
        await _login(client, session, w["buyer"])
        assert (await client.get(f"/rfqs/{w['rfq'] + 999}/quotes/{w['quote']}")).status_code == 404
        assert (await client.get(w["supplier_url"])).status_code == 404


class TestBuyerPage:
    async def test_counter_accept_award(
        self, client, session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory
    ):
        w = await _world(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory)
        other = await sourcing_supplier()
        losing = await quote_factory(await session.get(Rfq, w["rfq"]), other, unit_price_amount=300)
        losing_id = losing.id
        await _login(client, session, w["buyer"])
        url = w["buyer_url"]
        page = await client.get(url)
        assert page.status_code == 200, page.text
        text = text_of(page.text)
        for action in ("accept", "award", "decline", "counter", "messages"):
            assert f'action="{url}/{action}"' in page.text, action
        assert 'name="csrf_token"' in page.text
        assert "Revise" not in text  # the supplier's form only
        # every form needs the CSRF token
        for action in ("counter", "accept", "award", "decline", "messages"):
            r = await client.post(
                f"{url}/{action}", data={"unit_price": "2.00", "body": "hi", "offer_id": "1"}
            )
            assert r.status_code == 403, action
        # counter: 2.10 with 20 % deposit
        r = await client.post(
            f"{url}/counter",
            data=form(
                client,
                unit_price="2.10",
                quantity="1000",
                lead_time_days="20",
                incoterm="FOB",
                place="Ningbo",
                shipping="300.00",
                deposit_percent="20",
                balance_due="before_shipment",
                based_on_version=1,
                message="Can you do 2.10?",
            ),
        )
        assert r.status_code == 303, r.text
        page = await client.get(url)
        text = text_of(page.text)
        assert "Counter-offer sent." in text
        assert "price 2.50 → 2.10" in text and "deposit 30% → 20%" in text
        assert "Can you do 2.10?" in text
        # the buyer's own counter: no accept, no award, with the reasons
        assert f'action="{url}/accept"' not in page.text and f'action="{url}/award"' not in page.text
        assert "Your offer is the latest; waiting for the supplier to answer." in text
        assert "the supplier must accept it (or counter) before you can award" in text
        # a stale counter form (version 1) is refused with a message; nothing written
        r = await client.post(f"{url}/counter", data=form(client, unit_price="2.00", based_on_version=1))
        assert r.status_code == 303
        assert "The terms changed since you opened this quote" in text_of((await client.get(url)).text)
        # the supplier accepts the counter on their page
        await _login(client, session, w["supplier"])
        offer_id = await session.scalar(
            select(Offer.id).where(Offer.quote_id == w["quote"], Offer.version == 2)
        )
        r = await client.post(f"{w['supplier_url']}/accept", data=form(client, offer_id=offer_id))
        assert r.status_code == 303
        q = await _fresh(session, Quote, w["quote"])
        assert (q.status, q.agreed_offer_id) == ("accepted", offer_id)
        # the buyer awards; a double submit of the same form drafts one contract
        await _login(client, session, w["buyer"])
        page = await client.get(url)
        token = _token(page.text)
        r = await client.post(f"{url}/award", data=form(client, form_token=token))
        assert r.status_code == 303, r.text
        contract_id = await session.scalar(select(Contract.id).where(Contract.quote_id == w["quote"]))
        assert r.headers["location"] == f"/contracts/{contract_id}"
        again = await client.post(f"{url}/award", data=form(client, form_token=token))
        assert again.status_code == 303 and again.headers["location"] == f"/contracts/{contract_id}"
        assert (
            await session.scalar(
                select(func.count()).select_from(Contract).where(Contract.rfq_id == w["rfq"])
            )
            == 1
        )
        assert (await _fresh(session, Quote, losing_id)).status == "declined"
        contract = await session.get(Contract, contract_id)
        assert contract.unit_price_amount == 210 and contract.deposit_bps == 2000
        page = await client.get(url)
        assert f'href="/contracts/{contract_id}"' in page.text
        assert f'action="{url}/award"' not in page.text

    async def test_messages_and_decline(
        self, client, session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory
    ):
        w = await _world(session, sourcing_buyer, sourcing_supplier, rfq_factory, quote_factory)
        await _login(client, session, w["buyer"])
        url = w["buyer_url"]
        r = await client.post(f"{url}/messages", data=form(client, body=""))
        assert r.status_code == 422 and "write a message" in text_of(r.text)
        r = await client.post(f"{url}/messages", data=form(client, body="Is the <b>coating</b> food safe?"))
        assert r.status_code == 303
        await _login(client, session, w["supplier"])
        page = await client.get(w["supplier_url"])
        assert "Is the &lt;b&gt;coating&lt;/b&gt; food safe?" in page.text
        await _login(client, session, w["buyer"])
        r = await client.post(f"{url}/decline", data=form(client))
        assert r.status_code == 303
        page = await client.get(url)
        text = text_of(page.text)
        assert "Quote declined." in text and "This quote is declined." in text
        assert f'action="{url}/counter"' not in page.text
