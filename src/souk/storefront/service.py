"""The storefront's rules: what the public may see, which variant is selected, what a price or stock line says.

Public pages show only what buyers may see: an active product with an active SKU in an active store. The
store's own people also see their drafts and a store under review, marked as a preview; everyone else
gets 404, the same as for something that does not exist.
"""

from __future__ import annotations

from typing import Any

from babel import Locale
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.errors import NotFound
from souk.models import Product, Store
from souk.review.repository import STARS
from souk.review.schemas import RatingSummary, ReviewRead
from souk.review.service import credit_level, rating_summary, review_service
from souk.search.schemas import SearchFilters
from souk.search.service import CategoryIndex, CategoryRef, search_service
from souk.storefront import repository
from souk.storefront.schemas import (
    AttributeView,
    CategoryLink,
    CategoryNode,
    HomePage,
    ImageView,
    Listing,
    OptionValueView,
    OptionView,
    ProductView,
    ReviewsView,
    SkuView,
    StoreCard,
    StorePage,
    TierView,
)

LOW_STOCK = 5
HOME_PRODUCTS = 24
STORE_PAGE_SIZE = 24
REVIEWS_PAGE_SIZE = 10


def stock_label(available: int) -> str:
    if available <= 0:
        return "Out of stock"
    if available <= LOW_STOCK:
        return f"Only {available} left"
    return "In stock"


def stock_level(available: int) -> str:
    if available <= 0:
        return "out"
    return "low" if available <= LOW_STOCK else "in"


def country_name(code: str) -> str:
    return str(Locale.parse("en").territories.get(code, code))


def _link(ref: CategoryRef) -> CategoryLink:
    return CategoryLink(id=ref.id, name=ref.name, slug=ref.slug)


def _store_card(store: Store, organization_status: str | None) -> StoreCard:
    return StoreCard(
        id=store.id,
        slug=store.slug,
        name=store.name,
        description=store.description or "",
        trade_model=store.trade_model,  # type: ignore[arg-type]
        country=store.country,
        country_name=country_name(store.country),
        currency=store.currency,
        logo=f"/media/{store.logo_path}" if store.logo_path else None,
        brand_name=store.brand_name,
        verified_business=store.organization_id is not None and organization_status == "approved",
        official_brand=store.trade_model == "mall",
        status=store.status,
        created_at=store.created_at,
    )


def _attributes(raw: Any) -> list[AttributeView]:
    out: list[AttributeView] = []
    if isinstance(raw, list):
        for item in raw:
            if isinstance(item, dict) and item.get("name") and item.get("value") not in (None, ""):
                out.append(AttributeView(name=str(item["name"]), value=str(item["value"])))
    return out


class _Variants:
    """Which SKU the buyer's choices select, and the state of every option value."""

    def __init__(self, product: Product, skus: list[SkuView], sku_id: int | None, choices: dict[str, str]):
        self.skus = skus
        names = [str(n) for n in (product.options or [])]
        for sku in skus:
            names.extend(n for n in sku.options if n not in names)
        self.names = names
        self.values: dict[str, list[str]] = {n: [] for n in names}
        for sku in skus:
            for name in names:
                value = sku.options.get(name)
                if value is not None and value not in self.values[name]:
                    self.values[name].append(value)

        self.selected = next((s for s in skus if s.id == sku_id), None)
        if self.selected is not None:
            self.chosen = {n: v for n, v in self.selected.options.items() if n in self.values}
        else:
            self.chosen = {n: v for n, v in choices.items() if n in self.values and v in self.values[n]}
            matching = self.matching(self.chosen)
            if len(skus) == 1:
                self.selected = skus[0]
                self.chosen = {n: v for n, v in skus[0].options.items() if n in self.values}
            elif names and len(self.chosen) == len(names) and len(matching) == 1:
                self.selected = matching[0]

    def matching(self, chosen: dict[str, str]) -> list[SkuView]:
        return [s for s in self.skus if all(s.options.get(n) == v for n, v in chosen.items())]

    def options(self) -> list[OptionView]:
        if not self.names:
            if len(self.skus) < 2:
                return []
            values = [
                OptionValueView(
                    value=s.code,
                    state="available" if s.available > 0 else "soldout",
                    selected=self.selected is not None and s.id == self.selected.id,
                    query={"sku": str(s.id)},
                )
                for s in self.skus
            ]
            return [
                OptionView(
                    name="Variant", chosen=self.selected.code if self.selected else None, values=values
                )
            ]
        views: list[OptionView] = []
        for name in self.names:
            values = []
            for value in self.values[name]:
                wanted = {**{n: v for n, v in self.chosen.items() if n != name}, name: value}
                candidates = self.matching(wanted)
                if not candidates:
                    state = "missing"
                elif all(s.available <= 0 for s in candidates):
                    state = "soldout"
                else:
                    state = "available"
                values.append(
                    OptionValueView(
                        value=value, state=state, selected=self.chosen.get(name) == value, query=wanted
                    )
                )
            views.append(OptionView(name=name, chosen=self.chosen.get(name), values=values))
        return views


def _reputation(card: StoreCard, points: int, summary: RatingSummary) -> StoreCard:
    """The store card with its seller credit (``points`` and the level its trade policy gives them) and its
    review average."""
    return card.model_copy(
        update={
            "credit_points": points,
            "credit_level": credit_level(card.trade_model, points),
            "rating_average": summary.average,
            "rating_count": summary.count,
        }
    )


async def _with_reputation(session: AsyncSession, card: StoreCard) -> StoreCard:
    """The store card with its seller credit level and review average (two statements)."""
    points, _ = await review_service.credit(session, card.id, card.trade_model)
    return _reputation(card, points, await review_service.summary(session, store_id=card.id))


async def _reviews(
    session: AsyncSession,
    *,
    product_id: int | None = None,
    store_id: int | None = None,
    rating: int | None = None,
    page: int = 1,
    summary: RatingSummary | None = None,
) -> ReviewsView:
    """The reviews section: summary, histogram, and one page of reviews (with ``rating`` stars when given).
    ``summary``: the summary when the caller already read it (else one more statement)."""
    if summary is None:
        summary = await review_service.summary(session, product_id=product_id, store_id=store_id)
    if rating is not None and not 1 <= rating <= 5:
        rating = None
    total = summary.histogram.get(rating, 0) if rating is not None else summary.count
    pages = max(1, -(-total // REVIEWS_PAGE_SIZE))
    page = min(max(page, 1), pages)
    items: list[ReviewRead] = []
    if total:  # the summary already says there is nothing to read
        items, _ = await review_service.page(
            session,
            product_id=product_id,
            store_id=store_id,
            rating=rating,
            page=page,
            per_page=REVIEWS_PAGE_SIZE,
        )
    return ReviewsView(summary=summary, items=items, rating=rating, page=page, pages=pages, total=total)


class StorefrontService:
    async def home(self, session: AsyncSession, actor: Actor) -> HomePage:
        categories = await search_service.categories(session)
        tree = [
            CategoryNode(
                id=root.id,
                name=root.name,
                slug=root.slug,
                children=[_link(c) for c in categories.children.get(root.id, [])],
            )
            for root in categories.roots
        ]
        newest = await search_service.newest(session, actor, HOME_PRODUCTS)
        return HomePage(categories=tree, newest=newest)

    async def listing(
        self,
        session: AsyncSession,
        actor: Actor,
        filters: SearchFilters,
        *,
        page: int = 1,
        category_slug: str | None = None,
    ) -> Listing:
        """A search page; ``category_slug`` (a /c/<slug> page) chooses the category (404 when unknown)."""
        categories: CategoryIndex = await search_service.categories(
            session, ids=[filters.category] if filters.category else [], slug=category_slug
        )
        if category_slug is not None:
            ref = categories.by_slug(category_slug)
            if ref is None:
                raise NotFound("No such category.", code="category_not_found")
            filters = filters.model_copy(update={"category": ref.id})
        result = await search_service.search_page(session, actor, filters, page=page, categories=categories)
        trail = [_link(c) for c in categories.trail(filters.category)]
        slugs: dict[int, str] = {}
        store_name = None
        if result.facets is not None:
            for value in result.facets.category:
                ref = categories.by_id.get(int(value.id))
                if ref is not None:
                    slugs[ref.id] = ref.slug
            store_name = next((v.name for v in result.facets.store if v.id == filters.store), None)
        return Listing(
            filters=filters,
            result=result,
            category=trail[-1] if trail and trail[-1].id == filters.category else None,
            trail=trail,
            category_slugs=slugs,
            store_name=store_name,
        )

    async def product(
        self,
        session: AsyncSession,
        actor: Actor,
        product_id: int,
        *,
        sku_id: int | None = None,
        choices: dict[str, str] | None = None,
        image: int = 1,
        reviews_rating: int | None = None,
        reviews_page: int = 1,
    ) -> ProductView:
        """The product page; ``sku_id`` or ``choices`` ({option: value}) select a variant; ``reviews_rating``
        filters its reviews by stars and ``reviews_page`` pages them."""
        row = await repository.product_page(session, product_id)
        if row is None:
            raise NotFound("No such product.", code="product_not_found")
        product: Product = row.Product
        store: Store = row.Store
        parts = await repository.product_parts(session, product.id)
        sku_rows = [r for r in parts if r.part == "sku"]
        preview = False
        if not (product.status == "active" and store.status == "active" and sku_rows):
            if not await repository.is_store_person(session, actor, store.id):
                raise NotFound("No such product.", code="product_not_found")
            preview = True

        skus = [
            SkuView(
                id=r.id,
                code=r.code,
                options={str(k): str(v) for k, v in (r.option_values or {}).items()},
                price_amount=r.price_amount,
                available=max(0, int(r.available)),
                stock_label=stock_label(int(r.available)),
            )
            for r in sku_rows
        ]
        variants = _Variants(product, skus, sku_id, choices or {})
        selected = variants.selected
        matching = [selected] if selected else variants.matching(variants.chosen)
        shown = matching or skus
        prices = [s.price_amount for s in shown]
        available = sum(s.available for s in shown)

        tier_rows = [r for r in parts if r.part == "tier"]
        tiers = [
            TierView(
                min_quantity=t.min_quantity,
                max_quantity=tier_rows[i + 1].min_quantity - 1 if i + 1 < len(tier_rows) else None,
                unit_price_amount=t.unit_price_amount,
            )
            for i, t in enumerate(tier_rows)
        ]
        from_price = None
        if store.trade_model == "sourcing":
            candidates = [t.unit_price_amount for t in tiers] + [s.price_amount for s in skus]
            from_price = min(candidates) if candidates else None

        images = [
            ImageView(
                url=f"/media/{i.path}",
                thumb=f"/media/{i.thumb_path}",
                alt=i.alt or product.title,
                width=i.width,
                height=i.height,
            )
            for i in parts
            if i.part == "image"
        ]
        store_rating = rating_summary({n: getattr(row, f"store_stars_{n}") for n in STARS})
        product_rating = rating_summary({n: getattr(row, f"product_stars_{n}") for n in STARS})
        categories = await search_service.categories(session, ids=[product.category_id])
        return ProductView(
            id=product.id,
            title=product.title,
            slug=product.slug,
            description=product.description or "",
            attributes=_attributes(product.attributes),
            trade_model=store.trade_model,  # type: ignore[arg-type]
            currency=product.currency,
            status=product.status,
            price_low=min(prices) if prices else None,
            price_high=max(prices) if prices else None,
            from_price=from_price,
            moq=product.moq,
            lead_time_days=product.lead_time_days,
            sample_price_amount=product.sample_price_amount,
            tiers=tiers,
            images=images,
            image_index=min(max(image, 1), len(images)) - 1 if images else 0,
            skus=skus,
            options=variants.options(),
            selected=selected,
            combination_missing=bool(variants.chosen) and not matching,
            available=available,
            stock_label=stock_label(available),
            stock_level=stock_level(available),
            min_quantity=product.moq or 1,
            store=_reputation(
                _store_card(store, row.organization_status), int(row.credit_points or 0), store_rating
            ),
            trail=[_link(c) for c in categories.trail(product.category_id)],
            created_at=product.created_at,
            preview=preview,
            reviews=await _reviews(
                session,
                product_id=product.id,
                rating=reviews_rating,
                page=reviews_page,
                summary=product_rating,
            ),
        )

    async def store(
        self,
        session: AsyncSession,
        actor: Actor,
        slug: str,
        *,
        q: str = "",
        page: int = 1,
        reviews_rating: int | None = None,
        reviews_page: int = 1,
    ) -> StorePage:
        """A store's page with its visible products (matching ``q`` when given) and its reviews
        (``reviews_rating`` stars when given, page ``reviews_page``)."""
        # PostgreSQL text cannot hold a NUL: no store has one in its slug
        row = None if "\x00" in slug else await repository.store_by_slug(session, slug)
        if row is None:
            raise NotFound("No such store.", code="store_not_found")
        store: Store = row[0]
        preview = False
        if store.status != "active":
            if not await repository.is_store_person(session, actor, store.id):
                raise NotFound("No such store.", code="store_not_found")
            preview = True
        result = await search_service.search_page(
            session,
            actor,
            SearchFilters(q=q, store=store.id),
            page=page,
            per_page=STORE_PAGE_SIZE,
            with_facets=False,
        )
        return StorePage(
            store=await _with_reputation(session, _store_card(store, row[1])),
            q=q,
            result=result,
            preview=preview,
            reviews=await _reviews(session, store_id=store.id, rating=reviews_rating, page=reviews_page),
        )


storefront_service = StorefrontService()
