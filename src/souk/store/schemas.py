"""Stores: what the API and the forms accept and return."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, computed_field

from souk.kit.schemas import ReadSchema, Schema, StrictId, Trimmed
from souk.party.schemas import CountryCode, CurrencyCode

TradeModel = Literal["sourcing", "market", "mall", "crossborder"]
StoreStatus = Literal["pending_review", "active", "rejected", "suspended"]

StoreName = Annotated[str, Trimmed(100, min_length=1)]
BrandName = Annotated[str, Trimmed(100, min_length=1)]
Description = Annotated[str, Trimmed(5000)]


class StoreCreate(Schema):
    name: StoreName
    description: Description = ""
    country: CountryCode
    currency: CurrencyCode
    trade_model: TradeModel = "market"
    organization_id: StrictId | None = Field(
        default=None,
        description="Open the store for this organisation (required for all but market)",
    )
    brand_name: BrandName | None = Field(default=None, description="Mall stores: the brand they sell")


class StoreUpdate(Schema):
    name: StoreName | None = None
    description: Description | None = None
    country: CountryCode | None = None
    currency: CurrencyCode | None = None
    brand_name: BrandName | None = None


class StoreRead(ReadSchema):
    id: int
    slug: str
    name: str
    description: str
    logo_path: str | None = Field(default=None, exclude=True)
    country: str
    currency: str
    trade_model: TradeModel
    status: StoreStatus
    review_reason: str | None
    organization_id: int | None
    brand_name: str | None
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def logo_url(self) -> str | None:
        return f"/media/{self.logo_path}" if self.logo_path else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def url(self) -> str:
        return f"/s/{self.slug}"
