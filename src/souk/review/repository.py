"""All SQL for reviews: no rules, no commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from souk.authz import visible_store_condition
from souk.kit.clock import utcnow
from souk.models import CreditPoint, OrderLine, Review, ReviewPhoto, SellerOrder, Store, StoreRating, User

STARS = (5, 4, 3, 2, 1)


def star_counts_query(
    *, product_id: int | None = None, store_id: int | SQLColumnExpression[Any] | None = None
) -> Select[*tuple[Any, ...]]:
    """One row, whatever the reviews: the number of a product's or a store's reviews with each number of
    stars, as the columns ``stars_5`` .. ``stars_1`` (an aggregate without GROUP BY, so it can be joined to
    another statement's row). ``store_id`` may be a SQL expression."""
    conditions: list[ColumnElement[bool]] = []
    if product_id is not None:
        conditions.append(Review.product_id == product_id)
    if store_id is not None:
        conditions.append(Review.store_id == store_id)
    return select(
        *(func.count(case((Review.rating == stars, Review.id))).label(f"stars_{stars}") for stars in STARS)
    ).where(*conditions)


def credit_points_query(store_id: int | SQLColumnExpression[Any]) -> Select[int]:
    """A store's seller credit points (0 without any) as one value; ``store_id`` may be a SQL expression
    (a correlated subquery)."""
    return select(func.coalesce(func.sum(CreditPoint.points), 0)).where(CreditPoint.store_id == store_id)


class ReviewRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def buyer_line(self, buyer_id: int, line_id: int) -> tuple[OrderLine, SellerOrder] | None:
        row = (
            await self.session.execute(
                select(OrderLine, SellerOrder)
                .join(SellerOrder, SellerOrder.id == OrderLine.seller_order_id)
                .where(OrderLine.id == line_id, SellerOrder.buyer_id == buyer_id)
            )
        ).first()
        return (row[0], row[1]) if row else None

    async def line_reviewed(self, line_id: int) -> bool:
        found = await self.session.scalar(select(Review.id).where(Review.order_line_id == line_id))
        return found is not None

    async def store_rating_exists(self, seller_order_id: int) -> bool:
        found = await self.session.scalar(
            select(StoreRating.id).where(StoreRating.seller_order_id == seller_order_id)
        )
        return found is not None

    async def reviewed_line_ids(self, seller_order_ids: list[int]) -> set[int]:
        if not seller_order_ids:
            return set()
        rows = await self.session.scalars(
            select(Review.order_line_id).where(Review.seller_order_id.in_(seller_order_ids))
        )
        return set(rows.all())

    async def set_reply(self, review_id: int, text: str) -> bool:
        """Sets the reply when there is none yet; False when one was already there."""
        result = await self.session.execute(
            update(Review)
            .where(Review.id == review_id, Review.reply_text.is_(None))
            .values(reply_text=text, replied_at=utcnow())
            .execution_options(synchronize_session="fetch")
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    @staticmethod
    def _conditions(
        product_id: int | None, store_id: int | None, rating: int | None
    ) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if product_id is not None:
            conditions.append(Review.product_id == product_id)
        if store_id is not None:
            conditions.append(Review.store_id == store_id)
        if rating is not None:
            conditions.append(Review.rating == rating)
        return conditions

    async def rows(
        self,
        *,
        product_id: int | None = None,
        store_id: int | None = None,
        rating: int | None = None,
        before_id: int | None = None,
        review_ids: list[int] | None = None,
        visible_only: bool = False,
        limit: int = 20,
        offset: int = 0,
    ) -> list[tuple[Review, str, str]]:
        """Reviews newest first, with the reviewer's display name and the product's title."""
        stmt = (
            select(Review, User.display_name, OrderLine.title)
            .join(User, User.id == Review.buyer_user_id)
            .join(OrderLine, OrderLine.id == Review.order_line_id)
        )
        stmt = stmt.where(*self._conditions(product_id, store_id, rating))
        if before_id is not None:
            stmt = stmt.where(Review.id < before_id)
        if review_ids is not None:
            stmt = stmt.where(Review.id.in_(review_ids))
        if visible_only:
            stmt = stmt.join(Store, Store.id == Review.store_id).where(visible_store_condition())
        rows = await self.session.execute(stmt.order_by(Review.id.desc()).limit(limit).offset(offset))
        return [(r[0], r[1], r[2]) for r in rows.all()]

    async def count(
        self, *, product_id: int | None = None, store_id: int | None = None, rating: int | None = None
    ) -> int:
        stmt = select(func.count(Review.id)).where(*self._conditions(product_id, store_id, rating))
        return int(await self.session.scalar(stmt) or 0)

    async def histogram(
        self, *, product_id: int | None = None, store_id: int | None = None
    ) -> dict[int, int]:
        stmt = (
            select(Review.rating, func.count(Review.id))
            .where(*self._conditions(product_id, store_id, None))
            .group_by(Review.rating)
        )
        rows = await self.session.execute(stmt)
        return {int(r[0]): int(r[1]) for r in rows.all()}

    async def credit_points(self, store_id: int) -> int:
        total = await self.session.scalar(credit_points_query(store_id))
        return int(total or 0)

    async def store_rating_averages(self, store_id: int) -> tuple[float | None, float | None, float | None]:
        row = (
            await self.session.execute(
                select(
                    func.avg(StoreRating.item_as_described),
                    func.avg(StoreRating.communication),
                    func.avg(StoreRating.shipping_speed),
                ).where(StoreRating.store_id == store_id)
            )
        ).one()
        return (
            None if row[0] is None else round(float(row[0]), 1),
            None if row[1] is None else round(float(row[1]), 1),
            None if row[2] is None else round(float(row[2]), 1),
        )

    async def photos(self, review_ids: list[int]) -> dict[int, list[ReviewPhoto]]:
        """The photos of each review, in order."""
        if not review_ids:
            return {}
        rows = await self.session.scalars(
            select(ReviewPhoto)
            .where(ReviewPhoto.review_id.in_(review_ids))
            .order_by(ReviewPhoto.review_id, ReviewPhoto.position)
        )
        found: dict[int, list[ReviewPhoto]] = {}
        for photo in rows.all():
            found.setdefault(photo.review_id, []).append(photo)
        return found
