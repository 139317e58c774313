"""How the matrix calls each route: which of the world's ids fill the path, the query string, and a plausible
body (valid where the route validates it before looking at the caller, so that a refusal is an authorization
refusal and not a validation error)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from authz_world import pdf_bytes, png_bytes

from fixtures.factories import PASSWORD
from fixtures.orders import card
from souk.kit.clock import utcnow

PARAM = re.compile(r"{(\w+)(?::\w+)?}")

# path parameter -> key of World.ids (the default; REQUESTS may override per route)
PARAM_IDS = {
    "user_id": "member_user_id",
    "slug": "store_slug",
    "token": "reset_token",
}

Ids = dict[str, Any]
Request = dict[str, Any]  # params: {param: ids key}, query: ids -> dict, json / data / files: ids -> value


def _pdf(name: str) -> Callable[[Ids], dict[str, Any]]:
    return lambda ids: {name: ("doc.pdf", pdf_bytes(), "application/pdf")}


def _png(name: str) -> Callable[[Ids], dict[str, Any]]:
    return lambda ids: {name: ("photo.png", png_bytes(), "image/png")}


def _json(value: dict[str, Any]) -> Callable[[Ids], dict[str, Any]]:
    return lambda ids: value


SOURCING_STORE = {"store_id": "sourcing_store_id"}
CONTRACT_ORDER = {"order_id": "contract_order_id", "seller_order_id": "contract_seller_order_id"}
CONTRACT_SO = {"store_id": "sourcing_store_id", "seller_order_id": "contract_seller_order_id"}
STORE_QUERY = lambda ids: {"store_id": ids["store_id"]}  # noqa: E731

REQUESTS: dict[str, Request] = {
    # account
    "POST /api/v1/auth/register": {
        "json": _json({"email": "authz-new@example.com", "password": PASSWORD, "display_name": "New"})
    },
    "POST /api/v1/auth/tokens": {"json": lambda ids: {"email": ids["buyer_a_email"], "password": PASSWORD}},
    "POST /api/v1/auth/password-reset": {"json": lambda ids: {"email": ids["buyer_a_email"]}},
    "POST /api/v1/auth/password-reset/confirm": {
        "json": lambda ids: {"token": ids["reset_token"], "new_password": "another horse battery staple"}
    },
    "PATCH /api/v1/me": {"json": _json({"display_name": "Renamed"})},
    "POST /api/v1/me/password": {
        "json": _json({"current_password": PASSWORD, "new_password": "another horse battery staple"})
    },
    "POST /api/v1/me/tokens": {"json": _json({"name": "script"})},
    # organisations
    "POST /api/v1/organizations": {
        "json": _json(
            {
                "legal_name": "New Co Ltd",
                "registration_number": "REG-AZ-1",
                "country": "DE",
                "address": "1 Road",
            }
        )
    },
    "PATCH /api/v1/organizations/{organization_id}": {"json": _json({"legal_name": "Renamed Co Ltd"})},
    "POST /api/v1/organizations/{organization_id}/documents": {
        "files": _pdf("file"),
        "data": _json({"kind": "registration"}),
    },
    "PATCH /api/v1/organizations/{organization_id}/members/{user_id}": {"json": _json({"role": "admin"})},
    "POST /api/v1/organizations/{organization_id}/invitations": {
        "json": _json({"email": "authz-invitee@example.com", "role": "staff"})
    },
    # stores and catalog
    "POST /api/v1/stores": {"json": _json({"name": "New shop", "country": "DE", "currency": "EUR"})},
    "PATCH /api/v1/stores/{store_id}": {"json": _json({"name": "Renamed A"})},
    "POST /api/v1/stores/{store_id}/logo": {"files": _png("file")},
    "POST /api/v1/categories": {"json": _json({"name": "New category"})},
    "PATCH /api/v1/categories/{category_id}": {"json": _json({"name": "Renamed category"})},
    "POST /api/v1/stores/{store_id}/products": {
        "json": lambda ids: {
            "title": "New thing",
            "category_id": ids["category_id"],
            "skus": [{"price_amount": 1000, "stock": 1}],
        }
    },
    "PATCH /api/v1/products/{product_id}": {"json": _json({"title": "Renamed mug"})},
    "POST /api/v1/products/{product_id}/skus": {"json": _json({"price_amount": 1200})},
    "PATCH /api/v1/products/{product_id}/skus/{sku_id}": {"json": _json({"price_amount": 1100})},
    "PUT /api/v1/products/{product_id}/price-tiers": {"json": _json({"tiers": []})},
    "POST /api/v1/products/{product_id}/images": {"files": _png("files")},
    "PATCH /api/v1/products/{product_id}/images/{image_id}": {"json": _json({"alt": "A mug"})},
    "POST /api/v1/skus/{sku_id}/stock-adjustments": {"json": _json({"delta": 1, "reason": "stock count"})},
    # operators
    "POST /api/v1/ops/organizations/{organization_id}/decision": {
        "json": _json({"decision": "approve", "reason": "documents checked"})
    },
    "POST /api/v1/ops/stores/{store_id}/decision": {
        "json": _json({"decision": "approve", "reason": "documents checked"})
    },
    # money
    "GET /api/v1/balance": {"query": STORE_QUERY},
    "GET /api/v1/balance/movements": {"query": STORE_QUERY},
    "GET /api/v1/payouts": {"query": STORE_QUERY},
    "POST /api/v1/payouts": {
        "json": lambda ids: {"store_id": ids["store_id"], "currency": "USD", "amount": 1000}
    },
    "POST /api/v1/webhooks/payments": {"json": _json({"id": "evt_1"})},
    "POST /api/v1/webhooks/carriers": {"json": _json({"id": "evt_1"})},
    # reviews
    "POST /api/v1/reviews": {"json": lambda ids: {"order_line_id": ids["done_line_id"], "rating": 5}},
    "POST /api/v1/reviews/{review_id}/photos": {"files": _png("files")},
    "POST /api/v1/reviews/{review_id}/reply": {"json": _json({"text": "Thank you!"})},
    # cart, addresses, shipping
    "POST /api/v1/cart/items": {"json": lambda ids: {"sku_id": ids["sku_id"], "quantity": 1}},
    "PATCH /api/v1/cart/items/{sku_id}": {"json": _json({"quantity": 2})},
    "POST /api/v1/me/addresses": {
        "json": _json(
            {
                "full_name": "New Person",
                "phone": "+49 30 1",
                "line1": "1 Road",
                "city": "Berlin",
                "country": "DE",
            }
        )
    },
    "PATCH /api/v1/me/addresses/{address_id}": {"json": _json({"city": "Hamburg"})},
    "POST /api/v1/stores/{store_id}/shipping-methods": {
        "json": _json({"name": "Slow boat", "kind": "surface", "price_amount": 100})
    },
    "PATCH /api/v1/stores/{store_id}/shipping-methods/{method_id}": {"json": _json({"price_amount": 590})},
    # messaging
    "POST /api/v1/conversations": {
        "json": lambda ids: {"product_id": ids["product_id"], "body": "Is it blue?"}
    },
    "POST /api/v1/conversations/{conversation_id}/messages": {"json": _json({"body": "Hello again"})},
    "POST /api/v1/conversations/{conversation_id}/messages/with-images": {
        "data": _json({"body": "A photo"}),
        "files": _png("images"),
    },
    # orders
    "POST /api/v1/checkouts": {
        "json": lambda ids: {
            "currency": "USD",
            "address_id": ids["address_id"],
            "shipping": [{"store_id": ids["store_id"], "shipping_method_id": ids["method_id"]}],
            "card": card(),
        }
    },
    "POST /api/v1/orders/{order_id}/payments": {"json": lambda ids: {"card": card()}},
    "POST /api/v1/stores/{store_id}/orders/{seller_order_id}/ship": {
        "json": _json({"carrier": "DHL", "tracking_number": "JD0146000088"})
    },
    # disputes
    "POST /api/v1/disputes": {
        "json": lambda ids: {"seller_order_id": ids["seller_order_id"], "reason": "damaged"}
    },
    "POST /api/v1/disputes/with-images": {
        "data": lambda ids: {"seller_order_id": str(ids["seller_order_id"]), "reason": "damaged"},
        "files": _png("images"),
    },
    "POST /api/v1/disputes/{dispute_id}/return-tracking": {
        "json": _json({"tracking_number": "RT1234567890"})
    },
    "POST /api/v1/disputes/{dispute_id}/reject": {"json": _json({"reason": "It was delivered on time."})},
    "POST /api/v1/disputes/{dispute_id}/messages": {"json": _json({"body": "Any news?"})},
    "POST /api/v1/disputes/{dispute_id}/messages/with-images": {
        "data": _json({"body": "A photo"}),
        "files": _png("images"),
    },
    "POST /api/v1/ops/disputes/{dispute_id}/ruling": {
        "json": _json({"outcome": "released", "reason": "Tracking shows delivery."})
    },
    # sourcing
    "POST /api/v1/rfqs": {
        "json": lambda ids: {
            "title": "Bamboo cutting boards",
            "requirements": "40 x 30 cm, food safe oil finish.",
            "quantity": 500,
            "currency": "USD",
            "destination_country": "DE",
            "quote_deadline": (utcnow() + timedelta(days=5)).isoformat(),
        }
    },
    "POST /api/v1/rfqs/{rfq_id}/attachments": {"files": _pdf("file")},
    "POST /api/v1/rfqs/{rfq_id}/quotes": {
        "json": lambda ids: {
            "store_id": ids["sourcing_store_id"],
            "unit_price_amount": 240,
            "lead_time_days": 20,
            "incoterm": "FOB",
        }
    },
    "GET /api/v1/quotes": {"query": lambda ids: {"store_id": ids["sourcing_store_id"]}},
    "GET /api/v1/stores/{store_id}/quote-quota": {"params": SOURCING_STORE},
    "POST /api/v1/quotes/{quote_id}/attachments": {"files": _pdf("file")},
    "POST /api/v1/quotes/{quote_id}/revisions": {"json": _json({"unit_price_amount": 230})},
    "POST /api/v1/quotes/{quote_id}/offers": {
        "json": _json({"based_on_version": 1, "unit_price_amount": 220})
    },
    "POST /api/v1/quotes/{quote_id}/messages": {"json": _json({"body": "Can you do 220?"})},
    "PATCH /api/v1/contracts/{contract_id}": {
        "json": lambda ids: {"based_on_updated_at": ids["contract_updated_at"], "quality_terms": "AQL 1.5"}
    },
    "POST /api/v1/contracts/{contract_id}/amendments": {"json": _json({"quality_terms": "AQL 1.0"})},
    "GET /api/v1/orders/{order_id}/milestones": {"params": CONTRACT_ORDER},
    "POST /api/v1/orders/{order_id}/milestones/{milestone_id}/pay": {
        "params": CONTRACT_ORDER,
        "json": lambda ids: {"card": card()},
    },
    "POST /api/v1/stores/{store_id}/orders/{seller_order_id}/production-finished": {"params": CONTRACT_SO},
    # web pages that need another id than the default
    "GET /messages/new": {"query": lambda ids: {"product": ids["product_id"]}},
    "POST /messages/new": {"query": lambda ids: {"product": ids["product_id"]}},
    "POST /cart/items": {"form": lambda ids: {"sku_id": ids["sku_id"]}},
    "POST /reviews/new": {
        "query": lambda ids: {"line": ids["done_line_id"]},
        "form": lambda ids: {"order_line_id": ids["done_line_id"]},
    },
    "POST /seller/stores/{store_id}/shipping": {"form": lambda ids: {"price_amount": "4.90"}},
    "POST /account/forgot": {"form": lambda ids: {"email": ids["buyer_a_email"]}, "form_only": True},
    "POST /seller/organizations/{organization_id}": {
        "form": _json(
            {
                "legal_name": "Renamed Co Ltd",
                "registration_number": "REG-AZ-2",
                "country": "CN",
                "address": "2 Road",
            }
        )
    },
    "POST /seller/organizations/{organization_id}/documents": {
        "form": _json({"kind": "registration"}),
        "files": _pdf("document"),
    },
    "POST /disputes": {"form": lambda ids: {"seller_order_id": ids["seller_order_id"]}},
    "POST /seller/stores/{store_id}/products/new": {
        "form": lambda ids: {"category_id": ids["category_id"], "price": "10.00", "stock": "1"}
    },
    "GET /reviews/new": {"query": lambda ids: {"line": ids["done_line_id"]}},
    "GET /disputes/new": {"query": lambda ids: {"seller_order_id": ids["seller_order_id"]}},
    "GET /c/{slug}": {"params": {"slug": "category_slug"}},
    "GET /p/{product_id}/{slug}": {"params": {"slug": "product_slug"}},
    "GET /seller/stores/{store_id}/rfqs": {"params": SOURCING_STORE},
    "GET /seller/stores/{store_id}/rfqs/{rfq_id}": {"params": SOURCING_STORE},
    "POST /seller/stores/{store_id}/rfqs/{rfq_id}/quote": {"params": SOURCING_STORE},
    "GET /seller/stores/{store_id}/rfqs/{rfq_id}/attachments/{index}": {"params": SOURCING_STORE},
    "GET /seller/stores/{store_id}/quotes": {"params": SOURCING_STORE},
    "GET /seller/stores/{store_id}/quotes/{quote_id}": {"params": SOURCING_STORE},
    "POST /seller/stores/{store_id}/quotes/{quote_id}/revise": {"params": SOURCING_STORE},
    "POST /seller/stores/{store_id}/quotes/{quote_id}/counter": {"params": SOURCING_STORE},
    "POST /seller/stores/{store_id}/quotes/{quote_id}/accept": {"params": SOURCING_STORE},
    "POST /seller/stores/{store_id}/quotes/{quote_id}/messages": {"params": SOURCING_STORE},
    "GET /seller/stores/{store_id}/contracts": {"params": SOURCING_STORE},
    "GET /seller/stores/{store_id}/contracts/{contract_id}": {"params": SOURCING_STORE},
    "POST /seller/stores/{store_id}/contracts/{contract_id}/edit": {"params": SOURCING_STORE},
    "POST /seller/stores/{store_id}/contracts/{contract_id}/confirm": {"params": SOURCING_STORE},
    "POST /seller/stores/{store_id}/contracts/{contract_id}/amendments": {"params": SOURCING_STORE},
    "GET /orders/{order_id}/milestones/{milestone_id}/pay": {"params": CONTRACT_ORDER},
    "POST /orders/{order_id}/milestones/{milestone_id}/pay": {"params": CONTRACT_ORDER},
    "POST /seller/stores/{store_id}/orders/{seller_order_id}/production-finished": {"params": CONTRACT_SO},
    "POST /seller/stores/{store_id}/orders/{seller_order_id}/contract-shipment": {"params": CONTRACT_SO},
}

# what every web form sends besides its CSRF token (each form reads the fields it knows; "form_only" leaves
# these out, for forms that refuse unknown fields)
WEB_FORM = {
    "name": "Authz name",
    "title": "Authz title",
    "body": "Authz message body",
    "text": "Authz text",
    "quantity": "1",
    "reason": "other",
    "message": "Authz message",
    "carrier": "DHL",
    "tracking_number": "JD0146000099",
    "rating": "5",
    "decision": "approve",
    "outcome": "released",
    "role": "staff",
    "email": "authz-invitee@example.com",
    "display_name": "Renamed",
    "country": "DE",
    "currency": "USD",
    "full_name": "Authz Person",
    "phone": "+49 30 1",
    "line1": "1 Road",
    "city": "Berlin",
    "postal_code": "10115",
    "kind": "express",
    "price": "1.00",
    "delta": "1",
}
