"""POST /api/v1/webhooks/carriers: signed, replay-safe tracking events; delivered goes on the timeline."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from fixtures.orders import carrier_event, carrier_signature, seller_orders, ship
from souk.kit.clock import utcnow
from souk.models import OrderEvent, Shipment, TrackingEvent
from souk.order.service import order_service

URL = "/api/v1/webhooks/carriers"


async def _post(client, body: bytes, signature: str | None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Souk-Signature"] = signature
    return await client.post(URL, content=body, headers=headers)


class TestCarrierWebhook:
    async def test_tracking_then_delivered(self, client, session, settings, market, buy):
        secret = settings.resolved_carrier_webhook_secret
        m = await market()
        order = await buy(m)
        so = (await seller_orders(session, order.id))[0]
        so_id = so.id
        await ship(session, m, so, "JD 0146 000062")
        await session.commit()
        at = utcnow()
        body = carrier_event("jd0146000062", "in_transit", at, location="Leipzig hub")
        r = await _post(client, body, carrier_signature(secret, body))
        assert r.status_code == 200, r.text
        assert r.json()["outcome"] == "applied" and r.json()["shipments"] == 1
        body = carrier_event(
            "JD0146000062", "delivered", at + timedelta(hours=20), event_id="evt_deliv", location="Berlin"
        )
        r = await _post(client, body, carrier_signature(secret, body))
        assert r.json()["outcome"] == "applied"
        # the same event again (a carrier's retry, or a replay within the window): nothing more happens
        r = await _post(client, body, carrier_signature(secret, body))
        assert r.status_code == 200 and r.json()["outcome"] == "duplicate"
        shipment = await session.scalar(
            select(Shipment)
            .where(Shipment.seller_order_id == so_id)
            .execution_options(populate_existing=True)
        )
        assert shipment.last_status == "delivered" and shipment.delivered_at is not None
        assert await session.scalar(select(func.count()).select_from(TrackingEvent)) == 2
        kinds = (
            await session.scalars(
                select(OrderEvent.kind).where(OrderEvent.seller_order_id == so_id).order_by(OrderEvent.id)
            )
        ).all()
        assert kinds == ["placed", "paid", "shipped", "delivered"]
        view = await order_service.get_for_buyer(session, m.actor, order.id)
        mine = next(s for s in view.seller_orders if s.id == so_id)
        assert [e.status for e in mine.shipment.events] == ["in_transit", "delivered"]
        assert mine.timeline[-1].text == "Delivered (Berlin)"
        assert mine.status == "shipped"  # delivery does not confirm receipt: the buyer or the timer does

    async def test_refused_events(self, client, session, settings, market, buy):
        secret = settings.resolved_carrier_webhook_secret
        body = carrier_event("JD0146000062", "delivered", utcnow())
        r = await _post(client, body, None)
        assert r.status_code == 400 and r.json()["error"] == "signature_missing"
        r = await _post(client, body, carrier_signature("another secret", body))
        assert r.status_code == 400 and r.json()["error"] == "signature_invalid"
        # a captured request replayed later
        r = await _post(client, body, carrier_signature(secret, body, utcnow() - timedelta(minutes=6)))
        assert r.status_code == 400 and r.json()["error"] == "signature_expired"
        # the payment webhooks' secret is not the carriers'
        r = await _post(client, body, carrier_signature(settings.resolved_payment_webhook_secret, body))
        assert r.status_code == 400 and r.json()["error"] == "signature_invalid"
        bad = b'{"id": "e1", "carrier": "DHL", "tracking_number": "JD0146000062", "status": "lost"}'
        r = await _post(client, bad, carrier_signature(secret, bad))
        assert r.status_code == 400 and r.json()["error"] == "event_malformed"
        assert "status" in r.json()["fields"]
        r = await _post(client, b"not json", carrier_signature(secret, b"not json"))
        assert r.status_code == 400 and r.json()["error"] == "event_malformed"
        unknown = carrier_event("NOSUCHNUMBER", "delivered", utcnow())
        r = await _post(client, unknown, carrier_signature(secret, unknown))
        assert r.status_code == 200 and r.json()["outcome"] == "unknown_tracking_number"
        assert await session.scalar(select(func.count()).select_from(TrackingEvent)) == 0

    async def test_one_parcel_for_two_orders(self, client, session, settings, market, buy):
        """A tracking number shared by two shipments: the event is recorded on both."""
        secret = settings.resolved_carrier_webhook_secret
        m = await market()
        first = await buy(m)
        so = (await seller_orders(session, first.id))[0]
        await ship(session, m, so, "PARCEL-1")
        m2 = await market()
        second = await buy(m2)
        so2 = (await seller_orders(session, second.id))[0]
        await ship(session, m2, so2, "PARCEL-1")
        await session.commit()
        body = carrier_event("parcel1", "out_for_delivery", utcnow())
        r = await _post(client, body, carrier_signature(secret, body))
        assert r.json() == {
            "received": True,
            "event_id": r.json()["event_id"],
            "outcome": "applied",
            "shipments": 2,
        }
