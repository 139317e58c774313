"""Disputes: what the API accepts and returns. Amounts are integer minor units of the seller order's currency."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from souk.kit.schemas import MAX_AMOUNT, MAX_ID, ReadSchema, Schema, StrictBool, Trimmed

DisputeReason = Literal[
    "not_received",
    "not_as_described",
    "damaged",
    "other",
    # claims on a sourcing contract after receipt
    "quality_mismatch",
    "late_shipment",
]
DisputeKind = Literal["refund", "claim"]
DisputeStatus = Literal["awaiting_seller", "awaiting_buyer", "escalated", "awaiting_return", "resolved"]
DisputeOutcome = Literal["refund_full", "refund_partial", "released"]
Text = Annotated[str, Trimmed(4000)]
Reason = Annotated[str, Trimmed(2000, min_length=3)]


class DisputeCreate(Schema):
    seller_order_id: int = Field(gt=0, le=MAX_ID)
    reason: DisputeReason
    amount: int | None = Field(
        default=None,
        gt=0,
        le=MAX_AMOUNT,
        description="the refund asked for; omitted: everything not refunded yet",
    )
    message: Text = ""
    wants_return: StrictBool = Field(
        default=False, description="send the item back; refunded when it arrives"
    )


class DisputeAccept(Schema):
    return_address: Annotated[str, Trimmed(1000, min_length=10)] | None = Field(
        default=None, description="required when the buyer asked to return the item"
    )


class ReturnTracking(Schema):
    tracking_number: Annotated[
        str,
        Trimmed(60, min_length=4, pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]*$"),
    ]


class DisputeReject(Schema):
    reason: Reason


class DisputeMessage(Schema):
    body: Annotated[str, Trimmed(4000, min_length=1)]


class DisputeRuling(Schema):
    outcome: DisputeOutcome
    amount: int | None = Field(default=None, gt=0, le=MAX_AMOUNT, description="required for refund_partial")
    reason: Reason


class DisputeDocumentRead(ReadSchema):
    """A PDF document given as evidence; private: downloaded by the buyer, the store's people and operators."""

    index: int = Field(description="its position in the event's documents (the last part of its URL)")
    filename: str
    content_type: str
    size_bytes: int
    url: str = Field(description="download: GET /api/v1/disputes/{id}/documents/{event_id}/{index}")


class DisputeEventRead(ReadSchema):
    id: int
    kind: str
    actor_id: int | None
    actor_role: str
    body: str
    data: dict[str, Any] = Field(description="the step's details; evidence photos under `images`")
    documents: list[DisputeDocumentRead] = Field(default=[], description="evidence documents (PDF)")
    created_at: datetime


class DisputeRead(ReadSchema):
    id: int
    seller_order_id: int
    store_id: int
    opened_by_id: int
    kind: DisputeKind = Field(
        description="refund: before receipt, from escrow; claim: after receipt, clawed back"
    )
    reason: DisputeReason
    requested_amount: int
    currency: str
    status: DisputeStatus
    wants_return: bool
    return_address: str | None
    return_tracking_number: str | None
    return_shipped_at: datetime | None
    return_received_at: datetime | None
    outcome: DisputeOutcome | None
    resolved_amount: int | None
    reject_reason: str | None
    resolution_note: str | None
    respond_by: datetime | None
    escalate_by: datetime | None
    return_by: datetime | None = None
    escalated_at: datetime | None
    resolved_at: datetime | None
    created_at: datetime
    updated_at: datetime
    events: list[DisputeEventRead] = []
