"""Fulfilment: the shipment of a seller order (carrier and tracking number) and the carrier's tracking events.

A tracking event is stored once per carrier event id, so a webhook delivered again changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from souk.models.base import Base, _now

TRACKING_STATUSES = ("in_transit", "out_for_delivery", "delivered")


class Shipment(Base):
    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_order_id: Mapped[int] = mapped_column(ForeignKey("seller_orders.id"), unique=True)
    carrier: Mapped[str] = mapped_column(String(60))
    # as the seller typed it; ``tracking_key`` is its normalised form (upper case, no spaces) for look-ups
    tracking_number: Mapped[str] = mapped_column(String(60))
    tracking_key: Mapped[str] = mapped_column(String(60), index=True)
    shipped_at: Mapped[datetime] = mapped_column(default=_now)
    delivered_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(20))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class TrackingEvent(Base):
    __tablename__ = "tracking_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"))
    status: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime]
    location: Mapped[str] = mapped_column(String(120), default="")
    description: Mapped[str] = mapped_column(String(300), default="")
    carrier: Mapped[str] = mapped_column(String(60))
    # the carrier's id of this event: the same event delivered again is recognised and ignored
    carrier_event_id: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(default=_now)

    __table_args__ = (
        # one parcel may carry several seller orders: each of their shipments records the event once
        UniqueConstraint("shipment_id", "carrier_event_id"),
        Index("ix_tracking_events_shipment_id_occurred_at", "shipment_id", "occurred_at"),
        CheckConstraint("status IN ('in_transit', 'out_for_delivery', 'delivered')", name="status"),
    )
