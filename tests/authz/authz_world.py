"""The world the authorization matrix runs in: two buyers, store A (an organisation with an owner, an admin and a
staff member; a market store and a sourcing store), store B (a personal store), an operator, and one of every
kind of object, each belonging to buyer A, store A or buyer A's organisation.

Private markers (``SECRET_*``) are written into fields only the owning party may see: a refused call must
never echo one of them."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from io import BytesIO
from typing import Any

from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import TEST_SECRET
from fixtures.factories import actor_of
from fixtures.ledger import fund_store
from fixtures.orders import card
from fixtures.sourcing import Party
from souk.auth.tokens import hash_secret, new_api_token
from souk.cart.service import cart_service
from souk.catalog.service import catalog_service
from souk.checkout.schemas import CheckoutCreate
from souk.checkout.service import checkout_service
from souk.deps import SESSION_COOKIE
from souk.dispute.schemas import DisputeCreate
from souk.dispute.service import dispute_service
from souk.kit.clock import clock, utcnow
from souk.kit.uploads import MediaStorage
from souk.messaging.service import messaging_service
from souk.models import (
    ApiToken,
    Contract,
    DisputeEvent,
    Membership,
    Offer,
    OrderLine,
    PaymentMilestone,
    SellerOrder,
    Sku,
    User,
    WebSession,
)
from souk.notification.service import notification_service
from souk.order.schemas import ShipCreate
from souk.order.service import order_service
from souk.party.schemas import InvitationCreate, UploadIn
from souk.party.service import party_service
from souk.payment.schemas import CardIn
from souk.payment.service import payment_service
from souk.payout.service import payout_service
from souk.review.schemas import ReviewCreate
from souk.review.service import review_service
from souk.trade.sourcing.contract.orders import contract_orders
from souk.trade.sourcing.quote.service import quote_service
from souk.trade.sourcing.rfq.service import rfq_service
from souk.web.render import CSRF_COOKIE, make_csrf_token

ACTORS = ("anon", "buyer_a", "buyer_b", "owner_a", "admin_a", "staff_a", "owner_b", "operator")

SECRET_ADDRESS = "Authzprivate Lane 7"
SECRET_MESSAGE = "authz-secret-inquiry-text"
SECRET_DISPUTE = "authz-secret-dispute-text"
SECRET_NOTE = "authz-secret-notification"
SECRET_QUOTE = "authz-secret-quote-message"
SECRET_CONTRACT = "authz-secret-contract-spec"
SECRET_ORG = "Authzsecret Road 9"
SECRET_TOKEN = "authz-secret-token-name"
SECRET_DRAFT = "authz-secret-draft-title"
STORE_A_PEOPLE = ("owner_a", "admin_a", "staff_a")
# each private marker, and the actors who may ever see it (any other actor's response must not contain it)
SECRETS = {
    SECRET_ADDRESS: ("buyer_a", *STORE_A_PEOPLE, "operator"),  # the store ships there; operators rule
    SECRET_MESSAGE: ("buyer_a", *STORE_A_PEOPLE),
    SECRET_DISPUTE: ("buyer_a", *STORE_A_PEOPLE, "operator"),
    SECRET_NOTE: ("buyer_a",),
    SECRET_QUOTE: ("buyer_a", *STORE_A_PEOPLE),
    SECRET_CONTRACT: ("buyer_a", *STORE_A_PEOPLE),
    SECRET_ORG: (*STORE_A_PEOPLE, "operator"),  # operators review organisations
    SECRET_TOKEN: ("buyer_a",),
    SECRET_DRAFT: STORE_A_PEOPLE,
}


def png_bytes() -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (32, 32), (200, 60, 20)).save(buffer, "PNG")
    return buffer.getvalue()


def pdf_bytes() -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (100, 50), (255, 255, 255)).save(buffer, "PDF", title="authz")
    return buffer.getvalue()


@dataclass
class Credentials:
    """How one actor calls: API headers and web cookies (anonymous: none)."""

    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""


@dataclass
class World:
    ids: dict[str, Any]
    users: dict[str, int]
    credentials: dict[str, Credentials]


async def _credentials(session: AsyncSession, user_id: int | None) -> Credentials:
    if user_id is None:
        csrf = make_csrf_token(TEST_SECRET, None)
        return Credentials(cookies={CSRF_COOKIE: csrf}, csrf=csrf)
    creds = Credentials()
    raw = new_api_token()
    session.add(
        ApiToken(
            user_id=user_id, name="authz", token_hash=hash_secret(raw), prefix=raw[:9], scopes="read write"
        )
    )
    web = secrets.token_urlsafe(32)
    session.add(
        WebSession(token_hash=hash_secret(web), user_id=user_id, expires_at=clock.now() + timedelta(days=1))
    )
    await session.flush()
    creds.headers = {"Authorization": f"Bearer {raw}"}
    creds.csrf = make_csrf_token(TEST_SECRET, web)  # bound to the session
    creds.cookies = {SESSION_COOKIE: web, CSRF_COOKIE: creds.csrf}
    return creds


async def _buy(
    session: AsyncSession, buyer: User, sku_id: int, address_id: int, store_id: int, method_id: int
) -> int:
    """Buyer's paid order of one unit of ``sku_id``; the order id."""
    actor = actor_of(buyer)
    await cart_service.add(session, actor, None, sku_id, 1)
    payload = CheckoutCreate.model_validate(
        {
            "currency": "USD",
            "address_id": address_id,
            "shipping": [{"store_id": store_id, "shipping_method_id": method_id}],
            "card": card(),
        }
    )
    order = await checkout_service.place(session, actor, payload, token=f"authz:{secrets.token_hex(6)}")
    assert order.payment_id is not None
    await payment_service.confirm(session, order.payment_id, CardIn.model_validate(card()))
    await checkout_service.settle(session, order.id)
    return order.id


async def build_world(
    session: AsyncSession, storage: MediaStorage, f: dict[str, Callable[..., Awaitable[Any]]]
) -> World:
    user = f["user_factory"]
    users = {
        "buyer_a": await user(display_name="Buyer A"),
        "buyer_b": await user(display_name="Buyer B"),
        "owner_a": await user(display_name="Owner A"),
        "admin_a": await user(display_name="Admin A"),
        "staff_a": await user(display_name="Staff A"),
        "owner_b": await user(display_name="Owner B"),
        "operator": await user(display_name="Operator", is_operator=True),
    }
    ids: dict[str, Any] = {}
    owner_a = actor_of(users["owner_a"])
    buyer_a = actor_of(users["buyer_a"])

    # store A: an organisation with three roles, a market store and a sourcing store
    org_a = await f["organization_factory"](owner=users["owner_a"], address=SECRET_ORG)
    for role in ("admin", "staff"):
        session.add(Membership(organization_id=org_a.id, user_id=users[f"{role}_a"].id, role=role))
    await session.flush()
    store_a = await f["store_factory"]("market", organization=org_a, name="Store A")
    sourcing_a = await f["store_factory"]("sourcing", organization=org_a, name="Sourcing A")
    store_b = await f["store_factory"]("market", owner=users["owner_b"], name="Store B")
    ids |= {"organization_id": org_a.id, "store_id": store_a.id, "sourcing_store_id": sourcing_a.id}
    ids |= {"store_slug": store_a.slug, "store_b_id": store_b.id}

    category = await f["category_factory"]()
    ids |= {"category_id": category.id, "category_slug": category.slug}
    product = await f["product_factory"](store_a, category=category, title="Authz Mug", stock=50)
    draft = await f["product_factory"](store_a, category=category, title=SECRET_DRAFT, status="draft")
    sku = await session.scalar(select(Sku).where(Sku.product_id == product.id))
    assert sku is not None
    images = await catalog_service.add_images(session, owner_a, product.id, [png_bytes()], storage)
    ids |= {
        "product_id": product.id,
        "product_slug": product.slug,
        "sku_id": sku.id,
        "image_id": images[0].id,
    }
    ids |= {"draft_product_id": draft.id}
    method = await f["shipping_method_factory"](store_a, name="Express", kind="express", price_amount=490)
    ids["method_id"] = method.id

    # buyer A: an address, two orders (one paid, one received and reviewed), a dispute, an inquiry
    address = await f["address_factory"](users["buyer_a"], line1=SECRET_ADDRESS)
    ids["address_id"] = address.id
    order_id = await _buy(session, users["buyer_a"], sku.id, address.id, store_a.id, method.id)
    done_id = await _buy(session, users["buyer_a"], sku.id, address.id, store_a.id, method.id)
    await f["run_worker"]()  # expires the session's objects: read them again
    for obj in (*users.values(), org_a, store_a, sourcing_a, store_b, product, category):
        await session.refresh(obj)
    so = await session.scalar(select(SellerOrder).where(SellerOrder.order_id == order_id))
    done = await session.scalar(select(SellerOrder).where(SellerOrder.order_id == done_id))
    assert so is not None and done is not None and so.status == "paid", so
    ids |= {
        "order_id": order_id,
        "seller_order_id": so.id,
        "done_order_id": done_id,
        "done_seller_order_id": done.id,
    }
    await order_service.ship(
        session, owner_a, store_a.id, done.id, ShipCreate(carrier="DHL", tracking_number="JD0146000077")
    )
    await order_service.confirm_receipt(session, buyer_a, done_id, done.id)
    line = await session.scalar(select(OrderLine).where(OrderLine.seller_order_id == done.id))
    assert line is not None
    ids["done_line_id"] = line.id
    review = await review_service.create(
        session, buyer_a, ReviewCreate(order_line_id=line.id, rating=4, text="Nice mug, arrived well packed.")
    )
    ids["review_id"] = review.id
    dispute = await dispute_service.open(
        session,
        buyer_a,
        DisputeCreate(seller_order_id=so.id, reason="not_received", message=SECRET_DISPUTE),
        storage=storage,
        documents=[UploadIn(pdf_bytes(), "evidence.pdf")],
    )
    event = await session.scalar(
        select(DisputeEvent).where(DisputeEvent.dispute_id == dispute.id).order_by(DisputeEvent.id)
    )
    assert event is not None
    ids |= {"dispute_id": dispute.id, "event_id": event.id, "index": 0}
    posted = await messaging_service.start_inquiry(session, buyer_a, product.id, SECRET_MESSAGE)
    ids["conversation_id"] = posted.view.conversation.id
    note = await notification_service.notify(session, users["buyer_a"].id, "test.authz", SECRET_NOTE)
    ids["notification_id"] = note.id
    raw = new_api_token()
    token = ApiToken(
        user_id=users["buyer_a"].id, name=SECRET_TOKEN, token_hash=hash_secret(raw), prefix=raw[:9]
    )
    session.add(token)
    await session.flush()
    ids["token_id"] = token.id

    # store A's money and organisation records
    await fund_store(session, store_a.id, 10_000)
    payout = await payout_service.request(session, owner_a, store_a.id, "USD", 1000, idempotency_key="authz")
    ids["payout_id"] = payout.id
    document = await party_service.upload_document(
        session, owner_a, storage, org_a.id, kind="registration", upload=UploadIn(pdf_bytes(), "reg.pdf")
    )
    ids["document_id"] = document.id
    invitation = await party_service.invite(
        session, owner_a, org_a.id, InvitationCreate(email=users["buyer_b"].email, role="staff")
    )
    ids["invitation_id"] = invitation.id
    ids["member_user_id"] = users["staff_a"].id

    # sourcing: buyer A's organisation posts RFQs; store A's sourcing store quotes
    buyer_org = await f["organization_factory"](owner=users["buyer_a"], country="DE")
    buyer_party = Party(users["buyer_a"], buyer_org)
    supplier = Party(users["owner_a"], org_a, sourcing_a)
    ids["buyer_organization_id"] = buyer_org.id
    rfq = await f["rfq_factory"](buyer_party)
    await rfq_service.add_attachments(session, buyer_a, storage, rfq.id, [UploadIn(pdf_bytes(), "spec.pdf")])
    quote = await f["quote_factory"](rfq, supplier, message=SECRET_QUOTE)
    await quote_service.add_attachments(
        session, owner_a, storage, quote.id, [UploadIn(pdf_bytes(), "offer.pdf")]
    )
    offer = await session.scalar(select(Offer).where(Offer.quote_id == quote.id))
    assert offer is not None
    ids |= {"rfq_id": rfq.id, "quote_id": quote.id, "offer_id": offer.id}
    draft_contract = await _contract(session, f, buyer_party, supplier, confirmed=False)
    placed = await _contract(session, f, buyer_party, supplier, confirmed=True)
    contract_so = await contract_orders.place(session, placed)
    milestone = await session.scalar(
        select(PaymentMilestone)
        .where(PaymentMilestone.seller_order_id == contract_so.id)
        .order_by(PaymentMilestone.id)
    )
    assert milestone is not None
    ids |= {"contract_id": draft_contract.id, "contract_order_id": contract_so.order_id}
    ids["contract_updated_at"] = draft_contract.updated_at.isoformat()
    ids["buyer_a_email"] = users["buyer_a"].email
    ids["reset_token"] = "authz-no-such-reset-token"  # a reset link works for whoever holds it
    ids |= {"contract_seller_order_id": contract_so.id, "milestone_id": milestone.id}

    credentials = {"anon": await _credentials(session, None)}
    for name, u in users.items():
        credentials[name] = await _credentials(session, u.id)
    await session.commit()
    return World(ids, {k: u.id for k, u in users.items()}, credentials)


async def _contract(
    session: AsyncSession,
    f: dict[str, Callable[..., Awaitable[Any]]],
    buyer: Party,
    supplier: Party,
    *,
    confirmed: bool,
) -> Contract:
    rfq = await f["rfq_factory"](buyer, quantity=1000)
    quote = await f["quote_factory"](rfq, supplier, status="accepted")
    offer = await session.scalar(select(Offer).where(Offer.quote_id == quote.id))
    assert offer is not None
    now = utcnow()
    total = 1000 * 250 + 30_000
    deposit = total * 3000 // 10_000
    contract = Contract(
        number=f"C-AZ{secrets.token_hex(3)}",
        version=1,
        status="confirmed" if confirmed else "draft",
        rfq_id=rfq.id,
        quote_id=quote.id,
        offer_id=offer.id,
        buyer_organization_id=buyer.organization.id,
        buyer_user_id=buyer.user.id,
        store_id=supplier.store_id,
        product_specification=SECRET_CONTRACT,
        quantity=1000,
        unit=rfq.unit,
        currency="USD",
        unit_price_amount=250,
        goods_amount=1000 * 250,
        shipping_amount=30_000,
        total_amount=total,
        incoterm="FOB",
        place="Ningbo",
        ship_by=(now + timedelta(days=30)).date(),
        quality_terms="AQL 2.5",
        deposit_bps=3000,
        deposit_amount=deposit,
        balance_amount=total - deposit,
        balance_due="before_shipment",
        shipping_address={
            "full_name": "Hilde Einkauf",
            "phone": "+49 30 123456",
            "line1": SECRET_ADDRESS,
            "line2": "",
            "city": "Hamburg",
            "region": "",
            "postal_code": "20095",
            "country": "DE",
        },
        buyer_confirmed_at=now if confirmed else None,
        buyer_confirmed_by_id=buyer.user.id if confirmed else None,
        supplier_confirmed_at=now if confirmed else None,
        supplier_confirmed_by_id=supplier.user.id if confirmed else None,
        confirmed_at=now if confirmed else None,
    )
    session.add(contract)
    await session.flush()
    return contract
