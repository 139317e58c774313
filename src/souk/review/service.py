"""The review rules: who may review what and when, the seller's one reply, seller credit and reputation.

Flushes, never commits. One review per order line (a unique column, so a race gives one row and a 409); the
store ratings once per seller order; seller credit at most once per buyer, store and calendar month (a unique
constraint: of two racing reviews only one counts).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import get_store_for, require_user, require_writer
from souk.errors import Conflict, Invalid, NotFound, invalid_field
from souk.kit.clock import utcnow
from souk.kit.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from souk.kit.uploads import MediaStorage
from souk.models import CreditPoint, OrderLine, Review, ReviewPhoto, SellerOrder, Store, StoreRating, User
from souk.notification.service import notification_service
from souk.order.repository import OrderRepository
from souk.review.repository import STARS, ReviewRepository
from souk.review.schemas import (
    RatingSummary,
    ReplyCreate,
    Reputation,
    ReviewableLine,
    ReviewCreate,
    ReviewPhotoRead,
    ReviewRead,
)
from souk.trade.policy import get_policy

MAX_PHOTOS = 3
STORE_RATING_FIELDS = ("item_as_described", "communication", "shipping_speed")


def credit_of(rating: int) -> int:
    """Seller credit for one review: +1 for 4-5 stars, 0 for 3, -1 for 1-2."""
    if rating >= 4:
        return 1
    if rating == 3:
        return 0
    return -1


def shown_name(display_name: str) -> str:
    """ "Bea Buyer" -> "Bea B.": reviews show the first name and an initial."""
    parts = display_name.split()
    if not parts:
        return "A buyer"
    if len(parts) == 1:
        return parts[0]
    return f"{parts[0]} {parts[-1][0]}."


def _photo(photo: ReviewPhoto) -> ReviewPhotoRead:
    return ReviewPhotoRead(
        url=f"/media/{photo.path}",
        thumb_url=f"/media/{photo.thumb_path}",
        width=photo.width,
        height=photo.height,
    )


def _read(review: Review, name: str = "", title: str = "", photos: Sequence[ReviewPhoto] = ()) -> ReviewRead:
    read = ReviewRead.model_validate(review)
    return read.model_copy(
        update={"buyer_name": shown_name(name), "product_title": title, "photos": [_photo(p) for p in photos]}
    )


async def _reads(session: AsyncSession, rows: Sequence[tuple[Review, str, str]]) -> list[ReviewRead]:
    photos = await ReviewRepository(session).photos([r.id for r, _, _ in rows])
    return [_read(r, name, title, photos.get(r.id, ())) for r, name, title in rows]


def rating_summary(counts: Mapping[int, int]) -> RatingSummary:
    """Count, average (one decimal) and the histogram 5..1 from the number of reviews per stars (missing: 0)."""
    histogram = {stars: int(counts.get(stars, 0)) for stars in STARS}
    count = sum(histogram.values())
    average = round(sum(s * n for s, n in histogram.items()) / count, 1) if count else None
    return RatingSummary(count=count, average=average, histogram=histogram)


def credit_level(trade_model: str, points: int) -> str:
    """The label of the seller credit level that ``trade_model``'s policy gives ``points``."""
    return get_policy(trade_model).credit_level(points).label


class ReviewService:
    async def _reviewable(
        self, repo: ReviewRepository, buyer_id: int, line_id: int
    ) -> tuple[OrderLine, SellerOrder]:
        found = await repo.buyer_line(buyer_id, line_id)
        if found is None:
            raise NotFound("No such order line.", code="order_line_not_found")
        line, so = found
        if so.status != "completed" or so.completed_at is None:
            raise Conflict("You can review an item once the order is completed.", code="order_not_completed")
        policy = get_policy(so.trade_model)
        if utcnow() > so.completed_at + policy.review_window:
            raise Conflict(
                f"Reviews are open for {policy.review_window_days} days after completion.",
                code="review_window_closed",
            )
        if await repo.line_reviewed(line.id):
            raise Conflict("You have already reviewed this item.", code="already_reviewed")
        return line, so

    async def reviewable_line(self, session: AsyncSession, actor: Actor, line_id: int) -> ReviewableLine:
        """The buyer's line that may be reviewed now (the same 404/409 as ``create`` otherwise)."""
        buyer_id = require_user(actor)
        repo = ReviewRepository(session)
        line, so = await self._reviewable(repo, buyer_id, line_id)
        assert so.completed_at is not None
        return ReviewableLine(
            order_line_id=line.id,
            order_id=so.order_id,
            seller_order_number=so.number or "",
            product_id=line.product_id,
            title=line.title,
            options=dict(line.options or {}),
            rate_store=not await repo.store_rating_exists(so.id),
            review_by=so.completed_at + get_policy(so.trade_model).review_window,
        )

    def review_deadline(self, seller_order: SellerOrder) -> datetime | None:
        """Until when the lines of ``seller_order`` may be reviewed (None when it is not completed)."""
        if seller_order.status != "completed" or seller_order.completed_at is None:
            return None
        return seller_order.completed_at + get_policy(seller_order.trade_model).review_window

    async def store_reviews(
        self, session: AsyncSession, actor: Actor, store_id: int, *, page: int = 1, per_page: int = 20
    ) -> tuple[list[ReviewRead], int]:
        """A store's reviews for its people (404 for others), newest first, and how many there are."""
        await get_store_for(session, actor, store_id, "store:read")
        return await self.page(session, store_id=store_id, page=page, per_page=per_page)

    async def create(
        self,
        session: AsyncSession,
        actor: Actor,
        payload: ReviewCreate,
        photos: Sequence[bytes] = (),
        *,
        storage: MediaStorage | None = None,
    ) -> ReviewRead:
        """The buyer reviews one line of a completed seller order within the policy's review window, with up to
        3 photos (``storage`` is needed when there are photos)."""
        buyer_id = require_writer(actor)
        repo = ReviewRepository(session)
        line, so = await self._reviewable(repo, buyer_id, payload.order_line_id)
        await self._check_photos(photos, storage, already=0)
        now = utcnow()
        given = {f: getattr(payload, f) for f in STORE_RATING_FIELDS}
        rate_store = False
        if any(v is not None for v in given.values()):
            missing = {f: "rate all three, or none" for f, v in given.items() if v is None}
            if missing:
                raise Invalid(
                    "Rate the store on all three points.", code="store_rating_incomplete", fields=missing
                )
            rate_store = not await repo.store_rating_exists(so.id)
        review = Review(
            seller_order_id=so.id,
            order_line_id=line.id,
            product_id=line.product_id,
            store_id=so.store_id,
            buyer_user_id=buyer_id,
            rating=payload.rating,
            text=payload.text,
            created_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(review)
                await session.flush()
        except IntegrityError as exc:
            raise Conflict("You have already reviewed this item.", code="already_reviewed") from exc
        saved = await self._store_photos(session, review.id, photos, storage, start=0)
        if rate_store:
            try:
                async with session.begin_nested():
                    session.add(
                        StoreRating(
                            seller_order_id=so.id,
                            store_id=so.store_id,
                            buyer_user_id=buyer_id,
                            created_at=now,
                            **{f: int(v) for f, v in given.items() if v is not None},
                        )
                    )
                    await session.flush()
            except IntegrityError:
                pass  # another review of this seller order rated the store first
        try:
            async with session.begin_nested():
                session.add(
                    CreditPoint(
                        store_id=so.store_id,
                        buyer_user_id=buyer_id,
                        month=now.strftime("%Y-%m"),
                        review_id=review.id,
                        points=credit_of(payload.rating),
                        created_at=now,
                    )
                )
                await session.flush()
        except IntegrityError:
            pass  # this buyer's review of this store already counted this month
        for user_id in await OrderRepository(session).store_people(so.store_id):
            await notification_service.notify(
                session,
                user_id,
                "review.created",
                f"New {payload.rating}-star review of {line.title}",
                body=payload.text[:200],
                link=f"/seller/stores/{so.store_id}/reviews",
            )
        buyer_name = await session.scalar(select(User.display_name).where(User.id == buyer_id)) or ""
        return _read(review, buyer_name, line.title, saved)

    async def _check_photos(
        self, photos: Sequence[bytes], storage: MediaStorage | None, *, already: int
    ) -> None:
        if already + len(photos) > MAX_PHOTOS:
            raise invalid_field(
                "photos", f"add at most {MAX_PHOTOS} photos to a review", code="too_many_photos"
            )
        if photos and storage is None:
            raise ValueError("photos need the media storage")
        for data in photos:  # every file is checked before any is stored
            await asyncio.to_thread(storage.decode_image, data, "photos")  # type: ignore[union-attr]

    async def _store_photos(
        self,
        session: AsyncSession,
        review_id: int,
        photos: Sequence[bytes],
        storage: MediaStorage | None,
        *,
        start: int,
    ) -> list[ReviewPhoto]:
        rows: list[ReviewPhoto] = []
        for n, data in enumerate(photos):
            stored = await asyncio.to_thread(storage.save_image, data, subdir="reviews")  # type: ignore[union-attr]
            row = ReviewPhoto(
                review_id=review_id,
                position=start + n,
                path=stored.path,
                thumb_path=stored.thumb_path,
                width=stored.width,
                height=stored.height,
                content_type=stored.content_type,
                size_bytes=stored.size_bytes,
                created_at=utcnow(),
            )
            session.add(row)
            rows.append(row)
        if rows:
            await session.flush()
        return rows

    async def add_photos(
        self,
        session: AsyncSession,
        actor: Actor,
        review_id: int,
        photos: Sequence[bytes],
        *,
        storage: MediaStorage,
    ) -> ReviewRead:
        """The author adds photos to their review (at most 3 in all; 404 for anyone else)."""
        buyer_id = require_writer(actor)
        review = await session.get(Review, review_id)
        if review is None or review.buyer_user_id != buyer_id:
            raise NotFound("No such review.", code="review_not_found")
        if not photos:
            raise invalid_field("photos", "choose one or more image files")
        repo = ReviewRepository(session)
        current = (await repo.photos([review.id])).get(review.id, [])
        await self._check_photos(photos, storage, already=len(current))
        await self._store_photos(session, review.id, photos, storage, start=len(current))
        rows = await repo.rows(review_ids=[review.id])
        return (await _reads(session, rows))[0]

    async def reply(
        self,
        session: AsyncSession,
        actor: Actor,
        review_id: int,
        payload: ReplyCreate,
        *,
        store_id: int | None = None,
    ) -> ReviewRead:
        """The store's one reply to a review (404 for people outside the store, or when ``store_id`` is given
        and the review is not of that store; 409 on a second reply)."""
        require_writer(actor)
        review = await session.get(Review, review_id)
        if review is None or (store_id is not None and review.store_id != store_id):
            raise NotFound("No such review.", code="review_not_found")
        try:
            await get_store_for(session, actor, review.store_id, "catalog:write")
        except NotFound as exc:
            raise NotFound("No such review.", code="review_not_found") from exc
        if not await ReviewRepository(session).set_reply(review.id, payload.text):
            raise Conflict("This review already has your reply.", code="already_replied")
        rows = await ReviewRepository(session).rows(review_ids=[review.id])
        return (await _reads(session, rows))[0]

    async def browse(
        self,
        session: AsyncSession,
        *,
        product_id: int | None = None,
        store_id: int | None = None,
        rating: int | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[ReviewRead]:
        """Reviews of open stores newest first (anyone may read them), filtered by product, store and stars."""
        size = clamp_limit(limit)
        before = decode_cursor(cursor)
        before_id = None
        if before is not None:
            if len(before) != 1 or not isinstance(before[0], int):
                raise Invalid("cursor: is not a cursor this API issued", fields={"cursor": "is not valid"})
            before_id = before[0]
        rows = await ReviewRepository(session).rows(
            product_id=product_id,
            store_id=store_id,
            rating=rating,
            before_id=before_id,
            visible_only=True,
            limit=size + 1,
        )
        items = await _reads(session, rows[:size])
        next_cursor = encode_cursor([items[-1].id]) if len(rows) > size else None
        return Page[ReviewRead](items=items, next_cursor=next_cursor)

    async def page(
        self,
        session: AsyncSession,
        *,
        product_id: int | None = None,
        store_id: int | None = None,
        rating: int | None = None,
        page: int = 1,
        per_page: int = 10,
    ) -> tuple[list[ReviewRead], int]:
        """One numbered page of reviews (for the HTML pages) and the number of matching reviews."""
        repo = ReviewRepository(session)
        total = await repo.count(product_id=product_id, store_id=store_id, rating=rating)
        rows = await repo.rows(
            product_id=product_id,
            store_id=store_id,
            rating=rating,
            limit=per_page,
            offset=(max(page, 1) - 1) * per_page,
        )
        return await _reads(session, rows), total

    async def summary(
        self, session: AsyncSession, *, product_id: int | None = None, store_id: int | None = None
    ) -> RatingSummary:
        """Count, average (one decimal) and the histogram 5..1 of a product's or a store's reviews."""
        counts = await ReviewRepository(session).histogram(product_id=product_id, store_id=store_id)
        return rating_summary(counts)

    async def reputation(self, session: AsyncSession, store_id: int) -> Reputation:
        """A store's seller credit (points and the policy's level) and its rating averages."""
        store = await session.get(Store, store_id)
        if store is None or store.status != "active":
            raise NotFound("No such store.", code="store_not_found")
        repo = ReviewRepository(session)
        points = await repo.credit_points(store_id)
        described, communication, speed = await repo.store_rating_averages(store_id)
        return Reputation(
            store_id=store_id,
            points=points,
            level=get_policy(store.trade_model).credit_level(points).label,
            rating=await self.summary(session, store_id=store_id),
            item_as_described=described,
            communication=communication,
            shipping_speed=speed,
        )

    async def credit(self, session: AsyncSession, store_id: int, trade_model: str) -> tuple[int, str]:
        """A store's seller credit points and the level its trade policy gives them."""
        points = await ReviewRepository(session).credit_points(store_id)
        return points, credit_level(trade_model, points)

    async def reviewed_line_ids(self, session: AsyncSession, seller_order_ids: list[int]) -> set[int]:
        return await ReviewRepository(session).reviewed_line_ids(seller_order_ids)


review_service = ReviewService()
