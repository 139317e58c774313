"""Orders: what the API returns and accepts. Amounts are integer minor units of the order's currency.

An order (the buyer's receipt of one checkout) holds one seller order per store; each seller order has its lines,
shipping choice, deadlines, shipment with tracking, timeline and the next action with its deadline::

    OrderRead
      id, number, status, currency, items_amount, shipping_amount, total_amount, shipping_address, pay_by,
      payment {status, failure_code, failure_message ...}, next_action, seller_orders: [SellerOrderRead]
        id, number, store {id, name, slug}, status, amounts, shipping {name, kind, price_amount},
        commission_bps, pay_by, ship_by, auto_confirm_at, receipt_extended, seller_late, lines, shipment,
        timeline: [OrderEventRead], next_action {kind, label, deadline_label, deadline, actions}
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from souk.kit.countries import country_name
from souk.kit.schemas import ReadSchema, Schema, Trimmed
from souk.payment.schemas import CardIn

SellerOrderStatus = Literal[
    "pending_payment",
    "paid",
    "shipped",
    "completed",
    "cancelled",
    "refunded",
    # a sourcing contract's order: deposit due, in production, balance due
    "awaiting_deposit",
    "in_production",
    "awaiting_balance",
]
MilestoneKind = Literal["deposit", "balance"]
MilestoneStatus = Literal["pending", "due", "paid", "refunded", "cancelled"]
PaymentPlan = Literal["before_shipment", "on_documents"]
Carrier = Annotated[str, Trimmed(60, min_length=1)]
TrackingNumber = Annotated[
    str,
    Trimmed(60, min_length=4, pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]*$"),
]


class ShipCreate(Schema):
    carrier: Carrier = Field(description="the carrier's name, e.g. DHL, SF Express, La Poste")
    tracking_number: TrackingNumber = Field(description="letters, digits, spaces and dashes")


class OrderPayment(Schema):
    """Pay a waiting order (again, after a declined card) with a card."""

    card: CardIn


class StoreRef(BaseModel):
    id: int
    name: str
    slug: str


class AddressSnapshot(BaseModel):
    full_name: str
    phone: str
    line1: str
    line2: str = ""
    city: str
    region: str = ""
    postal_code: str = ""
    country: str

    @property
    def lines(self) -> list[str]:
        """The address as it is written on a parcel, one line each."""
        place = " ".join(p for p in (self.postal_code, self.city) if p)
        if self.region:
            place = f"{place}, {self.region}"
        return [
            line
            for line in (
                self.full_name,
                self.line1,
                self.line2,
                place,
                country_name(self.country),
                self.phone,
            )
            if line
        ]


class OrderLineRead(ReadSchema):
    id: int
    sku_id: int | None = Field(description="null for a sourcing contract's goods")
    product_id: int | None
    is_sample: bool = Field(description="a sourcing sample: one piece at the sample price")
    title: str
    sku_code: str
    options: dict[str, str]
    unit_price_amount: int
    quantity: int
    line_total_amount: int
    currency: str


class ShippingChoiceRead(BaseModel):
    method_id: int | None
    name: str
    kind: Literal["express", "surface"]
    price_amount: int = Field(description="the method's price when the order was placed")
    free_over_amount: int | None


class TrackingEventRead(ReadSchema):
    status: str
    occurred_at: datetime
    location: str
    description: str


class ShipmentRead(BaseModel):
    carrier: str
    tracking_number: str
    shipped_at: datetime
    delivered_at: datetime | None
    last_status: str | None
    events: list[TrackingEventRead] = Field(description="tracking events, oldest first")


class OrderEventRead(BaseModel):
    id: int
    kind: str
    text: str = Field(description="what happened, as the pages say it")
    actor_role: Literal["buyer", "seller", "system", "operator"]
    actor_name: str | None
    data: dict[str, Any]
    created_at: datetime


class NextAction(BaseModel):
    """What should happen next, and by when: e.g. ``Confirm receipt`` (``auto-confirms`` at ``deadline``)."""

    kind: str = Field(
        description="pay, payment_processing, await_payment, await_shipment, seller_late, ship, "
        "confirm_receipt, await_receipt, receipt_paused, pay_deposit, pay_balance, in_production, "
        "await_deposit, produce, await_balance, none"
    )
    label: str
    deadline_label: str = Field("", description="what happens at the deadline: closes, due, auto-confirms")
    deadline: datetime | None = None
    actions: list[str] = Field(
        default_factory=list,
        description="what the viewer may do now: pay, cancel_order, cancel, confirm_receipt, extend_receipt, ship, "
        "pay_milestone, production_finished",
    )


class SellerOrderRead(BaseModel):
    id: int
    number: str
    order_id: int
    store: StoreRef
    status: SellerOrderStatus
    currency: str
    items_amount: int
    shipping_amount: int
    total_amount: int
    shipping: ShippingChoiceRead
    commission_bps: int = Field(description="the platform commission this order was placed with")
    pay_by: datetime | None
    ship_by: datetime | None
    auto_confirm_at: datetime | None
    receipt_timer_paused: bool
    auto_confirm_remaining_seconds: int | None
    receipt_extended: bool
    seller_late: bool
    created_at: datetime
    paid_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    completed_at: datetime | None
    claim_until: datetime | None = Field(description="a completed order may be claimed on until then")
    cancelled_at: datetime | None
    cancel_reason: str | None
    lines: list[OrderLineRead]
    shipment: ShipmentRead | None
    timeline: list[OrderEventRead] = Field(description="oldest first; empty in lists")
    next_action: NextAction
    payment_plan: PaymentPlan | None = Field(
        None, description="a sourcing contract's order: when its balance is due; null for other orders"
    )
    milestones: list[MilestoneRead] = Field(
        default_factory=list, description="a sourcing contract's payments (deposit, balance), in order"
    )


class MilestoneRead(BaseModel):
    """One payment of a sourcing contract's order: the deposit (due when the order is made) or the balance (due
    when production is finished, or once the goods shipped with their documents)."""

    id: int
    seller_order_id: int
    kind: MilestoneKind
    position: int
    amount: int = Field(description="minor units of currency")
    currency: str
    status: MilestoneStatus = Field(description="pending (not due yet), due, paid, refunded, cancelled")
    due_at: datetime | None
    paid_at: datetime | None
    payment_status: str | None = Field(description="the status of its payment, once one was started")


class PaymentSummary(BaseModel):
    id: int
    status: str
    amount: int
    currency: str
    refunded_amount: int
    card_brand: str | None
    card_last4: str | None
    failure_code: str | None
    failure_message: str | None


class OrderRead(BaseModel):
    id: int
    number: str
    status: Literal["pending_payment", "paid", "cancelled"]
    currency: str
    items_amount: int
    shipping_amount: int
    total_amount: int
    shipping_address: AddressSnapshot
    created_at: datetime
    pay_by: datetime
    paid_at: datetime | None
    closed_at: datetime | None
    payment: PaymentSummary | None
    next_action: NextAction
    seller_orders: list[SellerOrderRead]


class BuyerRef(BaseModel):
    id: int
    name: str


class StoreOrderRead(SellerOrderRead):
    """A seller order as its store's people see it: with the buyer and the address to ship to."""

    buyer: BuyerRef
    shipping_address: AddressSnapshot
