"""Shipping methods per store: the seller defines them (``store:manage``), buyers choose one per store at
checkout. Prices are in the store's currency; a method is free when the store's subtotal reaches its
free-over threshold. The kind (express or surface mail) sets the receipt timer of the order (trade policy).

Orders must copy what they used (name, kind, price): methods can be edited and deleted at any time.
Flushes, never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from souk.auth.actor import Actor
from souk.authz import ROLE_PERMISSIONS, get_store_for, store_role
from souk.errors import Conflict, Invalid, NotFound
from souk.models import ShippingMethod, Store
from souk.shipping.repository import ShippingRepository
from souk.shipping.schemas import (
    KIND_LABELS,
    MAX_METHODS_PER_STORE,
    ShippingMethodCreate,
    ShippingMethodUpdate,
)
from souk.store.service import store_service

REQUIRED = ("name", "kind", "price_amount", "active", "position")


class ShippingMethodNotFound(NotFound):
    code = "shipping_method_not_found"

    def __init__(self) -> None:
        super().__init__("No such shipping method.")


@dataclass(frozen=True)
class SellerShipping:
    """What the seller's shipping page shows."""

    store: Store
    methods: list[ShippingMethod]
    # the viewer may add, edit and delete methods (``store:manage``)
    can_manage: bool


def quote(method: ShippingMethod, subtotal_amount: int) -> int:
    """The shipping price (minor units of ``method.currency``) for a store subtotal in the same currency:
    0 when the subtotal reaches the method's free-over threshold, else its price."""
    if method.free_over_amount is not None and subtotal_amount >= method.free_over_amount:
        return 0
    return method.price_amount


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


class ShippingService:
    # --- buyers and checkout -----------------------------------------------------------------------------

    async def methods_for_store(self, session: AsyncSession, store_id: int) -> list[ShippingMethod]:
        """The methods buyers may choose for a store, in display order: active and priced in the store's
        current currency. No visibility check (the caller already holds a visible store or a cart line)."""
        return await ShippingRepository(session).offered([store_id])

    async def methods_for_stores(
        self, session: AsyncSession, store_ids: Sequence[int]
    ) -> dict[int, list[ShippingMethod]]:
        """``methods_for_store`` for several stores in one query: {store_id: methods} (every id present)."""
        found: dict[int, list[ShippingMethod]] = {store_id: [] for store_id in store_ids}
        for method in await ShippingRepository(session).offered(store_ids):
            found[method.store_id].append(method)
        return found

    async def method_for_checkout(
        self, session: AsyncSession, store_id: int, method_id: int
    ) -> ShippingMethod:
        """A method the buyer chose for a store: one the store offers now (else 404
        ``shipping_method_not_found``)."""
        for method in await self.methods_for_store(session, store_id):
            if method.id == method_id:
                return method
        raise ShippingMethodNotFound()

    async def list_for_store(
        self, session: AsyncSession, actor: Actor, store_id: int, *, include_inactive: bool = False
    ) -> list[ShippingMethod]:
        """A store's methods: the offered ones for anyone who can see the store (404 otherwise); with
        ``include_inactive`` every method, for the store's people (``store:read``)."""
        if include_inactive:
            store = await get_store_for(session, actor, store_id, "store:read")
            return await ShippingRepository(session).of_store(store.id)
        store = await store_service.get(session, actor, store_id)
        return await self.methods_for_store(session, store.id)

    # --- the seller ----------------------------------------------------------------------------------------

    async def seller_view(self, session: AsyncSession, actor: Actor, store_id: int) -> SellerShipping:
        """Every method of one of the actor's stores (``store:read``), and whether they may change them."""
        store = await get_store_for(session, actor, store_id, "store:read")
        role = await store_role(session, actor, store)
        can_manage = role is not None and "store:manage" in ROLE_PERMISSIONS[role]
        return SellerShipping(store, await ShippingRepository(session).of_store(store.id), can_manage)

    async def get_for_seller(
        self,
        session: AsyncSession,
        actor: Actor,
        store_id: int,
        method_id: int,
        permission: str = "store:read",
    ) -> tuple[Store, ShippingMethod]:
        store = await get_store_for(session, actor, store_id, permission)
        method = await ShippingRepository(session).get(store.id, method_id)
        if method is None:
            raise ShippingMethodNotFound()
        return store, method

    async def create(
        self, session: AsyncSession, actor: Actor, store_id: int, payload: ShippingMethodCreate
    ) -> ShippingMethod:
        store = await get_store_for(session, actor, store_id, "store:manage")
        if await ShippingRepository(session).count(store.id) >= MAX_METHODS_PER_STORE:
            raise Conflict(
                f"A store offers at most {MAX_METHODS_PER_STORE} shipping methods; delete one first.",
                code="too_many_shipping_methods",
            )
        method = ShippingMethod(store_id=store.id, currency=store.currency, **payload.model_dump())
        session.add(method)
        await session.flush()
        return method

    async def update(
        self,
        session: AsyncSession,
        actor: Actor,
        store_id: int,
        method_id: int,
        payload: ShippingMethodUpdate,
    ) -> ShippingMethod:
        store, method = await self.get_for_seller(session, actor, store_id, method_id, "store:manage")
        changes = payload.model_dump(exclude_unset=True)
        problems = {key: "must not be empty" for key in REQUIRED if key in changes and changes[key] is None}
        if method.currency != store.currency and "price_amount" not in changes:
            problems["price_amount"] = (
                f"the store now sells in {store.currency}: enter the price in {store.currency}"
            )
        if problems:
            raise Invalid("Please correct the fields marked.", fields=problems)
        if method.currency != store.currency:
            method.currency = store.currency
            if "free_over_amount" not in changes:
                method.free_over_amount = None  # it was in the old currency
        for key, value in changes.items():
            setattr(method, key, value)
        await session.flush()
        return method

    async def delete(
        self, session: AsyncSession, actor: Actor, store_id: int, method_id: int
    ) -> ShippingMethod:
        """Delete a method; returns it (detached) for the caller's message."""
        _, method = await self.get_for_seller(session, actor, store_id, method_id, "store:manage")
        await session.delete(method)
        await session.flush()
        return method


shipping_service = ShippingService()
