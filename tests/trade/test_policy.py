"""Trade policies: the market numbers of issue 3, the other models' policies, overrides from the environment."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest

from souk.app import create_app
from souk.config import Settings
from souk.trade.policy import (
    CreditLevel,
    TradeModel,
    TradePolicy,
    configure_policies,
    default_policy,
    get_policy,
    overrides_from_env,
    policy_overridden,
)


@pytest.fixture(autouse=True)
def _fresh_policies() -> Iterator[None]:
    configure_policies(environ={})
    yield
    configure_policies(environ={})


class TestMarket:
    def test_the_numbers_of_the_issue(self) -> None:
        market = get_policy("market")
        assert market.model is TradeModel.market
        assert market.unpaid_close == timedelta(minutes=30)
        assert market.ship_by == timedelta(days=3)
        assert market.auto_confirm_after("express") == timedelta(days=10)
        assert market.auto_confirm_after("surface") == timedelta(days=30)
        assert (market.receipt_extensions_allowed, market.receipt_extension) == (1, timedelta(days=3))
        assert market.receipt_extension_window == timedelta(days=3)
        assert market.refund_response == timedelta(days=5)
        assert market.refund_default_outcome == "refund"
        assert market.review_window == timedelta(days=15)
        assert market.commission_bps == 200
        assert market.seller_verification_required is False
        assert market.escalation_window == timedelta(days=7)
        assert market.claim_window == timedelta(days=15)

    def test_receipt_extension_once_when_three_days_or_less_remain(self) -> None:
        market = get_policy(TradeModel.market)
        assert market.may_extend_receipt(timedelta(days=3), extensions_used=0)
        assert market.may_extend_receipt(timedelta(hours=1), extensions_used=0)
        assert not market.may_extend_receipt(timedelta(days=3, seconds=1), extensions_used=0)
        assert not market.may_extend_receipt(timedelta(days=2), extensions_used=1)
        assert not market.may_extend_receipt(timedelta(0), extensions_used=0)

    def test_commission_and_minimum_payout(self) -> None:
        market = get_policy("market")
        assert market.commission_of(10_000) == 200
        assert market.commission_of(1_234) == 25  # 24.68 rounds to 25
        assert market.commission_of(1_225) == 25  # 24.5 rounds half up
        assert market.commission_of(0) == 0
        with pytest.raises(ValueError):
            market.commission_of(-1)
        assert market.min_payout == Decimal("10")
        assert market.min_payout_amount("USD") == 1000
        assert market.min_payout_amount("JPY") == 10
        assert market.min_payout_amount("KWD") == 10_000

    def test_credit_levels(self) -> None:
        market = get_policy("market")
        assert market.credit_level(0) == CreditLevel(0, "New seller")
        assert market.credit_level(-5).label == "New seller"
        assert market.credit_level(3).label == "New seller"
        assert market.credit_level(4).label == "1 heart"
        assert market.credit_level(10).label == "1 heart"
        assert market.credit_level(11).label == "2 hearts"
        assert market.credit_level(251).label == "1 diamond"
        assert market.credit_level(10_001).label == "1 crown"
        assert market.credit_level(10**9).label == "5 golden crowns"

    def test_shipping_kind_must_be_known(self) -> None:
        with pytest.raises(ValueError, match="unknown shipping kind 'teleport'"):
            get_policy("market").auto_confirm_after("teleport")

    def test_snapshot_is_json_and_complete(self) -> None:
        snap = get_policy("market").snapshot()
        assert json.loads(json.dumps(snap)) == snap
        assert (
            snap["model"] == "market" and snap["unpaid_close_minutes"] == 30 and snap["commission_bps"] == 200
        )
        assert snap["min_payout"] == "10"
        assert snap["credit_levels"][1] == [4, "1 heart"]


class TestEveryModel:
    @pytest.mark.parametrize("model", list(TradeModel))
    def test_each_model_has_a_valid_policy(self, model: TradeModel) -> None:
        policy = get_policy(model.value)
        assert policy.model is model
        assert policy.auto_confirm_after("surface") >= policy.auto_confirm_after("express")
        assert policy.unpaid_close > timedelta(0) and 0 <= policy.commission_bps <= 10_000
        assert policy.credit_level(0) == policy.credit_levels[0]

    def test_business_models_need_verified_sellers(self) -> None:
        assert [m for m in TradeModel if get_policy(m).seller_verification_required] == [
            TradeModel.sourcing,
            TradeModel.mall,
            TradeModel.crossborder,
        ]

    def test_unknown_model(self) -> None:
        with pytest.raises(ValueError, match="unknown trade model 'bazaar'"):
            get_policy("bazaar")

    def test_a_policy_checks_its_own_numbers(self) -> None:
        base = default_policy("market")
        with pytest.raises(ValueError, match="commission_bps must be between 0 and 10000"):
            dataclasses.replace(base, commission_bps=10_001)
        with pytest.raises(ValueError, match="ship_by_days must be at least 1"):
            dataclasses.replace(base, ship_by_days=0)
        with pytest.raises(ValueError, match="credit_levels must rise strictly"):
            dataclasses.replace(base, credit_levels=(CreditLevel(0, "a"), CreditLevel(0, "b")))
        with pytest.raises(ValueError, match="refund_default_outcome must be refund or release"):
            dataclasses.replace(base, refund_default_outcome="shrug")  # type: ignore[arg-type]
        assert isinstance(base, TradePolicy)


class TestOverrides:
    def test_environment_variables_override_one_model(self) -> None:
        configure_policies(
            environ={
                "SOUK_POLICY_MARKET_UNPAID_CLOSE_MINUTES": "15",
                "SOUK_POLICY_MARKET_COMMISSION_BPS": "250",
                "SOUK_POLICY_MARKET_MIN_PAYOUT": "25.50",
                "SOUK_POLICY_MALL_SELLER_VERIFICATION_REQUIRED": "false",
                "SOUK_POLICY_MARKET_REFUND_DEFAULT_OUTCOME": "release",
                "SOUK_OTHER_SETTING": "ignored",
            }
        )
        market = get_policy("market")
        assert market.unpaid_close == timedelta(minutes=15)
        assert market.commission_of(10_000) == 250
        assert market.min_payout_amount("USD") == 2550
        assert market.refund_default_outcome == "release"
        assert get_policy("mall").seller_verification_required is False
        # the rest is untouched
        assert market.ship_by == timedelta(days=3)
        assert get_policy("sourcing") == default_policy("sourcing")

    def test_the_process_environment_is_read(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SOUK_POLICY_MARKET_SHIP_BY_DAYS", "5")
        configure_policies()
        assert get_policy("market").ship_by == timedelta(days=5)

    @pytest.mark.parametrize(
        ("variable", "value", "message"),
        [
            ("SOUK_POLICY_MARKET_UNPAID_CLOSE_MINUTES", "soon", "'soon' is not a valid int"),
            ("SOUK_POLICY_MARKET_UNPAID_CLOSE_MINUTES", "0", "unpaid_close_minutes must be at least 1"),
            ("SOUK_POLICY_MARKET_COMISSION_BPS", "1", "market policy has no setting 'comission_bps'"),
            ("SOUK_POLICY_BAZAAR_COMMISSION_BPS", "1", "no such trade model"),
            ("SOUK_POLICY_MARKET_CREDIT_LEVELS", "1", "market policy has no setting 'credit_levels'"),
            ("SOUK_POLICY_MARKET_MIN_PAYOUT", "ten", "'ten' is not a valid Decimal"),
            ("SOUK_POLICY_MARKET_SELLER_VERIFICATION_REQUIRED", "maybe", "is not a valid bool"),
        ],
    )
    def test_bad_overrides_are_refused_by_name(self, variable: str, value: str, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            configure_policies(environ={variable: value})
        assert get_policy("market") == default_policy("market")  # nothing half-applied

    def test_overrides_in_code_and_the_test_helper(self) -> None:
        configure_policies({"market": {"review_window_days": 20}}, environ={})
        assert get_policy("market").review_window == timedelta(days=20)
        with policy_overridden("market", unpaid_close_minutes=1) as changed:
            assert get_policy("market") is changed
            assert get_policy("market").unpaid_close == timedelta(minutes=1)
            assert get_policy("market").review_window == timedelta(days=20)
        assert get_policy("market").unpaid_close == timedelta(minutes=30)
        with pytest.raises(ValueError, match="no setting 'nope'"):
            configure_policies({"market": {"nope": 1}}, environ={})

    def test_parsing_names_models_in_any_case(self) -> None:
        found = overrides_from_env({"souk_policy_crossborder_ship_by_days": "9"})
        assert found == {TradeModel.crossborder: {"ship_by_days": 9}}

    def test_the_app_refuses_to_start_with_a_bad_override(
        self, monkeypatch: pytest.MonkeyPatch, settings: Settings
    ) -> None:
        monkeypatch.setenv("SOUK_POLICY_MARKET_SHIP_BY_DAYS", "-1")
        with pytest.raises(ValueError, match="ship_by_days must be at least 1"):
            create_app(settings)
