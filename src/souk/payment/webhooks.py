"""Signed webhooks: ``Souk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``.

The receiver recomputes the HMAC with the shared secret, compares in constant time, and refuses a timestamp more
than five minutes away from its clock (a captured request replayed later is refused; one replayed within the
window is recognised by its event id and ignored).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from souk.errors import SoukError

SIGNATURE_HEADER = "Souk-Signature"
TOLERANCE_SECONDS = 300


class WebhookRejected(SoukError):
    """The webhook is not authentic, too old, or not an event (HTTP 400; the provider will retry)."""

    status = 400
    code = "webhook_rejected"


def encode_event(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), sort_keys=True).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Souk-Signature`` header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str | None, body: bytes, now: int) -> int:
    """Check the header against ``body``; returns its timestamp. ``WebhookRejected`` when it is missing,
    malformed, signed with another secret, or more than five minutes away from ``now``."""
    if not header:
        raise WebhookRejected(f"The {SIGNATURE_HEADER} header is missing.", code="signature_missing")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(",")[:10]:
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise WebhookRejected(
            f"The {SIGNATURE_HEADER} header must be 't=<timestamp>,v1=<signature>'.",
            code="signature_malformed",
        )
    expected = signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected.encode(), c.encode()) for c in candidates):
        raise WebhookRejected("The signature does not match the body.", code="signature_invalid")
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise WebhookRejected(
            "The signature's timestamp is more than five minutes away; the event may be a replay.",
            code="signature_expired",
        )
    return timestamp


def decode_event(body: bytes) -> dict[str, Any]:
    """The event's fields, checked: ``{id, type, intent_id, amount, currency, created}`` (+ ``failure_code``)."""
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRejected("The body is not JSON.", code="event_malformed") from exc
    if not isinstance(event, dict):
        raise WebhookRejected("The body is not an event object.", code="event_malformed")
    for name, kind in (
        ("id", str),
        ("type", str),
        ("intent_id", str),
        ("amount", int),
        ("currency", str),
        ("created", int),
    ):
        value = event.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise WebhookRejected(f"The event's {name!r} is missing or malformed.", code="event_malformed")
    if not 1 <= len(event["id"]) <= 100 or len(event["type"]) > 60 or len(event["intent_id"]) > 80:
        raise WebhookRejected("The event's ids are too long.", code="event_malformed")
    return event
