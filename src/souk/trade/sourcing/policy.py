"""The sourcing (B2B, Alibaba.com-like) policy: verified suppliers, trade assurance with long windows.

Besides the shared machinery's values: an RFQ takes at most 10 quotes, a supplier organisation sends at most 20
quotes a month and may revise a quote once before the buyer answers; quotes propose a 30 % deposit unless the
supplier says otherwise; a claim after receipt (30 days) is answered within 3 days, the buyer may escalate from
day 4 and it escalates on its own on day 7. Every value can be overridden (``SOUK_POLICY_SOURCING_<FIELD>``).
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
    rfq_quote_cap=10,
    quote_quota_per_month=20,
    quote_revisions_allowed=1,
    rfq_max_open_days=60,
    default_deposit_bps=3000,
    claim_response_days=3,
    claim_auto_escalate_days=7,
    min_payout=Decimal("100"),
    credit_levels=(
        CreditLevel(0, "New supplier"),
        CreditLevel(10, "Established supplier"),
        CreditLevel(100, "Trusted supplier"),
        CreditLevel(1000, "Top supplier"),
    ),
)
