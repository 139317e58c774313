"""All SQL of fulfilment: shipments by tracking number and tracking events stored once per carrier event.
No rules, no commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from souk.db import dialect_of
from souk.models import Shipment, TrackingEvent


def tracking_key(number: str) -> str:
    """A tracking number as carriers and sellers may write it, normalised: no spaces or dashes, upper case."""
    return "".join(number.split()).replace("-", "").upper()


class FulfillmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def shipments_by_tracking(self, number: str) -> list[Shipment]:
        rows = await self.session.scalars(
            select(Shipment)
            .where(Shipment.tracking_key == tracking_key(number))
            .order_by(Shipment.id)
            .execution_options(populate_existing=True)
        )
        return list(rows.all())

    async def insert_event(
        self,
        shipment_id: int,
        *,
        carrier: str,
        carrier_event_id: str,
        status: str,
        occurred_at: datetime,
        location: str,
        description: str,
        received_at: datetime,
    ) -> int | None:
        """Store a tracking event unless this shipment has it already; its id, or None for a repeat."""
        insert = sqlite_insert if dialect_of(self.session) == "sqlite" else pg_insert
        return (
            await self.session.execute(
                insert(TrackingEvent)
                .values(
                    shipment_id=shipment_id,
                    carrier=carrier,
                    carrier_event_id=carrier_event_id,
                    status=status,
                    occurred_at=occurred_at,
                    location=location,
                    description=description,
                    received_at=received_at,
                )
                .on_conflict_do_nothing(index_elements=["shipment_id", "carrier_event_id"])
                .returning(TrackingEvent.id)
            )
        ).scalar()

    async def latest_status(self, shipment_id: int) -> str | None:
        return await self.session.scalar(
            select(TrackingEvent.status)
            .where(TrackingEvent.shipment_id == shipment_id)
            .order_by(TrackingEvent.occurred_at.desc(), TrackingEvent.id.desc())
            .limit(1)
        )

    async def set_status(self, shipment_id: int, status: str | None, delivered_at: datetime | None) -> None:
        values: dict[str, object] = {"last_status": status}
        await self.session.execute(update(Shipment).where(Shipment.id == shipment_id).values(**values))
        if delivered_at is not None:
            await self.session.execute(
                update(Shipment)
                .where(Shipment.id == shipment_id, Shipment.delivered_at.is_(None))
                .values(delivered_at=delivered_at)
            )
