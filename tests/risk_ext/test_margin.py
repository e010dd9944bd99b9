"""Margin sufficiency and liquidation prices against published numbers and hand computations."""

from __future__ import annotations

import math

import pytest

from cdbctl.risk.margin import (
    available_balance,
    check_margin,
    cross_liquidation_price,
    funding_fee,
    isolated_liquidation_price,
    liquidation_distance,
    max_leverage_for_distance,
    max_notional_for_margin,
)
from cdbctl.risk.positions import LONG, SHORT

pytestmark = pytest.mark.unit


# --- MEXC "Liquidation in Futures": 0.1 BTC long at 50,000, 25x, MMR 0.4% -> 48,200 ------------


def test_mexc_worked_example_long() -> None:
    # MM = 50000 x 0.1 x 0.4% = 20; PM = 50000 x 0.1 / 25 = 200; LP = (20 - 200 + 5000) / 0.1
    assert isolated_liquidation_price(LONG, 50_000, 25, 0.004) == pytest.approx(48_200)


def test_mexc_worked_example_short_mirror() -> None:
    # short LP = (entry x qty - MM + PM) / qty = (5000 - 20 + 200) / 0.1
    assert isolated_liquidation_price(SHORT, 50_000, 25, 0.004) == pytest.approx(51_800)


def test_isolated_extra_margin_moves_liquidation_away() -> None:
    # 100 USDT added to the 200 USDT position margin of the MEXC example: (20 - 300 + 5000) / 0.1
    price = isolated_liquidation_price(LONG, 50_000, 25, 0.004, extra_margin=100, quantity=0.1)
    assert price == pytest.approx(47_200)


def test_isolated_long_at_1x_never_below_zero() -> None:
    assert isolated_liquidation_price(LONG, 100, 1, 0.0) == 0.0


# --- cross margin: MEXC's isolated formula with the account's margin (margin.py) ---------------------


def test_cross_with_only_the_position_margin_is_the_mexc_isolated_price() -> None:
    # the MEXC worked example backed by exactly its 200 USDT position margin: 48,200 / 51,800
    assert cross_liquidation_price(LONG, 0.1, 50_000, 200, 0.004) == pytest.approx(48_200)
    assert cross_liquidation_price(SHORT, 0.1, 50_000, 200, 0.004) == pytest.approx(51_800)


def test_cross_short_backed_by_the_equity() -> None:
    # 0.1 BTC short at 50,000 on 1,000 USDT: LP = 50,000 x (1 + 1,000 / 5,000 - 0.005) = 59,750
    assert cross_liquidation_price(SHORT, 0.1, 50_000, 1_000, 0.005) == pytest.approx(59_750)


def test_cross_long_backed_by_a_large_wallet_is_never_liquidated() -> None:
    assert cross_liquidation_price(LONG, 1, 100, 1_000, 0.005) == 0.0


def test_cross_maintenance_above_the_margin_liquidates_at_entry() -> None:
    assert cross_liquidation_price(LONG, 1, 100, 0.1, 0.005) == 100.0
    assert cross_liquidation_price(SHORT, 1, 100, 0.1, 0.005) == 100.0


def test_cross_zero_quantity_does_not_crash() -> None:
    assert cross_liquidation_price(LONG, 0.0, 100, 1_000, 0.005) == 0.0


# --- distance, leverage for a distance, funding -------------------------------------------------


def test_liquidation_distance_long_and_short() -> None:
    assert liquidation_distance(LONG, 48_200, 50_000) == pytest.approx(0.036)
    assert liquidation_distance(SHORT, 51_800, 50_000) == pytest.approx(0.036)
    # On the fair price: mark 49,000 is already 1,000 closer to the long's liquidation.
    assert liquidation_distance(LONG, 48_200, 49_000) == pytest.approx(800 / 49_000)


@pytest.mark.parametrize(
    ("side", "mmr", "distance", "reference", "expected"),
    [
        (LONG, 0.005, 0.15, None, 6),  # 1 / (0.15 + 0.005) = 6.45
        (SHORT, 0.005, 0.15, None, 6),
        (LONG, 0.004, 0.036, None, 25),  # the MEXC example sits exactly on 3.6%
        (LONG, 0.005, 0.15, 95.0, 5),  # entry 100, mark 95: 1 / (1.005 - 95 x 0.85 / 100) = 5.06
        (SHORT, 0.005, 0.15, 105.0, 4),  # 1 / (1.05 x 1.15 - 1 + 0.005) = 4.03
        (LONG, 0.005, 0.95, None, 1),
        (LONG, 0.005, 1.5, None, 0),  # no leverage keeps a long 150% away from liquidation
    ],
)
def test_max_leverage_for_distance(
    side: int, mmr: float, distance: float, reference: float | None, expected: int
) -> None:
    best = max_leverage_for_distance(side, 100.0, mmr, distance, reference=reference)
    assert best == expected
    if best:
        ref = 100.0 if reference is None else reference
        assert (
            liquidation_distance(side, isolated_liquidation_price(side, 100, best, mmr), ref)
            >= distance - 1e-12
        )
        if best < 125:
            worse = isolated_liquidation_price(side, 100, best + 1, mmr)
            assert liquidation_distance(side, worse, ref) < distance


def test_max_leverage_for_distance_is_capped() -> None:
    # A long whose mark is far above entry is safe at any leverage: the cap decides.
    assert max_leverage_for_distance(LONG, 100.0, 0.005, 0.15, reference=200.0, cap=50) == 50


def test_funding_on_mark_price_signs() -> None:
    # 2 BTC at mark 40,000, rate 0.01% per 8 h -> 8 per settlement, 24 per day for the long.
    assert funding_fee(LONG, 2, 40_000, 0.0001, hours=24, interval_hours=8) == pytest.approx(24.0)
    assert funding_fee(SHORT, 2, 40_000, 0.0001, hours=24, interval_hours=8) == pytest.approx(-24.0)
    assert funding_fee(SHORT, 2, 40_000, -0.0001, hours=24, interval_hours=4) == pytest.approx(48.0)


# --- margin sufficiency -------------------------------------------------------------------------


def test_margin_fits_at_the_boundary() -> None:
    # 10,000 notional at 10x: IM 1,000; fees 2 x 10,000 x 0.0006 = 12; needs 1,012.
    result = check_margin(10_000, 10, 0.0006, 1_012)
    assert result.passed
    assert (result.initial_margin, result.fees, result.required) == pytest.approx((1_000, 12, 1_012))
    assert result.max_notional == pytest.approx(10_000)


def test_margin_one_cent_short_fails() -> None:
    result = check_margin(10_000, 10, 0.0006, 1_011.99)
    assert not result.passed
    assert result.max_notional < 10_000


def test_max_notional_for_margin() -> None:
    assert max_notional_for_margin(1_012, 10, 0.0006) == pytest.approx(10_000)
    assert max_notional_for_margin(0, 10, 0.0006) == 0.0
    assert max_notional_for_margin(-5, 10, 0.0006) == 0.0


def test_available_balance_prefers_the_state_value() -> None:
    assert available_balance(2_500.0, 10_000, 4_000) == 2_500.0
    assert available_balance(None, 10_000, 4_000) == 6_000.0
    assert math.isclose(available_balance(None, 10_000, 0), 10_000)
