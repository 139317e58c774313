"""Review rules: when a buyer may review, once per line, the seller's one reply, seller credit and levels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from fixtures.factories import actor_of
from fixtures.party import png_bytes
from souk.errors import Conflict, Invalid, NotFound
from souk.kit.clock import clock
from souk.models import CreditPoint, Notification, Review, ReviewPhoto, StoreRating
from souk.review.schemas import ReplyCreate, ReviewCreate
from souk.review.service import review_service
from souk.trade.market.policy import POLICY as MARKET


def _review(line_id: int, rating: int = 5, text: str = "Great", **extra: int) -> ReviewCreate:
    return ReviewCreate.model_validate({"order_line_id": line_id, "rating": rating, "text": text, **extra})


async def _points(session, store_id: int) -> list[int]:
    rows = await session.scalars(
        select(CreditPoint.points).where(CreditPoint.store_id == store_id).order_by(CreditPoint.id)
    )
    return list(rows.all())


class TestWhoAndWhen:
    async def test_review_within_the_window_with_store_ratings(self, session, bought):
        b = await bought()
        clock.advance(timedelta(days=14))
        read = await review_service.create(
            session,
            b.buyer,
            _review(b.line_id, 4, "Fits well", item_as_described=5, communication=4, shipping_speed=3),
        )
        assert (read.rating, read.text, read.product_id, read.store_id) == (
            4,
            "Fits well",
            b.product_id,
            b.store_id,
        )
        rating = await session.scalar(
            select(StoreRating).where(StoreRating.seller_order_id == b.seller_order_id)
        )
        assert (rating.item_as_described, rating.communication, rating.shipping_speed) == (5, 4, 3)
        note = await session.scalar(
            select(Notification).where(
                Notification.kind == "review.created", Notification.user_id == b.seller.user_id
            )
        )
        assert note.title == "New 4-star review of Thing 1"
        assert note.link == f"/seller/stores/{b.store_id}/reviews"

    async def test_after_the_window_is_refused(self, session, bought):
        b = await bought()
        clock.advance(timedelta(days=15, minutes=1))
        with pytest.raises(Conflict) as err:
            await review_service.create(session, b.buyer, _review(b.line_id))
        assert err.value.code == "review_window_closed"
        assert await session.scalar(select(func.count(Review.id))) == 0

    async def test_before_completion_is_refused(self, session, bought):
        b = await bought(complete=False)
        with pytest.raises(Conflict) as err:
            await review_service.create(session, b.buyer, _review(b.line_id))
        assert err.value.code == "order_not_completed"

    async def test_second_review_of_a_line_is_a_conflict(self, session, bought):
        b = await bought()
        await review_service.create(session, b.buyer, _review(b.line_id))
        with pytest.raises(Conflict) as err:
            await review_service.create(session, b.buyer, _review(b.line_id, 1))
        assert err.value.code == "already_reviewed"

    async def test_other_buyer_gets_404(self, session, bought, user_factory):
        b = await bought()
        stranger = actor_of(await user_factory())
        with pytest.raises(NotFound):
            await review_service.create(session, stranger, _review(b.line_id))
        with pytest.raises(NotFound):
            await review_service.create(session, b.seller, _review(b.line_id))

    async def test_partial_store_ratings_name_the_missing_fields(self, session, bought):
        b = await bought()
        with pytest.raises(Invalid) as err:
            await review_service.create(session, b.buyer, _review(b.line_id, item_as_described=5))
        assert set(err.value.fields) == {"communication", "shipping_speed"}

    def test_bad_rating_and_text_are_refused_by_the_schema(self):
        from pydantic import ValidationError

        with pytest.raises(ValidationError):
            _review(1, 6)
        with pytest.raises(ValidationError):
            _review(1, 0)
        with pytest.raises(ValidationError):
            _review(1, 5, "x" * 2001)


class TestReply:
    async def test_seller_replies_once(self, session, bought):
        b = await bought()
        review = await review_service.create(session, b.buyer, _review(b.line_id, 2, "Late"))
        read = await review_service.reply(session, b.seller, review.id, ReplyCreate(text="Sorry about that"))
        assert read.reply_text == "Sorry about that" and read.replied_at is not None
        with pytest.raises(Conflict) as err:
            await review_service.reply(session, b.seller, review.id, ReplyCreate(text="Again"))
        assert err.value.code == "already_replied"

    async def test_people_of_other_stores_get_404(self, session, bought):
        b = await bought()
        other = await bought()
        review = await review_service.create(session, b.buyer, _review(b.line_id))
        with pytest.raises(NotFound):
            await review_service.reply(session, other.seller, review.id, ReplyCreate(text="Hi"))
        with pytest.raises(NotFound):
            await review_service.reply(session, b.buyer, review.id, ReplyCreate(text="Hi"))


class TestCredit:
    @pytest.mark.parametrize(("stars", "points"), [(5, 1), (4, 1), (3, 0), (2, -1), (1, -1)])
    async def test_points_per_rating(self, session, bought, stars, points):
        b = await bought()
        await review_service.create(session, b.buyer, _review(b.line_id, stars))
        assert await _points(session, b.store_id) == [points]
        assert (await review_service.reputation(session, b.store_id)).points == points

    async def test_once_per_buyer_store_and_month(self, session, bought):
        clock.freeze(datetime(2027, 3, 25, 12, tzinfo=UTC))
        first = await bought()
        second = await bought(first.market)
        third = await bought(first.market)
        assert second.store_id == first.store_id
        await review_service.create(session, first.buyer, _review(first.line_id, 5))
        await review_service.create(session, first.buyer, _review(second.line_id, 1))
        assert await _points(session, first.store_id) == [1]
        clock.advance(timedelta(days=10))  # April: another month counts again
        await review_service.create(session, first.buyer, _review(third.line_id, 5))
        assert await _points(session, first.store_id) == [1, 1]
        rep = await review_service.reputation(session, first.store_id)
        assert rep.points == 2 and rep.rating.count == 3 and rep.rating.average == 3.7

    async def test_level_follows_the_policy_bands(self, session, bought):
        clock.freeze(datetime(2027, 1, 15, 12, tzinfo=UTC))
        b = await bought()
        assert (await review_service.reputation(session, b.store_id)).level == "New seller"
        line_ids = [b.line_id]
        for month in range(4):
            await review_service.create(session, b.buyer, _review(line_ids[-1], 5))
            rep = await review_service.reputation(session, b.store_id)
            assert rep.points == month + 1
            assert rep.level == MARKET.credit_level(month + 1).label
            clock.advance(timedelta(days=31))
            line_ids.append((await bought(b.market)).line_id)
        # the market bands: 0-3 "New seller", 4-10 "1 heart"
        assert rep.level == "1 heart"


class TestPhotos:
    async def test_up_to_three_photos(self, session, bought, app):
        storage = app.state.storage
        b = await bought()
        with pytest.raises(Invalid) as err:
            await review_service.create(
                session, b.buyer, _review(b.line_id), [png_bytes()] * 4, storage=storage
            )
        assert err.value.fields == {"photos": "add at most 3 photos to a review"}
        with pytest.raises(Invalid) as err:
            await review_service.create(
                session, b.buyer, _review(b.line_id), [b"not an image"], storage=storage
            )
        assert "photos" in err.value.fields
        assert await session.scalar(select(func.count(Review.id))) == 0
        read = await review_service.create(
            session, b.buyer, _review(b.line_id), [png_bytes(), png_bytes(32, 32)], storage=storage
        )
        assert len(read.photos) == 2 and read.photos[0].url.startswith("/media/reviews/")
        assert storage.absolute(read.photos[0].url.removeprefix("/media/")).exists()
        rows = await session.scalars(select(ReviewPhoto.position).where(ReviewPhoto.review_id == read.id))
        assert sorted(rows.all()) == [0, 1]
        more = await review_service.add_photos(session, b.buyer, read.id, [png_bytes()], storage=storage)
        assert len(more.photos) == 3
        with pytest.raises(Invalid):
            await review_service.add_photos(session, b.buyer, read.id, [png_bytes()], storage=storage)
        with pytest.raises(NotFound):
            await review_service.add_photos(session, b.seller, read.id, [png_bytes()], storage=storage)
