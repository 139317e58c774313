"""JSON routes under /api/v1: the carriers' tracking webhook."""

from __future__ import annotations

from fastapi import APIRouter, Request

from souk.deps import DbSession
from souk.fulfillment.schemas import CarrierWebhookAck
from souk.fulfillment.service import carrier_secret, fulfillment_service
from souk.kit.openapi import ERROR_RESPONSES
from souk.payment.webhooks import SIGNATURE_HEADER

router = APIRouter(responses=ERROR_RESPONSES)
TAG = "Webhooks"


@router.post(
    "/webhooks/carriers",
    tags=[TAG],
    summary="A carrier's signed tracking event (in_transit, out_for_delivery, delivered) for a tracking number",
    description=(
        f"Signed with HMAC-SHA256 over `<timestamp>.<body>` in the `{SIGNATURE_HEADER}: t=<unix seconds>,"
        "v1=<hex>` header, with the carrier webhook secret. Refused (400) when the signature does not match, the "
        "timestamp is more than five minutes old or the event is malformed. An event sent again (same `id`) is "
        "acknowledged and ignored. Body: `{id, carrier, tracking_number, status, occurred_at, location?, "
        "description?}`."
    ),
    response_model=CarrierWebhookAck,
    responses={
        400: {"description": "signature_missing, signature_invalid, signature_expired, event_malformed"}
    },
)
async def carrier_webhook(request: Request, session: DbSession) -> CarrierWebhookAck:
    result = await fulfillment_service.receive_carrier_webhook(
        session,
        body=await request.body(),
        signature=request.headers.get(SIGNATURE_HEADER),
        secret=carrier_secret(request.app.state.settings),
    )
    return CarrierWebhookAck(event_id=result.event_id, outcome=result.outcome, shipments=result.shipments)  # type: ignore[arg-type]
