"""The cart page and the add-to-cart form of the product page. A guest's cart lives behind the HttpOnly
``souk_cart`` cookie (a random token; the database keeps only its hash) and is merged into the user's cart
at login or registration (``merge_guest_cart``). A sourcing product's "Request sample" form posts to the same
add route with ``sample=1``; a sample line's form on the cart page has ``sample=1`` and only "Remove"."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.cart.service import GUEST_CART_DAYS, cart_service, new_guest_token, valid_guest_token
from souk.deps import DbSession
from souk.errors import Conflict, Invalid, NotFound, SoukError
from souk.kit.schemas import MAX_ID, IdPath
from souk.web.deps import PageActor
from souk.web.render import (
    checked_form,
    errors_of,
    flash,
    form_values,
    redirect,
    register_nav_counter,
    render,
)

router = APIRouter()

CART_COOKIE = "souk_cart"
CART_COOKIE_DAYS = GUEST_CART_DAYS
CART_TEMPLATE = "buyer/cart.html"
CHECKOUT_PATH = "/checkout"
_INT = re.compile(r"^\d{1,9}$")
# errors shown next to the line (or on the product page); the rest become error pages
LINE_ERRORS = (Invalid, Conflict, NotFound)


def guest_token(request: Request) -> str | None:
    return valid_guest_token(request.cookies.get(CART_COOKIE))


def _set_cart_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        CART_COOKIE,
        token,
        max_age=CART_COOKIE_DAYS * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


async def merge_guest_cart(session: AsyncSession, request: Request, response: Response, user_id: int) -> None:
    """After a login or registration: move the guest's cart into the user's and clear the cookie."""
    raw = request.cookies.get(CART_COOKIE)
    if raw is None:
        return
    merged = await cart_service.merge_guest(session, user_id, raw)
    if merged:
        picked = "The item you picked is" if merged == 1 else f"The {merged} items you picked are"
        flash(request, f"{picked} in your cart", "info")
    response.delete_cookie(CART_COOKIE, path="/", httponly=True, samesite="lax")


async def _count(session: AsyncSession, actor: Actor | None, request: Request) -> int:
    return await cart_service.count_lines(session, actor, guest_token(request))


def _count_column(actor: Actor | None, request: Request) -> ColumnElement[int] | None:
    query = cart_service.count_lines_query(actor, guest_token(request))
    return query.scalar_subquery() if query is not None else None


register_nav_counter("cart", _count, column=_count_column)


def _number(text: str) -> int | str:
    return int(text) if _INT.match(text) else text


def _quantity(values: dict[str, str]) -> int:
    raw = values.get("quantity", "")
    value = _number(raw)
    if not isinstance(value, int):
        raise Invalid("quantity: must be a whole number", fields={"quantity": "must be a whole number"})
    return value


def _sample(values: dict[str, str]) -> bool:
    return values.get("sample", "") in ("1", "true", "on")


def _product_return(target: str | None) -> str | None:
    """A product page path to go back to (only /p/... paths of this site)."""
    if (
        target
        and target.startswith("/p/")
        and "//" not in target
        and "\\" not in target
        and len(target) < 500
    ):
        return target
    return None


async def _cart_context(session: AsyncSession, request: Request, actor: Actor) -> dict[str, Any]:
    view = await cart_service.get_cart(session, actor, guest_token(request))
    return {"cart": view, "checkout_path": CHECKOUT_PATH}


@router.get("/cart", response_class=HTMLResponse)
async def cart_page(request: Request, actor: PageActor, session: DbSession) -> HTMLResponse:
    return render(request, CART_TEMPLATE, await _cart_context(session, request, actor))


@router.post("/cart/items")
async def add_to_cart(request: Request, actor: PageActor, session: DbSession) -> Response:
    """The product page's forms: sku_id, quantity, next (the product page to go back to on an error); the
    sample form sends sample=1 (and no quantity: a sample is 1 piece)."""
    form = await checked_form(request)
    values = form_values(form)
    back = _product_return(values.get("next"))
    token = guest_token(request)
    if actor.user_id is None and token is None:
        token = new_guest_token()
    sku_id = _number(values.get("sku_id", ""))
    try:
        if not isinstance(sku_id, int) or not 1 <= sku_id <= MAX_ID:
            raise NotFound("Choose the options of the product first.", code="sku_not_found")
        sample = _sample(values)
        quantity = _quantity(values) if not sample or values.get("quantity") else 1
        line = await cart_service.add(session, actor, token, sku_id, quantity, sample=sample)
    except LINE_ERRORS as error:
        if back is None:
            raise
        await session.rollback()
        flash(request, errors_of(error)["_"], "error")
        return redirect(back)
    flash(request, f"{'A sample is in your cart' if line.is_sample else 'Added to your cart'}: {line.title}")
    response = redirect("/cart")
    if actor.user_id is None and token is not None:
        # (re)set on every add: a guest cart lives CART_COOKIE_DAYS after its last change
        _set_cart_cookie(request, response, token)
    return response


@router.post("/cart/items/{sku_id}")
async def change_line(request: Request, sku_id: IdPath, actor: PageActor, session: DbSession) -> Response:
    """A line's form on the cart page: ``action`` is "update" (with ``quantity``) or "remove"; ``sample=1``
    names the SKU's sample line."""
    form = await checked_form(request)
    values = form_values(form)
    token = guest_token(request)
    sample = _sample(values)
    key = f"{sku_id}.sample" if sample else str(sku_id)
    try:
        if values.get("action") == "remove":
            await cart_service.remove(session, actor, token, sku_id, sample=sample)
            flash(request, "Removed from your cart")
        else:
            line = await cart_service.set_quantity(
                session, actor, token, sku_id, _quantity(values), sample=sample
            )
            flash(request, f"Quantity of {line.title} set to {line.quantity}")
    except LINE_ERRORS as error:
        await session.rollback()
        ctx = await _cart_context(session, request, actor)
        problem = errors_of(error)
        ctx["errors"] = {"_": problem["_"], f"line.{key}": problem.get("quantity", problem["_"])}
        ctx["values"] = {f"quantity.{key}": values.get("quantity", "")}
        status = error.status_code if isinstance(error, SoukError) else 422
        return render(request, CART_TEMPLATE, ctx, status=status)
    return redirect("/cart")
