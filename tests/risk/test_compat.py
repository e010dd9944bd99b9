"""The seed helpers' numbers beyond the seed's own tests."""

from __future__ import annotations

import pytest

from cdbctl.risk import (
    apply_market_regimen_adjustment,
    check_funding_fee_impact,
    detect_market_regimen,
    validate_liquidation_safety,
)

pytestmark = pytest.mark.unit


class Position:
    """An object with attributes, as MexcPerpetualPosition is."""

    entry_price = 100.0
    liquidation_price = 80.5
    leverage = 5


def test_liquidation_safety_sources() -> None:
    assert validate_liquidation_safety({"liquidation_distance": 0.15}) == {
        "approved": True, "reason": None, "distance": 0.15}  # fmt: skip
    r = validate_liquidation_safety(Position())
    assert r["approved"] is True and r["distance"] == pytest.approx(0.195)
    r = validate_liquidation_safety({"leverage": 7})  # 1/7 - 0.005
    assert r["approved"] is False and r["reason"] == "liquidation_risk_too_high"
    assert validate_liquidation_safety({})["reason"] == "liquidation_distance_unknown"


def test_funding_fee_impact_numbers() -> None:
    r = check_funding_fee_impact({"position_value": 100_000}, {"funding_rate": 0.0005})
    assert r["daily_cost"] == pytest.approx(150.0)  # 100000 x 0.0005 x 3
    assert r["approved"] is False and r["alert"] is True and r["reason"] == "excessive_funding_fees"
    r = check_funding_fee_impact({"position_value": 100_000, "side": "short"}, {"funding_rate": 0.0005})
    assert r["daily_cost"] == pytest.approx(-150.0) and r["approved"] is True and r["alert"] is False
    r = check_funding_fee_impact({"size": 2, "entry_price": 50_000}, {})
    assert r["daily_cost"] == pytest.approx(30.0) and r["approved"] is True


def test_regimen_boundaries_and_adjustment() -> None:
    assert detect_market_regimen({"volatility": 0.60}) == "normal"
    assert detect_market_regimen({"volatility": 1.00}) == "stressed"
    assert detect_market_regimen({}) == "normal"
    assert detect_market_regimen({"volatility": float("nan")}) == "panic"
    assert apply_market_regimen_adjustment(1000.0, "normal") == 1000.0
    assert apply_market_regimen_adjustment(1000.0, "stressed") == 500.0
    assert apply_market_regimen_adjustment(1000.0, "panic") == 0.0
    assert apply_market_regimen_adjustment(1000.0, "unknown") == 0.0


@pytest.mark.parametrize(
    ("position", "market"),
    [
        ({"position_value": 10_000}, {"funding_rate": float("nan")}),
        ({"position_value": float("nan")}, {"funding_rate": 0.0001}),
        ({"position_value": float("inf")}, {"funding_rate": 0.0}),  # inf x 0 is NaN
        ({"size": 1, "entry_price": "nan"}, {"funding_rate": 0.0001}),
        ({"position_value": 10_000}, {"funding_rate": "inf"}),
    ],
)
def test_funding_fee_of_no_number_fails_closed(
    position: dict[str, object], market: dict[str, object]
) -> None:
    # NaN compared False with the limit and was approved
    assert check_funding_fee_impact(position, market) == {
        "approved": False, "daily_cost": None, "alert": True, "reason": "funding_fee_unknown"}  # fmt: skip


@pytest.mark.parametrize("distance", [float("inf"), float("-inf"), float("nan"), "inf"])
def test_liquidation_distance_that_is_no_finite_number_fails_closed(distance: object) -> None:
    assert validate_liquidation_safety({"liquidation_distance": distance}) == {
        "approved": False, "reason": "liquidation_distance_unknown", "distance": None}  # fmt: skip
