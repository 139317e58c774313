"""Payout payloads and read models (amounts in minor units)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from souk.kit.schemas import Amount, ReadSchema, Schema, StrictId


class PayoutCreate(Schema):
    store_id: StrictId
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(
        description="ISO 4217 code of the balance to pay out"
    )
    amount: Amount | None = Field(
        default=None,
        description="minor units; leave out to pay out the whole available balance",
    )


class PayoutRead(ReadSchema):
    id: int
    store_id: int
    amount: int
    currency: str
    status: str = Field(description="requested, paid or failed")
    provider: str
    provider_reference: str | None
    failure_reason: str | None
    requested_by_id: int | None
    created_at: datetime
    paid_at: datetime | None
