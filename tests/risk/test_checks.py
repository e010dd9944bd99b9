"""Each check with hand-computed numbers and its boundaries (both engine paths via helpers.decide)."""

from __future__ import annotations

import math

import pytest

from cdbctl.risk import RiskConfig, max_safe_leverage
from cdbctl.risk.rules import RULES

from .helpers import check, decide, signal

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


# -- 1 validity ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"side": "hold"}, "side: 'hold' is not long, short, buy or sell"),
        ({"margin_mode": "portfolio"}, "margin_mode: 'portfolio' is not isolated or cross"),
        ({"market": {"bid": 101.0, "ask": 100.0}}, "market.bid: 101 is above market.ask 100 (crossed book)"),
        ({"price": "50000"}, "price: expected float, got str"),
        ({"price": 0}, "price: expected float > 0.0"),
        ({"price": None}, "price: missing required field"),
        ({"symbol": ""}, "symbol: expected str of length >= 1"),
        ({"leverage": 0}, "leverage: expected int >= 1"),
        ({"leverage": 126}, "leverage: expected int <= 125"),
        ({"leverage": 5.5}, "leverage: expected int | null, got float"),
        ({"leverage": True}, "leverage: expected int | null, got bool"),
        ({"market": {"volatility": "high"}}, "market.volatility: expected float | null, got str"),
        ({"market": {"funding_rate": math.inf}}, "market.funding_rate: must be a finite number"),
        ({"target_position_usd": math.nan}, "target_position_usd: expected float >= 0.0"),
        ({"price": math.nan}, "price: expected float > 0.0"),
        ({"price": math.inf}, "price: must be a finite number > 0"),
    ],
)
def test_validity_names_the_field(fields: dict[str, object], detail: str) -> None:
    d = decide(signal(**fields))
    assert d["approved"] is False
    assert d["reason"] == "invalid_signal"
    assert d["detail"] == detail
    assert d["position_size"] == 0.0
    assert check(d, "validity")["passed"] is False
    assert all(not c["passed"] and c["detail"].startswith("skipped") for c in d["checks"][1:])


@pytest.mark.parametrize(
    ("raw", "side"), [("LONG", "long"), ("Buy", "long"), ("sell", "short"), ("SHORT", "short")]
)
def test_side_any_case(raw: str, side: str) -> None:
    d = decide(signal(side=raw))
    assert d["side"] == side and d["approved"] is True


# -- 2 staleness -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ts", "reason", "age"),
    [
        ("2026-01-01T11:59:05Z", None, 60.0),  # exactly the timeout passes
        ("2026-01-01T11:59:04Z", "stale_data", 61.0),
        ("2026-01-01T12:59:04+01:00", "stale_data", 61.0),  # offsets are honoured
        ("2026-01-01T12:00:10Z", None, -5.0),  # 5 s in the future is tolerated
        ("2026-01-01T12:00:11Z", "invalid_signal", -6.0),
        (1767268800, None, 5.0),  # epoch seconds of 2026-01-01T12:00:00Z
        (1767268800000, None, 5.0),  # epoch milliseconds
        (1767268800.5, None, 4.5),
    ],
)
def test_staleness(ts: object, reason: str | None, age: float) -> None:
    d = decide(signal(timestamp=ts))
    assert d["reason"] == reason
    assert check(d, "staleness")["value"] == pytest.approx(age)
    if reason == "stale_data":
        assert d["detail"] == "age=61s > 60s"
    if reason == "invalid_signal":
        assert d["detail"].startswith("timestamp: 6s in the future")


@pytest.mark.parametrize("ts", ["yesterday", "2026-01-01T12:00:00", "", "2026-13-01T00:00:00Z"])
def test_unparseable_timestamp(ts: str) -> None:
    d = decide(signal(timestamp=ts))
    assert d["reason"] == "invalid_timestamp_format"
    assert "timestamp" in d["detail"]


def test_missing_timestamp_passes_unless_required() -> None:
    assert decide(signal(timestamp=None))["approved"] is True
    d = decide(signal(timestamp=None), env={"REQUIRE_TIMESTAMP": "true"})
    assert d["reason"] == "invalid_signal"
    assert d["detail"] == "timestamp: missing (REQUIRE_TIMESTAMP is true)"


# -- 3 circuit breaker, 4 daily drawdown -----------------------------------------------------------


def test_circuit_breaker_boundary() -> None:
    d = decide(state={"equity": 90000.0, "peak_equity": 100000.0})  # drawdown exactly 10 %
    assert d["reason"] == "circuit_breaker_triggered"
    assert check(d, "circuit_breaker")["value"] == pytest.approx(0.10)
    d = decide(state={"equity": 90001.0, "peak_equity": 100000.0})
    assert d["approved"] is True


def test_daily_drawdown_boundary() -> None:
    d = decide(state={"equity": 100000.0, "daily_pnl": -5000.0})  # -100000 x 0.05
    assert d["reason"] == "max_daily_drawdown_exceeded"
    assert d["detail"] == "daily_pnl -5000 <= -5000"
    assert decide(state={"equity": 100000.0, "daily_pnl": -4999.99})["approved"] is True
    # the alias sets the same key
    d = decide(state={"daily_pnl": -2000.0}, env={"MAX_DRAWDOWN_PCT": "0.02"})
    assert d["reason"] == "max_daily_drawdown_exceeded"


# -- 5 regime --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vol", "regime", "size", "reason"),
    [
        (0.60, "normal", 10000.0, None),
        (0.6000001, "stressed", 5000.0, None),
        (1.00, "stressed", 5000.0, None),
        (1.0000001, "panic", 0.0, "market_regime_panic"),
    ],
)
def test_regime_boundaries(vol: float, regime: str, size: float, reason: str | None) -> None:
    d = decide(signal(market={"volatility": vol}))
    assert d["regime"] == regime
    assert d["position_size_usd"] == pytest.approx(size)
    assert d["reason"] == reason


def test_first_failure_is_the_reason() -> None:
    d = decide(signal(timestamp="2026-01-01T11:00:00Z", market={"volatility": 2.0}, leverage=50))
    assert d["reason"] == "stale_data"
    failed = [c["name"] for c in d["checks"] if not c["passed"]]
    assert failed == ["staleness", "market_regime", "sizing", "leverage", "liquidation"]


# -- 6 sizing --------------------------------------------------------------------------------------


def test_fixed_fractional_and_caps() -> None:
    d = decide(env={"RISK_PER_TRADE_PCT": "0.001"})  # 100000 x 0.001 / 0.02 = 5000 (under the cap)
    assert d["position_size_usd"] == pytest.approx(5000.0)
    d = decide(signal(target_position_usd=3000.0))  # the request is never exceeded
    assert d["position_size_usd"] == 3000.0
    assert d["position_size"] == pytest.approx(0.06)
    d = decide(signal(target_position_usd=0.0))
    assert d["reason"] == "position_size_zero_after_sizing"
    assert d["detail"] == "target_position_usd is 0"


def test_vol_target() -> None:
    env = {"SIZING_METHOD": "vol_target", "TARGET_VOLATILITY": "0.02"}
    d = decide(signal(market={"volatility": 0.5}), env=env)  # 100000 x 0.02 / 0.5 = 4000
    assert d["position_size_usd"] == pytest.approx(4000.0)
    d = decide(signal(market={"volatility": 0.0}), env=env)  # zero vol: only the cap binds
    assert d["position_size_usd"] == pytest.approx(10000.0)


def test_kelly() -> None:
    env = {"SIZING_METHOD": "kelly", "MAX_POSITION_PCT": "0.5"}
    # W = 0.6, R = 200/100 = 2: f* = 0.6 - 0.4/2 = 0.4; half Kelly: 100000 x 0.4 x 0.5 = 20000
    state = {"equity": 100000.0, "win_rate": 0.6, "avg_win": 200.0, "avg_loss": 100.0}
    d = decide(state=state, env=env | {"MAX_TOTAL_EXPOSURE_PCT": "1"})
    assert d["position_size_usd"] == pytest.approx(20000.0)
    d = decide(state={"win_rate": 0.3, "avg_win": 100.0, "avg_loss": 100.0}, env=env)  # no edge
    assert d["reason"] == "position_size_zero_after_sizing"
    d = decide(env=env)  # no track record
    assert d["reason"] == "position_size_zero_after_sizing"
    assert d["detail"].startswith("kelly: needs win_rate")


def test_atr() -> None:
    env = {"SIZING_METHOD": "atr"}
    # 100000 x 0.01 / (2 x 5000) = 0.1 BTC = 5000 USDT
    d = decide(signal(market={"atr": 5000.0}), env=env)
    assert d["position_size_usd"] == pytest.approx(5000.0)
    assert d["position_size"] == pytest.approx(0.1)
    d = decide(env=env)
    assert d["reason"] == "position_size_zero_after_sizing"
    assert d["detail"] == "atr: needs market.atr > 0"


# -- 7 leverage, 8 exposure, 9 spread --------------------------------------------------------------


def test_leverage_limit() -> None:
    env = {"MAX_LEVERAGE": "10", "MIN_LIQUIDATION_DISTANCE": "0"}
    assert decide(signal(leverage=10), env=env)["approved"] is True
    d = decide(signal(leverage=11), env=env)
    assert d["reason"] == "leverage_exceeds_max"
    assert d["detail"] == "leverage 11 > 10"


def test_exposure_boundary() -> None:
    assert decide(state={"total_exposure_pct": 0.4})["approved"] is True  # 0.4 + 0.1 = 0.5
    d = decide(state={"total_exposure_pct": 0.41})
    assert d["reason"] == "max_exposure_reached"
    assert check(d, "exposure")["value"] == pytest.approx(0.51)


def test_spread_boundary() -> None:
    # (100.25 - 99.75) / 100 = 50 bps
    d = decide(signal(price=100.0, market={"bid": 99.75, "ask": 100.25}))
    assert check(d, "spread")["value"] == pytest.approx(50.0)
    assert d["approved"] is True
    d = decide(signal(price=100.0, market={"bid": 99.74, "ask": 100.26}))
    assert d["reason"] == "excessive_spread"


# -- 10 liquidation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "lev", "lp", "reason"),
    [
        ("long", 5, 40250.0, None),  # 50000 x (1 - 1/5 + 0.005)
        ("short", 5, 59750.0, None),  # 50000 x (1 + 1/5 - 0.005)
        ("long", 6, 50000 * (1 - 1 / 6 + 0.005), None),  # distance 0.1617
        ("long", 7, 50000 * (1 - 1 / 7 + 0.005), "liquidation_risk_too_high"),  # distance 0.1379
        ("short", 7, 50000 * (1 + 1 / 7 - 0.005), "liquidation_risk_too_high"),
    ],
)
def test_isolated_liquidation(side: str, lev: int, lp: float, reason: str | None) -> None:
    d = decide(signal(side=side, leverage=lev))
    assert d["liquidation_price"] == pytest.approx(lp)
    assert d["liquidation_distance"] == pytest.approx(1 / lev - 0.005)
    assert d["reason"] == reason
    assert d["max_safe_leverage"] == 6


def test_liquidation_boundary_and_max_safe_leverage() -> None:
    env = {"MAINTENANCE_MARGIN_RATE": "0", "MIN_LIQUIDATION_DISTANCE": "0.2"}
    d = decide(signal(leverage=5), env=env)  # distance exactly 0.2
    assert d["approved"] is True and d["max_safe_leverage"] == 5
    assert max_safe_leverage(RiskConfig()) == 6
    assert max_safe_leverage(RiskConfig(MIN_LIQUIDATION_DISTANCE=0.0, MAINTENANCE_MARGIN_RATE=0.0)) == 10
    assert max_safe_leverage(RiskConfig(MIN_LIQUIDATION_DISTANCE=0.999)) == 0


def test_cross_margin_uses_equity() -> None:
    env = {"MARGIN_MODE": "cross", "MAX_POSITION_PCT": "1", "RISK_PER_TRADE_PCT": "0.02",
           "MAX_TOTAL_EXPOSURE_PCT": "1"}  # fmt: skip
    # notional 100000 backed by a wallet of 100000: LP = (WB - qty x entry) / (qty x MMR - qty) = 0
    d = decide(signal(leverage=20), env=env | {"MAX_LEVERAGE": "20"})
    assert d["position_size_usd"] == pytest.approx(100000.0)
    assert d["liquidation_distance"] == pytest.approx(1.0)
    assert d["liquidation_price"] == 0.0
    d = decide(signal(side="short", margin_mode="cross", target_position_usd=50000.0), env=env)
    assert d["liquidation_price"] == pytest.approx(
        (100000 + 50000) / 1.005
    )  # (WB + qty x entry) / (qty x 1.005)


def test_stop_beyond_liquidation_is_rejected() -> None:
    d = decide(env={"STOP_LOSS_PCT": "0.5"})  # stop 25000 below LP 40250
    assert d["reason"] == "liquidation_risk_too_high"
    assert d["detail"] == "stop 25000 is beyond the liquidation price 40250"
    d = decide(signal(side="short", stop_price=60000.0))  # short stop above LP 59750
    assert d["reason"] == "liquidation_risk_too_high"
    assert decide(signal(side="short"))["stop_price"] == pytest.approx(51000.0)


# -- 11 funding, 12 slippage, fees -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "rate", "reason", "alert", "fee"),
    [
        ("long", 0.0005, "excessive_funding_fees", False, 15.0),  # 0.0015 of value per day
        ("long", 0.0002, None, True, 6.0),  # 0.0006 > alert 0.0005
        ("short", 0.0005, None, False, -15.0),  # a short receives a positive rate
        ("short", -0.0005, "excessive_funding_fees", False, 15.0),
    ],
)
def test_funding(side: str, rate: float, reason: str | None, alert: bool, fee: float) -> None:
    d = decide(signal(side=side, market={"funding_rate": rate}))
    assert d["reason"] == reason
    assert d["funding_alert"] is alert
    assert d["funding_fee_daily"] == pytest.approx(fee)


def test_funding_boundaries() -> None:
    env = {"FUNDING_SETTLEMENT_HOURS": "24"}
    d = decide(signal(market={"funding_rate": 0.001}), env=env)
    assert d["approved"] is True and d["funding_alert"] is True
    assert decide(signal(market={"funding_rate": 0.0010001}), env=env)["reason"] == "excessive_funding_fees"
    assert decide(signal(market={"funding_rate": 0.0005}), env=env)["funding_alert"] is False


def test_slippage_square_root_law() -> None:
    vol = 0.01 * math.sqrt(365)  # daily sigma 1 %
    d = decide(signal(market={"volatility": vol, "order_book_depth": 1_000_000.0}))
    # 1e4 x 0.01 x sqrt(10000 / 1e6) = 10 bps
    assert d["expected_slippage_bps"] == pytest.approx(10.0)
    d = decide(signal(price=100.0, market={"volatility": vol, "order_book_depth": 1_000_000.0, "bid": 99.9,
                                           "ask": 100.1}))  # fmt: skip
    assert d["expected_slippage_bps"] == pytest.approx(20.0)  # + half of the 20 bps spread
    d = decide(signal(market={"volatility": vol, "order_book_depth": 1000.0}))  # 1e4 x 0.01 x sqrt(10)
    assert d["reason"] == "excessive_slippage"
    assert d["expected_slippage_bps"] == pytest.approx(100 * math.sqrt(10))


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
    ("side", "stop", "detail"),
    [
        ("long", 50000.0, "stop_price: 50000 is not below the entry price 50000 for a long"),
        ("long", 51000.0, "stop_price: 51000 is not below the entry price 50000 for a long"),
        ("short", 49000.0, "stop_price: 49000 is not above the entry price 50000 for a short"),
    ],
)
def test_stop_on_the_wrong_side_of_the_entry_is_invalid(side: str, stop: float, detail: str) -> None:
    """A long's stop above its entry (a short's below) fires at once or never protects: not approvable."""
    d = decide(signal(side=side, stop_price=stop))
    assert (d["approved"], d["reason"], d["detail"]) == (False, "invalid_signal", detail)
    assert decide(signal(side=side, stop_price=49500.0 if side == "long" else 50500.0))["approved"] is True


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
