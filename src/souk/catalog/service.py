"""Catalog rules: products of a store, their variants (SKUs), volume price tiers and images.

Every write is checked first (all problems at once, nothing written when one fails), then flushed, then the
product's search document is rewritten in the same transaction. Flushes, never commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import get_store_for, require_user
from souk.catalog.errors import (
    ImageNotFound,
    NoActiveSku,
    ProductNotFound,
    SkuNotFound,
    StatusChangeNotAllowed,
)
from souk.catalog.repository import CategoryRepository, ProductRepository, ProductView, SkuView, as_int
from souk.catalog.rules import ErrorBag, VariantDraft, check_options, check_tiers, check_variants, new_codes
from souk.catalog.schemas import (
    MAX_IMAGES,
    PRODUCT_STATUSES,
    ImageUpdate,
    PriceTierIn,
    PriceTiersPut,
    ProductCreate,
    ProductUpdate,
    SkuCreate,
    SkuUpdate,
    SkuUpsert,
)
from souk.errors import invalid_field
from souk.inventory.service import inventory_service
from souk.kit.clock import utcnow
from souk.kit.pagination import clamp_limit, decode_cursor, encode_cursor
from souk.kit.text import slugify
from souk.kit.uploads import MediaStorage, StoredImage
from souk.models import Product, ProductImage, Sku, Store
from souk.search.indexing import index_products

SOURCING_FIELDS = ("moq", "lead_time_days", "sample_price_amount", "price_tiers")


@dataclass
class ProductPage:
    items: list[ProductView]
    next_cursor: str | None


@dataclass
class StoreProductPage:
    store: Store
    items: list[ProductView]
    next_cursor: str | None
    counts: dict[str, int]


def sells_in_bulk(store: Store) -> bool:
    """Whether the store lists with MOQ, volume price tiers, lead time and sample price (sourcing)."""
    return store.trade_model == "sourcing"


def _check_currency(store: Store, currency: str | None, field: str, bag: ErrorBag) -> None:
    if currency is not None and currency != store.currency:
        bag.add(field, f"must be the store's currency, {store.currency}", code="currency_mismatch")


def _before_id(cursor: str | None) -> int | None:
    values = decode_cursor(cursor)
    if values is None:
        return None
    before = as_int(values[0]) if len(values) == 1 else None
    if before is None:
        raise invalid_field("cursor", "is not a cursor this API issued")
    return before


def _tier_pairs(tiers: Sequence[PriceTierIn] | None) -> list[tuple[int, int]]:
    return [(t.min_quantity, t.unit_price_amount) for t in tiers or []]


class CatalogService:
    # --- reads ----------------------------------------------------------------------------------------

    async def _view(self, session: AsyncSession, product: Product) -> ProductView:
        return (await ProductRepository(session).details([product]))[0]

    async def get_product(self, session: AsyncSession, actor: Actor, product_id: int) -> ProductView:
        """A product buyers can see, or any product of the actor's own stores (drafts too); else 404."""
        found = await ProductRepository(session).readable_with_store(actor, product_id)
        if found is None:
            raise ProductNotFound()
        product, store = found
        return (await ProductRepository(session).details([product], [store]))[0]

    async def get_for_seller(self, session: AsyncSession, actor: Actor, product_id: int) -> ProductView:
        """A product of one of the actor's stores (404 otherwise), for the seller centre."""
        require_user(actor)
        product = await ProductRepository(session).scoped(actor, product_id)
        if product is None:
            raise ProductNotFound()
        return await self._view(session, product)

    async def list_visible(
        self,
        session: AsyncSession,
        *,
        store_id: int | None = None,
        category_id: int | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> ProductPage:
        """Products buyers can see, newest first; ``category_id`` includes its subcategories."""
        size = clamp_limit(limit)
        repo = ProductRepository(session)
        rows = await repo.visible_page(store_id, category_id, _before_id(cursor), size + 1)
        next_cursor = None
        if len(rows) > size:
            rows = rows[:size]
            next_cursor = encode_cursor([rows[-1][0].id])
        products = [product for product, _ in rows]
        return ProductPage(await repo.details(products, [store for _, store in rows]), next_cursor)

    async def list_store_products(
        self,
        session: AsyncSession,
        actor: Actor,
        store_id: int,
        *,
        status: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> StoreProductPage:
        """A store's products for its people (drafts and archived included), newest first, with the number
        of products in each status."""
        store = await get_store_for(session, actor, store_id, "store:read")
        if status is not None and status not in PRODUCT_STATUSES:
            raise invalid_field("status", f"must be one of {', '.join(PRODUCT_STATUSES)}")
        size = clamp_limit(limit)
        repo = ProductRepository(session)
        products = await repo.store_page(store.id, status, _before_id(cursor), size + 1)
        next_cursor = None
        if len(products) > size:
            products = products[:size]
            next_cursor = encode_cursor([products[-1].id])
        counts = await repo.status_counts(store.id)
        return StoreProductPage(store, await repo.details(products, [store]), next_cursor, counts)

    async def list_skus(self, session: AsyncSession, actor: Actor, product_id: int) -> list[SkuView]:
        return (await self.get_product(session, actor, product_id)).skus

    # --- shared write steps ---------------------------------------------------------------------------

    async def _writable(self, session: AsyncSession, actor: Actor, product_id: int) -> tuple[Product, Store]:
        """The product if the actor is one of its store's people (else 404) allowed to edit it (else 403)."""
        require_user(actor)
        product = await ProductRepository(session).scoped(actor, product_id)
        if product is None:
            raise ProductNotFound()
        store = await get_store_for(session, actor, product.store_id, "catalog:write")
        return product, store

    async def _after_write(self, session: AsyncSession, product: Product) -> None:
        """Prices from the active variants, the change time, and the search document."""
        await session.flush()
        low, high = await ProductRepository(session).active_price_range(product.id)
        product.min_price_amount, product.max_price_amount = low, high
        product.updated_at = utcnow()
        await session.flush()
        await index_products(session, [product.id])

    async def _check_category(self, session: AsyncSession, category_id: int, bag: ErrorBag) -> None:
        if not await CategoryRepository(session).exists(category_id):
            bag.add("category", "unknown category", code="unknown_category")

    def _check_sourcing(self, store: Store, values: dict[str, Any], bag: ErrorBag) -> None:
        if sells_in_bulk(store):
            return
        for field in SOURCING_FIELDS:
            value = values.get(field)
            if value is not None and value != []:
                bag.add(
                    field,
                    "only sourcing stores sell with a minimum order quantity, volume prices, lead times "
                    "and samples",
                    code="sourcing_only",
                )

    async def _add_skus(
        self,
        session: AsyncSession,
        actor: Actor,
        product: Product,
        store: Store,
        items: Sequence[tuple[SkuCreate | SkuUpsert, str, int]],
    ) -> list[Sku]:
        """Insert variants (payload, code, position) with their stock rows and initial stock."""
        skus = [
            Sku(
                product_id=product.id,
                code=code,
                option_values=dict(item.option_values),
                price_amount=item.price_amount,
                currency=store.currency,
                weight_grams=item.weight_grams,
                position=position,
                is_active=True,
            )
            for item, code, position in items
        ]
        session.add_all(skus)
        await session.flush()
        for sku, (item, _, _) in zip(skus, items, strict=True):
            await inventory_service.initialize(session, sku.id, item.stock or 0, actor_id=actor.user_id)
        return skus

    # --- products -------------------------------------------------------------------------------------

    async def create(
        self, session: AsyncSession, actor: Actor, store_id: int, payload: ProductCreate
    ) -> ProductView:
        """A new draft product with its variants and their initial stock (``publish`` makes it active)."""
        store = await get_store_for(session, actor, store_id, "catalog:write")
        bag = ErrorBag()
        await self._check_category(session, payload.category_id, bag)
        _check_currency(store, payload.currency, "currency", bag)
        for i, item in enumerate(payload.skus):
            _check_currency(store, item.currency, f"skus.{i}.currency", bag)
        check_options(payload.options, bag)
        generated = iter(new_codes([s.code for s in payload.skus if s.code], len(payload.skus)))
        codes = [item.code or next(generated) for item in payload.skus]
        check_variants(
            payload.options,
            [
                VariantDraft(f"skus.{i}.", code, item.option_values, True)
                for i, (item, code) in enumerate(zip(payload.skus, codes, strict=True))
            ],
            bag,
        )
        self._check_sourcing(store, payload.model_dump(include=set(SOURCING_FIELDS)), bag)
        moq = (payload.moq or 1) if sells_in_bulk(store) else None
        if sells_in_bulk(store):
            check_tiers(_tier_pairs(payload.price_tiers), moq, bag)
        bag.raise_if_any()

        product = Product(
            store_id=store.id,
            category_id=payload.category_id,
            title=payload.title,
            slug=slugify(payload.title, max_length=100),
            description=payload.description,
            attributes=[a.model_dump() for a in payload.attributes],
            options=list(payload.options),
            status="draft",
            currency=store.currency,
            moq=moq,
            lead_time_days=payload.lead_time_days,
            sample_price_amount=payload.sample_price_amount,
        )
        session.add(product)
        await session.flush()
        await self._add_skus(
            session,
            actor,
            product,
            store,
            [(item, code, i) for i, (item, code) in enumerate(zip(payload.skus, codes, strict=True))],
        )
        if payload.price_tiers:
            await ProductRepository(session).replace_tiers(product.id, _tier_pairs(payload.price_tiers))
        await self._after_write(session, product)
        return await self._view(session, product)

    async def update(
        self, session: AsyncSession, actor: Actor, product_id: int, payload: ProductUpdate
    ) -> ProductView:
        """Change the fields sent. ``skus``, when sent, replaces the list of variants for sale (see
        ``ProductUpdate``); existing variants keep their stock, new ones start with ``stock``."""
        product, store = await self._writable(session, actor, product_id)
        repo = ProductRepository(session)
        sent = payload.model_fields_set
        bag = ErrorBag()
        for field in ("title", "description", "category_id", "attributes", "options"):
            if field in sent and getattr(payload, field) is None:
                bag.add(field, "must not be empty")
        if payload.category_id is not None and payload.category_id != product.category_id:
            await self._check_category(session, payload.category_id, bag)
        _check_currency(store, payload.currency, "currency", bag)
        self._check_sourcing(store, payload.model_dump(include=set(SOURCING_FIELDS) & sent), bag)
        options = list(payload.options) if payload.options is not None else list(product.options or [])
        check_options(options, bag)

        existing = await repo.skus(product.id)
        plan = await self._plan_variants(session, product, existing, options, payload, bag)

        if sells_in_bulk(store):
            moq = payload.moq if "moq" in sent else product.moq
            if moq is None:
                bag.add("moq", "a sourcing listing needs a minimum order quantity (1 or more)")
            if "price_tiers" in sent:
                check_tiers(_tier_pairs(payload.price_tiers), moq, bag)
            else:
                current = [(t.min_quantity, t.unit_price_amount) for t in await repo.tiers(product.id)]
                if current and moq is not None and current[0][0] < moq:
                    bag.add("moq", f"must not be more than the first price tier's quantity ({current[0][0]})")
        bag.raise_if_any()

        if payload.title is not None:
            product.title = payload.title
            product.slug = slugify(payload.title, max_length=100)
        if payload.description is not None:
            product.description = payload.description
        if payload.category_id is not None:
            product.category_id = payload.category_id
        if payload.attributes is not None:
            product.attributes = [a.model_dump() for a in payload.attributes]
        if payload.options is not None:
            product.options = options
        if sells_in_bulk(store):
            for field in ("moq", "lead_time_days", "sample_price_amount"):
                if field in sent:
                    setattr(product, field, getattr(payload, field))
            if "price_tiers" in sent:
                await repo.replace_tiers(product.id, _tier_pairs(payload.price_tiers))
        if plan is not None:
            await self._apply_variants(session, actor, product, store, plan)
        await self._after_write(session, product)
        return await self._view(session, product)

    async def _plan_variants(
        self,
        session: AsyncSession,
        product: Product,
        existing: list[Sku],
        options: list[str],
        payload: ProductUpdate,
        bag: ErrorBag,
    ) -> _VariantPlan | None:
        """Check the variants after the update; returns what to write when ``skus`` was sent."""
        if payload.skus is None:
            if "skus" in payload.model_fields_set:
                bag.add("skus", "must be a list (send [] to remove every variant)")
            drafts = [VariantDraft(None, s.code, dict(s.option_values or {}), s.is_active) for s in existing]
            check_variants(options, drafts, bag)
            return None
        by_id = {s.id: s for s in existing}
        mentioned: set[int] = set()
        for i, item in enumerate(payload.skus):
            if item.currency is not None and item.currency != product.currency:
                bag.add(
                    f"skus.{i}.currency",
                    f"must be the store's currency, {product.currency}",
                    code="currency_mismatch",
                )
            if item.id is None:
                continue
            if item.id not in by_id or item.id in mentioned:
                bag.add(f"skus.{i}.id", "is not a variant of this product")
            elif item.stock is not None:
                bag.add(f"skus.{i}.stock", "change the stock of an existing variant with a stock adjustment")
            mentioned.add(item.id)
        leaving = [s for s in existing if s.id not in mentioned and s.is_active]
        with_history = await inventory_service.skus_with_history(session, [s.id for s in leaving])
        deactivate = [s for s in leaving if s.id in with_history]
        delete = [s for s in leaving if s.id not in with_history]
        kept_inactive = [s for s in existing if s.id not in mentioned and not s.is_active] + deactivate
        given = [item.code for item in payload.skus if item.code] + [s.code for s in kept_inactive]
        generated = iter(new_codes(given, len(payload.skus)))
        codes = [
            item.code or (by_id[item.id].code if item.id in by_id else next(generated))
            for item in payload.skus
        ]
        drafts = [VariantDraft(None, s.code, dict(s.option_values or {}), False) for s in kept_inactive]
        drafts += [
            VariantDraft(f"skus.{i}.", code, item.option_values, True)
            for i, (item, code) in enumerate(zip(payload.skus, codes, strict=True))
        ]
        check_variants(options, drafts, bag)
        if product.status == "active" and not payload.skus:
            bag.add(
                "skus",
                "a published product needs at least one variant; archive it instead",
                code="no_active_sku",
            )
        return _VariantPlan(list(payload.skus), codes, by_id, deactivate, delete)

    async def _apply_variants(
        self, session: AsyncSession, actor: Actor, product: Product, store: Store, plan: _VariantPlan
    ) -> None:
        repo = ProductRepository(session)
        for sku in plan.delete:
            await repo.delete_sku(sku)
        for sku in plan.deactivate:
            sku.is_active = False
        # codes may be swapped between variants: park changed codes first so the unique index never trips
        renamed = [
            (item, code)
            for item, code in zip(plan.items, plan.codes, strict=True)
            if item.id is not None and plan.by_id[item.id].code != code
        ]
        for item, _ in renamed:
            assert item.id is not None
            plan.by_id[item.id].code = f"~{item.id}"
        await session.flush()
        new: list[tuple[SkuCreate | SkuUpsert, str, int]] = []
        for position, (item, code) in enumerate(zip(plan.items, plan.codes, strict=True)):
            if item.id is None:
                new.append((item, code, position))
                continue
            sku = plan.by_id[item.id]
            sku.code = code
            sku.option_values = dict(item.option_values)
            sku.price_amount = item.price_amount
            sku.weight_grams = item.weight_grams
            sku.position = position
            sku.is_active = True
        await session.flush()
        if new:
            await self._add_skus(session, actor, product, store, new)

    async def _set_status(
        self, session: AsyncSession, actor: Actor, product_id: int, action: str
    ) -> ProductView:
        product, _ = await self._writable(session, actor, product_id)
        target = {"publish": "active", "archive": "archived", "restore": "draft"}[action]
        allowed_from = {"publish": ("draft",), "archive": ("draft", "active"), "restore": ("archived",)}[
            action
        ]
        if product.status == target and action != "restore":
            return await self._view(session, product)  # publishing twice is not an error
        if product.status not in allowed_from:
            raise StatusChangeNotAllowed(product.status, action)
        if target == "active":
            low, _high = await ProductRepository(session).active_price_range(product.id)
            if low is None:
                raise NoActiveSku()
        product.status = target
        await self._after_write(session, product)
        return await self._view(session, product)

    async def publish(self, session: AsyncSession, actor: Actor, product_id: int) -> ProductView:
        """draft -> active (needs an active variant). Buyers see it once the store is active too."""
        return await self._set_status(session, actor, product_id, "publish")

    async def archive(self, session: AsyncSession, actor: Actor, product_id: int) -> ProductView:
        """draft or active -> archived: hidden from buyers, kept for orders and history."""
        return await self._set_status(session, actor, product_id, "archive")

    async def restore(self, session: AsyncSession, actor: Actor, product_id: int) -> ProductView:
        """archived -> draft."""
        return await self._set_status(session, actor, product_id, "restore")

    # --- variants ---------------------------------------------------------------------------------------

    async def add_sku(
        self, session: AsyncSession, actor: Actor, product_id: int, payload: SkuCreate
    ) -> SkuView:
        product, store = await self._writable(session, actor, product_id)
        existing = await ProductRepository(session).skus(product.id)
        bag = ErrorBag()
        _check_currency(store, payload.currency, "currency", bag)
        code = payload.code or new_codes([s.code for s in existing], 1)[0]
        drafts = [VariantDraft(None, s.code, dict(s.option_values or {}), s.is_active) for s in existing]
        drafts.append(VariantDraft("", code, payload.option_values, True))
        check_variants(list(product.options or []), drafts, bag)
        bag.raise_if_any()
        position = max((s.position for s in existing), default=-1) + 1
        (sku,) = await self._add_skus(session, actor, product, store, [(payload, code, position)])
        await self._after_write(session, product)
        view = await ProductRepository(session).sku_view(product.id, sku.id)
        assert view is not None
        return view

    async def update_sku(
        self, session: AsyncSession, actor: Actor, product_id: int, sku_id: int, payload: SkuUpdate
    ) -> SkuView:
        """Change a variant's code, options, price, weight, position, or (re)activate it."""
        product, store = await self._writable(session, actor, product_id)
        repo = ProductRepository(session)
        existing = await repo.skus(product.id)
        sku = next((s for s in existing if s.id == sku_id), None)
        if sku is None:
            raise SkuNotFound()
        bag = ErrorBag()
        _check_currency(store, payload.currency, "currency", bag)
        code = payload.code or sku.code
        values = dict(payload.option_values) if payload.option_values is not None else dict(sku.option_values)
        active = payload.is_active if payload.is_active is not None else sku.is_active
        drafts = [
            VariantDraft(None, s.code, dict(s.option_values or {}), s.is_active)
            for s in existing
            if s is not sku
        ]
        drafts.append(VariantDraft("", code, values, active))
        check_variants(list(product.options or []), drafts, bag)
        if not active and product.status == "active" and not any(d.active for d in drafts):
            bag.add(
                "is_active",
                "the last variant of a published product stays active; archive the product",
                code="no_active_sku",
            )
        bag.raise_if_any()
        if code != sku.code:
            sku.code = code
        sku.option_values = values
        sku.is_active = active
        if payload.price_amount is not None:
            sku.price_amount = payload.price_amount
        if "weight_grams" in payload.model_fields_set:
            sku.weight_grams = payload.weight_grams
        if payload.position is not None:
            sku.position = payload.position
        await self._after_write(session, product)
        view = await repo.sku_view(product.id, sku.id)
        assert view is not None
        return view

    async def remove_sku(
        self, session: AsyncSession, actor: Actor, product_id: int, sku_id: int
    ) -> Literal["deleted", "deactivated"]:
        """Delete a variant, or deactivate it when it has stock history. Returns "deleted" or "deactivated"."""
        product, _ = await self._writable(session, actor, product_id)
        repo = ProductRepository(session)
        existing = await repo.skus(product.id)
        sku = next((s for s in existing if s.id == sku_id), None)
        if sku is None:
            raise SkuNotFound()
        others_active = any(s.is_active for s in existing if s is not sku)
        if sku.is_active and product.status == "active" and not others_active:
            raise NoActiveSku("This is the last variant of a published product; archive the product instead.")
        outcome: Literal["deleted", "deactivated"]
        if await inventory_service.skus_with_history(session, [sku.id]):
            sku.is_active = False
            outcome = "deactivated"
        else:
            await repo.delete_sku(sku)
            outcome = "deleted"
        await self._after_write(session, product)
        return outcome

    async def set_price_tiers(
        self, session: AsyncSession, actor: Actor, product_id: int, payload: PriceTiersPut
    ) -> ProductView:
        """Replace the volume price tiers of a sourcing listing ([] removes them)."""
        product, store = await self._writable(session, actor, product_id)
        bag = ErrorBag()
        if not sells_in_bulk(store):
            bag.add("tiers", "only sourcing stores sell with volume price tiers", code="sourcing_only")
        else:
            check_tiers(_tier_pairs(payload.tiers), product.moq, bag, prefix="tiers.")
        bag.raise_if_any()
        await ProductRepository(session).replace_tiers(product.id, _tier_pairs(payload.tiers))
        await self._after_write(session, product)
        return await self._view(session, product)

    # --- images -----------------------------------------------------------------------------------------

    async def add_images(
        self,
        session: AsyncSession,
        actor: Actor,
        product_id: int,
        files: Sequence[bytes],
        storage: MediaStorage,
    ) -> list[ProductImage]:
        """Store uploaded images (checked by decoding them, re-encoded, with a thumbnail) at the end of the
        gallery. All files are checked before any is stored; at most 10 images per product."""
        product, _ = await self._writable(session, actor, product_id)
        if not files:
            raise invalid_field("image", "choose one or more image files")
        current = await ProductRepository(session).images(product.id)
        if len(current) + len(files) > MAX_IMAGES:
            raise invalid_field(
                "image",
                f"a product has at most {MAX_IMAGES} images; this one has {len(current)}",
                code="too_many_images",
            )
        for data in files:
            await asyncio.to_thread(storage.decode_image, data, "image")
        stored: list[StoredImage] = []
        try:
            for data in files:
                stored.append(await asyncio.to_thread(storage.save_image, data, subdir="products"))
            images = [
                ProductImage(
                    product_id=product.id,
                    position=len(current) + n,
                    path=s.path,
                    thumb_path=s.thumb_path,
                    width=s.width,
                    height=s.height,
                    content_type=s.content_type,
                    size_bytes=s.size_bytes,
                    alt="",
                )
                for n, s in enumerate(stored)
            ]
            session.add_all(images)
            await self._after_write(session, product)
        except BaseException:
            await asyncio.to_thread(
                _remove_files, storage, [p for s in stored for p in (s.path, s.thumb_path)]
            )
            raise
        return images

    async def update_image(
        self, session: AsyncSession, actor: Actor, product_id: int, image_id: int, payload: ImageUpdate
    ) -> ProductImage:
        """Move an image (position 0 = the primary image) or change its alt text."""
        product, _ = await self._writable(session, actor, product_id)
        images = await ProductRepository(session).images(product.id)
        image = next((i for i in images if i.id == image_id), None)
        if image is None:
            raise ImageNotFound()
        if payload.alt is not None:
            image.alt = payload.alt
        if payload.position is not None:
            images.remove(image)
            images.insert(min(payload.position, len(images)), image)
            for n, each in enumerate(images):
                each.position = n
        await self._after_write(session, product)
        return image

    async def delete_image(
        self, session: AsyncSession, actor: Actor, product_id: int, image_id: int, storage: MediaStorage
    ) -> None:
        product, _ = await self._writable(session, actor, product_id)
        images = await ProductRepository(session).images(product.id)
        image = next((i for i in images if i.id == image_id), None)
        if image is None:
            raise ImageNotFound()
        paths = [image.path, image.thumb_path]
        await session.delete(image)
        images.remove(image)
        for n, each in enumerate(images):
            each.position = n
        await self._after_write(session, product)
        await asyncio.to_thread(_remove_files, storage, paths)


@dataclass
class _VariantPlan:
    items: list[SkuUpsert]
    codes: list[str]
    by_id: dict[int, Sku]
    deactivate: list[Sku]
    delete: list[Sku]


def _remove_files(storage: MediaStorage, paths: Sequence[str]) -> None:
    for path in paths:
        storage.absolute(path).unlink(missing_ok=True)


catalog_service = CatalogService()
