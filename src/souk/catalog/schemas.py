"""Catalog payloads and read models.

Money is ``<name>_amount`` (integer minor units) next to ``currency``, in payloads and in read models alike.
Integers in JSON must be JSON numbers: ``true``, ``"1250"`` and ``12.5`` are refused (``12.0`` is the integer 12).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StrictBool

from souk.kit.schemas import MAX_ID, ReadSchema, Schema, Trimmed

if TYPE_CHECKING:
    from souk.catalog.repository import CategoryNodeData, ProductView, SkuView
    from souk.kit.uploads import MediaStorage
    from souk.models import ProductImage

MAX_PRICE_AMOUNT = 10**11
MAX_STOCK = 10**7
MAX_QUANTITY = 10**9
MAX_OPTIONS = 3
MAX_SKUS = 200
MAX_IMAGES = 10
MAX_TIERS = 10
MAX_ATTRIBUTES = 50
PRODUCT_STATUSES = ("draft", "active", "archived")
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def whole_number(value: Any) -> Any:
    # JSON numbers only: booleans and text are refused (HTML forms convert their text before validating)
    if isinstance(value, (bool, str)):
        raise ValueError("must be a whole number")
    return value


def _slug_shape(value: str) -> str:
    if not SLUG_PATTERN.match(value):
        raise ValueError("use lower-case letters, digits and '-' only")
    return value


_WHOLE = BeforeValidator(whole_number)
# constraints before the validator, so that the JSON schema shows them (exclusiveMinimum, maximum ...)
Price = Annotated[int, Field(gt=0, le=MAX_PRICE_AMOUNT, description="minor units, e.g. 1250 = 12.50"), _WHOLE]
StockQuantity = Annotated[int, Field(ge=0, le=MAX_STOCK), _WHOLE]
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY), _WHOLE]
Id = Annotated[int, Field(ge=1, le=MAX_ID), _WHOLE]
Position = Annotated[int, Field(ge=0, le=10_000), _WHOLE]
Weight = Annotated[int, Field(ge=0, le=10**8, description="grams"), _WHOLE]
LeadTime = Annotated[int, Field(ge=0, le=3650, description="days from order to dispatch"), _WHOLE]
ImagePosition = Annotated[
    int, Field(ge=0, le=MAX_IMAGES, description="0 makes the image the primary one"), _WHOLE
]
Delta = Annotated[int, Field(ge=-MAX_STOCK, le=MAX_STOCK), _WHOLE]  # a stock adjustment
Title = Annotated[str, Trimmed(200, min_length=1)]
Description = Annotated[str, Trimmed(20_000)]
OptionName = Annotated[str, Trimmed(40, min_length=1)]
OptionValue = Annotated[str, Trimmed(60, min_length=1)]
AttributeName = Annotated[str, Trimmed(60, min_length=1)]
AttributeValue = Annotated[str, Trimmed(200, min_length=1)]
CategoryName = Annotated[str, Trimmed(80, min_length=1)]
Slug = Annotated[str, Trimmed(100, min_length=1), AfterValidator(_slug_shape)]
AltText = Annotated[str, Trimmed(200)]
SkuCode = Annotated[str, Trimmed(64, min_length=1, pattern=r"^[^\s](.*[^\s])?$")]
Currency = Annotated[str, Trimmed(3, min_length=3, to_upper=True)]
ProductStatus = Literal["draft", "active", "archived"]


# --- categories -------------------------------------------------------------------------------------


class CategoryCreate(Schema):
    name: CategoryName
    slug: Slug | None = Field(
        default=None, description="lower-case words joined by '-'; made from the name when left out"
    )
    parent_id: Id | None = None
    position: Position = 0


class CategoryUpdate(Schema):
    """Rename (``name``, ``slug``), reorder (``position``) or move (``parent_id``; ``null`` = top level)."""

    name: CategoryName | None = None
    slug: Slug | None = None
    parent_id: Id | None = None
    position: Position | None = None


class CategoryRead(ReadSchema):
    id: int
    name: str
    slug: str
    parent_id: int | None
    position: int


class CategoryNode(CategoryRead):
    children: list[CategoryNode] = []

    @classmethod
    def of(cls, node: CategoryNodeData) -> CategoryNode:
        return cls(
            id=node.id,
            name=node.name,
            slug=node.slug,
            parent_id=node.parent_id,
            position=node.position,
            children=[cls.of(child) for child in node.children],
        )


class CategoryDetail(CategoryRead):
    path: list[CategoryRead] = Field(description="the ancestors, from the top level down to the parent")
    children: list[CategoryRead]


# --- products and variants --------------------------------------------------------------------------


class Attribute(Schema):
    name: AttributeName
    value: AttributeValue


class PriceTierIn(Schema):
    min_quantity: Quantity
    unit_price_amount: Price


class _SkuFields(Schema):
    code: SkuCode | None = Field(default=None, description="unique within the product; made up when left out")
    option_values: dict[OptionName, OptionValue] = Field(
        default_factory=dict, description='a value for each option name, e.g. {"Colour": "Red", "Size": "M"}'
    )
    price_amount: Price
    currency: Currency | None = Field(default=None, description="must be the store's currency when given")
    weight_grams: Weight | None = None


class SkuCreate(_SkuFields):
    stock: StockQuantity = Field(default=0, description="initial units on hand")


class SkuUpsert(_SkuFields):
    """A variant in a product update: with ``id`` an existing variant, without it a new one."""

    id: Id | None = None
    stock: StockQuantity | None = Field(default=None, description="initial units on hand (new variants only)")


class SkuUpdate(Schema):
    code: SkuCode | None = None
    option_values: dict[OptionName, OptionValue] | None = None
    price_amount: Price | None = None
    currency: Currency | None = None
    weight_grams: Weight | None = None
    position: Position | None = None
    is_active: StrictBool | None = None


class ProductCreate(Schema):
    title: Title
    description: Description = ""
    category_id: Id
    attributes: list[Attribute] = Field(default_factory=list, max_length=MAX_ATTRIBUTES)
    options: list[OptionName] = Field(
        default_factory=list, max_length=MAX_OPTIONS, description='option names, e.g. ["Colour", "Size"]'
    )
    skus: list[SkuCreate] = Field(default_factory=list, max_length=MAX_SKUS)
    currency: Currency | None = Field(default=None, description="must be the store's currency when given")
    # sourcing stores only
    moq: Quantity | None = Field(default=None, description="minimum order quantity (sourcing stores)")
    lead_time_days: LeadTime | None = None
    sample_price_amount: Price | None = None
    price_tiers: list[PriceTierIn] | None = Field(default=None, max_length=MAX_TIERS)


class ProductUpdate(Schema):
    """Only the fields sent change. ``skus``, when sent, is the full list of variants for sale: listed ids are
    kept (and updated), variants without ``id`` are added, active variants left out are removed (deactivated
    when they have stock history)."""

    title: Title | None = None
    description: Description | None = None
    category_id: Id | None = None
    attributes: list[Attribute] | None = Field(default=None, max_length=MAX_ATTRIBUTES)
    options: list[OptionName] | None = Field(default=None, max_length=MAX_OPTIONS)
    skus: list[SkuUpsert] | None = Field(default=None, max_length=MAX_SKUS)
    currency: Currency | None = None
    moq: Quantity | None = None
    lead_time_days: LeadTime | None = None
    sample_price_amount: Price | None = None
    price_tiers: list[PriceTierIn] | None = Field(default=None, max_length=MAX_TIERS)


class PriceTiersPut(Schema):
    tiers: list[PriceTierIn] = Field(max_length=MAX_TIERS, description="ascending min_quantity; [] clears")


class ImageUpdate(Schema):
    position: ImagePosition | None = None
    alt: AltText | None = None


class PriceTierRead(ReadSchema):
    min_quantity: int
    unit_price_amount: int


class SkuRead(ReadSchema):
    id: int
    product_id: int
    code: str
    option_values: dict[str, str]
    price_amount: int
    currency: str
    weight_grams: int | None
    position: int
    is_active: bool
    on_hand: int
    reserved: int
    available: int

    @classmethod
    def of(cls, view: SkuView) -> SkuRead:
        sku = view.sku
        return cls(
            id=sku.id,
            product_id=sku.product_id,
            code=sku.code,
            option_values=dict(sku.option_values or {}),
            price_amount=sku.price_amount,
            currency=sku.currency,
            weight_grams=sku.weight_grams,
            position=sku.position,
            is_active=sku.is_active,
            on_hand=view.on_hand,
            reserved=view.reserved,
            available=view.available,
        )


class SkuRemoved(ReadSchema):
    id: int
    outcome: Literal["deleted", "deactivated"] = Field(
        description="deactivated when the variant has stock history, which is kept"
    )


class ImageRead(ReadSchema):
    id: int
    position: int
    url: str
    thumb_url: str
    width: int
    height: int
    content_type: str
    size_bytes: int
    alt: str

    @classmethod
    def of(cls, image: ProductImage, storage: MediaStorage) -> ImageRead:
        return cls(
            id=image.id,
            position=image.position,
            url=storage.url(image.path) or "",
            thumb_url=storage.url(image.thumb_path) or "",
            width=image.width,
            height=image.height,
            content_type=image.content_type,
            size_bytes=image.size_bytes,
            alt=image.alt,
        )


class ProductRead(ReadSchema):
    id: int
    store_id: int
    trade_model: str
    category_id: int
    title: str
    slug: str
    description: str
    attributes: list[dict[str, Any]]
    options: list[str]
    status: str
    currency: str
    min_price_amount: int | None
    max_price_amount: int | None
    moq: int | None
    lead_time_days: int | None
    sample_price_amount: int | None
    price_tiers: list[PriceTierRead]
    skus: list[SkuRead]
    images: list[ImageRead]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: ProductView, storage: MediaStorage) -> ProductRead:
        p = view.product
        return cls(
            id=p.id,
            store_id=p.store_id,
            trade_model=view.store.trade_model,
            category_id=p.category_id,
            title=p.title,
            slug=p.slug,
            description=p.description,
            attributes=list(p.attributes or []),
            options=list(p.options or []),
            status=p.status,
            currency=p.currency,
            min_price_amount=p.min_price_amount,
            max_price_amount=p.max_price_amount,
            moq=p.moq,
            lead_time_days=p.lead_time_days,
            sample_price_amount=p.sample_price_amount,
            price_tiers=[PriceTierRead.model_validate(t) for t in view.tiers],
            skus=[SkuRead.of(s) for s in view.skus],
            images=[ImageRead.of(i, storage) for i in view.images],
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


class ProductPageRead(ReadSchema):
    items: list[ProductRead]
    next_cursor: str | None = None
