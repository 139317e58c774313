"""Carrier tracking webhooks: the event a carrier sends, and our acknowledgement.

``POST /api/v1/webhooks/carriers`` with ``Souk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``
(the carrier webhook secret) and a body like::

    {"id": "evt_81f2", "carrier": "DHL", "tracking_number": "JD014600006281", "status": "delivered",
     "occurred_at": "2025-03-02T14:05:00Z", "location": "Berlin", "description": "Delivered to the door"}
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from souk.kit.schemas import Schema

TrackingStatus = Literal["in_transit", "out_for_delivery", "delivered"]


class CarrierEvent(Schema):
    id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = Field(
        description="the carrier's id of this event; an event sent again is ignored"
    )
    carrier: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    tracking_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=4, max_length=60)]
    status: TrackingStatus
    occurred_at: AwareDatetime
    location: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] = ""
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] = ""


class CarrierWebhookAck(BaseModel):
    received: bool = True
    event_id: str
    outcome: Literal["applied", "duplicate", "unknown_tracking_number"] = Field(
        description="applied; duplicate (this event was processed before); unknown_tracking_number (no "
        "shipment has it: nothing was done)"
    )
    shipments: int = Field(description="how many shipments the event was recorded on")
