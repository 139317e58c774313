"""Read models of balances and ledger movements (amounts in minor units)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import Field

from souk.kit.schemas import ReadSchema

if TYPE_CHECKING:
    from souk.ledger.service import Movement, StoreBalance


class BalanceRead(ReadSchema):
    currency: str
    escrow_pending: int = Field(description="paid by buyers and held in escrow until they confirm receipt")
    available: int = Field(
        description="released to the store and not paid out yet; negative after a refund clawed back"
    )
    paid_out: int = Field(description="taken out by payouts (on their way or paid; failed ones returned)")

    @classmethod
    def of(cls, balance: StoreBalance) -> BalanceRead:
        return cls(
            currency=balance.currency,
            escrow_pending=balance.escrow_pending,
            available=balance.available,
            paid_out=balance.paid_out,
        )


class StoreBalancesRead(ReadSchema):
    store_id: int
    balances: list[BalanceRead] = Field(description="one per currency the store has money in")


class MovementRead(ReadSchema):
    id: int = Field(description="the posting's id")
    entry_id: int
    kind: str = Field(description="payment_captured, escrow_released, refund, payout, payout_failed ...")
    memo: str
    account: str = Field(description="escrow:store:<id>:so:<seller order id> or payable:store:<id>")
    account_kind: str = Field(description="escrow or payable (the available balance)")
    seller_order_id: int | None
    amount: int = Field(description="signed: positive adds to the account, negative takes from it")
    currency: str
    reference_type: str | None
    reference_id: int | None
    created_at: datetime

    @classmethod
    def of(cls, movement: Movement) -> MovementRead:
        return cls.model_validate(movement)


class MovementPage(ReadSchema):
    items: list[MovementRead]
    next_cursor: str | None = None
