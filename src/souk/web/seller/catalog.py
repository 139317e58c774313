"""Seller centre pages for products, images and stock. They call the same services as the JSON API.

The product form works without JavaScript: it shows a few empty rows for attributes, variants and price tiers,
and an "Add more rows" button re-renders it with more rows and every value kept. Prices are typed as decimals
("12.50") and converted to minor units for the store's currency before validation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import get_store_for
from souk.catalog.categories import category_service
from souk.catalog.repository import ProductView
from souk.catalog.schemas import MAX_IMAGES, MAX_PRICE_AMOUNT, ImageUpdate, ProductCreate, ProductUpdate
from souk.catalog.service import catalog_service, sells_in_bulk
from souk.deps import DbSession, Storage
from souk.errors import Conflict, Invalid, PayloadTooLarge
from souk.inventory.schemas import StockAdjust
from souk.inventory.service import inventory_service
from souk.kit.money import from_minor, parse_amount
from souk.kit.schemas import IdPath
from souk.kit.uploads import MediaStorage, read_upload
from souk.models import Store
from souk.web.deps import UserPage
from souk.web.render import (
    checked_form,
    flash,
    form_error,
    form_files,
    form_values,
    price_range,
    redirect,
    render,
    url_with,
    visitor_locale,
)

router = APIRouter()

FORM_TEMPLATE = "seller/product_form.html"
HISTORY_TEMPLATE = "seller/stock_history.html"
STATUS_TABS = [("", "All"), ("draft", "Drafts"), ("active", "Active"), ("archived", "Archived")]
STORE_BANNERS = {
    "pending_review": (
        "Pending review",
        "buyers will see your products once an operator approves your store.",
    ),
    "rejected": ("Not approved", "buyers cannot see your products; see Store settings for the reason."),
    "suspended": ("Suspended", "buyers cannot see your products while the store is suspended."),
}
BLANK_ROWS = 2
MORE_ROWS = 3
MAX_BLANK_ROWS = 20
MAX_FORM_ROWS = 200
# errors the form shows next to its fields; not-found and not-allowed become error pages
FORM_ERRORS = (ValidationError, Invalid, Conflict, PayloadTooLarge)
_INT = re.compile(r"^[+-]?\d{1,15}$")


# --- helpers ----------------------------------------------------------------------------------------


def store_info(store: Store) -> dict[str, Any]:
    """What the pages show of a store, as plain data (it survives a rollback of the failed attempt)."""
    banner = STORE_BANNERS.get(store.status)
    return {
        "id": store.id,
        "name": store.name,
        "slug": store.slug,
        "status": store.status,
        "currency": store.currency,
        "trade_model": store.trade_model,
        "organization_id": store.organization_id,
        "sourcing": sells_in_bulk(store),
        "banner": {"title": banner[0], "text": banner[1]} if banner else None,
    }


def _int_or_text(text: str) -> int | str:
    """Whole numbers typed in a form become ints; anything else stays text for the schema to refuse."""
    return int(text) if _INT.match(text) else text


def _pager(request: Request, cursor: str | None, next_cursor: str | None) -> dict[str, str | None]:
    return {
        "first_url": url_with(request, cursor=None) if cursor else None,
        "next_url": url_with(request, cursor=next_cursor) if next_cursor else None,
    }


def _safe_next(target: str | None, default: str) -> str:
    if target and target.startswith("/seller/") and "//" not in target and "\\" not in target:
        return target
    return default


async def _category_choices(session: AsyncSession) -> list[tuple[int, str]]:
    return [(c.id, "\u00a0\u00a0\u00a0" * c.depth + c.name) for c in await category_service.flat(session)]


# --- the product form: text fields <-> payload ------------------------------------------------------


def _rows(values: dict[str, str], prefix: str, fields: tuple[str, ...]) -> list[dict[str, str]]:
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d{{1,4}})\.")
    indices = sorted({int(m.group(1)) for key in values if (m := pattern.match(key))})[:MAX_FORM_ROWS]
    return [{f: values.get(f"{prefix}.{i}.{f}", "").strip() for f in fields} for i in indices]


SKU_FIELDS = (
    "id",
    "code",
    "opt.0",
    "opt.1",
    "opt.2",
    "price_amount",
    "weight_grams",
    "stock",
    "remove",
    "on_hand",
)


@dataclass
class ParsedForm:
    payload: dict[str, Any]
    values: dict[str, str]
    counts: dict[str, int]
    errors: dict[str, str] = field(default_factory=dict)


def _money(text: str, currency: str, key: str, errors: dict[str, str]) -> int | str | None:
    if not text:
        return None
    try:
        # "more than zero" is the schema's rule, with its own message
        return parse_amount(
            text, currency, key, minimum=0, maximum=MAX_PRICE_AMOUNT, hint="enter an amount like {example}"
        )
    except Invalid as error:
        errors.update(error.fields)
        return text


def parse_product_form(
    values: dict[str, str], store: dict[str, Any], extra: int, *, editing: bool
) -> ParsedForm:
    """The typed text to (a) a payload for ProductCreate/ProductUpdate and (b) the values to re-render, with
    empty rows dropped and the rest renumbered so error paths ("skus.1.price_amount") match the inputs."""
    currency = store["currency"]
    errors: dict[str, str] = {}
    out: dict[str, str] = {k: values.get(k, "") for k in ("title", "description", "category_id")}
    options = [values.get(f"options.{j}", "").strip() for j in range(3)]
    for j, name in enumerate(options):
        out[f"options.{j}"] = name

    attributes = [r for r in _rows(values, "attributes", ("name", "value")) if r["name"] or r["value"]]
    for k, row in enumerate(attributes):
        out[f"attributes.{k}.name"], out[f"attributes.{k}.value"] = row["name"], row["value"]

    kept: list[dict[str, str]] = []
    removed: list[dict[str, str]] = []
    for row in _rows(values, "skus", SKU_FIELDS):
        if editing and row["id"] and row["remove"]:
            removed.append(row)
        elif row["id"] or any(
            row[f] for f in ("code", "opt.0", "opt.1", "opt.2", "price_amount", "weight_grams", "stock")
        ):
            kept.append(row)
    skus: list[dict[str, Any]] = []
    for k, row in enumerate(kept + removed):
        for name in SKU_FIELDS:
            if row[name]:
                out[f"skus.{k}.{name}"] = row[name]
        if k >= len(kept):
            continue
        item: dict[str, Any] = {"option_values": {}}
        for j in range(3):
            value = row[f"opt.{j}"]
            if value and not options[j]:
                errors[f"skus.{k}.opt.{j}"] = f"name option {j + 1} first"
            elif value:
                item["option_values"][options[j]] = value
        if row["code"]:
            item["code"] = row["code"]
        price = _money(row["price_amount"], currency, f"skus.{k}.price_amount", errors)
        if price is not None:
            item["price_amount"] = price
        if row["weight_grams"]:
            item["weight_grams"] = _int_or_text(row["weight_grams"])
        if row["id"]:
            item["id"] = _int_or_text(row["id"])
        elif row["stock"]:
            item["stock"] = _int_or_text(row["stock"])
        skus.append(item)

    payload: dict[str, Any] = {
        "title": out["title"],
        "description": out["description"],
        "attributes": [{"name": r["name"], "value": r["value"]} for r in attributes],
        "options": [name for name in options if name],
        "skus": skus,
    }
    if out["category_id"]:
        payload["category_id"] = _int_or_text(out["category_id"])
    else:
        errors["category_id"] = "choose a category"

    tiers = [
        r for r in _rows(values, "price_tiers", ("min_quantity", "unit_price_amount")) if any(r.values())
    ]
    if store["sourcing"]:
        for key in ("moq", "lead_time_days", "sample_price_amount"):
            out[key] = values.get(key, "")
        if out["moq"]:
            payload["moq"] = _int_or_text(out["moq"])
        elif not editing:
            payload["moq"] = None  # a new listing starts at 1; an edit leaves the saved MOQ alone
        payload["lead_time_days"] = _int_or_text(out["lead_time_days"]) if out["lead_time_days"] else None
        payload["sample_price_amount"] = _money(
            out["sample_price_amount"], currency, "sample_price_amount", errors
        )
        payload["price_tiers"] = []
        for k, row in enumerate(tiers):
            out[f"price_tiers.{k}.min_quantity"] = row["min_quantity"]
            out[f"price_tiers.{k}.unit_price_amount"] = row["unit_price_amount"]
            tier: dict[str, Any] = {}
            if row["min_quantity"]:
                tier["min_quantity"] = _int_or_text(row["min_quantity"])
            price = _money(row["unit_price_amount"], currency, f"price_tiers.{k}.unit_price_amount", errors)
            if price is not None:
                tier["unit_price_amount"] = price
            payload["price_tiers"].append(tier)
    counts = {
        "attributes": len(attributes) + extra,
        "skus": len(kept) + len(removed) + extra,
        "tiers": len(tiers) + extra,
    }
    return ParsedForm(payload, out, counts, errors)


def product_values(view: ProductView) -> tuple[dict[str, str], dict[str, int]]:
    """The form's text fields for a saved product."""
    p, currency = view.product, view.product.currency
    values: dict[str, str] = {
        "title": p.title,
        "description": p.description or "",
        "category_id": str(p.category_id),
    }
    options = list(p.options or [])
    for j in range(3):
        values[f"options.{j}"] = options[j] if j < len(options) else ""
    for k, attribute in enumerate(p.attributes or []):
        values[f"attributes.{k}.name"] = str(attribute.get("name", ""))
        values[f"attributes.{k}.value"] = str(attribute.get("value", ""))
    active = view.active_skus
    for k, s in enumerate(active):
        values[f"skus.{k}.id"] = str(s.sku.id)
        values[f"skus.{k}.code"] = s.sku.code
        values[f"skus.{k}.price_amount"] = from_minor(s.sku.price_amount, currency)
        values[f"skus.{k}.on_hand"] = str(s.on_hand)
        if s.sku.weight_grams is not None:
            values[f"skus.{k}.weight_grams"] = str(s.sku.weight_grams)
        for j, name in enumerate(options):
            values[f"skus.{k}.opt.{j}"] = (s.sku.option_values or {}).get(name, "")
    if p.moq is not None:
        values["moq"] = str(p.moq)
    if p.lead_time_days is not None:
        values["lead_time_days"] = str(p.lead_time_days)
    if p.sample_price_amount is not None:
        values["sample_price_amount"] = from_minor(p.sample_price_amount, currency)
    for k, tier in enumerate(view.tiers):
        values[f"price_tiers.{k}.min_quantity"] = str(tier.min_quantity)
        values[f"price_tiers.{k}.unit_price_amount"] = from_minor(tier.unit_price_amount, currency)
    counts = {
        "attributes": len(p.attributes or []) + BLANK_ROWS,
        "skus": len(active) + BLANK_ROWS,
        "tiers": len(view.tiers) + BLANK_ROWS,
    }
    return values, counts


def _extra(values: dict[str, str]) -> int:
    raw = values.get("extra", "")
    extra = int(raw) if raw.isdigit() else BLANK_ROWS
    if values.get("action") == "more":
        extra += MORE_ROWS
    return max(1, min(extra, MAX_BLANK_ROWS))


async def _form_context(
    session: AsyncSession,
    store: dict[str, Any],
    values: dict[str, str],
    counts: dict[str, int],
    extra: int,
    view: ProductView | None = None,
    storage: MediaStorage | None = None,
) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "store": store,
        "section": "products",
        "values": values,
        "counts": counts,
        "extra": extra,
        "categories": await _category_choices(session),
        "product": None,
        "images": [],
        "max_images": MAX_IMAGES,
    }
    if view is not None and storage is not None:
        p = view.product
        ctx["product"] = {
            "id": p.id,
            "title": p.title,
            "slug": p.slug,
            "status": p.status,
            "live": p.status == "active" and store["status"] == "active" and bool(view.active_skus),
        }
        ctx["images"] = [
            {"id": i.id, "thumb_url": storage.url(i.thumb_path), "url": storage.url(i.path), "alt": i.alt}
            for i in view.images
        ]
    return ctx


async def _edit_context(
    session: AsyncSession, actor: Actor, product_id: IdPath, storage: MediaStorage
) -> dict[str, Any]:
    """The edit form filled from the saved product."""
    view = await catalog_service.get_for_seller(session, actor, product_id)
    values, counts = product_values(view)
    return await _form_context(session, store_info(view.store), values, counts, BLANK_ROWS, view, storage)


# --- product list -----------------------------------------------------------------------------------


@router.get("/seller/stores/{store_id}/products", name="seller:products")
async def products_page(
    request: Request,
    store_id: IdPath,
    actor: UserPage,
    session: DbSession,
    storage: Storage,
    status: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    page = await catalog_service.list_store_products(
        session, actor, store_id, status=status or None, cursor=cursor
    )
    rows = [
        {
            "id": v.product.id,
            "title": v.product.title,
            "status": v.product.status,
            "thumb_url": storage.url(v.primary_image.thumb_path) if v.primary_image else None,
            "price": price_range(
                v.product.min_price_amount,
                v.product.max_price_amount,
                v.product.currency,
                visitor_locale(request),
            ),
            "on_hand": v.total_on_hand,
            "variants": len(v.active_skus),
            "updated_at": v.product.updated_at,
        }
        for v in page.items
    ]
    counts = {
        "": sum(page.counts.values()),
        **{s: page.counts.get(s, 0) for s in ("draft", "active", "archived")},
    }
    return render(
        request,
        "seller/products.html",
        {
            "store": store_info(page.store),
            "section": "products",
            "rows": rows,
            "tabs": STATUS_TABS,
            "counts": counts,
            "current_status": status or "",
            **_pager(request, cursor, page.next_cursor),
        },
    )


# --- create and edit ----------------------------------------------------------------------------------


@router.get("/seller/stores/{store_id}/products/new", name="seller:new_product")
async def new_product_page(
    request: Request, store_id: IdPath, actor: UserPage, session: DbSession
) -> HTMLResponse:
    store = store_info(await get_store_for(session, actor, store_id, "catalog:write"))
    counts = {"attributes": BLANK_ROWS + 1, "skus": BLANK_ROWS + 1, "tiers": BLANK_ROWS + 1}
    ctx = await _form_context(session, store, {}, counts, BLANK_ROWS + 1)
    return render(request, FORM_TEMPLATE, ctx)


@router.post("/seller/stores/{store_id}/products/new")
async def create_product(request: Request, store_id: IdPath, actor: UserPage, session: DbSession) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    store = store_info(await get_store_for(session, actor, store_id, "catalog:write"))
    extra = _extra(values)
    parsed = parse_product_form(values, store, extra, editing=False)
    ctx = await _form_context(session, store, parsed.values, parsed.counts, extra)
    if values.get("action") == "more":
        return render(request, FORM_TEMPLATE, ctx)
    try:
        if parsed.errors:
            raise Invalid("Please correct the fields marked below.", fields=parsed.errors)
        view = await catalog_service.create(
            session, actor, store_id, ProductCreate.model_validate(parsed.payload)
        )
        if values.get("action") == "publish":
            await catalog_service.publish(session, actor, view.product.id)
    except FORM_ERRORS as error:
        return await form_error(request, session, FORM_TEMPLATE, error, ctx)
    flash(request, "Product saved and published" if values.get("action") == "publish" else "Product saved")
    return redirect(f"/seller/products/{view.product.id}/edit")


@router.get("/seller/products/{product_id}/edit", name="seller:edit_product")
async def edit_product_page(
    request: Request, product_id: IdPath, actor: UserPage, session: DbSession, storage: Storage
) -> HTMLResponse:
    return render(request, FORM_TEMPLATE, await _edit_context(session, actor, product_id, storage))


@router.post("/seller/products/{product_id}/edit")
async def save_product(
    request: Request, product_id: IdPath, actor: UserPage, session: DbSession, storage: Storage
) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    view = await catalog_service.get_for_seller(session, actor, product_id)
    store = store_info(view.store)
    extra = _extra(values)
    parsed = parse_product_form(values, store, extra, editing=True)
    if values.get("action") == "more":
        ctx = await _form_context(session, store, parsed.values, parsed.counts, extra, view, storage)
        return render(request, FORM_TEMPLATE, ctx)
    try:
        if parsed.errors:
            raise Invalid("Please correct the fields marked below.", fields=parsed.errors)
        await catalog_service.update(session, actor, product_id, ProductUpdate.model_validate(parsed.payload))
        if values.get("action") == "publish":
            await catalog_service.publish(session, actor, product_id)
    except FORM_ERRORS as error:
        await session.rollback()
        view = await catalog_service.get_for_seller(session, actor, product_id)
        ctx = await _form_context(session, store, parsed.values, parsed.counts, extra, view, storage)
        return await form_error(request, session, FORM_TEMPLATE, error, ctx)
    flash(request, "Product saved and published" if values.get("action") == "publish" else "Product saved")
    return redirect(f"/seller/products/{product_id}/edit")


async def _status_action(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    storage: MediaStorage,
    product_id: IdPath,
    action: str,
) -> Response:
    await checked_form(request)
    change = {
        "publish": (catalog_service.publish, "Product published"),
        "archive": (catalog_service.archive, "Product archived"),
        "restore": (catalog_service.restore, "Product restored to draft"),
    }[action]
    try:
        await change[0](session, actor, product_id)
    except FORM_ERRORS as error:
        await session.rollback()
        ctx = await _edit_context(session, actor, product_id, storage)
        return await form_error(request, session, FORM_TEMPLATE, error, ctx)
    flash(request, change[1])
    return redirect(f"/seller/products/{product_id}/edit")


@router.post("/seller/products/{product_id}/publish")
async def publish_product(
    request: Request, product_id: IdPath, actor: UserPage, session: DbSession, storage: Storage
) -> Response:
    return await _status_action(request, session, actor, storage, product_id, "publish")


@router.post("/seller/products/{product_id}/archive")
async def archive_product(
    request: Request, product_id: IdPath, actor: UserPage, session: DbSession, storage: Storage
) -> Response:
    return await _status_action(request, session, actor, storage, product_id, "archive")


@router.post("/seller/products/{product_id}/restore")
async def restore_product(
    request: Request, product_id: IdPath, actor: UserPage, session: DbSession, storage: Storage
) -> Response:
    return await _status_action(request, session, actor, storage, product_id, "restore")


# --- images -----------------------------------------------------------------------------------------


@router.post("/seller/products/{product_id}/images")
async def upload_images(
    request: Request, product_id: IdPath, actor: UserPage, session: DbSession, storage: Storage
) -> Response:
    form = await checked_form(request)
    try:
        data = [await read_upload(f, storage.max_bytes, "image") for f in form_files(form, "files")]
        images = await catalog_service.add_images(session, actor, product_id, data, storage)
    except FORM_ERRORS as error:
        await session.rollback()
        ctx = await _edit_context(session, actor, product_id, storage)
        return await form_error(request, session, FORM_TEMPLATE, error, ctx)
    flash(request, "Image uploaded" if len(images) == 1 else f"{len(images)} images uploaded")
    return redirect(f"/seller/products/{product_id}/edit#images")


@router.post("/seller/products/{product_id}/images/{image_id}/primary")
async def make_primary_image(
    request: Request, product_id: IdPath, image_id: IdPath, actor: UserPage, session: DbSession
) -> Response:
    await checked_form(request)
    await catalog_service.update_image(session, actor, product_id, image_id, ImageUpdate(position=0))
    flash(request, "Primary image changed")
    return redirect(f"/seller/products/{product_id}/edit#images")


@router.post("/seller/products/{product_id}/images/{image_id}/delete")
async def delete_image(
    request: Request,
    product_id: IdPath,
    image_id: IdPath,
    actor: UserPage,
    session: DbSession,
    storage: Storage,
) -> Response:
    await checked_form(request)
    await catalog_service.delete_image(session, actor, product_id, image_id, storage)
    flash(request, "Image deleted")
    return redirect(f"/seller/products/{product_id}/edit#images")


# --- stock --------------------------------------------------------------------------------------------


def _options_text(option_values: dict[str, str] | None) -> str:
    return ", ".join(f"{k}: {v}" for k, v in (option_values or {}).items())


@router.get("/seller/stores/{store_id}/stock", name="seller:stock")
async def stock_page(
    request: Request, store_id: IdPath, actor: UserPage, session: DbSession, cursor: str | None = None
) -> HTMLResponse:
    page = await inventory_service.store_stock(session, actor, store_id, cursor=cursor)
    rows = [
        {
            "sku_id": r.sku.id,
            "code": r.sku.code,
            "options": _options_text(r.sku.option_values),
            "product_id": r.product_id,
            "product_title": r.product_title,
            "product_status": r.product_status,
            "on_hand": r.on_hand,
            "reserved": r.reserved,
            "available": r.available,
        }
        for r in page.items
    ]
    return render(
        request,
        "seller/stock.html",
        {
            "store": store_info(page.store),
            "section": "stock",
            "rows": rows,
            "here": url_with(request),
            **_pager(request, cursor, page.next_cursor),
        },
    )


async def _history_context(
    request: Request, session: AsyncSession, actor: Actor, sku_id: IdPath, cursor: str | None
) -> dict[str, Any]:
    info = await inventory_service.get_stock(session, actor, sku_id)
    page = await inventory_service.history(session, actor, sku_id, cursor=cursor)
    return {
        "store": store_info(info.store),
        "section": "stock",
        "sku": {
            "id": info.sku.id,
            "code": info.sku.code,
            "options": _options_text(info.sku.option_values),
            "is_active": info.sku.is_active,
            "product_id": info.product.id,
            "product_title": info.product.title,
            "on_hand": info.on_hand,
            "reserved": info.reserved,
            "available": info.available,
        },
        "movements": [
            {
                "kind": row.movement.kind,
                "delta": row.movement.delta,
                "on_hand_after": row.movement.on_hand_after,
                "reason": row.movement.reason,
                "by": row.actor_name or "System",
                "at": row.movement.created_at,
            }
            for row in page.items
        ],
        **_pager(request, cursor, page.next_cursor),
    }


@router.get("/seller/skus/{sku_id}/stock", name="seller:sku_stock")
async def sku_stock_page(
    request: Request, sku_id: IdPath, actor: UserPage, session: DbSession, cursor: str | None = None
) -> HTMLResponse:
    return render(request, HISTORY_TEMPLATE, await _history_context(request, session, actor, sku_id, cursor))


@router.post("/seller/skus/{sku_id}/stock")
async def adjust_stock(request: Request, sku_id: IdPath, actor: UserPage, session: DbSession) -> Response:
    form = await checked_form(request)
    values = form_values(form)
    try:
        payload = StockAdjust.model_validate(
            {"delta": _int_or_text(values.get("delta", "")), "reason": values.get("reason", "")}
        )
        info = await inventory_service.adjust(session, actor, sku_id, payload)
    except FORM_ERRORS as error:
        await session.rollback()
        ctx = await _history_context(request, session, actor, sku_id, None)
        return await form_error(request, session, HISTORY_TEMPLATE, error, {**ctx, "values": values})
    flash(request, f"Stock of SKU {info.sku.code} adjusted by {payload.delta:+d}")
    return redirect(_safe_next(values.get("next"), f"/seller/skus/{sku_id}/stock"))
