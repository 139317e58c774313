"""Background jobs of payments.

``payment.deliver_webhook``: the simulated provider's asynchronous confirmation. It signs the event at delivery
time (``Souk-Signature``, like a real provider's retry would) and hands the signed body to
``payment_service.receive_webhook``, the same verification and processing ``POST /api/v1/webhooks/payments``
runs. Idempotent: a delivery that already happened is recognised by its event id.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from souk.kit.clock import utcnow
from souk.payment.service import payment_service
from souk.payment.simulated import DELIVER_WEBHOOK
from souk.payment.webhooks import encode_event, sign
from souk.worker.queue import job


@job(DELIVER_WEBHOOK)
async def deliver_webhook(session: AsyncSession, payload: dict[str, Any]) -> None:
    body = encode_event(payload["event"])
    secret = payment_service.webhook_secret()
    header = sign(secret, int(utcnow().timestamp()), body)
    await payment_service.receive_webhook(
        session, body=body, signature=header, provider=payload.get("provider"), secret=secret
    )
