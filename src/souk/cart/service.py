"""The cart: a user's cart, or a guest's found by the hash of a random cookie token, merged into the user's
cart when the guest logs in or registers. Flushes, never commits.

Rules:
- only variants buyers can see (active SKU of an active product in an open store) can be added (404);
- a line holds 1 to 999 units (sourcing products: their minimum order quantity up to 1,000,000) (422
  naming ``quantity``), never more than available now, on hand minus reserved (409 ``insufficient_stock``);
- sourcing products are priced by volume tier for the line's quantity;
- a sourcing product with a sample price may also be added as a sample: a line of its own (a cart may hold
  the same SKU as a sample line and a bulk line) of exactly 1 piece at the sample price, whatever the MOQ
  (422 naming ``sample`` when the product offers no sample; 422 naming ``quantity`` for any other quantity);
- a line remembers the unit price the buyer saw when they last added or changed it; the view warns when the
  price, the stock or the product's availability changed since (see ``souk.cart.schemas`` for the CartView).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.auth.tokens import hash_secret, new_secret
from souk.authz import require_writer
from souk.cart.errors import (
    CartLineNotFound,
    CartTokenRequired,
    InsufficientStock,
    SampleNotOffered,
    SampleQuantityFixed,
    SkuNotForSale,
)
from souk.cart.repository import CartRepository, SkuFacts, SkuInCart, line_count_query
from souk.cart.schemas import (
    CartCurrencyGroup,
    CartLineView,
    CartStoreGroup,
    CartView,
    LineWarning,
)
from souk.catalog.service import sells_in_bulk
from souk.errors import invalid_field
from souk.kit.clock import utcnow
from souk.kit.money import format_money
from souk.models import Cart, CartLine
from souk.models.cart import MAX_LINE_QUANTITY

MAX_RETAIL_QUANTITY = 999
# a guest cart (and its cookie) lives this long after its last change
GUEST_CART_DAYS = 30
LOW_STOCK = 5
# messages name amounts the way the pages do by default ("US$12.50")
MESSAGE_LOCALE = "en_001"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
# an add reads the line and writes it only if it did not change in between; it reads again when another
# request changed the same line (or created the cart) at that moment, at most this many times
ADD_ATTEMPTS = 10


def new_guest_token() -> str:
    """A random token for a guest's cart cookie (only its hash is stored)."""
    return new_secret(32)


def valid_guest_token(raw: str | None) -> str | None:
    """The token if it has the shape of one we issue, else None."""
    return raw if raw and _TOKEN.match(raw) else None


def unit_price(facts: SkuFacts, tiers: list[tuple[int, int]], quantity: int) -> int:
    """The SKU's price, or for a sourcing product the volume tier price for ``quantity`` (the tier with the
    highest minimum quantity not above it)."""
    price = facts.sku.price_amount
    if sells_in_bulk(facts.store):
        for min_quantity, tier_price in tiers:
            if quantity >= min_quantity:
                price = tier_price
    return price


def sample_price(facts: SkuFacts) -> int | None:
    """The sample price of the SKU's product when it offers samples (a sourcing product with a sample
    price), else None."""
    if sells_in_bulk(facts.store):
        return facts.product.sample_price_amount
    return None


def check_sample(facts: SkuFacts) -> int:
    """The sample price, or 422 naming ``sample`` when the product offers no sample."""
    price = sample_price(facts)
    if price is None:
        raise SampleNotOffered(sourcing=sells_in_bulk(facts.store))
    return price


def quantity_limits(facts: SkuFacts, *, sample: bool = False) -> tuple[int, int]:
    """(smallest, largest) quantity a line of this SKU may hold (a sample line: exactly 1)."""
    if sample:
        return 1, 1
    if sells_in_bulk(facts.store):
        return max(1, facts.product.moq or 1), MAX_LINE_QUANTITY
    return 1, MAX_RETAIL_QUANTITY


def _money(amount: int, currency: str) -> str:
    return format_money(amount, currency, MESSAGE_LOCALE)


def check_quantity(facts: SkuFacts, quantity: int, *, in_cart: int = 0) -> None:
    """Refuse a line quantity outside the limits (422) or above what is available (409)."""
    low, high = quantity_limits(facts)
    if quantity < 1:
        raise invalid_field("quantity", "must be at least 1")
    if quantity > high:
        more = f" (you already have {in_cart:,} in your cart)" if in_cart else ""
        raise invalid_field("quantity", f"a cart line holds at most {high:,}{more}")
    if quantity < low:
        raise invalid_field("quantity", f"the minimum order is {low:,} pieces", code="below_moq")
    if quantity > facts.available:
        raise InsufficientStock(available=facts.available, in_cart=in_cart)


def line_warnings(line: CartLine, facts: SkuFacts, price_now: int | None) -> list[LineWarning]:
    """What the buyer should know about a line; ``price_now`` is None for a sample line whose product no
    longer offers samples."""
    if not facts.visible:
        return [
            LineWarning(
                kind="unavailable",
                message="No longer available: remove it from your cart.",
                blocking=True,
            )
        ]
    if price_now is None:
        return [
            LineWarning(
                kind="sample_unavailable",
                message="The supplier no longer offers samples of this product: remove it from your cart.",
                blocking=True,
            )
        ]
    warnings: list[LineWarning] = []
    available = facts.available
    if available <= 0:
        warnings.append(
            LineWarning(kind="out_of_stock", message="Out of stock now.", blocking=True, available=0)
        )
    elif line.quantity > available:
        warnings.append(
            LineWarning(
                kind="insufficient_stock",
                message=f"Only {available} left: lower the quantity to {available} or less.",
                blocking=True,
                available=available,
            )
        )
    elif available <= LOW_STOCK:
        warnings.append(
            LineWarning(
                kind="low_stock", message=f"Only {available} left.", blocking=False, available=available
            )
        )
    low, _ = quantity_limits(facts, sample=line.is_sample)
    if line.quantity < low:
        warnings.append(
            LineWarning(
                kind="below_moq",
                message=f"The minimum order is {low:,} pieces.",
                blocking=True,
            )
        )
    currency = facts.sku.currency
    if line.unit_price_amount != price_now or line.currency != currency:
        warnings.append(
            LineWarning(
                kind="price_changed",
                message=(
                    f"Price changed since you added it: {_money(line.unit_price_amount, line.currency)}"
                    f" → {_money(price_now, currency)}."
                ),
                blocking=False,
                old_unit_price_amount=line.unit_price_amount,
                new_unit_price_amount=price_now,
            )
        )
    return warnings


@dataclass
class _Loaded:
    facts: dict[int, SkuFacts]
    tiers: dict[int, list[tuple[int, int]]]
    thumbs: dict[int, str]


class CartService:
    # --- finding the cart ------------------------------------------------------------------------------

    async def _find(self, session: AsyncSession, actor: Actor, guest_token: str | None) -> Cart | None:
        repo = CartRepository(session)
        if actor.user_id is not None:
            return await repo.of_user(actor.user_id)
        token = valid_guest_token(guest_token)
        return await repo.of_guest(hash_secret(token)) if token else None

    def _check_writer(self, actor: Actor) -> None:
        """A user's credentials must allow writing (a read-only API token may not change the cart)."""
        if actor.user_id is not None:
            require_writer(actor)

    async def _with_tiers(self, session: AsyncSession, facts: dict[int, SkuFacts]) -> _Loaded:
        """The facts with the volume tiers of the products sold in bulk (only those are priced by tier: no
        query when there are none)."""
        bulk = sorted({f.product.id for f in facts.values() if sells_in_bulk(f.store)})
        tiers = await CartRepository(session).tiers(bulk) if bulk else {}
        thumbs = {f.product.id: f.thumb for f in facts.values() if f.thumb}
        return _Loaded(facts, tiers, thumbs)

    @staticmethod
    def _loaded_one(facts: SkuFacts, tiers: list[tuple[int, int]]) -> _Loaded:
        """``_with_tiers`` of one SKU whose tiers were read with its facts."""
        product_id = facts.product.id
        return _Loaded(
            {facts.sku.id: facts},
            {product_id: tiers} if tiers and sells_in_bulk(facts.store) else {},
            {product_id: facts.thumb} if facts.thumb else {},
        )

    def _owner(self, actor: Actor, guest_token: str | None) -> dict[str, Any]:
        """Whose cart, as the repository's keyword arguments: the user's, or the guest token's hash (a guest
        without a valid token has no cart to change: 401 ``cart_token_required``)."""
        if actor.user_id is not None:
            return {"user_id": actor.user_id}
        token = valid_guest_token(guest_token)
        if token is None:
            raise CartTokenRequired()
        return {"token_hash": hash_secret(token)}

    # --- reading -------------------------------------------------------------------------------------------

    def _line_view(self, line: CartLine, loaded: _Loaded) -> CartLineView:
        facts = loaded.facts[line.sku_id]
        product = facts.product
        if line.is_sample:
            offered = sample_price(facts)
            warnings = line_warnings(line, facts, offered)
            price_now = line.unit_price_amount if offered is None else offered
        else:
            price_now = unit_price(facts, loaded.tiers.get(product.id, []), line.quantity)
            warnings = line_warnings(line, facts, price_now)
        low, high = quantity_limits(facts, sample=line.is_sample)
        thumb = loaded.thumbs.get(product.id)
        return CartLineView(
            sku_id=facts.sku.id,
            sku_code=facts.sku.code,
            product_id=product.id,
            product_url=f"/p/{product.id}/{product.slug}?sku={facts.sku.id}",
            title=product.title,
            options={str(k): str(v) for k, v in (facts.sku.option_values or {}).items()},
            thumb_url=f"/media/{thumb}" if thumb else None,
            store_id=facts.store.id,
            currency=facts.sku.currency,
            is_sample=line.is_sample,
            quantity=line.quantity,
            min_quantity=low,
            max_quantity=high,
            available=facts.available,
            unit_price_amount=price_now,
            seen_unit_price_amount=line.unit_price_amount,
            line_total_amount=price_now * line.quantity,
            added_at=line.added_at,
            purchasable=not any(w.blocking for w in warnings),
            warnings=warnings,
        )

    async def _view(
        self,
        session: AsyncSession,
        lines: list[CartLine],
        loaded: _Loaded,
        *,
        own_stores: set[int] | frozenset[int] = frozenset(),
    ) -> CartView:
        # lines come newest first: groups and stores appear in the order of their newest line
        groups: dict[str, dict[int, list[CartLineView]]] = {}
        for line in lines:
            if line.sku_id not in loaded.facts:
                continue
            view = self._line_view(line, loaded)
            groups.setdefault(view.currency, {}).setdefault(view.store_id, []).append(view)
        result: list[CartCurrencyGroup] = []
        for currency, stores in groups.items():
            store_groups = []
            for store_id, store_lines in stores.items():
                store = loaded.facts[store_lines[0].sku_id].store
                bought = [line for line in store_lines if line.purchasable]
                store_groups.append(
                    CartStoreGroup(
                        store_id=store_id,
                        store_name=store.name,
                        store_slug=store.slug,
                        store_url=f"/s/{store.slug}",
                        trade_model=store.trade_model,
                        currency=currency,
                        lines=store_lines,
                        subtotal_amount=sum(line.line_total_amount for line in bought),
                        item_count=sum(line.quantity for line in bought),
                        own_store=store_id in own_stores,
                    )
                )
            all_lines = [line for s in store_groups for line in s.lines]
            result.append(
                CartCurrencyGroup(
                    currency=currency,
                    stores=store_groups,
                    total_amount=sum(s.subtotal_amount for s in store_groups),
                    item_count=sum(s.item_count for s in store_groups),
                    line_count=len(all_lines),
                    blocked=any(not line.purchasable for line in all_lines),
                )
            )
        return CartView(
            groups=result,
            line_count=sum(g.line_count for g in result),
            item_count=sum(line.quantity for g in result for s in g.stores for line in s.lines),
        )

    async def get_cart(self, session: AsyncSession, actor: Actor, guest_token: str | None) -> CartView:
        """The cart of the user, or of the guest holding ``guest_token`` (empty when there is none)."""
        repo = CartRepository(session)
        if actor.user_id is not None:
            rows = await repo.lines_with_facts(user_id=actor.user_id, viewer=actor)
        else:
            token = valid_guest_token(guest_token)
            rows = await repo.lines_with_facts(token_hash=hash_secret(token)) if token else []
        loaded = await self._with_tiers(session, {facts.sku.id: facts for _, facts, _ in rows})
        own = {facts.store.id for _, facts, own_store in rows if own_store}
        return await self._view(session, [line for line, _, _ in rows], loaded, own_stores=own)

    async def count_lines(self, session: AsyncSession, actor: Actor | None, guest_token: str | None) -> int:
        """How many variants the cart holds (the header badge), in one query."""
        repo = CartRepository(session)
        if actor is not None and actor.user_id is not None:
            return await repo.line_count(user_id=actor.user_id)
        token = valid_guest_token(guest_token)
        return await repo.line_count(token_hash=hash_secret(token)) if token else 0

    def count_lines_query(self, actor: Actor | None, guest_token: str | None) -> Select[Any] | None:
        """``count_lines`` as a statement, for the header to read along with its other values (None: no cart,
        0 lines, nothing to ask)."""
        if actor is not None and actor.user_id is not None:
            return line_count_query(user_id=actor.user_id)
        token = valid_guest_token(guest_token)
        return line_count_query(token_hash=hash_secret(token)) if token else None

    async def purge_guest_carts(self, session: AsyncSession, now: datetime, *, limit: int = 500) -> int:
        """Delete up to ``limit`` guest carts unchanged for ``GUEST_CART_DAYS`` (their cookie has expired);
        returns how many went."""
        return await CartRepository(session).delete_stale_guest_carts(
            now - timedelta(days=GUEST_CART_DAYS), limit
        )

    # --- changing ------------------------------------------------------------------------------------------

    async def add(
        self,
        session: AsyncSession,
        actor: Actor,
        guest_token: str | None,
        sku_id: int,
        quantity: int,
        *,
        sample: bool = False,
    ) -> CartLineView:
        """Put ``quantity`` more units of a SKU in the cart (creating the cart, and the guest's cart for a
        new ``guest_token``). The line's total must stay within the limits and what is available.
        With ``sample``: the SKU's sample line (1 piece at the sample price; adding it again keeps 1).

        The SKU, its tiers, the cart and the line are read in one statement, without locks; the line is then
        written only if it is still as read (``set_line_if_unchanged``, ``insert_line_if_absent``), else it
        is read again and checked anew: the quantity checked is the quantity written, as when several
        requests add to the same line at once. An add to an existing cart sends 3 statements (read, line,
        the cart's ``updated_at``); to a new cart 3 too (read, cart, line)."""
        self._check_writer(actor)
        owner = self._owner(actor, guest_token)
        repo = CartRepository(session)
        for attempt in range(ADD_ATTEMPTS):
            found = await repo.sku_in_cart(sku_id, sample=sample, **owner)
            if found is None or not found.facts.visible:
                raise SkuNotForSale()
            if sample:
                line = await self._put_sample(repo, owner, found, quantity)
            else:
                # after a lost race the line is held (FOR UPDATE) from its check to its write, so busy lines
                # cannot keep an add retrying
                line = await self._put_units(repo, owner, found, quantity, hold=attempt > 0)
            if line is not None:
                return self._line_view(line, self._loaded_one(found.facts, found.tiers))
        raise RuntimeError("could not add the cart line: it kept changing")

    async def _cart_for(
        self, repo: CartRepository, owner: dict[str, Any], found: SkuInCart
    ) -> tuple[int, bool] | None:
        """(the cart's id, whether this add created it); None when another request created it since it was
        read (read again: it may already hold the line)."""
        if found.cart_id is not None:
            return found.cart_id, False
        cart = await repo.insert_if_absent(**owner)
        return (cart.id, True) if cart is not None else None

    async def _put_units(
        self, repo: CartRepository, owner: dict[str, Any], found: SkuInCart, quantity: int, *, hold: bool
    ) -> CartLine | None:
        """The bulk line with ``quantity`` more units; None when the cart or the line changed since
        ``found`` was read (nothing was written). With ``hold``, an existing line is locked and read again
        first."""
        facts, in_cart = found.facts, found.in_cart
        if hold and found.line_id is not None:
            held = await repo.hold_line(found.line_id)
            if held is None:
                return None  # removed meanwhile
            in_cart = held
        if quantity < 1:
            raise invalid_field("quantity", "must be at least 1")
        check_quantity(facts, in_cart + quantity, in_cart=in_cart)
        total = in_cart + quantity
        price = unit_price(facts, found.tiers, total)
        cart = await self._cart_for(repo, owner, found)
        if cart is None:
            return None
        cart_id, created = cart
        if found.line_id is None:
            put = await repo.insert_line_if_absent(
                cart_id=cart_id,
                sku_id=facts.sku.id,
                quantity=total,
                unit_price_amount=price,
                currency=facts.sku.currency,
                added_at=utcnow(),
            )
        else:
            put = await repo.set_line_if_unchanged(
                found.line_id, in_cart, quantity=total, unit_price_amount=price, currency=facts.sku.currency
            )
        if put is not None and not created:
            await repo.touch(cart_id, utcnow())
        return put

    async def _put_sample(
        self, repo: CartRepository, owner: dict[str, Any], found: SkuInCart, quantity: int
    ) -> CartLine | None:
        """The sample line (1 piece at the sample price now, inserted or its price updated); None when the
        cart was created by another request since ``found`` was read (nothing was written)."""
        facts = found.facts
        price = check_sample(facts)
        if quantity != 1:
            raise SampleQuantityFixed()
        if facts.available < 1:
            raise InsufficientStock(available=facts.available)
        cart = await self._cart_for(repo, owner, found)
        if cart is None:
            return None
        cart_id, created = cart
        # a sample is one piece: asking again keeps it at 1, at the price the buyer sees now
        line = await repo.put_sample_line(
            cart_id=cart_id,
            sku_id=facts.sku.id,
            unit_price_amount=price,
            currency=facts.sku.currency,
            added_at=utcnow(),
        )
        if not created:
            await repo.touch(cart_id, utcnow())
        return line

    async def _existing_line(
        self, session: AsyncSession, actor: Actor, guest_token: str | None, sku_id: int, sample: bool
    ) -> tuple[Cart, CartLine]:
        cart = await self._find(session, actor, guest_token)
        repo = CartRepository(session)
        line = await repo.line(cart.id, sku_id, sample=sample, for_update=True) if cart else None
        if cart is None or line is None:
            raise CartLineNotFound(sample=sample)
        return cart, line

    async def set_quantity(
        self,
        session: AsyncSession,
        actor: Actor,
        guest_token: str | None,
        sku_id: int,
        quantity: int,
        *,
        sample: bool = False,
    ) -> CartLineView:
        """Change a line's quantity (the price it shows becomes the one the buyer has now seen). A sample
        line's quantity cannot change (422 naming ``quantity``)."""
        self._check_writer(actor)
        cart, line = await self._existing_line(session, actor, guest_token, sku_id, sample)
        if sample:
            raise SampleQuantityFixed()
        found = await CartRepository(session).sku_with_tiers(sku_id)
        if found is None or not found[0].visible:
            raise SkuNotForSale()
        facts, tiers = found
        check_quantity(facts, quantity)
        line.quantity = quantity
        line.unit_price_amount = unit_price(facts, tiers, quantity)
        line.currency = facts.sku.currency
        cart.updated_at = utcnow()
        await session.flush()
        return self._line_view(line, self._loaded_one(facts, tiers))

    async def remove(
        self,
        session: AsyncSession,
        actor: Actor,
        guest_token: str | None,
        sku_id: int,
        *,
        sample: bool = False,
    ) -> None:
        """Take the SKU's bulk line (or with ``sample``, its sample line) out of the cart."""
        self._check_writer(actor)
        cart, _ = await self._existing_line(session, actor, guest_token, sku_id, sample)
        await CartRepository(session).delete_line(cart.id, sku_id, sample=sample)
        cart.updated_at = utcnow()
        await session.flush()

    async def remove_many(
        self, session: AsyncSession, actor: Actor, guest_token: str | None, sku_ids: Sequence[int]
    ) -> int:
        """Take these SKUs out of the cart, their bulk and sample lines (checkout, after the order is placed);
        how many lines went. SKUs that are not in the cart are ignored. ``remove_lines`` takes out only the
        lines of the kinds bought."""
        self._check_writer(actor)
        cart = await self._find(session, actor, guest_token)
        if cart is None:
            return 0
        removed = await CartRepository(session).delete_lines(cart.id, sku_ids)
        cart.updated_at = utcnow()
        await session.flush()
        return removed

    async def remove_lines(
        self, session: AsyncSession, actor: Actor, guest_token: str | None, lines: Sequence[tuple[int, bool]]
    ) -> int:
        """Take these (sku_id, is_sample) lines out of the cart; how many went. Lines that are not in the cart
        are ignored."""
        self._check_writer(actor)
        cart = await self._find(session, actor, guest_token)
        if cart is None:
            return 0
        removed = await CartRepository(session).delete_these(cart.id, lines)
        cart.updated_at = utcnow()
        await session.flush()
        return removed

    async def merge_guest(self, session: AsyncSession, user_id: int, guest_token: str | None) -> int:
        """Move a guest's cart into the user's (at login or registration) and delete it. Quantities of the
        same SKU are added, capped at what is available and the line limit; variants no longer for sale or
        out of stock are dropped. Sample lines stay apart from bulk lines: a guest's sample joins the user's
        cart as a sample (still 1 piece; dropped when the product no longer offers samples). Returns how many
        of the guest's lines reached the user's cart."""
        token = valid_guest_token(guest_token)
        if token is None:
            return 0
        repo = CartRepository(session)
        guest = await repo.of_guest(hash_secret(token))
        if guest is None:
            return 0
        guest_lines = await repo.lines(guest.id)
        facts = await repo.sku_facts([line.sku_id for line in guest_lines])
        await repo.delete(guest)
        await session.flush()
        if not guest_lines:
            return 0
        cart = await repo.of_user(user_id) or await repo.create(user_id=user_id)
        merged = 0
        for guest_line in reversed(guest_lines):  # oldest first, so the newest stays newest
            sku_facts = facts.get(guest_line.sku_id)
            if sku_facts is None or not sku_facts.visible or sku_facts.available <= 0:
                continue
            sample = guest_line.is_sample
            if sample and sample_price(sku_facts) is None:
                continue
            _, high = quantity_limits(sku_facts, sample=sample)
            line = await repo.line(cart.id, guest_line.sku_id, sample=sample, for_update=True)
            if line is None:
                quantity = min(guest_line.quantity, sku_facts.available, high)
                session.add(
                    CartLine(
                        cart_id=cart.id,
                        sku_id=guest_line.sku_id,
                        is_sample=sample,
                        quantity=quantity,
                        unit_price_amount=guest_line.unit_price_amount,
                        currency=guest_line.currency,
                        added_at=guest_line.added_at,
                    )
                )
            else:
                cap = min(max(sku_facts.available, line.quantity), high)
                line.quantity = max(line.quantity, min(line.quantity + guest_line.quantity, cap))
            merged += 1
        cart.updated_at = utcnow()
        await session.flush()
        return merged


cart_service = CartService()
