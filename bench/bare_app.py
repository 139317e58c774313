"""The framework ceiling: a bare FastAPI app with the routes a load scenario calls, doing no database work.

It runs under the same uvicorn settings as Souk (``bench.harness.uvicorn_command``), so a scenario's flow
measured against it shows what FastAPI, uvicorn, httpx and the driver cost on this machine by themselves.
Each route parses a pydantic body like Souk's and answers a small JSON object of the shape the flow checks;
``GET /bare/page`` answers an HTML page of ``BENCH_PAGE_BYTES`` bytes (the browse scenario sets it to the size of
Souk's product page).
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from fastapi import FastAPI, Header
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
_ids = itertools.count(1)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CartItemIn(_Strict):
    sku_id: int
    quantity: int = 1


class ShippingIn(_Strict):
    store_id: int
    shipping_method_id: int


class CardIn(_Strict):
    number: str
    exp_month: int
    exp_year: int
    cvc: str


class CheckoutIn(_Strict):
    currency: str
    address_id: int
    shipping: list[ShippingIn]
    card: CardIn


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/api/v1/cart/items", status_code=201)
async def add_cart_item(body: CartItemIn, authorization: str = Header()) -> dict[str, Any]:
    return {"sku_id": body.sku_id, "quantity": body.quantity, "purchasable": True, "warnings": []}


@app.post("/api/v1/checkouts", status_code=201)
async def checkout(
    body: CheckoutIn, authorization: str = Header(), idempotency_key: str = Header()
) -> dict[str, Any]:
    order_id = next(_ids)
    return {
        "id": order_id,
        "number": f"ORD-{order_id}",
        "status": "pending_payment",
        "currency": body.currency,
        "payment": {"status": "processing"},
        "next_action": {"kind": "payment_processing"},
        "seller_orders": [{"store_id": s.store_id, "status": "pending_payment"} for s in body.shipping],
    }


_PAGE = "<!doctype html><title>Bare</title>" + "x" * max(
    0, int(os.environ.get("BENCH_PAGE_BYTES", "20000")) - 34
)


@app.get("/bare/page", response_class=HTMLResponse)
async def page() -> HTMLResponse:
    return HTMLResponse(_PAGE)
