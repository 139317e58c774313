"""The market policy (Taobao's way of working): escrow released on receipt or by timer, refunds that default to
the buyer when the seller stays silent, seller credit in hearts, diamonds and crowns."""

from __future__ import annotations

from decimal import Decimal

from souk.trade.policy import CreditLevel, TradeModel, TradePolicy

# Taobao's seller credit bands (points: +1 / 0 / -1 per counted review)
CREDIT_LEVELS = (
    CreditLevel(0, "New seller"),
    CreditLevel(4, "1 heart"),
    CreditLevel(11, "2 hearts"),
    CreditLevel(41, "3 hearts"),
    CreditLevel(91, "4 hearts"),
    CreditLevel(151, "5 hearts"),
    CreditLevel(251, "1 diamond"),
    CreditLevel(501, "2 diamonds"),
    CreditLevel(1001, "3 diamonds"),
    CreditLevel(2001, "4 diamonds"),
    CreditLevel(5001, "5 diamonds"),
    CreditLevel(10001, "1 crown"),
    CreditLevel(20001, "2 crowns"),
    CreditLevel(50001, "3 crowns"),
    CreditLevel(100001, "4 crowns"),
    CreditLevel(200001, "5 crowns"),
    CreditLevel(500001, "1 golden crown"),
    CreditLevel(1000001, "2 golden crowns"),
    CreditLevel(2000001, "3 golden crowns"),
    CreditLevel(5000001, "4 golden crowns"),
    CreditLevel(10000001, "5 golden crowns"),
)

POLICY = TradePolicy(
    model=TradeModel.market,
    seller_verification_required=False,
    commission_bps=200,
    unpaid_close_minutes=30,
    ship_by_days=3,
    auto_confirm_days_express=10,
    auto_confirm_days_surface=30,
    receipt_extensions_allowed=1,
    receipt_extension_days=3,
    receipt_extension_window_days=3,
    refund_response_days=5,
    refund_default_outcome="refund",
    escalation_window_days=7,
    escalation_default="escalate",
    claim_window_days=15,
    review_window_days=15,
    return_ship_days=7,
    min_payout=Decimal("10"),
    credit_levels=CREDIT_LEVELS,
)
