"""Carrier tracking webhooks: the event a carrier sends, and our acknowledgement.

``POST /api/v1/webhooks/carriers`` with ``Souk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``
(the carrier webhook secret) and a body like::

    {"id": "evt_81f2", "carrier": "DHL", "tracking_number": "JD014600006281", "status": "delivered",
     "occurred_at": "2025-03-02T14:05:00Z", "location": "Berlin", "description": "Delivered to the door"}
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field

from souk.kit.schemas import Schema, Trimmed

TrackingStatus = Literal["in_transit", "out_for_delivery", "delivered"]


class CarrierEvent(Schema):
    id: Annotated[str, Trimmed(100, min_length=1)] = Field(
        description="the carrier's id of this event; an event sent again is ignored"
    )
    carrier: Annotated[str, Trimmed(60, min_length=1)]
    tracking_number: Annotated[str, Trimmed(60, min_length=4)]
    status: TrackingStatus
    occurred_at: AwareDatetime
    location: Annotated[str, Trimmed(120)] = ""
    description: Annotated[str, Trimmed(300)] = ""


class CarrierWebhookAck(BaseModel):
    received: bool = True
    event_id: str
    outcome: Literal["applied", "duplicate", "unknown_tracking_number"] = Field(
        description="applied; duplicate (this event was processed before); unknown_tracking_number (no "
        "shipment has it: nothing was done)"
    )
    shipments: int = Field(description="how many shipments the event was recorded on")
