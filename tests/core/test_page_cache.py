"""The anonymous page cache (souk.web.page_cache, ADR 0009): storefront pages of visitors without a session or
guest cart are kept a moment per process, each answer with the visitor's own CSRF token; nothing personal is
ever cached or served from the cache."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from fixtures.core import login_as
from souk.app import create_app
from souk.config import Settings
from souk.deps import get_session
from souk.web import page_cache
from souk.web.page_cache import PLACEHOLDER, AnonymousPageCache
from souk.web.render import CSRF_COOKIE

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def cached_app(settings: Settings) -> Any:
    return create_app(settings.model_copy(update={"page_cache_seconds": 30}))


@pytest.fixture
async def visitor(cached_app: Any, session: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    """A browser with no cookies at all, on an app whose page cache is on, inside the test's transaction."""

    async def test_session() -> AsyncIterator[AsyncSession]:
        yield session
        await session.commit()

    cached_app.dependency_overrides[get_session] = test_session
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=cached_app), base_url="http://test") as c:
        yield c
    cached_app.dependency_overrides.pop(get_session, None)


def cache_of(app: Any) -> AnonymousPageCache:
    layer = app.middleware_stack
    while not isinstance(layer, AnonymousPageCache):
        layer = layer.app
    return layer


def tokens(page: str) -> set[str]:
    return set(TOKEN.findall(page))


async def test_an_anonymous_product_page_is_served_from_the_cache_with_each_visitor_s_own_token(
    visitor: httpx.AsyncClient, cached_app: Any, listing_factory: Any
) -> None:
    product = await listing_factory(title="Cached kettle", price=2500)
    url = f"/p/{product.id}/{product.slug}"
    first = await visitor.get(url)
    assert first.status_code == 200 and "Cached kettle" in first.text
    cache = cache_of(cached_app)
    assert (cache.hits, cache.misses) == (0, 1)
    first_token = first.cookies.get(CSRF_COOKIE)
    assert first_token and tokens(first.text) == {first_token}

    # the same browser again: from the cache, with the token of its cookie (no new cookie)
    again = await visitor.get(url)
    assert again.status_code == 200 and (cache.hits, cache.misses) == (1, 1)
    assert tokens(again.text) == {first_token} and CSRF_COOKIE not in again.cookies
    assert again.headers["content-type"].startswith("text/html")
    assert again.headers["content-security-policy"] and int(again.headers["content-length"]) == len(
        again.content
    )

    # another browser: the same page from the cache, with a token of its own, set as its cookie
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=cached_app), base_url="http://test"
    ) as other:
        theirs = await other.get(url)
    assert (cache.hits, cache.misses) == (2, 1)
    their_token = theirs.cookies.get(CSRF_COOKIE)
    assert their_token and their_token != first_token and tokens(theirs.text) == {their_token}
    for page in (first, again, theirs):
        assert PLACEHOLDER not in page.text
    assert first.text.replace(first_token, "T") == theirs.text.replace(their_token, "T")


async def test_the_token_of_a_cached_page_is_accepted_by_its_form(
    visitor: httpx.AsyncClient, cached_app: Any, listing_factory: Any
) -> None:
    product = await listing_factory(title="Form kettle", price=2500, skus=[{"price": 2500, "stock": 5}])
    url = f"/p/{product.id}/{product.slug}"
    await visitor.get(url)
    page = await visitor.get(url)
    assert cache_of(cached_app).hits == 1
    (token,) = tokens(page.text)
    sku_id = int(re.search(r'name="sku_id" value="(\d+)"', page.text).group(1))  # type: ignore[union-attr]
    added = await visitor.post("/cart/items", data={"csrf_token": token, "sku_id": sku_id, "quantity": 1})
    assert added.status_code in (302, 303), added.text
    forged = await visitor.post("/cart/items", data={"csrf_token": "x.y", "sku_id": sku_id, "quantity": 1})
    assert forged.status_code == 403


async def test_personal_pages_are_never_cached(
    visitor: httpx.AsyncClient,
    cached_app: Any,
    session: AsyncSession,
    listing_factory: Any,
    user_factory: Any,
) -> None:
    product = await listing_factory(title="Personal kettle", price=2500)
    url = f"/p/{product.id}/{product.slug}"
    await visitor.get(url)  # an anonymous copy is in the cache
    cache = cache_of(cached_app)
    buyer = await user_factory(display_name="Mira Buyer")
    await login_as(visitor, session, buyer)
    mine = await visitor.get(url)
    assert mine.status_code == 200 and "Mira Buyer" in mine.text
    assert (
        cache.hits == 0
    )  # a session cookie: rendered for this visitor, not served from nor put in the cache
    # a guest cart cookie or an API token: not from the cache either
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=cached_app), base_url="http://test"
    ) as guest:
        await guest.get(url, headers={"Cookie": "souk_cart=abc"})
        await guest.get(url, headers={"Authorization": "Bearer souk_x"})
    assert cache.hits == 0


async def test_a_write_empties_the_cache_and_entries_expire(
    visitor: httpx.AsyncClient, cached_app: Any, listing_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    product = await listing_factory(title="Fresh kettle", price=2500)
    url = f"/p/{product.id}/{product.slug}"
    await visitor.get(url)
    await visitor.get(url)
    cache = cache_of(cached_app)  # the middleware stack is built by the first request
    assert (cache.hits, cache.misses) == (1, 1)
    await visitor.post("/logout", data={})  # any state-changing request, whatever its answer
    await visitor.get(url)
    assert (cache.hits, cache.misses) == (1, 2)
    now = page_cache.time.monotonic()
    monkeypatch.setattr(page_cache.time, "monotonic", lambda: now + 31)
    await visitor.get(url)
    assert (cache.hits, cache.misses) == (1, 3)


async def test_the_key_is_path_query_and_locale_and_only_good_pages_are_kept(
    visitor: httpx.AsyncClient, cached_app: Any, listing_factory: Any
) -> None:
    product = await listing_factory(title="Keyed kettle", price=2500)
    url = f"/p/{product.id}/{product.slug}"
    await visitor.get(url)
    cache = cache_of(cached_app)
    await visitor.get(url + "?image=2")
    await visitor.get(url, headers={"Accept-Language": "de-DE"})
    assert (cache.hits, cache.misses) == (0, 3) and len(cache.entries) == 3
    missing = await visitor.get("/p/999999/none")
    assert missing.status_code == 404
    assert len(cache.entries) == 3  # an error page is not kept
    assert PLACEHOLDER not in missing.text
    await visitor.get("/cart")  # not a storefront page: never cached
    assert len(cache.entries) == 3
