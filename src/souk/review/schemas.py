"""Review schemas: what a buyer sends, what a seller replies, what lists and reputations return."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from souk.kit.schemas import STRICT_INT, ReadSchema, Schema, StrictId, Trimmed

TEXT_MAX = 2000
Rating = Annotated[int, Field(ge=1, le=5), STRICT_INT]


class ReviewCreate(Schema):
    order_line_id: StrictId
    rating: Rating
    text: Annotated[str, Trimmed(TEXT_MAX)] = ""
    # the store ratings, given once per seller order (with its first review)
    item_as_described: Rating | None = None
    communication: Rating | None = None
    shipping_speed: Rating | None = None


class ReplyCreate(Schema):
    text: Annotated[str, Trimmed(TEXT_MAX, min_length=1)]


class ReviewPhotoRead(ReadSchema):
    url: str
    thumb_url: str
    width: int
    height: int


class ReviewRead(ReadSchema):
    id: int
    seller_order_id: int
    order_line_id: int
    product_id: int
    store_id: int
    rating: int
    text: str
    reply_text: str | None
    replied_at: datetime | None
    created_at: datetime
    # "Bea B.": the reviewer's shown name
    buyer_name: str = ""
    product_title: str = ""
    photos: list[ReviewPhotoRead] = []


class RatingSummary(ReadSchema):
    count: int
    # one decimal, None without reviews
    average: float | None
    # stars (5..1) -> number of reviews
    histogram: dict[int, int]

    def percent(self, stars: int) -> int:
        return round(100 * self.histogram.get(stars, 0) / self.count) if self.count else 0


class Reputation(ReadSchema):
    store_id: int
    points: int
    level: str
    rating: RatingSummary
    item_as_described: float | None
    communication: float | None
    shipping_speed: float | None


class ReviewableLine(ReadSchema):
    """An order line the buyer may review now (for the review form)."""

    order_line_id: int
    order_id: int
    seller_order_number: str
    product_id: int
    title: str
    options: dict[str, str]
    # the store ratings are asked with the first review of a seller order
    rate_store: bool
    review_by: datetime
