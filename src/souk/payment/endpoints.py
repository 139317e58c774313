"""JSON routes under /api/v1: the payment provider's webhook."""

from __future__ import annotations

from fastapi import APIRouter, Request

from souk.deps import DbSession
from souk.kit.openapi import ERROR_RESPONSES
from souk.payment import tasks  # noqa: F401  (registers the payment jobs)
from souk.payment.schemas import WebhookAck
from souk.payment.service import payment_service
from souk.payment.webhooks import SIGNATURE_HEADER

router = APIRouter(responses=ERROR_RESPONSES)
TAG = "Webhooks"


@router.post(
    "/webhooks/payments",
    tags=[TAG],
    summary="The payment provider's signed events (payment_intent.succeeded, payment_intent.payment_failed)",
    description=(
        f"Signed with HMAC-SHA256 over `<timestamp>.<body>` in the `{SIGNATURE_HEADER}: t=<unix seconds>,"
        "v1=<hex>` header. Refused (400) when the signature does not match or the timestamp is more than five "
        "minutes old; an event delivered again is acknowledged and ignored."
    ),
    response_model=WebhookAck,
    responses={
        400: {"description": "signature_missing, signature_invalid, signature_expired, event_malformed"}
    },
)
async def payment_webhook(request: Request, session: DbSession) -> WebhookAck:
    body = await request.body()
    settings = request.app.state.settings
    result = await payment_service.receive_webhook(
        session,
        body=body,
        signature=request.headers.get(SIGNATURE_HEADER),
        provider=settings.payment_provider,
        secret=payment_service.webhook_secret(settings),
    )
    return WebhookAck(event_id=result.event_id, duplicate=result.duplicate, outcome=result.outcome)
