"""The mall policy (Tmall): official brand stores, stricter shipping, a higher commission.

These are the shared machinery's values for mall stores today; the mall's own rules (brand deposits,
authenticity compensation, campaigns) come with the mall issue and will add their fields here.
"""

from __future__ import annotations

from decimal import Decimal

from souk.trade.market.policy import CREDIT_LEVELS
from souk.trade.policy import TradeModel, TradePolicy

POLICY = TradePolicy(
    model=TradeModel.mall,
    seller_verification_required=True,
    commission_bps=500,
    unpaid_close_minutes=30,
    ship_by_days=2,
    auto_confirm_days_express=10,
    auto_confirm_days_surface=30,
    receipt_extensions_allowed=1,
    receipt_extension_days=3,
    receipt_extension_window_days=3,
    refund_response_days=3,
    refund_default_outcome="refund",
    escalation_window_days=7,
    escalation_default="escalate",
    claim_window_days=15,
    review_window_days=15,
    return_ship_days=7,
    min_payout=Decimal("100"),
    credit_levels=CREDIT_LEVELS,
)
