"""Read models of orders: the timeline's sentences and the next action (with its deadline) each side sees."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from souk.kit.money import format_money
from souk.models import Order, Payment, PaymentMilestone, SellerOrder
from souk.order.repository import SellerOrderBundle
from souk.order.schemas import (
    AddressSnapshot,
    BuyerRef,
    MilestoneRead,
    NextAction,
    OrderEventRead,
    OrderLineRead,
    OrderRead,
    PaymentSummary,
    SellerOrderRead,
    ShipmentRead,
    ShippingChoiceRead,
    StoreOrderRead,
    StoreRef,
    TrackingEventRead,
)

MESSAGE_LOCALE = "en_001"

CANCEL_REASONS = {
    "buyer": "Cancelled by the buyer",
    "seller_late": "Cancelled by the buyer after the seller missed the ship-by time",
    "unpaid": "Closed: not paid in time",
    "buyer_unpaid": "Cancelled by the buyer before paying",
}
MILESTONE_NAMES = {"deposit": "Deposit", "balance": "Balance"}
TRACKING_LABELS = {
    "in_transit": "In transit",
    "out_for_delivery": "Out for delivery",
    "delivered": "Delivered",
}


class TimelineEntry(Protocol):
    """What a sentence is made from: an ``OrderEvent`` row or its ``OrderEventRead``."""

    @property
    def kind(self) -> str: ...
    @property
    def actor_role(self) -> str | None: ...
    @property
    def data(self) -> Mapping[str, Any] | None: ...


def _money(amount: object, currency: str, locale: str = MESSAGE_LOCALE) -> str:
    return format_money(amount, currency, locale) if isinstance(amount, int) else ""


def event_text(event: TimelineEntry, currency: str, locale: str = MESSAGE_LOCALE) -> str:
    """One timeline entry as a sentence; amounts are formatted for ``locale`` (pages pass the visitor's, the API
    keeps international English)."""
    data = dict(event.data or {})
    kind = event.kind
    if kind == "placed":
        if data.get("contract"):
            return f"Order placed from contract {data.get('contract')}"
        return "Order placed"
    if kind == "milestone_paid":
        name = MILESTONE_NAMES.get(str(data.get("milestone")), "Payment")
        return f"{name} of {_money(data.get('amount'), currency, locale)} paid; the money is held in escrow"
    if kind == "production_finished":
        return "Production finished: the balance is due"
    if kind == "payment_failed":
        return f"Payment failed: {data.get('message') or 'the card was declined'}"
    if kind == "paid":
        return f"Paid {_money(data.get('amount'), currency, locale)}; the money is held in escrow".replace(
            "  ", " "
        )
    if kind == "shipped":
        text = f"Shipped with {data.get('carrier', '')}, tracking number {data.get('tracking_number', '')}"
        documents = data.get("documents")
        if isinstance(documents, list) and documents:
            text += f"; shipping documents: {', '.join(str(d.get('filename', '')) for d in documents)}"
        return text
    if kind in TRACKING_LABELS:
        where = data.get("location")
        return TRACKING_LABELS[kind] + (f" ({where})" if where else "")
    if kind == "seller_late":
        return "Not shipped by the ship-by time: the buyer may cancel for a full refund"
    if kind == "receipt_extended":
        return f"Receipt timer extended by {data.get('days', '')} days"
    if kind == "completed":
        how = "automatically" if data.get("auto") else "by the buyer"
        return f"Receipt confirmed {how}; payment released to the seller"
    if kind == "cancelled":
        text = CANCEL_REASONS.get(str(data.get("reason")), "Cancelled")
        if data.get("refund_amount"):
            text += f"; {_money(data.get('refund_amount'), currency, locale)} refunded"
        return text
    if kind == "late_payment_refunded":
        return (
            f"Payment arrived after the order closed; {_money(data.get('amount'), currency, locale)} refunded"
        )
    if kind == "receipt_timer_paused":
        return "Receipt timer paused"
    if kind == "receipt_timer_resumed":
        return "Receipt timer resumed"
    if kind.startswith("dispute_"):
        return _dispute_text(kind.removeprefix("dispute_"), event.actor_role, data, currency, locale)
    return kind.replace("_", " ").capitalize()


def _dispute_text(kind: str, role: str | None, data: dict[str, Any], currency: str, locale: str) -> str:
    """A refund request's step on the order timeline (the dispute service logs them as ``dispute_<kind>``)."""
    amount = _money(data.get("amount"), currency, locale)
    if kind == "opened" and data.get("claim"):
        reason = str(data.get("reason") or "").replace("_", " ")
        return f"Claim of {amount} opened after receipt: {reason}" if amount else f"Claim opened: {reason}"
    if kind == "unanswered":
        return "The seller did not answer the claim in time: the buyer may take it to the marketplace"
    if kind == "opened":
        reason = str(data.get("reason") or "").replace("_", " ")
        text = f"Refund of {amount} requested: {reason}" if amount else f"Refund requested: {reason}"
        return text + ("; the buyer offers to return the item" if data.get("wants_return") else "")
    if kind == "accepted" and data.get("return"):
        where = data.get("return_address")
        return f"Return accepted: send the item to {where}" if where else "Return accepted"
    if kind == "accepted":
        return f"The seller refunded {amount}"
    if kind == "return_shipped":
        return f"Item returned, tracking number {data.get('tracking_number', '')}"
    if kind == "return_received":
        return f"Returned item received; the seller refunded {amount}"
    if kind == "rejected":
        why = data.get("reason")
        return (
            f"The seller rejected the refund request: {why}"
            if why
            else "The seller rejected the refund request"
        )
    if kind == "escalated":
        if role == "system":
            return "Escalated to the marketplace: the seller did not answer in time"
        return "Escalated to the marketplace"
    if kind == "ruled":
        return f"The marketplace ruled: refund {amount}"
    if kind == "auto_refunded":
        return f"{amount} refunded automatically: the seller did not answer in time"
    if kind == "released":
        if role == "operator":
            return "The marketplace ruled: no refund, payment goes to the seller"
        return "Refund request closed without a refund"
    return "Refund request: " + kind.replace("_", " ")


def _late(so: SellerOrder, now: datetime) -> bool:
    return so.shipped_at is None and (
        so.seller_late_at is not None or (so.ship_by is not None and so.ship_by <= now)
    )


def _due_milestone(bundle: SellerOrderBundle) -> tuple[PaymentMilestone | None, bool]:
    """The milestone to pay now, and whether its payment is being confirmed."""
    due = next((m for m in bundle.milestones if m.status == "due"), None)
    payment = bundle.milestone_payments.get(due.payment_id) if due and due.payment_id else None
    return due, payment is not None and payment.status == "processing"


def _buyer_contract_action(bundle: SellerOrderBundle, now: datetime) -> NextAction | None:
    """A sourcing contract's order before shipment: its milestones and the on-time shipment guarantee."""
    so = bundle.seller_order
    late = _late(so, now)
    due, processing = _due_milestone(bundle)
    refund = NextAction(
        kind="seller_late",
        label="The supplier did not ship by the ship-by time: you may cancel and get everything you paid back",
        actions=["cancel"],
    )
    if so.status in ("awaiting_deposit", "awaiting_balance") and processing and due is not None:
        return NextAction(
            kind="payment_processing",
            label=f"{MILESTONE_NAMES[due.kind]} payment being confirmed by the provider",
        )
    if so.status == "awaiting_deposit":
        amount = _money(due.amount, due.currency) if due else ""
        return NextAction(
            kind="pay_deposit",
            label=f"Pay the deposit of {amount}".strip(),
            actions=["pay_milestone", "cancel"],
        )
    if so.status == "in_production":
        if late:
            return refund
        return NextAction(
            kind="in_production",
            label="The supplier is producing your order",
            deadline_label="due to ship",
            deadline=so.ship_by,
        )
    if so.status == "awaiting_balance":
        amount = _money(due.amount, due.currency) if due else ""
        if so.shipped_at is not None:
            return NextAction(
                kind="pay_balance",
                label=f"Shipped with its documents: pay the balance of {amount}",
                actions=["pay_milestone"],
            )
        return NextAction(
            kind="pay_balance",
            label=f"Production finished: pay the balance of {amount} so the supplier ships",
            deadline_label="due to ship",
            deadline=so.ship_by,
            actions=["pay_milestone", "cancel"] if late else ["pay_milestone"],
        )
    if so.status == "paid":
        if late:
            return refund
        return NextAction(
            kind="await_shipment",
            label="Waiting for the supplier to ship",
            deadline_label="due",
            deadline=so.ship_by,
        )
    return None


def buyer_next_action(
    so: SellerOrder, payment: Payment | None, now: datetime, bundle: SellerOrderBundle | None = None
) -> NextAction:
    """What the buyer should do next on a seller order, with its deadline (``bundle``: a sourcing contract's
    order's milestones)."""
    if bundle is not None and bundle.payment_plan is not None:
        action = _buyer_contract_action(bundle, now)
        if action is not None:
            return action
    status = so.status
    if status == "pending_payment":
        if payment is not None and payment.status == "processing":
            return NextAction(kind="payment_processing", label="Payment being confirmed by the provider")
        return NextAction(
            kind="pay",
            label="Pay for this order",
            deadline_label="closes",
            deadline=so.pay_by,
            actions=["pay", "cancel_order"],
        )
    if status == "paid":
        if so.seller_late_at is not None:
            return NextAction(
                kind="seller_late",
                label="The seller did not ship in time: you may cancel for a full refund",
                actions=["cancel"],
            )
        return NextAction(
            kind="await_shipment",
            label="Waiting for the seller to ship",
            deadline_label="due",
            deadline=so.ship_by,
            actions=["cancel"],
        )
    if status == "shipped":
        if so.auto_confirm_at is None:
            return NextAction(
                kind="receipt_paused",
                label="Receipt timer paused while a refund request is open",
                actions=["confirm_receipt"],
            )
        actions = ["confirm_receipt"]
        if may_extend(so, now):
            actions.append("extend_receipt")
        return NextAction(
            kind="confirm_receipt",
            label="Confirm receipt",
            deadline_label="auto-confirms",
            deadline=so.auto_confirm_at,
            actions=actions,
        )
    return NextAction(kind="none", label=_closed_label(so))


def _seller_contract_action(bundle: SellerOrderBundle, now: datetime) -> NextAction | None:
    so = bundle.seller_order
    late = _late(so, now)
    if so.status == "awaiting_deposit":
        return NextAction(kind="await_deposit", label="Waiting for the buyer's deposit")
    if so.status == "in_production":
        hurry = "The ship-by time has passed: the buyer may cancel for a full refund. " if late else ""
        if bundle.payment_plan == "on_documents":
            return NextAction(
                kind="ship",
                label=hurry
                + "Produce the goods and ship them with their shipping documents; the balance is due then",
                deadline_label="due",
                deadline=None if late else so.ship_by,
                actions=["ship"],
            )
        return NextAction(
            kind="produce",
            label=hurry + "Produce the goods, then mark production finished: the buyer pays the balance",
            deadline_label="due",
            deadline=None if late else so.ship_by,
            actions=["production_finished"],
        )
    if so.status == "awaiting_balance":
        return NextAction(
            kind="await_balance",
            label="Shipped: waiting for the buyer's balance payment"
            if so.shipped_at
            else "Waiting for the buyer's balance payment before shipping",
            deadline_label="due",
            deadline=None if so.shipped_at else so.ship_by,
        )
    return None


def seller_next_action(
    so: SellerOrder, bundle: SellerOrderBundle | None = None, now: datetime | None = None
) -> NextAction:
    """What the store should do next on a seller order."""
    if bundle is not None and bundle.payment_plan is not None:
        action = _seller_contract_action(bundle, now or so.updated_at)
        if action is not None:
            return action
    status = so.status
    if status == "pending_payment":
        return NextAction(
            kind="await_payment",
            label="Waiting for the buyer's payment",
            deadline_label="closes",
            deadline=so.pay_by,
        )
    if status == "paid":
        if so.seller_late_at is not None:
            return NextAction(
                kind="ship",
                label="Ship now: the ship-by time has passed and the buyer may cancel",
                actions=["ship"],
            )
        return NextAction(
            kind="ship",
            label="Ship this order",
            deadline_label="due",
            deadline=so.ship_by,
            actions=["ship"],
        )
    if status == "shipped":
        if so.auto_confirm_at is None:
            return NextAction(
                kind="receipt_paused", label="Receipt timer paused while a refund request is open"
            )
        return NextAction(
            kind="await_receipt",
            label="Waiting for the buyer to confirm receipt",
            deadline_label="auto-confirms",
            deadline=so.auto_confirm_at,
        )
    return NextAction(kind="none", label=_closed_label(so))


def _closed_label(so: SellerOrder) -> str:
    if so.status == "completed":
        return "Completed"
    if so.status == "refunded":
        return "Refunded"
    return CANCEL_REASONS.get(so.cancel_reason or "", "Cancelled")


def may_extend(so: SellerOrder, now: datetime) -> bool:
    """Whether the buyer may extend the receipt timer now (the snapshotted policy: once, in the last days)."""
    if so.status != "shipped" or so.auto_confirm_at is None:
        return False
    if so.receipt_extensions_used >= so.receipt_extensions_allowed:
        return False
    remaining = so.auto_confirm_at - now
    return timedelta(0) < remaining <= timedelta(days=so.receipt_extension_window_days)


def payment_summary(payment: Payment | None) -> PaymentSummary | None:
    if payment is None:
        return None
    return PaymentSummary(
        id=payment.id,
        status=payment.status,
        amount=payment.amount,
        currency=payment.currency,
        refunded_amount=payment.refunded_amount,
        card_brand=payment.card_brand,
        card_last4=payment.card_last4,
        failure_code=payment.failure_code,
        failure_message=payment.failure_message,
    )


def _shipment(bundle: SellerOrderBundle) -> ShipmentRead | None:
    shipment = bundle.shipment
    if shipment is None:
        return None
    return ShipmentRead(
        carrier=shipment.carrier,
        tracking_number=shipment.tracking_number,
        shipped_at=shipment.shipped_at,
        delivered_at=shipment.delivered_at,
        last_status=shipment.last_status,
        events=[TrackingEventRead.model_validate(e) for e in bundle.tracking],
    )


def _timeline(bundle: SellerOrderBundle) -> list[OrderEventRead]:
    so = bundle.seller_order
    return [
        OrderEventRead(
            id=e.id,
            kind=e.kind,
            text=event_text(e, so.currency),
            actor_role=e.actor_role,  # type: ignore[arg-type]
            actor_name=bundle.actor_names.get(e.actor_id) if e.actor_id is not None else None,
            data=e.data or {},
            created_at=e.created_at,
        )
        for e in bundle.events
    ]


def milestone_read(milestone: PaymentMilestone, payments: Mapping[int, Payment]) -> MilestoneRead:
    payment = payments.get(milestone.payment_id) if milestone.payment_id is not None else None
    return MilestoneRead(
        id=milestone.id,
        seller_order_id=milestone.seller_order_id,
        kind=milestone.kind,  # type: ignore[arg-type]
        position=milestone.position,
        amount=milestone.amount,
        currency=milestone.currency,
        status=milestone.status,  # type: ignore[arg-type]
        due_at=milestone.due_at,
        paid_at=milestone.paid_at,
        payment_status=payment.status if payment is not None else None,
    )


def _fields(bundle: SellerOrderBundle, next_action: NextAction) -> dict[str, object]:
    so = bundle.seller_order
    return {
        "payment_plan": bundle.payment_plan,
        "milestones": [milestone_read(m, bundle.milestone_payments) for m in bundle.milestones],
        "id": so.id,
        "number": so.number or "",
        "order_id": so.order_id,
        "store": StoreRef(id=bundle.store.id, name=bundle.store.name, slug=bundle.store.slug),
        "status": so.status,
        "currency": so.currency,
        "items_amount": so.items_amount,
        "shipping_amount": so.shipping_amount,
        "total_amount": so.total_amount,
        "shipping": ShippingChoiceRead(
            method_id=so.shipping_method_id,
            name=so.shipping_method_name,
            kind=so.shipping_kind,  # type: ignore[arg-type]
            price_amount=so.shipping_price_amount,
            free_over_amount=so.shipping_free_over_amount,
        ),
        "commission_bps": so.commission_bps,
        "pay_by": so.pay_by,
        "ship_by": so.ship_by,
        "auto_confirm_at": so.auto_confirm_at,
        "receipt_timer_paused": so.receipt_timer_paused,
        "auto_confirm_remaining_seconds": so.auto_confirm_remaining_seconds,
        "receipt_extended": so.receipt_extended,
        "seller_late": so.seller_late_at is not None,
        "created_at": so.created_at,
        "paid_at": so.paid_at,
        "shipped_at": so.shipped_at,
        "delivered_at": so.delivered_at,
        "completed_at": so.completed_at,
        "claim_until": so.claim_until,
        "cancelled_at": so.cancelled_at,
        "cancel_reason": so.cancel_reason,
        "lines": [OrderLineRead.model_validate(line) for line in bundle.lines],
        "shipment": _shipment(bundle),
        "timeline": _timeline(bundle),
        "next_action": next_action,
    }


def seller_order_read(bundle: SellerOrderBundle, next_action: NextAction) -> SellerOrderRead:
    return SellerOrderRead.model_validate(_fields(bundle, next_action))


def store_order_read(
    bundle: SellerOrderBundle, order: Order, buyer_name: str, now: datetime | None = None
) -> StoreOrderRead:
    return StoreOrderRead.model_validate(
        {
            **_fields(bundle, seller_next_action(bundle.seller_order, bundle, now)),
            "buyer": BuyerRef(id=order.buyer_id, name=buyer_name),
            "shipping_address": AddressSnapshot.model_validate(order.shipping_address),
        }
    )


def order_next_action(order: Order, payment: Payment | None) -> NextAction:
    """The order-level step: paying (one payment covers every seller order of the checkout)."""
    if order.status == "pending_payment":
        if payment is not None and payment.status == "processing":
            return NextAction(kind="payment_processing", label="Payment being confirmed by the provider")
        return NextAction(
            kind="pay",
            label="Pay for this order",
            deadline_label="closes",
            deadline=order.pay_by,
            actions=["pay", "cancel_order"],
        )
    if order.status == "cancelled":
        return NextAction(kind="none", label="Closed")
    return NextAction(kind="none", label="Paid")


def order_read(
    order: Order, payment: Payment | None, bundles: list[SellerOrderBundle], now: datetime
) -> OrderRead:
    return OrderRead(
        id=order.id,
        number=order.number,
        status=order.status,  # type: ignore[arg-type]
        currency=order.currency,
        items_amount=order.items_amount,
        shipping_amount=order.shipping_amount,
        total_amount=order.total_amount,
        shipping_address=AddressSnapshot.model_validate(order.shipping_address),
        created_at=order.created_at,
        pay_by=order.pay_by,
        paid_at=order.paid_at,
        closed_at=order.closed_at,
        payment=payment_summary(payment),
        next_action=order_next_action(order, payment),
        seller_orders=[
            seller_order_read(b, buyer_next_action(b.seller_order, payment, now, b)) for b in bundles
        ],
    )
