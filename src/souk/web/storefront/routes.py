"""The public pages: home, search and listings, trade-model and category pages, product page, store page.

Everything is a GET and works without JavaScript: facets are links, the price range and the sort are small
GET forms, the gallery and the variant selector are links. Every filtered page has its own URL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from souk.deps import DbSession
from souk.errors import Invalid, NotFound
from souk.kit.countries import countries
from souk.kit.money import SUPPORTED_CURRENCIES, is_currency, parse_amount
from souk.search.schemas import (
    DEFAULT_PRICE_CURRENCY,
    MAX_ID,
    MAX_PRICE,
    SORT_LABELS,
    SORTS,
    TRADE_MODEL_NAMES,
    SearchFilters,
)
from souk.shipping.service import shipping_service
from souk.storefront.schemas import Listing
from souk.storefront.service import storefront_service
from souk.trade.sourcing.rfq.service import PublicRfqRead, rfq_service
from souk.web.buyer.orders import until  # noqa: F401  (registers the deadline filter the pages use)
from souk.web.deps import PageActor
from souk.web.render import TRADE_MODEL_BLURBS, render

router = APIRouter()

# /sourcing, /market, /mall, /global: the search page of one trade model
MODEL_PAGES = {"sourcing": "sourcing", "market": "market", "mall": "mall", "global": "crossborder"}
MODEL_PATHS = {model: f"/{page}" for page, model in MODEL_PAGES.items()}
FILTER_KEYS = ("q", "category", "trade_model", "store", "min_price", "max_price", "currency", "sort")
# the sourcing landing page's "Latest requests for quotation"
LATEST_RFQS = 6


def _positive_id(raw: str | None) -> int | None:
    if raw is None or not raw.strip().isdigit():
        return None
    value = int(raw.strip())
    return value if 1 <= value <= MAX_ID else None


def _page_number(raw: str | None) -> int:
    value = _positive_id(raw)
    return value or 1


@dataclass
class ParsedFilters:
    filters: SearchFilters
    # what was typed, for the forms (prices as decimals)
    values: dict[str, str]
    errors: dict[str, str]


def parse_filters(params: dict[str, str]) -> ParsedFilters:
    """Search filters from a page's query string. Values that do not parse are reported and left out."""
    values = {k: params.get(k, "").strip() for k in FILTER_KEYS}
    errors: dict[str, str] = {}
    data: dict[str, Any] = {"q": params.get("q", "")}
    if values["category"]:
        data["category"] = _positive_id(values["category"])
        if data["category"] is None:
            errors["category"] = "is not a category"
    if values["store"]:
        data["store"] = _positive_id(values["store"])
        if data["store"] is None:
            errors["store"] = "is not a store"
    if values["trade_model"]:
        if values["trade_model"] in TRADE_MODEL_NAMES:
            data["trade_model"] = values["trade_model"]
        else:
            errors["trade_model"] = "is not a trade model"
    if values["sort"]:
        if values["sort"] in SORTS:
            data["sort"] = values["sort"]
        else:
            errors["sort"] = "is not a sort order"
    currency = values["currency"].upper()
    if currency:
        values["currency"] = currency
        if is_currency(currency):
            data["currency"] = currency
        else:
            errors["currency"] = "is not a supported currency"
    price_currency = data.get("currency", DEFAULT_PRICE_CURRENCY)
    for name in ("min_price", "max_price"):
        if not values[name]:
            continue
        try:
            data[name] = parse_amount(values[name], price_currency, name, minimum=0, maximum=MAX_PRICE)
        except Invalid as error:
            errors.update(error.fields)
    return ParsedFilters(SearchFilters(**data), values, errors)


class ListingLinks:
    """URLs of a listing with some filters changed. A chosen category lives in the path (/c/<slug>) when its
    slug is known; otherwise a chosen trade model does (/sourcing ...); otherwise the page is /search."""

    def __init__(self, params: dict[str, str], slugs: dict[int, str]) -> None:
        self.params = {k: v for k, v in params.items() if v not in ("", None)}
        self.slugs = slugs

    def split(self, params: dict[str, str]) -> tuple[str, dict[str, str]]:
        rest = dict(params)
        category = _positive_id(rest.get("category"))
        if category is not None and category in self.slugs:
            rest.pop("category")
            return f"/c/{self.slugs[category]}", rest
        model = rest.get("trade_model")
        if model in MODEL_PATHS and "category" not in rest:
            rest.pop("trade_model")
            return MODEL_PATHS[model], rest
        return "/search", rest

    def changed(self, **changes: Any) -> dict[str, str]:
        params = dict(self.params)
        if "page" not in changes:
            params.pop("page", None)
        for key, value in changes.items():
            if value is None or value == "":
                params.pop(key, None)
            else:
                params[key] = str(value)
        return params

    def __call__(self, **changes: Any) -> str:
        path, rest = self.split(self.changed(**changes))
        return f"{path}?{urlencode(rest)}" if rest else path

    def form(self, *fields: str) -> tuple[str, dict[str, str]]:
        """(action, hidden fields) of a GET form that sets ``fields`` and keeps the other filters."""
        path, rest = self.split(self.changed(**dict.fromkeys(fields)))
        return path, rest


def _canonical_params(parsed: ParsedFilters, listing: Listing) -> dict[str, str]:
    """The page's filters as query parameters (only those that parsed), prices as typed decimals."""
    f = listing.filters
    params = {
        "q": f.q.strip(),
        "category": str(f.category) if f.category else "",
        "trade_model": f.trade_model or "",
        "store": str(f.store) if f.store else "",
        "currency": f.currency or "",
        "sort": f.sort or "",
        "min_price": parsed.values["min_price"] if f.min_price is not None else "",
        "max_price": parsed.values["max_price"] if f.max_price is not None else "",
    }
    return params


def new_rfq_link(title: str, category_id: int | None, quantity: int | None, unit: str = "") -> str:
    """/rfqs/new with the form prefilled (the new-RFQ page checks every value again)."""
    params = {"title": title[:200]}
    if category_id:
        params["category_id"] = str(category_id)
    if quantity:
        params["quantity"] = str(quantity)
    if unit:
        params["unit"] = unit
    return f"/rfqs/new?{urlencode(params)}"


@dataclass
class RfqTeaser:
    """One of the latest public RFQs as the sourcing page lists it, with where it leads the visitor."""

    rfq: PublicRfqRead
    country: str
    link: str
    link_label: str


async def _latest_rfqs(session: DbSession, actor: PageActor) -> list[RfqTeaser]:
    """The newest public RFQs taking quotes: for a supplier with a sourcing store, links to its RFQ board
    entry (to quote); for everyone else, to post a similar request."""
    rfqs = await rfq_service.latest_public(session, limit=LATEST_RFQS)
    if not rfqs:
        return []
    store_id = await rfq_service.sourcing_store_id(session, actor)
    names = countries()
    teasers = []
    for r in rfqs:
        if store_id is not None:
            link, label = f"/seller/stores/{store_id}/rfqs/{r.id}", "Quote now"
        else:
            link = new_rfq_link(r.title, r.category_id, r.quantity, r.unit)
            label = "Post a similar request"
        teasers.append(RfqTeaser(r, names.get(r.destination_country, r.destination_country), link, label))
    return teasers


def _listing_heading(listing: Listing, fixed_model: str | None) -> tuple[str, str]:
    """(page heading, <title>) of a listing."""
    q = listing.filters.q.strip()
    if listing.category is not None:
        heading = listing.category.name
    elif fixed_model is not None:
        heading = TRADE_MODEL_NAMES[fixed_model]
    elif listing.filters.trade_model:
        heading = TRADE_MODEL_NAMES[listing.filters.trade_model]
    elif q:
        return "Search results", f"“{q}”"
    else:
        heading = "All products"
    if q:
        return heading, f"“{q}” in {heading}"
    return heading, heading


async def _listing_page(
    request: Request,
    session: DbSession,
    actor: PageActor,
    *,
    model: str | None = None,
    category_slug: str | None = None,
) -> HTMLResponse:
    params = {k: v for k, v in request.query_params.items()}
    parsed = parse_filters(params)
    filters = parsed.filters
    errors = dict(parsed.errors)
    if model is not None:
        filters = filters.model_copy(update={"trade_model": model})
    page = _page_number(params.get("page"))
    try:
        listing = await storefront_service.listing(
            session, actor, filters, page=page, category_slug=category_slug
        )
    except Invalid as exc:
        # a rule the service checks (a minimum above the maximum): show the results without the price range
        errors.update(exc.fields)
        filters = filters.model_copy(update={"min_price": None, "max_price": None})
        listing = await storefront_service.listing(
            session, actor, filters, page=page, category_slug=category_slug
        )
    slugs = dict(listing.category_slugs)
    slugs.update({c.id: c.slug for c in listing.trail})
    links = ListingLinks(_canonical_params(parsed, listing), slugs)
    heading, title = _listing_heading(listing, model)
    result = listing.result
    facets = result.facets
    description = (
        TRADE_MODEL_BLURBS.get(model or "", "")
        or f"{result.total} products"
        + (f" in {listing.category.name}" if listing.category else "")
        + " on Souk: compare prices from suppliers, sellers and brand stores."
    )
    values = dict(parsed.values)
    context = {
        "listing": listing,
        "result": result,
        "facets": facets,
        "links": links,
        "heading": heading,
        "page_title": title,
        "page_description": description,
        "blurb": TRADE_MODEL_BLURBS.get(model or "", "") if not listing.category else "",
        "model": model or listing.filters.trade_model,
        "values": values,
        "errors": errors,
        "sort_labels": SORT_LABELS,
        "currencies": SUPPORTED_CURRENCIES,
        "model_names": TRADE_MODEL_NAMES,
        "model_paths": MODEL_PATHS,
        # the sourcing landing page (first page): the latest open RFQs
        "latest_rfqs": await _latest_rfqs(session, actor) if model == "sourcing" and page == 1 else None,
    }
    return render(request, "storefront/search.html", context, status=422 if errors else 200)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, session: DbSession, actor: PageActor) -> HTMLResponse:
    page = await storefront_service.home(session, actor)
    return render(
        request,
        "storefront/home.html",
        {"home": page, "models": [(path, model) for model, path in MODEL_PATHS.items()]},
    )


@router.get("/search", response_class=HTMLResponse)
async def search(request: Request, session: DbSession, actor: PageActor) -> HTMLResponse:
    return await _listing_page(request, session, actor)


def _model_page(model: str) -> Callable[..., Any]:
    async def page(request: Request, session: DbSession, actor: PageActor) -> HTMLResponse:
        return await _listing_page(request, session, actor, model=model)

    page.__name__ = f"{model}_page"
    return page


for _path, _model in MODEL_PAGES.items():
    router.add_api_route(f"/{_path}", _model_page(_model), methods=["GET"], response_class=HTMLResponse)


@router.get("/c/{slug}", response_class=HTMLResponse)
async def category_page(request: Request, session: DbSession, actor: PageActor, slug: str) -> HTMLResponse:
    return await _listing_page(request, session, actor, category_slug=slug)


@router.get("/p/{product_id}", response_class=HTMLResponse)
@router.get("/p/{product_id}/{slug}", response_class=HTMLResponse)
async def product_page(
    request: Request, session: DbSession, actor: PageActor, product_id: str, slug: str | None = None
) -> Response:
    pid = _positive_id(product_id)
    if pid is None or product_id != str(pid):
        raise NotFound("No such product.", code="product_not_found")
    params = dict(request.query_params)
    choices = {k: v for k, v in params.items() if k not in ("sku", "image", "rating", "rpage")}
    view = await storefront_service.product(
        session,
        actor,
        pid,
        sku_id=_positive_id(params.get("sku")),
        choices=choices,
        image=_page_number(params.get("image")),
        reviews_rating=_positive_id(params.get("rating")),
        reviews_page=_page_number(params.get("rpage")),
    )
    if slug != view.slug:
        target = f"/p/{view.id}/{view.slug}"
        if request.url.query:
            target += f"?{request.url.query}"
        return RedirectResponse(target, status_code=301)
    shipping_methods = await shipping_service.methods_for_store(session, view.store.id)
    rfq_link = (
        new_rfq_link(view.title, view.trail[-1].id if view.trail else None, view.moq)
        if view.trade_model == "sourcing"
        else None
    )
    return render(
        request,
        "storefront/product.html",
        {"p": view, "query": params, "shipping_methods": shipping_methods, "rfq_link": rfq_link},
    )


@router.get("/s/{slug}", response_class=HTMLResponse)
async def store_page(request: Request, session: DbSession, actor: PageActor, slug: str) -> HTMLResponse:
    q = request.query_params.get("q", "")
    page = _page_number(request.query_params.get("page"))
    view = await storefront_service.store(
        session,
        actor,
        slug,
        q=q,
        page=page,
        reviews_rating=_positive_id(request.query_params.get("rating")),
        reviews_page=_page_number(request.query_params.get("rpage")),
    )
    return render(request, "storefront/store.html", {"s": view})
