"""Checking out sourcing samples: the order line is a sample at the sample price, it takes its unit of stock,
the seller order follows the sourcing policy, the money sits in escrow (the ledger balances, see conftest)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fixtures.core import api_token_for, login_as
from fixtures.factories import actor_of
from fixtures.orders import Market, seller_orders
from souk.cart.service import cart_service
from souk.ledger import accounts
from souk.ledger.service import ledger_service
from souk.models import OrderLine, Sku, Stock, User
from souk.trade.policy import get_policy

SAMPLE = 4500
SHIPPING = 1500


@pytest.fixture
def sourcing_cart(  # type: ignore[no-untyped-def]
    session, user_factory, store_factory, product_factory, address_factory, shipping_method_factory
):
    """``await sourcing_cart(bulk=0)``: a buyer whose cart holds a sample of a sourcing product (MOQ 500,
    US$9.00 a piece, sample US$45.00, 5,000 in stock) and ``bulk`` pieces of the same SKU; a Market."""

    async def make(*, bulk: int = 0) -> Market:
        buyer = await user_factory(display_name="Sam Sampler")
        address = await address_factory(buyer, city="Hamburg")
        supplier = await store_factory(trade_model="sourcing", currency="USD", name="Bolt Works")
        product = await product_factory(
            supplier,
            title="Steel bolt",
            price_amount=1000,
            stock=5000,
            moq=500,
            price_tiers=[{"min_quantity": 500, "unit_price_amount": 900}],
            sample_price_amount=SAMPLE,
        )
        sku_id = await session.scalar(select(Sku.id).where(Sku.product_id == product.id))
        method = await shipping_method_factory(supplier, name="Sea", kind="surface", price_amount=SHIPPING)
        await cart_service.add(session, actor_of(buyer), None, sku_id, 1, sample=True)
        if bulk:
            await cart_service.add(session, actor_of(buyer), None, sku_id, bulk)
        return Market(buyer.id, address.id, "USD", [supplier.id], [sku_id], [method.id])

    return make


async def _stock(session, sku_id):  # type: ignore[no-untyped-def]
    row = (
        await session.execute(
            select(Stock.on_hand, Stock.reserved)
            .where(Stock.sku_id == sku_id)
            .execution_options(populate_existing=True)
        )
    ).one()
    return tuple(row)


class TestSampleCheckout:
    async def test_a_sample_becomes_a_sample_order_line(self, session, sourcing_cart, buy):
        m = await sourcing_cart()
        sku_id = m.sku_ids[0]
        order = await buy(m)
        assert order.status == "paid"
        assert (order.items_amount, order.shipping_amount, order.total_amount) == (
            SAMPLE,
            SHIPPING,
            SAMPLE + SHIPPING,
        )
        [so] = await seller_orders(session, order.id)
        sourcing = get_policy("sourcing")
        assert (so.trade_model, so.commission_bps, so.ship_by_days, so.auto_confirm_days) == (
            "sourcing",
            sourcing.commission_bps,
            sourcing.ship_by_days,
            sourcing.auto_confirm_after("surface").days,
        )
        assert so.policy_snapshot == sourcing.snapshot()
        lines = (await session.scalars(select(OrderLine).where(OrderLine.seller_order_id == so.id))).all()
        assert [
            (line.sku_id, line.is_sample, line.quantity, line.unit_price_amount, line.line_total_amount)
            for line in lines
        ] == [(sku_id, True, 1, SAMPLE, SAMPLE)]
        # the sample took one unit; the money waits in escrow; the sample left the cart
        assert await _stock(session, sku_id) == (4999, 0)
        assert await ledger_service.balance(session, accounts.escrow(so.store_id, so.id), "USD") == (
            SAMPLE + SHIPPING
        )
        assert (await cart_service.get_cart(session, m.actor, None)).is_empty

    async def test_sample_and_bulk_of_one_sku_in_one_order(self, client, session, sourcing_cart, buy):
        m = await sourcing_cart(bulk=500)
        sku_id = m.sku_ids[0]
        order = await buy(m)
        assert order.items_amount == SAMPLE + 500 * 900
        [so] = await seller_orders(session, order.id)
        lines = (
            await session.scalars(
                select(OrderLine).where(OrderLine.seller_order_id == so.id).order_by(OrderLine.is_sample)
            )
        ).all()
        assert [(line.is_sample, line.quantity, line.unit_price_amount) for line in lines] == [
            (False, 500, 900),
            (True, 1, SAMPLE),
        ]
        assert await _stock(session, sku_id) == (5000 - 501, 0)
        # the buyer's order API says which line is the sample
        headers = await api_token_for(session, await session.get(User, m.buyer_id))
        await session.commit()
        r = await client.get(f"/api/v1/orders/{order.id}", headers=headers)
        assert r.status_code == 200, r.text
        [store_order] = r.json()["seller_orders"]
        assert sorted(
            (x["is_sample"], x["quantity"], x["unit_price_amount"]) for x in store_order["lines"]
        ) == [
            (False, 500, 900),
            (True, 1, SAMPLE),
        ]

    async def test_checkout_page_says_sample(self, client, session, sourcing_cart):
        m = await sourcing_cart(bulk=500)
        await login_as(client, session, await session.get(User, m.buyer_id))
        await session.commit()
        page = await client.get("/checkout?currency=USD")
        assert page.status_code == 200
        titles = [
            chunk.split("</span>\n")[0] for chunk in page.text.split('<span class="order-line-title">')[1:]
        ]
        assert len(titles) == 2
        assert sum('<span class="badge badge-sample">Sample</span> Steel bolt' in t for t in titles) == 1
        assert "1 × US$45.00" in page.text and "500 × US$9.00" in page.text
