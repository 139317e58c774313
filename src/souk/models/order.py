"""Orders: the buyer's receipt of one checkout (``Order``), one ``SellerOrder`` per store with its ``OrderLine``
snapshots, and the timeline of everything that happened to a seller order (``OrderEvent``).

A seller order is the unit of fulfilment, escrow, disputes and settlement (DOMAIN.md "SellerOrder state
machine"). It keeps the policy values in force when it was placed (commission, timers) and the shipping method it
was placed with; nothing is recomputed later. Deadlines are indexed columns swept by the worker (``pay_by``,
``ship_by``, ``auto_confirm_at``); a paused receipt timer keeps its remaining time in
``auto_confirm_remaining_seconds`` with ``auto_confirm_at`` cleared.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from souk.models.base import Base, Timestamped, _now

ORDER_STATUSES = ("pending_payment", "paid", "cancelled")
SELLER_ORDER_STATUSES = (
    "pending_payment",
    "paid",
    "shipped",
    "completed",
    "cancelled",
    "refunded",
    # a sourcing contract's order: deposit due, then production, then (balance before shipment) balance due
    "awaiting_deposit",
    "in_production",
    "awaiting_balance",
)
# seller order numbers start here ("SO-1001" is seller order #1)
NUMBER_OFFSET = 1000

# A seller order's number is given by the database as the row is inserted (no UPDATE after the INSERT): a row
# trigger sets "SO-<id + NUMBER_OFFSET>" when the insert leaves ``number`` NULL. The migration that adds the
# triggers keeps its own copy of this SQL; tests/checkout/test_seller_order_numbers.py checks that they agree.


def seller_order_number(seller_order_id: int) -> str:
    """The number the trigger gives the seller order of this id."""
    return f"SO-{seller_order_id + NUMBER_OFFSET}"


SELLER_ORDER_NUMBER_SQLITE = (
    "CREATE TRIGGER seller_orders_number AFTER INSERT ON seller_orders FOR EACH ROW "
    "WHEN NEW.number IS NULL BEGIN "
    f"UPDATE seller_orders SET number = 'SO-' || (NEW.id + {NUMBER_OFFSET}) WHERE id = NEW.id; END"
)
SELLER_ORDER_NUMBER_PG = (
    "CREATE OR REPLACE FUNCTION seller_order_number() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN IF NEW.number IS NULL THEN NEW.number := 'SO-' || (NEW.id + {NUMBER_OFFSET}); END IF; "
    "RETURN NEW; END $$",
    "CREATE TRIGGER seller_orders_number BEFORE INSERT ON seller_orders FOR EACH ROW "
    "EXECUTE FUNCTION seller_order_number()",
)


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Order(Timestamped, Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), default="pending_payment")
    # totals snapshot, minor units of ``currency``
    items_amount: Mapped[int] = mapped_column(BigInteger)
    shipping_amount: Mapped[int] = mapped_column(BigInteger)
    total_amount: Mapped[int] = mapped_column(BigInteger)
    # the address it ships to, copied from the address book: {full_name, phone, line1, ... country}
    shipping_address: Mapped[dict[str, Any]] = mapped_column(JSON)
    # the API's Idempotency-Key ("api:<key>") or the web form's one-time token ("form:<nonce>"): one checkout
    checkout_token: Mapped[str] = mapped_column(String(300))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    # closes unpaid at this moment (the earliest of its seller orders' pay_by)
    pay_by: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("buyer_id", "checkout_token"),
        Index("ix_orders_buyer_id_id", "buyer_id", "id"),
        Index("ix_orders_status_pay_by", "status", "pay_by"),
        CheckConstraint(f"status IN ({_in(ORDER_STATUSES)})", name="status"),
        CheckConstraint("items_amount > 0 AND shipping_amount >= 0", name="amounts"),
        CheckConstraint("total_amount = items_amount + shipping_amount", name="total"),
        {"sqlite_autoincrement": True},
    )

    @property
    def number(self) -> str:
        return f"O-{self.id + NUMBER_OFFSET}"


class SellerOrder(Timestamped, Base):
    __tablename__ = "seller_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    # the buyer, copied from the order so the seller's lists and the timers need no join
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # "SO-1042", given by the database's insert trigger (SELLER_ORDER_NUMBER_*)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="pending_payment")
    currency: Mapped[str] = mapped_column(String(3))
    items_amount: Mapped[int] = mapped_column(BigInteger)
    shipping_amount: Mapped[int] = mapped_column(BigInteger)
    total_amount: Mapped[int] = mapped_column(BigInteger)
    # the store's trade model and the policy values in force when it was placed
    trade_model: Mapped[str] = mapped_column(String(12))
    commission_bps: Mapped[int]
    ship_by_days: Mapped[int]
    auto_confirm_days: Mapped[int]
    receipt_extension_days: Mapped[int]
    receipt_extension_window_days: Mapped[int]
    receipt_extensions_allowed: Mapped[int]
    policy_snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    # the shipping method chosen at checkout (methods can be edited or deleted later)
    shipping_method_id: Mapped[int | None]
    shipping_method_name: Mapped[str] = mapped_column(String(60))
    shipping_kind: Mapped[str] = mapped_column(String(10))
    shipping_price_amount: Mapped[int] = mapped_column(BigInteger)
    shipping_free_over_amount: Mapped[int | None] = mapped_column(BigInteger)
    # deadlines (timers) and what happened when
    pay_by: Mapped[datetime | None] = mapped_column(index=True)
    ship_by: Mapped[datetime | None] = mapped_column(index=True)
    auto_confirm_at: Mapped[datetime | None] = mapped_column(index=True)
    auto_confirm_remaining_seconds: Mapped[int | None]
    receipt_extensions_used: Mapped[int] = mapped_column(default=0)
    seller_late_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (
        Index("ix_seller_orders_store_id_status_id", "store_id", "status", "id"),
        CheckConstraint(f"status IN ({_in(SELLER_ORDER_STATUSES)})", name="status"),
        CheckConstraint("shipping_kind IN ('express', 'surface')", name="shipping_kind"),
        CheckConstraint("items_amount > 0 AND shipping_amount >= 0", name="amounts"),
        CheckConstraint("total_amount = items_amount + shipping_amount", name="total"),
        CheckConstraint("commission_bps >= 0 AND commission_bps <= 10000", name="commission_bps"),
        CheckConstraint(
            "receipt_extensions_used >= 0 AND receipt_extensions_used <= receipt_extensions_allowed",
            name="receipt_extensions",
        ),
        CheckConstraint(
            "auto_confirm_remaining_seconds IS NULL OR auto_confirm_remaining_seconds >= 0",
            name="remaining",
        ),
        {"sqlite_autoincrement": True},
    )

    @property
    def receipt_extended(self) -> bool:
        return self.receipt_extensions_used > 0

    @property
    def claim_until(self) -> datetime | None:
        """Until when the buyer may open a claim on a completed order (the claim window it was placed with)."""
        days = int((self.policy_snapshot or {}).get("claim_window_days") or 0)
        if self.status != "completed" or self.completed_at is None or days <= 0:
            return None
        return self.completed_at + timedelta(days=days)

    @property
    def receipt_timer_paused(self) -> bool:
        return self.status == "shipped" and self.auto_confirm_remaining_seconds is not None


event.listen(
    SellerOrder.__table__, "after_create", DDL(SELLER_ORDER_NUMBER_SQLITE).execute_if(dialect="sqlite")
)
for _statement in SELLER_ORDER_NUMBER_PG:
    event.listen(SellerOrder.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql"))
event.listen(
    SellerOrder.__table__,
    "after_drop",
    DDL("DROP FUNCTION IF EXISTS seller_order_number()").execute_if(dialect="postgresql"),
)


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_order_id: Mapped[int] = mapped_column(ForeignKey("seller_orders.id"), index=True)
    # a sourcing contract's line has no listing: its goods are the contract's product specification
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    # a sourcing sample (quantity 1 at the sample price)
    is_sample: Mapped[bool] = mapped_column(default=False, server_default=false())
    # snapshots: what the buyer saw and paid
    title: Mapped[str] = mapped_column(String(200))
    sku_code: Mapped[str] = mapped_column(String(64))
    options: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    unit_price_amount: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int]
    line_total_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))

    __table_args__ = (
        UniqueConstraint("seller_order_id", "sku_id", "is_sample"),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("unit_price_amount > 0", name="unit_price"),
        CheckConstraint("line_total_amount = unit_price_amount * quantity", name="line_total"),
    )


class OrderEvent(Base):
    """One thing that happened to a seller order: the timeline both sides see."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_order_id: Mapped[int] = mapped_column(ForeignKey("seller_orders.id"))
    # placed, payment_failed, paid, shipped, in_transit, out_for_delivery, delivered, seller_late,
    # receipt_extended, completed, cancelled, refunded, receipt_timer_paused, receipt_timer_resumed ...
    kind: Mapped[str] = mapped_column(String(40))
    # who: a user, or the system (a timer, the payment provider, a carrier) when None
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(10))  # buyer | seller | system | operator
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=_now)

    __table_args__ = (
        Index("ix_order_events_seller_order_id_id", "seller_order_id", "id"),
        CheckConstraint("actor_role IN ('buyer', 'seller', 'system', 'operator')", name="actor_role"),
    )
