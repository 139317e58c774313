"""The crossborder (Global, AliExpress-like) policy: long international transit and buyer protection windows.

These are the shared machinery's values for Global stores today; delivery promises by destination, duties and
currency conversion come with the Global issue and will add their fields here.
"""

from __future__ import annotations

from decimal import Decimal

from souk.trade.policy import CreditLevel, TradeModel, TradePolicy

POLICY = TradePolicy(
    model=TradeModel.crossborder,
    seller_verification_required=True,
    commission_bps=800,
    unpaid_close_minutes=24 * 60,
    ship_by_days=7,
    auto_confirm_days_express=30,
    auto_confirm_days_surface=60,
    receipt_extensions_allowed=1,
    receipt_extension_days=15,
    receipt_extension_window_days=5,
    refund_response_days=5,
    refund_default_outcome="refund",
    escalation_window_days=7,
    escalation_default="escalate",
    claim_window_days=15,
    review_window_days=30,
    return_ship_days=7,
    min_payout=Decimal("50"),
    credit_levels=(
        CreditLevel(0, "New seller"),
        CreditLevel(10, "Bronze"),
        CreditLevel(100, "Silver"),
        CreditLevel(1000, "Gold"),
        CreditLevel(10000, "Diamond"),
    ),
)
