"""What a search asks for and what it gives back: filters, product cards, facets, pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from souk.kit.schemas import ReadSchema, Schema

SortName = Literal["relevance", "price_asc", "price_desc", "newest"]
TradeModelName = Literal["sourcing", "market", "mall", "crossborder"]

SORTS: tuple[SortName, ...] = ("relevance", "price_asc", "price_desc", "newest")
SORT_LABELS: dict[str, str] = {
    "relevance": "Best match",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
    "newest": "Newest",
}
TRADE_MODEL_NAMES: dict[str, str] = {
    "sourcing": "Sourcing",
    "market": "Market",
    "mall": "Mall",
    "crossborder": "Global",
}
DEFAULT_PRICE_CURRENCY = "USD"
# bounds of the numbers a search accepts: ids and prices (minor units) are 32-bit integer columns
MAX_ID = 2**31 - 1
MAX_PRICE = 2**31 - 1


class SearchFilters(Schema):
    """A search: text plus filters. Prices are minor units of ``currency`` (USD when a price is given
    without one); a currency, given or implied, restricts the results to products priced in it."""

    q: str = ""
    category: int | None = None
    trade_model: TradeModelName | None = None
    store: int | None = None
    min_price: int | None = None
    max_price: int | None = None
    currency: str | None = None
    sort: SortName | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_nul_characters(cls, data: Any) -> Any:
        # built from raw query strings by the routes: a NUL (which PostgreSQL text cannot hold) is dropped, not
        # refused, so a search never fails on it
        if isinstance(data, dict):
            return {k: v.replace("\x00", "") if isinstance(v, str) else v for k, v in data.items()}
        return data

    @property
    def has_price(self) -> bool:
        return self.min_price is not None or self.max_price is not None

    @property
    def effective_currency(self) -> str | None:
        """The currency the results are restricted to, if any."""
        if self.currency:
            return self.currency
        return DEFAULT_PRICE_CURRENCY if self.has_price else None


class ProductCard(ReadSchema):
    """What a product card shows."""

    id: int
    title: str
    slug: str
    store_id: int
    store_name: str
    store_slug: str
    trade_model: TradeModelName
    min_price_amount: int
    max_price_amount: int
    currency: str
    moq: int | None = None
    thumb: str | None = Field(None, description="URL of the primary image's thumbnail, /media/...")
    created_at: datetime


class FacetValue(ReadSchema):
    id: int | str
    name: str
    count: int


class Facets(ReadSchema):
    category: list[FacetValue] = Field(
        default_factory=list,
        description="Top-level categories, then the children of the chosen category (when one is chosen).",
    )
    trade_model: list[FacetValue] = Field(default_factory=list)
    store: list[FacetValue] = Field(default_factory=list, description="The ten stores with most results.")
    currency: list[FacetValue] = Field(default_factory=list)


class SearchResult(ReadSchema):
    """One API page of results: pass ``next_cursor`` back as ``cursor`` for the next one."""

    items: list[ProductCard]
    next_cursor: str | None = None
    total: int
    total_capped: bool = Field(
        False,
        description="True when the words match more products than a search ranks and counts (1,000): `total` "
        "and the facet counts are then lower bounds, and the results are the best of those counted.",
    )
    facets: Facets


class SearchPage(ReadSchema):
    """One numbered page of results for the web."""

    items: list[ProductCard]
    total: int
    page: int
    pages: int
    per_page: int
    sort: SortName
    facets: Facets | None = None
    total_capped: bool = Field(False, description="As in ``SearchResult``: ``total`` is a lower bound.")
