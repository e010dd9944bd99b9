"""Liquidation rule: isolated and cross liquidation prices, the distance limit and stops beyond them."""

from __future__ import annotations

import pytest

from cdbctl.risk import RiskConfig, max_safe_leverage

from ..helpers import decide, signal

pytestmark = pytest.mark.unit


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
