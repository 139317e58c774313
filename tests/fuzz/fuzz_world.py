"""A seeded marketplace on a database of its own for the API fuzzer, and the CI/soak example counts.

The fuzzer calls the API as ``ada``: an operator who owns a market store (with products, a shipping method and
an order from ``bo`` to ship), buys from ``bo``'s store (an order paid through the real checkout steps), has an
address, a cart and an organisation, and has an open RFQ with a supplier's quote on it. The ids of these rows are
small integers, so the generated path parameters often hit them and the requests reach real code, not only 404s.

Her API token row has a huge id, so a generated ``DELETE /me/tokens/{token_id}`` practically never revokes the
token the whole run authenticates with.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fixtures.parallel import Trader, approved_organization, new_user, open_rfq, race_supplier
from fixtures.servers import soak
from souk.address.schemas import AddressCreate
from souk.address.service import address_service
from souk.auth.actor import Actor
from souk.auth.tokens import hash_secret, new_api_token
from souk.cart.service import cart_service
from souk.catalog.schemas import ProductCreate
from souk.catalog.service import catalog_service
from souk.checkout.schemas import CheckoutCreate
from souk.checkout.service import checkout_service
from souk.kit.clock import utcnow
from souk.models import ApiToken, Category, Store, User
from souk.payment.schemas import CardIn
from souk.payment.service import payment_service
from souk.shipping.schemas import ShippingMethodCreate
from souk.shipping.service import shipping_service
from souk.worker.runner import Worker

# far above every id the fuzzer's own requests create, and still a 32-bit integer (PostgreSQL SERIAL)
TOKEN_ID = 2_000_000_123


@dataclass
class World:
    headers: dict[str, str]
    user_id: int
    store_id: int
    other_store_id: int
    product_ids: list[int] = field(default_factory=list)
    sku_ids: list[int] = field(default_factory=list)
    order_ids: list[int] = field(default_factory=list)


def _card() -> dict[str, object]:
    return {"number": "4242424242424242", "exp_month": 12, "exp_year": utcnow().year + 3, "cvc": "123"}


async def _market_store(s: AsyncSession, owner: User, name: str) -> Store:
    store = Store(
        slug=f"{name.lower()}-{secrets.token_hex(3)}",
        name=name,
        description="A store the fuzzer calls",
        country="DE",
        currency="USD",
        trade_model="market",
        status="active",
        owner_user_id=owner.id,
    )
    s.add(store)
    await s.flush()
    return store


async def _products(s: AsyncSession, owner: User, store: Store, category: Category, world: World) -> int:
    """Two published products (one SKU each, 50 in stock) and a shipping method; returns the method's id."""
    actor = Actor(user_id=owner.id)
    for n, price in enumerate((1250, 990)):
        view = await catalog_service.create(
            s,
            actor,
            store.id,
            ProductCreate.model_validate(
                {
                    "title": f"{store.name} thing {n + 1}",
                    "category_id": category.id,
                    "options": [],
                    "skus": [{"price_amount": price, "stock": 50}],
                }
            ),
        )
        await catalog_service.publish(s, actor, view.product.id)
        world.product_ids.append(view.product.id)
        world.sku_ids.extend(v.sku.id for v in view.skus)
    method = await shipping_service.create(
        s,
        actor,
        store.id,
        ShippingMethodCreate.model_validate({"name": "Standard", "kind": "surface", "price_amount": 490}),
    )
    return method.id


async def _paid_order(
    s: AsyncSession, buyer: User, store: Store, sku_id: int, method_id: int, world: World
) -> None:
    actor = Actor(user_id=buyer.id)
    address = await address_service.create(
        s,
        actor,
        AddressCreate.model_validate(
            {
                "full_name": buyer.display_name,
                "phone": "+49 30 1234567",
                "line1": "1 Market Street",
                "city": "Berlin",
                "postal_code": "10115",
                "country": "DE",
            }
        ),
    )
    await cart_service.add(s, actor, None, sku_id, 2)
    payload = CheckoutCreate.model_validate(
        {
            "currency": "USD",
            "address_id": address.id,
            "shipping": [{"store_id": store.id, "shipping_method_id": method_id}],
            "card": _card(),
        }
    )
    order = await checkout_service.place(s, actor, payload, token=f"fuzz:{secrets.token_hex(6)}")
    assert order.payment_id is not None
    await payment_service.confirm(s, order.payment_id, CardIn.model_validate(_card()))
    await checkout_service.settle(s, order.id)
    world.order_ids.append(order.id)


async def seed(maker: async_sessionmaker[AsyncSession]) -> World:
    """Fill the fuzzer's database (see the module's docstring) and deliver the payment webhooks."""
    async with maker() as s, s.begin():
        ada = await new_user(s, "ada", 0)
        ada.is_operator = True
        bo = await new_user(s, "bo", 1)
        raw = new_api_token()
        s.add(
            ApiToken(
                id=TOKEN_ID,
                user_id=ada.id,
                name="fuzz",
                token_hash=hash_secret(raw),
                prefix=raw[:9],
                scopes="read write",
            )
        )
        category = Category(name="Things", slug="things")
        s.add(category)
        await s.flush()
        mine = await _market_store(s, ada, "Ada")
        theirs = await _market_store(s, bo, "Bo")
        world = World({"Authorization": f"Bearer {raw}"}, ada.id, mine.id, theirs.id)
        my_method = await _products(s, ada, mine, category, world)
        their_method = await _products(s, bo, theirs, category, world)
        await _paid_order(s, ada, theirs, world.sku_ids[2], their_method, world)
        await _paid_order(s, bo, mine, world.sku_ids[0], my_method, world)
        await cart_service.add(s, Actor(user_id=ada.id), None, world.sku_ids[3], 1)
        # sourcing: ada's organisation with an open RFQ, and a supplier's quote on it
        organization = await approved_organization(s, ada, 0, "DE")
        rfq = await open_rfq(s, Trader(ada, organization, {}))
        await race_supplier(s, 3, prefix="dora", store="Dora", quote_on=rfq)
    await Worker(maker, name="fuzz-seed", concurrency=1).run_once()
    return world


__all__ = ["TOKEN_ID", "World", "seed", "soak"]
