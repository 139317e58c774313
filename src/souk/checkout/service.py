"""Checkout rules: the preview the page shows, placing an order (rule 5, step 1) and recording the payment's result
(step 3). Flushes, never commits: ``souk.checkout.flows`` runs the steps in their own transactions.

Placing (one transaction): the cart's currency group is checked (its purchasable lines; not the buyer's own
stores), one shipping method per store, the address (from the book, or a new one added to it); every line's stock
is reserved in SKU id order (all or nothing: 409 ``insufficient_stock`` naming the SKU); the order, one seller
order per store (``pending_payment``, ``pay_by`` from the store's trade policy, the policy values snapshotted) and
their lines are written with the payment intent. A sample line of the cart becomes a sample order line
(``is_sample``, 1 piece at the sample price); like any line it reserves its unit of stock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from souk.address.service import AddressNotFound, address_service
from souk.auth.actor import Actor
from souk.authz import require_user, require_writer
from souk.cart.schemas import CartCurrencyGroup, CartStoreGroup
from souk.cart.service import cart_service
from souk.checkout.errors import InsufficientStockAtCheckout, NothingToCheckOut, PriceChanged
from souk.checkout.repository import PlacingRepository, order_with_payment
from souk.checkout.schemas import CheckoutCreate, CheckoutPreview, MethodQuote, StoreQuote
from souk.errors import Invalid, invalid_field
from souk.inventory.service import inventory_service
from souk.kit.clock import utcnow
from souk.kit.money import Money
from souk.models import Address, Order, Payment, ShippingMethod
from souk.order.repository import OrderRepository, WrittenRows
from souk.order.service import order_service
from souk.payment.service import payment_service
from souk.shipping.service import quote, shipping_service
from souk.trade.policy import get_policy

STOCK_WARNINGS = ("out_of_stock", "insufficient_stock")
ADDRESS_FIELDS = ("full_name", "phone", "line1", "line2", "city", "region", "postal_code", "country")


def address_snapshot(address: Address) -> dict[str, str]:
    return {name: getattr(address, name) or "" for name in ADDRESS_FIELDS}


def _purchasable(store: CartStoreGroup) -> list[Any]:
    return [line for line in store.lines if line.purchasable]


def _short_of_stock(group: CartCurrencyGroup) -> list[InsufficientStockAtCheckout]:
    """The lines that cannot be bought because fewer units are available than the cart holds: a checkout does
    not leave them out silently; the buyer changes the quantity first."""
    return [
        InsufficientStockAtCheckout(
            sku_id=line.sku_id, sku_code=line.sku_code, title=line.title, quantity=line.quantity
        )
        for store in group.stores
        for line in store.lines
        if any(w.kind in STOCK_WARNINGS and w.blocking for w in line.warnings)
    ]


@dataclass
class Placed:
    """An order ``place_order`` has just written, with its lines and events as inserted."""

    order: Order
    written: WrittenRows


class CheckoutService:
    async def _group(self, session: AsyncSession, actor: Actor, currency: str) -> CartCurrencyGroup:
        cart = await cart_service.get_cart(session, actor, None)
        group = cart.group(currency)
        if group is None or not group.purchasable_lines:
            short = _short_of_stock(group) if group is not None else []
            if short:
                raise short[0]
            raise NothingToCheckOut(currency)
        return group

    # --- the page --------------------------------------------------------------------------------------

    async def preview(
        self,
        session: AsyncSession,
        actor: Actor,
        currency: str,
        *,
        shipping: Mapping[int, int] | None = None,
    ) -> CheckoutPreview:
        """The checkout of the cart's ``currency`` group: each store's purchasable lines, its shipping methods
        priced for its subtotal (``shipping`` {store_id: method_id} chooses; otherwise the first method) and
        the totals. 409 ``nothing_to_check_out`` when the group has nothing that can be bought."""
        require_user(actor)
        group = await self._group(session, actor, currency)
        stores = [s for s in group.stores if _purchasable(s)]
        offered = await shipping_service.methods_for_stores(session, [s.store_id for s in stores])
        own = {s.store_id for s in stores if s.own_store}
        problems: dict[int, str] = {}
        quotes: list[StoreQuote] = []
        for store in stores:
            items = sum(line.line_total_amount for line in _purchasable(store))
            methods = [
                MethodQuote(m, quote(m, items)) for m in offered[store.store_id] if m.currency == currency
            ]
            wanted = (shipping or {}).get(store.store_id)
            selected = next((m for m in methods if m.method.id == wanted), methods[0] if methods else None)
            if not methods:
                problems[store.store_id] = "This store has no shipping method yet; it cannot take orders."
            if store.store_id in own:
                problems[store.store_id] = "This is your own store: you cannot buy from it."
            ship = selected.price_amount if selected else 0
            quotes.append(StoreQuote(store, methods, selected, items, ship, items + ship))
        return CheckoutPreview(
            currency=currency,
            group=group,
            stores=quotes,
            addresses=await address_service.list_mine(session, actor),
            items_amount=sum(q.items_amount for q in quotes),
            shipping_amount=sum(q.shipping_amount for q in quotes),
            total_amount=sum(q.total_amount for q in quotes),
            problems=problems,
        )

    # --- step 1: the pending order ----------------------------------------------------------------------

    async def _address(self, session: AsyncSession, actor: Actor, payload: CheckoutCreate) -> Address:
        if payload.address is not None:
            return await address_service.create(session, actor, payload.address)
        assert payload.address_id is not None
        try:
            return await address_service.get(session, actor, payload.address_id)
        except AddressNotFound:
            raise invalid_field("address_id", "is not an address in your address book") from None

    async def _methods(
        self, session: AsyncSession, stores: list[CartStoreGroup], payload: CheckoutCreate
    ) -> dict[int, ShippingMethod]:
        chosen = {c.store_id: c.shipping_method_id for c in payload.shipping}
        problems: dict[str, str] = {}
        for store_id in chosen:
            if store_id not in {s.store_id for s in stores}:
                problems[f"shipping.{store_id}"] = "this store has nothing in this checkout"
        methods: dict[int, ShippingMethod] = {}
        asked = [s.store_id for s in stores if s.store_id in chosen]
        offered_by = await shipping_service.methods_for_stores(session, asked) if asked else {}
        for store in stores:
            method_id = chosen.get(store.store_id)
            if method_id is None:
                problems[f"shipping.{store.store_id}"] = f"choose how {store.store_name} ships your order"
                continue
            method = next((m for m in offered_by[store.store_id] if m.id == method_id), None)
            if method is None or method.currency != payload.currency:
                problems[f"shipping.{store.store_id}"] = (
                    f"choose one of {store.store_name}'s shipping methods"
                )
                continue
            methods[store.store_id] = method
        if problems:
            raise Invalid("Choose a shipping method for every store.", fields=problems)
        return methods

    async def place(
        self, session: AsyncSession, actor: Actor, payload: CheckoutCreate, *, token: str
    ) -> Order:
        """Step 1 of checkout (one transaction): reserve the stock and write the pending order, its seller
        orders and lines, and the payment intent. ``token`` makes the checkout unique for the buyer (an API
        Idempotency-Key or a form's one-time token). Raises (and writes nothing) on any problem."""
        return (await self.place_order(session, actor, payload, token=token)).order

    async def place_order(
        self, session: AsyncSession, actor: Actor, payload: CheckoutCreate, *, token: str
    ) -> Placed:
        """``place``, also giving the lines and events it wrote (for the answer, without reading them back)."""
        user_id = require_writer(actor)
        currency = payload.currency
        group = await self._group(session, actor, currency)
        short = _short_of_stock(group)
        if short:
            raise short[0]
        stores = [s for s in group.stores if _purchasable(s)]
        own = {s.store_id for s in stores if s.own_store}  # read with the cart
        if own:
            raise Invalid(
                "You cannot buy from your own store; remove its items from this checkout.",
                code="own_store",
                fields={f"shipping.{store_id}": "this is your own store" for store_id in sorted(own)},
            )
        methods = await self._methods(session, stores, payload)
        address = await self._address(session, actor, payload)
        now = utcnow()
        plans = []
        for store in stores:
            items = sum(line.line_total_amount for line in _purchasable(store))
            method = methods[store.store_id]
            plans.append((store, method, items, quote(method, items), get_policy(store.trade_model)))
        items_total = sum(p[2] for p in plans)
        shipping_total = sum(p[3] for p in plans)
        total = items_total + shipping_total
        if payload.expected_total_amount is not None and payload.expected_total_amount != total:
            raise PriceChanged(payload.expected_total_amount, total)
        pay_by = now + min(p[4].unpaid_close for p in plans)
        order = Order(
            buyer_id=user_id,
            currency=currency,
            status="pending_payment",
            items_amount=items_total,
            shipping_amount=shipping_total,
            total_amount=total,
            shipping_address=address_snapshot(address),
            checkout_token=token[:300],
            pay_by=pay_by,
            created_at=now,
            updated_at=now,
        )
        session.add(order)
        await session.flush()
        placing = PlacingRepository(session)
        seller_orders = [
            {
                "order_id": order.id,
                "store_id": store.store_id,
                "buyer_id": user_id,
                "status": "pending_payment",
                "currency": currency,
                "items_amount": items,
                "shipping_amount": ship,
                "total_amount": items + ship,
                "trade_model": store.trade_model,
                "commission_bps": policy.commission_bps,
                "ship_by_days": policy.ship_by_days,
                "auto_confirm_days": policy.auto_confirm_after(method.kind).days,
                "receipt_extension_days": policy.receipt_extension_days,
                "receipt_extension_window_days": policy.receipt_extension_window_days,
                "receipt_extensions_allowed": policy.receipt_extensions_allowed,
                "policy_snapshot": policy.snapshot(),
                "shipping_method_id": method.id,
                "shipping_method_name": method.name,
                "shipping_kind": method.kind,
                "shipping_price_amount": method.price_amount,
                "shipping_free_over_amount": method.free_over_amount,
                "pay_by": now + policy.unpaid_close,
                "created_at": now,
                "updated_at": now,
            }
            for store, method, items, ship, policy in plans
        ]
        so_ids = await placing.insert_seller_orders(seller_orders)
        lines: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        reservations: list[tuple[int, int, str, str]] = []
        for store, _method, items, ship, _policy in plans:
            so_id = so_ids[store.store_id]
            for line in _purchasable(store):
                lines.append(
                    {
                        "seller_order_id": so_id,
                        "sku_id": line.sku_id,
                        "product_id": line.product_id,
                        "is_sample": line.is_sample,
                        "title": line.title[:200],
                        "sku_code": line.sku_code,
                        "options": dict(line.options),
                        "unit_price_amount": line.unit_price_amount,
                        "quantity": line.quantity,
                        "line_total_amount": line.line_total_amount,
                        "currency": currency,
                    }
                )
                reservations.append((line.sku_id, line.quantity, line.sku_code, line.title))
            events.append(
                {
                    "seller_order_id": so_id,
                    "kind": "placed",
                    "actor_id": user_id,
                    "actor_role": "buyer",
                    "data": {"total_amount": items + ship},
                    "created_at": now,
                }
            )
        written = WrittenRows(
            lines=await placing.insert_lines(lines),
            events=await placing.insert_events(events),
            actor_names={user_id: actor.display_name} if actor.display_name else {},
        )
        payment = await payment_service.create(
            session,
            amount=Money(total, currency),
            reference=f"order {order.number}",
            idempotency_key=f"order:{order.id}",
            order_id=order.id,
            user_id=user_id,
        )
        order.payment_id = payment.id
        await session.flush()
        # the stock last: a reservation locks the SKU's stock row until the transaction ends, and a flash sale
        # sends every checkout to the same row, so nothing but the commit may follow it (docs/adr/0008)
        lacking = await inventory_service.reserve_all(
            session,
            [(sku_id, quantity) for sku_id, quantity, _, _ in reservations],
            reason=f"order {order.number}",
            actor_id=user_id,
        )
        if lacking is not None:
            sku_id, quantity, code, title = next(r for r in sorted(reservations) if r[0] == lacking[0])
            raise InsufficientStockAtCheckout(sku_id=sku_id, sku_code=code, title=title, quantity=quantity)
        return Placed(order, written)

    async def order_by_token(self, session: AsyncSession, actor: Actor, token: str) -> Order | None:
        """The order an earlier checkout with this token placed (a retry after a crash), if any."""
        return await OrderRepository(session).order_by_token(require_user(actor), token[:300])

    # --- step 3: the payment's result ------------------------------------------------------------------

    async def settle(self, session: AsyncSession, order_id: int) -> str:
        """Record the payment's result on the order: paid (the same work the provider's webhook triggers,
        done once whichever comes first) or declined (the reason goes on the timeline; the order keeps waiting
        until ``pay_by``). Returns the payment's status."""
        status, _, _ = await self.settle_order(session, order_id)
        return status

    async def settle_order(
        self, session: AsyncSession, order_id: int
    ) -> tuple[str, Order | None, Payment | None]:
        """``settle``, also giving the order and payment it read; they are still current unless the status
        is ``succeeded`` or ``failed`` (then the order was changed: read it again)."""
        found = await order_with_payment(session, order_id)
        if found is None:
            return "missing", None, None
        order, payment = found
        if payment is None:
            return "missing", order, None
        if payment.status == "succeeded":
            await order_service.mark_paid(session, payment)
        elif payment.status == "failed":
            await order_service.record_payment_failure(session, order.id, payment)
        return payment.status, order, payment


checkout_service = CheckoutService()
