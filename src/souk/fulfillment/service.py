"""Carrier tracking: a signed webhook reports events (in transit, out for delivery, delivered) for a tracking
number; each is stored once per shipment carrying that number, and ``delivered`` goes on the seller order's
timeline (``order_service.record_tracking``). Flushes, never commits.

The signature is the payment webhooks' scheme (``souk.payment.webhooks``: HMAC-SHA256 over
``<timestamp>.<body>``, refused when more than five minutes old) with the carrier webhook secret, so a captured
request cannot be replayed later, and one replayed within the window is recognised by its event id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from souk.config import Settings
from souk.fulfillment.repository import FulfillmentRepository
from souk.fulfillment.schemas import CarrierEvent
from souk.kit.clock import utcnow
from souk.kit.schemas import pydantic_fields
from souk.order.service import order_service
from souk.payment.webhooks import WebhookRejected, verify


@dataclass(frozen=True)
class CarrierWebhookResult:
    event_id: str
    outcome: str  # applied | duplicate | unknown_tracking_number
    shipments: int


def carrier_secret(settings: Settings) -> str:
    return settings.resolved_carrier_webhook_secret


def parse_event(body: bytes) -> CarrierEvent:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRejected("The body is not JSON.", code="event_malformed") from exc
    try:
        return CarrierEvent.model_validate(data)
    except ValidationError as exc:
        fields = pydantic_fields(list(exc.errors()))
        raise WebhookRejected(
            "The event is malformed: " + "; ".join(f"{k}: {v}" for k, v in fields.items()),
            code="event_malformed",
            fields=fields,
        ) from exc


class FulfillmentService:
    async def receive_carrier_webhook(
        self, session: AsyncSession, *, body: bytes, signature: str | None, secret: str
    ) -> CarrierWebhookResult:
        """Verify one carrier event (``WebhookRejected``, 400, when not authentic, too old or malformed) and
        record it on every shipment with its tracking number. A repeated event changes nothing."""
        verify(secret, signature, body, int(utcnow().timestamp()))
        event = parse_event(body)
        repo = FulfillmentRepository(session)
        shipments = await repo.shipments_by_tracking(event.tracking_number)
        if not shipments:
            return CarrierWebhookResult(event.id, "unknown_tracking_number", 0)
        now = utcnow()
        recorded = 0
        for shipment in shipments:
            inserted = await repo.insert_event(
                shipment.id,
                carrier=event.carrier,
                carrier_event_id=event.id,
                status=event.status,
                occurred_at=event.occurred_at,
                location=event.location,
                description=event.description,
                received_at=now,
            )
            if inserted is None:
                continue
            recorded += 1
            delivered_at = event.occurred_at if event.status == "delivered" else None
            await repo.set_status(shipment.id, await repo.latest_status(shipment.id), delivered_at)
            await order_service.record_tracking(
                session,
                shipment.seller_order_id,
                event.status,
                event.occurred_at,
                {"carrier": event.carrier, "location": event.location, "event_id": event.id},
            )
        await session.flush()
        return CarrierWebhookResult(event.id, "applied" if recorded else "duplicate", recorded)


fulfillment_service = FulfillmentService()
