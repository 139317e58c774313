"""The sourcing (B2B, Alibaba.com-like) policy: verified suppliers, trade assurance with long windows.

These are the shared machinery's values for sourcing stores today; MOQ rules, RFQ quote quotas and caps,
quote revisions and deposit/balance payment plans come with the sourcing issue and will add their fields here.
"""

from __future__ import annotations

from decimal import Decimal

from souk.trade.policy import CreditLevel, TradeModel, TradePolicy

POLICY = TradePolicy(
    model=TradeModel.sourcing,
    seller_verification_required=True,
    commission_bps=300,
    unpaid_close_minutes=7 * 24 * 60,
    ship_by_days=30,
    auto_confirm_days_express=30,
    auto_confirm_days_surface=60,
    receipt_extensions_allowed=1,
    receipt_extension_days=15,
    receipt_extension_window_days=7,
    refund_response_days=7,
    refund_default_outcome="refund",
    escalation_window_days=15,
    escalation_default="escalate",
    claim_window_days=30,
    review_window_days=30,
    return_ship_days=7,
    min_payout=Decimal("100"),
    credit_levels=(
        CreditLevel(0, "New supplier"),
        CreditLevel(10, "Established supplier"),
        CreditLevel(100, "Trusted supplier"),
        CreditLevel(1000, "Top supplier"),
    ),
)
