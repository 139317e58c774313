"""Review pages: the buyer's form, the seller's list with replies, and the reviews on product and store pages."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from sqlalchemy import select

from fixtures.core import form, login_as
from fixtures.party import png_bytes
from souk.kit.clock import clock
from souk.models import Product, Review, ReviewPhoto, Store, User
from souk.review.schemas import ReplyCreate, ReviewCreate
from souk.review.service import review_service


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


async def _review(session, b, rating: int, text: str) -> int:
    read = await review_service.create(
        session, b.buyer, ReviewCreate(order_line_id=b.line_id, rating=rating, text=text)
    )
    return read.id


async def _urls(session, b) -> tuple[str, str]:
    product = await session.get(Product, b.product_id)
    store = await session.get(Store, b.store_id)
    return f"/p/{product.id}/{product.slug}", f"/s/{store.slug}"


class TestBuyerForm:
    async def test_review_from_the_order_page(self, client, session, bought):
        b = await bought()
        await login_as(client, session, await session.get(User, b.market.buyer_id))
        await session.commit()
        page = await client.get(f"/orders/{b.order_id}")
        assert f'href="/reviews/new?line={b.line_id}"' in page.text
        page = await client.get(f"/reviews/new?line={b.line_id}")
        assert page.status_code == 200
        text = text_of(page.text)
        assert "Review Thing 1" in text and "Rate the store" in text
        assert page.text.count('type="radio" name="rating"') == 5

        # without the CSRF token nothing is written
        r = await client.post(f"/reviews/new?line={b.line_id}", data={"rating": "5", "text": "x"})
        assert r.status_code == 403
        # bad input re-renders the form with the errors and the values typed
        r = await client.post(
            f"/reviews/new?line={b.line_id}", data=form(client, text="Half", communication="4")
        )
        assert r.status_code == 422
        text = text_of(r.text)
        assert "Half" in r.text and "rating" in text.lower()
        r = await client.post(
            f"/reviews/new?line={b.line_id}",
            data=form(
                client, rating="4", text="Solid", item_as_described="5", communication="4", shipping_speed="5"
            ),
            files=[("photos", ("p.png", png_bytes(), "image/png"))],
        )
        assert r.status_code == 303 and r.headers["location"] == f"/orders/{b.order_id}"
        review = await session.scalar(select(Review).where(Review.order_line_id == b.line_id))
        assert (review.rating, review.text) == (4, "Solid")
        photo = await session.scalar(select(ReviewPhoto).where(ReviewPhoto.review_id == review.id))
        product_url, _ = await _urls(session, b)
        assert f'src="/media/{photo.thumb_path}"' in (await client.get(product_url)).text
        assert (await client.get(f"/reviews/new?line={b.line_id}")).status_code == 409
        # the order page no longer offers to review that line
        assert f'href="/reviews/new?line={b.line_id}"' not in (await client.get(f"/orders/{b.order_id}")).text

    async def test_no_link_after_the_window_and_404_for_others(self, client, session, bought, user_factory):
        b = await bought()
        stranger_id = (await user_factory()).id
        clock.advance(timedelta(days=31))
        await login_as(client, session, await session.get(User, b.market.buyer_id))
        await session.commit()
        page = await client.get(f"/orders/{b.order_id}")
        assert page.status_code == 200 and "Thing 1" in page.text
        assert "/reviews/new?line=" not in page.text
        assert (await client.get(f"/reviews/new?line={b.line_id}")).status_code == 409
        await login_as(client, session, await session.get(User, stranger_id))
        await session.commit()
        assert (await client.get(f"/reviews/new?line={b.line_id}")).status_code == 404
        assert (await client.get("/reviews/new?line=abc")).status_code == 404


class TestSellerPage:
    async def test_list_and_reply_once(self, client, session, bought):
        b = await bought()
        review_id = await _review(session, b, 2, "Took long")
        await login_as(client, session, await session.get(User, b.seller.user_id))
        await session.commit()
        page = await client.get(f"/seller/stores/{b.store_id}/reviews")
        assert page.status_code == 200
        text = text_of(page.text)
        assert "Took long" in text and "Bea B." in text and "New seller" in text
        assert f"/seller/stores/{b.store_id}/reviews/{review_id}/reply" in page.text
        url = f"/seller/stores/{b.store_id}/reviews/{review_id}/reply"
        assert (await client.post(url, data={"text": "Sorry"})).status_code == 403
        r = await client.post(url, data=form(client, text=""))
        assert r.status_code == 422
        r = await client.post(url, data=form(client, text="Sorry, the courier was slow"))
        assert r.status_code == 303
        page = await client.get(f"/seller/stores/{b.store_id}/reviews")
        assert "Your reply: Sorry, the courier was slow" in text_of(page.text)
        assert url not in page.text
        assert (await client.post(url, data=form(client, text="Again"))).status_code == 409

    async def test_other_stores_get_404(self, client, session, bought):
        b = await bought()
        other = await bought()
        review_id = await _review(session, b, 5, "Fine")
        await login_as(client, session, await session.get(User, other.seller.user_id))
        await session.commit()
        assert (await client.get(f"/seller/stores/{b.store_id}/reviews")).status_code == 404
        r = await client.post(
            f"/seller/stores/{other.store_id}/reviews/{review_id}/reply", data=form(client, text="Hi")
        )
        assert r.status_code == 404


class TestStorefront:
    async def test_no_stars_without_reviews(self, client, session, bought):
        b = await bought()
        product_url, store_url = await _urls(session, b)
        await session.commit()
        for url in (product_url, store_url):
            page = await client.get(url)
            assert page.status_code == 200
            assert "★" not in page.text and "No reviews yet." in text_of(page.text)

    async def test_averages_histogram_filter_and_pages(self, client, session, bought):
        first = await bought()
        m = first.market
        orders = [first] + [await bought(m) for _ in range(11)]
        ratings = [5, 5, 4, 1, 5, 3, 5, 5, 4, 5, 5, 2]
        for b, stars in zip(orders, ratings, strict=True):
            await _review(session, b, stars, f"[r{b.line_id}]")
        last_id = await session.scalar(select(Review.id).where(Review.order_line_id == orders[-1].line_id))
        await review_service.reply(session, first.seller, last_id, ReplyCreate(text="Thanks for telling us"))
        product_url, store_url = await _urls(session, first)
        await session.commit()

        page = await client.get(product_url)
        text = text_of(page.text)
        # 49 / 12 = 4.08
        assert "4.1 out of 5 · 12 reviews" in text
        assert "5 stars 7" in text and "4 stars 2" in text and "3 stars 1" in text and "1 star 1" in text
        assert '<rect width="58"' in page.text  # 7 of 12
        # newest first, ten per page, with the seller's reply
        newest = orders[-1].line_id
        assert text.index(f"[r{newest}]") < text.index(f"[r{orders[-2].line_id}]")
        assert "Seller's reply: Thanks for telling us" in text
        assert f"[r{orders[0].line_id}]" not in text and "Page 1 of 2" in text
        page2 = text_of((await client.get(product_url + "?rpage=2")).text)
        assert f"[r{orders[0].line_id}]" in page2 and f"[r{newest}]" not in page2
        # the filter by stars
        filtered = text_of((await client.get(product_url + "?rating=1")).text)
        assert f"[r{orders[3].line_id}]" in filtered and f"[r{orders[0].line_id}]" not in filtered
        assert "No 2-star" not in filtered
        assert "No 3-star reviews yet." not in text_of((await client.get(product_url + "?rating=3")).text)
        # the store card: the credit level (one buyer in one month: 1 point) and the rating
        assert "New seller" in text and "4.1 (12 reviews)" in text

        store_text = text_of((await client.get(store_url + "?rating=5")).text)
        assert "4.1 out of 5 · 12 reviews" in store_text and "New seller" in store_text
        assert f"[r{orders[0].line_id}]" in store_text
        assert f"[r{orders[3].line_id}]" not in store_text
