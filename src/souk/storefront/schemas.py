"""Read models of the public pages: what each page shows, already decided (prices, stock, variants)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from souk.kit.schemas import ReadSchema
from souk.review.schemas import RatingSummary, ReviewRead
from souk.search.schemas import ProductCard, SearchFilters, SearchPage, TradeModelName


class CategoryLink(ReadSchema):
    id: int
    name: str
    slug: str


class CategoryNode(CategoryLink):
    children: list[CategoryLink] = Field(default_factory=list)


class HomePage(ReadSchema):
    categories: list[CategoryNode]
    newest: list[ProductCard]


class Listing(ReadSchema):
    """A search, category or trade-model page."""

    filters: SearchFilters
    result: SearchPage
    category: CategoryLink | None = None
    # the chosen category and its ancestors, from the top (breadcrumbs)
    trail: list[CategoryLink] = Field(default_factory=list)
    # slugs of the categories in the facets, for /c/<slug> links
    category_slugs: dict[int, str] = Field(default_factory=dict)
    store_name: str | None = None


class ReviewsView(ReadSchema):
    """The reviews section of a product or store page: the summary, one page of reviews (newest first)."""

    summary: RatingSummary
    items: list[ReviewRead]
    # the star filter (``?rating=5``) and the page (``?rpage=2``) of the reviews matching it
    rating: int | None = None
    page: int = 1
    pages: int = 1
    total: int = 0


class StoreCard(ReadSchema):
    id: int
    slug: str
    name: str
    description: str
    trade_model: TradeModelName
    country: str
    country_name: str
    currency: str
    logo: str | None = None
    brand_name: str | None = None
    verified_business: bool = False
    official_brand: bool = False
    status: str
    created_at: datetime
    # seller credit (points and the policy's level) and the average of the store's reviews
    credit_points: int = 0
    credit_level: str | None = None
    rating_average: float | None = None
    rating_count: int = 0


class ImageView(ReadSchema):
    url: str
    thumb: str
    alt: str
    width: int
    height: int


class SkuView(ReadSchema):
    id: int
    code: str
    options: dict[str, str]
    price_amount: int
    available: int
    stock_label: str


class OptionValueView(ReadSchema):
    value: str
    # "available", "soldout" (SKUs exist, none in stock) or "missing" (no SKU with the other choices)
    state: str
    selected: bool
    # the query string that selects this value (with the other choices kept)
    query: dict[str, str]


class OptionView(ReadSchema):
    name: str
    chosen: str | None
    values: list[OptionValueView]


class TierView(ReadSchema):
    min_quantity: int
    max_quantity: int | None
    unit_price_amount: int


class AttributeView(ReadSchema):
    name: str
    value: str


class ProductView(ReadSchema):
    id: int
    title: str
    slug: str
    description: str
    attributes: list[AttributeView]
    trade_model: TradeModelName
    currency: str
    status: str
    # the shown price: the selected SKU's, else the range of the SKUs matching the choices so far
    price_low: int | None
    price_high: int | None
    # sourcing: the lowest unit price at any quantity ("from US$2.10 / piece")
    from_price: int | None
    moq: int | None
    lead_time_days: int | None
    sample_price_amount: int | None
    tiers: list[TierView]
    images: list[ImageView]
    image_index: int
    skus: list[SkuView]
    options: list[OptionView]
    selected: SkuView | None
    # the buyer chose option values that no SKU has together
    combination_missing: bool = False
    available: int
    stock_label: str
    # "in", "low" or "out"
    stock_level: str
    # how many can be ordered at once: at least the MOQ, at most what is in stock
    min_quantity: int
    store: StoreCard
    trail: list[CategoryLink]
    created_at: datetime
    # shown to the store's own people only: the public cannot see this product
    preview: bool = False
    reviews: ReviewsView | None = None


class StorePage(ReadSchema):
    store: StoreCard
    q: str
    result: SearchPage
    preview: bool = False
    reviews: ReviewsView | None = None
