"""The rule table as a whole: order, first failure wins, costs and number formatting."""

from __future__ import annotations

import pytest

from cdbctl.risk.rules import RULES

from ..helpers import decide, signal

pytestmark = pytest.mark.unit

ORDER = ["validity", "staleness", "circuit_breaker", "daily_drawdown", "market_regime", "sizing", "leverage",
         "exposure", "spread", "liquidation", "funding", "slippage"]  # fmt: skip


def test_all_checks_reported_in_order_and_default_long_approved() -> None:
    d = decide()
    assert [c["name"] for c in d["checks"]] == ORDER == [r.name for r in RULES if r.applies is None]
    assert all(c["passed"] for c in d["checks"])
    # fixed_fractional: 100000 x 0.01 / 0.02 = 50000, capped at 100000 x 0.10 = 10000
    assert d["approved"] is True and d["reason"] is None and d["detail"] is None
    assert d["position_size_usd"] == 10000.0
    assert d["position_size"] == pytest.approx(0.2)
    assert d["leverage"] == 5
    assert d["stop_price"] == pytest.approx(49000.0)  # 50000 x (1 - 0.02)
    assert d["liquidation_price"] == pytest.approx(40250.0)  # 50000 x (1 - 1/5 + 0.005)
    assert d["liquidation_distance"] == pytest.approx(0.195)
    assert d["max_safe_leverage"] == 6
    assert d["regime"] == "normal"  # default volatility 0.30
    assert d["funding_fee_daily"] == pytest.approx(3.0)  # 10000 x 0.0001 x 24 / 8
    assert d["funding_alert"] is False
    assert d["expected_slippage_bps"] == 0.0  # no depth, no book
    assert d["fees_usd"] == pytest.approx(12.0)  # 10000 x (0.0006 entry + 0.0006 exit)
    assert d["schema_version"] == 1 and d["signal_id"] == "t1" and d["symbol"] == "BTCUSDT"


def test_first_failure_is_the_reason() -> None:
    d = decide(signal(timestamp="2026-01-01T11:00:00Z", market={"volatility": 2.0}, leverage=50))
    assert d["reason"] == "stale_data"
    failed = [c["name"] for c in d["checks"] if not c["passed"]]
    assert failed == ["staleness", "market_regime", "sizing", "leverage", "liquidation"]


def test_fees_use_maker_for_limit_entries() -> None:
    assert decide(signal(order_type="limit"))["fees_usd"] == pytest.approx(8.0)  # 10000 x (0.0002 + 0.0006)


def test_default_market_and_per_signal_override() -> None:
    market = {"volatility": 0.8, "funding_rate": 0.0002}
    d = decide(market=market)
    assert d["regime"] == "stressed" and d["funding_alert"] is True
    d = decide(signal(market={"volatility": 0.1}), market=market)
    assert d["regime"] == "normal" and d["funding_alert"] is True


@pytest.mark.parametrize(
    ("sig", "fee_daily", "fees"),
    [
        (signal(), 3.0, 12.0),  # unrounded: 3.0000000000000004 and 11.999999999999998
        (signal(side="short"), -3.0, 12.0),  # a receipt
        (signal(target_position_usd=2500.0), 0.75, 3.0),  # unrounded fees: 2.9999999999999996
        (signal(target_position_usd=4571.428571428572), 1.37142857, 5.48571429),  # to 1e-8 USDT
    ],
)
def test_money_fields_are_rounded_to_1e_8_usdt(sig: dict[str, object], fee_daily: float, fees: float) -> None:
    """Estimated costs carry no float noise: exactly the 8-decimal value, in both engine paths."""
    d = decide(sig)
    assert (d["funding_fee_daily"], d["fees_usd"]) == (fee_daily, fees)


def test_money_rounding_survives_huge_values() -> None:
    """Rounding must not overflow (round(inf)) on an absurd but finite equity: no internal error."""
    d = decide(signal(), state={"equity": 1e307}, env={"MAX_POSITION_PCT": "1"})
    assert d["approved"] is True and d["reason"] is None
    assert d["fees_usd"] == pytest.approx(1e307 * 0.5 * 0.0012)  # fixed fractional: equity x 1% / 2%


@pytest.mark.parametrize(
    ("sig", "state", "reason"),
    [
        (signal(market={"funding_rate": 1e300}), None, "excessive_funding_fees"),
        (signal(), {"total_exposure_pct": 1e300}, "max_exposure_reached"),
        (signal(market={"order_book_depth": 1e-300}), None, "excessive_slippage"),
    ],
)
def test_failure_details_of_absurd_values_stay_one_short_line(
    sig: dict[str, object], state: dict[str, object] | None, reason: str
) -> None:
    """`{x:.4%}` / `{x:.2f}` of 1e300 printed 300 digits into the detail (and the table)."""
    d = decide(sig, state=state)
    assert d["reason"] == reason
    assert len(d["detail"]) < 80, d["detail"]


def test_every_rule_documents_itself() -> None:
    for rule in RULES:
        assert rule.rule.endswith("."), rule.name
        assert rule.reasons and all(r.isidentifier() for r in rule.reasons), rule.name
        for reason in rule.reasons:  # every reason code the table names is one its check can return
            assert f'"{reason}"' in rule.check or "state_reason" in rule.check, (rule.name, reason)
        assert rule.headroom in (-1, 0, 1)
        assert bool(rule.unit) == bool(rule.headroom), rule.name  # a headroom is shown in a unit
