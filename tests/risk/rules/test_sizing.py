"""Sizing rules: each sizing method with hand-computed numbers, its caps and the leverage limit."""

from __future__ import annotations

import pytest

from ..helpers import decide, signal

pytestmark = pytest.mark.unit


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


def test_leverage_limit() -> None:
    env = {"MAX_LEVERAGE": "10", "MIN_LIQUIDATION_DISTANCE": "0"}
    assert decide(signal(leverage=10), env=env)["approved"] is True
    d = decide(signal(leverage=11), env=env)
    assert d["reason"] == "leverage_exceeds_max"
    assert d["detail"] == "leverage 11 > 10"
