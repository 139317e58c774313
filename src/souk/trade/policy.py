"""Trade policy: every number a trade model decides, in one small object per model (DOMAIN.md "Trade policy").

The core asks ``get_policy(store.trade_model)`` and reads fields; it never branches on the model itself:

```python
policy = get_policy(store.trade_model)
seller_order.pay_by = now + policy.unpaid_close
seller_order.auto_confirm_at = shipped_at + policy.auto_confirm_after(method.kind)   # "express" | "surface"
fee = policy.commission_of(amount)
```

Each model's defaults live in ``souk/trade/<model>/policy.py``. Operators change any value without code through
environment variables ``SOUK_POLICY_<MODEL>_<FIELD>`` (e.g. ``SOUK_POLICY_MARKET_UNPAID_CLOSE_MINUTES=15``,
``SOUK_POLICY_MARKET_COMMISSION_BPS=250``); they are read and checked when the app or the worker starts
(``configure_policies``), and a wrong name or value stops the start with a message naming it. An order snapshots
the values it used (``TradePolicy.snapshot()``), so a change applies to new orders only.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from itertools import pairwise
from typing import Any, Literal

from souk.kit.money import minor_digits

ShippingKind = Literal["express", "surface"]
RefundDefault = Literal["refund", "release"]
EscalationDefault = Literal["escalate", "close"]

ENV_PREFIX = "SOUK_POLICY_"


class TradeModel(StrEnum):
    sourcing = "sourcing"
    market = "market"
    mall = "mall"
    crossborder = "crossborder"


@dataclass(frozen=True)
class CreditLevel:
    """A seller credit band: from ``min_points`` on the store shows ``label``."""

    min_points: int
    label: str


@dataclass(frozen=True)
class TradePolicy:
    model: TradeModel
    # opening a store: a verified business (organisation) is needed
    seller_verification_required: bool
    # platform commission on released escrow, in basis points (200 = 2 %)
    commission_bps: int
    # an order not paid within this time closes and its stock is released
    unpaid_close_minutes: int
    # a seller who has not shipped within this time lets the buyer cancel with a full refund at once
    ship_by_days: int
    # receipt auto-confirms this long after shipment, by shipping kind
    auto_confirm_days_express: int
    auto_confirm_days_surface: int
    # the buyer may extend the receipt timer this many times by this many days, when at most
    # ``receipt_extension_window_days`` remain
    receipt_extensions_allowed: int
    receipt_extension_days: int
    receipt_extension_window_days: int
    # a refund request the seller leaves unanswered this long ends with ``refund_default_outcome``
    refund_response_days: int
    refund_default_outcome: RefundDefault
    # after the seller rejects a request the buyer has this long to escalate to the platform; then
    # ``escalation_default`` ("escalate": it goes to an operator anyway; "close": the request closes)
    escalation_window_days: int
    escalation_default: EscalationDefault
    # a dispute may still be opened this long after receipt was confirmed (the claim window)
    claim_window_days: int
    # the buyer may review each line this long after completion
    review_window_days: int
    # the smallest payout a store may request, in major units of the store's currency ("10" = 10.00)
    min_payout: Decimal
    # seller credit bands, lowest first; points are +1 / 0 / -1 per counted review
    credit_levels: tuple[CreditLevel, ...]
    # after the seller accepts a return the buyer has this long to give the return tracking number; then the
    # request closes without a refund and the receipt timer runs again
    return_ship_days: int = 7
    # --- requests for quotation, quotes and contracts (the sourcing model uses them) ---
    # an RFQ stops taking quotes at this many
    rfq_quote_cap: int = 10
    # quotes a supplier organisation may send per calendar month
    quote_quota_per_month: int = 20
    # times a supplier may revise a quote before the buyer answers
    quote_revisions_allowed: int = 1
    # the longest quote deadline a buyer may set, from posting
    rfq_max_open_days: int = 60
    # the deposit a quote proposes unless the supplier says otherwise (basis points of the total: 3000 = 30 %)
    default_deposit_bps: int = 3000
    # a claim (after receipt): the seller answers within this time; from then on the buyer may escalate, and
    # it escalates on its own after ``claim_auto_escalate_days``
    claim_response_days: int = 3
    claim_auto_escalate_days: int = 7

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValueError(f"{self.model} trade policy: " + "; ".join(problems))

    # --- derived values -----------------------------------------------------------------------------

    @property
    def unpaid_close(self) -> timedelta:
        return timedelta(minutes=self.unpaid_close_minutes)

    @property
    def ship_by(self) -> timedelta:
        return timedelta(days=self.ship_by_days)

    def auto_confirm_after(self, kind: ShippingKind | str) -> timedelta:
        """How long after shipment receipt auto-confirms for a shipping method of ``kind``."""
        if kind == "express":
            return timedelta(days=self.auto_confirm_days_express)
        if kind == "surface":
            return timedelta(days=self.auto_confirm_days_surface)
        raise ValueError(f"unknown shipping kind {kind!r} (express or surface)")

    @property
    def receipt_extension(self) -> timedelta:
        return timedelta(days=self.receipt_extension_days)

    @property
    def receipt_extension_window(self) -> timedelta:
        return timedelta(days=self.receipt_extension_window_days)

    def may_extend_receipt(self, remaining: timedelta, extensions_used: int) -> bool:
        """Whether the buyer may extend the receipt timer now."""
        return (
            extensions_used < self.receipt_extensions_allowed
            and timedelta(0) < remaining <= self.receipt_extension_window
        )

    @property
    def refund_response(self) -> timedelta:
        return timedelta(days=self.refund_response_days)

    @property
    def escalation_window(self) -> timedelta:
        return timedelta(days=self.escalation_window_days)

    @property
    def claim_window(self) -> timedelta:
        return timedelta(days=self.claim_window_days)

    @property
    def return_ship_window(self) -> timedelta:
        return timedelta(days=self.return_ship_days)

    @property
    def claim_response(self) -> timedelta:
        return timedelta(days=self.claim_response_days)

    @property
    def claim_auto_escalate(self) -> timedelta:
        return timedelta(days=self.claim_auto_escalate_days)

    @property
    def review_window(self) -> timedelta:
        return timedelta(days=self.review_window_days)

    def commission_of(self, amount: int) -> int:
        """The commission on ``amount`` minor units, rounded half up to a whole minor unit. (Splitting one
        commission over several lines is ``souk.kit.money.allocate``'s job.)"""
        if amount < 0:
            raise ValueError("amount must not be negative")
        return (amount * self.commission_bps + 5_000) // 10_000

    def min_payout_amount(self, currency: str) -> int:
        """The minimum payout in minor units of ``currency``."""
        return int(self.min_payout.scaleb(minor_digits(currency)).to_integral_value())

    def credit_level(self, points: int) -> CreditLevel:
        """The band ``points`` falls in (below the first band: the first band)."""
        level = self.credit_levels[0]
        for band in self.credit_levels:
            if points >= band.min_points:
                level = band
        return level

    def snapshot(self) -> dict[str, Any]:
        """The values an order keeps with it (JSON), so later policy changes do not touch it."""
        data = dataclasses.asdict(self)
        data["model"] = str(self.model)
        data["min_payout"] = str(self.min_payout)
        data["credit_levels"] = [[band.min_points, band.label] for band in self.credit_levels]
        return data


_DAYS_FIELDS = (
    "ship_by_days",
    "auto_confirm_days_express",
    "auto_confirm_days_surface",
    "receipt_extension_days",
    "refund_response_days",
    "escalation_window_days",
    "review_window_days",
    "return_ship_days",
    "rfq_quote_cap",
    "rfq_max_open_days",
    "claim_response_days",
    "claim_auto_escalate_days",
)


def _problems(policy: TradePolicy) -> list[str]:
    problems: list[str] = []
    if not 0 <= policy.commission_bps <= 10_000:
        problems.append("commission_bps must be between 0 and 10000")
    if policy.unpaid_close_minutes < 1:
        problems.append("unpaid_close_minutes must be at least 1")
    for name in _DAYS_FIELDS:
        if getattr(policy, name) < 1:
            problems.append(f"{name} must be at least 1")
    for name in ("receipt_extensions_allowed", "receipt_extension_window_days", "claim_window_days"):
        if getattr(policy, name) < 0:
            problems.append(f"{name} must not be negative")
    if policy.quote_quota_per_month < 0 or policy.quote_revisions_allowed < 0:
        problems.append("quote_quota_per_month and quote_revisions_allowed must not be negative")
    if not 0 <= policy.default_deposit_bps <= 10_000:
        problems.append("default_deposit_bps must be between 0 and 10000")
    if policy.claim_auto_escalate_days <= policy.claim_response_days:
        problems.append("claim_auto_escalate_days must be after claim_response_days")
    if policy.refund_default_outcome not in ("refund", "release"):
        problems.append("refund_default_outcome must be refund or release")
    if policy.escalation_default not in ("escalate", "close"):
        problems.append("escalation_default must be escalate or close")
    if not policy.min_payout.is_finite() or policy.min_payout < 0:
        problems.append("min_payout must be a positive amount")
    levels = policy.credit_levels
    if not levels:
        problems.append("credit_levels must not be empty")
    elif any(a.min_points >= b.min_points for a, b in pairwise(levels)):
        problems.append("credit_levels must rise strictly")
    return problems


# --- the registry -----------------------------------------------------------------------------------

_DEFAULTS: dict[TradeModel, TradePolicy] = {}
_ACTIVE: dict[TradeModel, TradePolicy] = {}


def default_policy(model: TradeModel | str) -> TradePolicy:
    """The built-in policy of ``model``, before any override."""
    if not _DEFAULTS:
        from souk.trade.crossborder.policy import POLICY as CROSSBORDER
        from souk.trade.mall.policy import POLICY as MALL
        from souk.trade.market.policy import POLICY as MARKET
        from souk.trade.sourcing.policy import POLICY as SOURCING

        for policy in (SOURCING, MARKET, MALL, CROSSBORDER):
            _DEFAULTS[policy.model] = policy
    return _DEFAULTS[TradeModel(model)]


def get_policy(model: TradeModel | str) -> TradePolicy:
    """The policy in force for ``model`` (defaults plus the configured overrides)."""
    if not _ACTIVE:
        configure_policies()
    try:
        return _ACTIVE[TradeModel(model)]
    except ValueError:
        raise ValueError(f"unknown trade model {model!r}") from None


_OVERRIDABLE = {
    f.name: f.type for f in dataclasses.fields(TradePolicy) if f.name not in ("model", "credit_levels")
}


def _parse(model: TradeModel, name: str, raw: Any) -> Any:
    kind = _OVERRIDABLE[name]
    label = f"{ENV_PREFIX}{model.upper()}_{name.upper()}"
    text = str(raw).strip()
    try:
        if kind == "int":
            if isinstance(raw, bool):
                raise ValueError
            return int(raw) if isinstance(raw, int) else int(text)
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind == "Decimal":
            return Decimal(text)
    except (ValueError, InvalidOperation):
        raise ValueError(f"{label}: {text!r} is not a valid {kind}") from None
    return text  # the Literal fields; checked by TradePolicy itself


def overrides_from_env(environ: Mapping[str, str]) -> dict[TradeModel, dict[str, Any]]:
    """``SOUK_POLICY_<MODEL>_<FIELD>`` variables as {model: {field: value}}; unknown names are errors."""
    found: dict[TradeModel, dict[str, Any]] = {}
    for variable, raw in environ.items():
        if not variable.upper().startswith(ENV_PREFIX):
            continue
        rest = variable.upper()[len(ENV_PREFIX) :]
        model = next((m for m in TradeModel if rest.startswith(m.upper() + "_")), None)
        if model is None:
            raise ValueError(
                f"{variable}: no such trade model (use {', '.join(m.upper() for m in TradeModel)})"
            )
        name = rest[len(model) + 1 :].lower()
        if name not in _OVERRIDABLE:
            raise ValueError(f"{variable}: {model} policy has no setting {name!r}")
        found.setdefault(model, {})[name] = _parse(model, name, raw)
    return found


def configure_policies(
    overrides: Mapping[TradeModel | str, Mapping[str, Any]] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Build the policies in force: the defaults, then ``SOUK_POLICY_*`` from ``environ`` (the process
    environment by default), then ``overrides``. Raises ``ValueError`` naming any bad name or value."""
    merged: dict[TradeModel, dict[str, Any]] = overrides_from_env(os.environ if environ is None else environ)
    for model, changes in (overrides or {}).items():
        key = TradeModel(model)
        for name, value in changes.items():
            if name not in _OVERRIDABLE:
                raise ValueError(f"{key} policy has no setting {name!r}")
            merged.setdefault(key, {})[name] = _parse(key, name, value)
    active = {}
    for model in TradeModel:
        base = default_policy(model)
        active[model] = dataclasses.replace(base, **merged.get(model, {}))
    _ACTIVE.clear()
    _ACTIVE.update(active)


@contextmanager
def policy_overridden(model: TradeModel | str, **changes: Any) -> Iterator[TradePolicy]:
    """Within the block ``get_policy(model)`` has ``changes`` applied (for tests)."""
    key = TradeModel(model)
    before = get_policy(key)
    for name in changes:
        if name not in _OVERRIDABLE and name != "credit_levels":
            raise ValueError(f"{key} policy has no setting {name!r}")
    _ACTIVE[key] = dataclasses.replace(before, **changes)
    try:
        yield _ACTIVE[key]
    finally:
        _ACTIVE[key] = before
