"""Stock payloads and read models."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, field_validator

from souk.catalog.schemas import Delta
from souk.kit.schemas import ReadSchema, Schema, Trimmed

if TYPE_CHECKING:
    from souk.inventory.repository import MovementRow, StockInfo, StockRow


class StockAdjust(Schema):
    delta: Delta = Field(description="units to add (positive) or remove (negative)")
    reason: Annotated[str, Trimmed(200, min_length=1)] = Field(
        description="why, e.g. 'stock count' or 'damaged in the warehouse'"
    )

    @field_validator("delta")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be zero")
        return value


class StockRead(ReadSchema):
    sku_id: int
    product_id: int
    code: str
    on_hand: int
    reserved: int
    available: int

    @classmethod
    def of(cls, info: StockInfo | StockRow) -> StockRead:
        return cls(
            sku_id=info.sku.id,
            product_id=info.sku.product_id,
            code=info.sku.code,
            on_hand=info.on_hand,
            reserved=info.reserved,
            available=info.available,
        )


class StockMovementRead(ReadSchema):
    id: int
    sku_id: int
    kind: str
    delta: int
    on_hand_after: int
    reason: str
    actor_id: int | None
    actor_name: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: MovementRow) -> StockMovementRead:
        m = row.movement
        return cls(
            id=m.id,
            sku_id=m.sku_id,
            kind=m.kind,
            delta=m.delta,
            on_hand_after=m.on_hand_after,
            reason=m.reason,
            actor_id=m.actor_id,
            actor_name=row.actor_name,
            created_at=m.created_at,
        )


class StockMovementPage(ReadSchema):
    items: list[StockMovementRead]
    next_cursor: str | None = None
