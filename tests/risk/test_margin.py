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
from cdbctl.risk.positions import LONG, SHORT, Position

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


# --- Binance USD-M FAQ vectors, as freqtrade's test_liquidation_price_binance uses them ---------

BTC_LEG = dict(
    symbol="BTC/USDT:USDT",
    quantity=109.488,
    entry_price=32481.98,
    mark_price=31967.27,
    maintenance_margin_rate=0.025,
    maintenance_amount=16300.0,
)
ETH_LEG = dict(
    symbol="ETH/USDT:USDT",
    quantity=3683.979,
    entry_price=1456.84,
    mark_price=1335.18,
    maintenance_margin_rate=0.10,
    maintenance_amount=135365.0,
)


@pytest.mark.parametrize(
    ("quantity", "entry", "mmr", "cum", "expected"),
    [
        (3683.979, 1456.84, 0.10, 135365.00, 1114.78),  # ETH isolated
        (109.488, 32481.98, 0.025, 16300.0, 18778.73),  # BTC isolated
    ],
)
def test_binance_isolated_vectors(
    quantity: float, entry: float, mmr: float, cum: float, expected: float
) -> None:
    price = cross_liquidation_price(LONG, quantity, entry, 1535443.01, mmr, maintenance_amount=cum)
    assert round(price, 2) == expected


def test_binance_cross_vector_eth_with_btc_leg() -> None:
    btc = Position(side=LONG, **BTC_LEG)
    price = cross_liquidation_price(
        LONG, 3683.979, 1456.84, 1535443.01, 0.10, maintenance_amount=135365.0, others=[btc]
    )
    assert round(price, 2) == 1153.26


def test_binance_cross_vector_btc_with_eth_leg() -> None:
    eth = Position(side=LONG, **ETH_LEG)
    price = cross_liquidation_price(
        LONG, 109.488, 32481.98, 1535443.01, 0.025, maintenance_amount=16300.0, others=[eth]
    )
    assert round(price, 2) == 26316.89


def test_cross_short_other_leg_uses_its_own_pnl_sign() -> None:
    # The same BTC leg held short is *in profit* by 109.488 x (32481.98 - 31967.27) = 56354.57, so the
    # ETH long gains buffer: numerator grows by 2 x 56354.57, LP drops by 112709.14 / 3315.58 = 33.99.
    # freqtrade adds `amount x (mark - open)` for every leg and would still print 1153.26 here.
    btc_short = Position(side=SHORT, **BTC_LEG)
    assert btc_short.unrealized_pnl() == pytest.approx(56354.57, abs=0.01)
    price = cross_liquidation_price(
        LONG, 3683.979, 1456.84, 1535443.01, 0.10, maintenance_amount=135365.0, others=[btc_short]
    )
    assert round(price, 2) == 1119.26


def test_cross_short_subject_is_above_entry() -> None:
    # s = -1: LP = (WB - TMM1 + UPNL1 + cum + qty x entry) / (qty x MMR + qty)
    btc = Position(side=LONG, **BTC_LEG)
    tmm = 109.488 * 31967.27 * 0.025 - 16300.0
    upnl = 109.488 * (31967.27 - 32481.98)
    expected = (1535443.01 - tmm + upnl + 135365.0 + 3683.979 * 1456.84) / (3683.979 * 0.10 + 3683.979)
    price = cross_liquidation_price(
        SHORT, 3683.979, 1456.84, 1535443.01, 0.10, maintenance_amount=135365.0, others=[btc]
    )
    assert price == pytest.approx(expected)
    assert round(price, 2) == 1705.23


def test_cross_with_only_the_position_margin_is_close_to_mexc_isolated() -> None:
    # Binance takes maintenance on the liquidation-price value, MEXC on the entry value:
    # (200 - 5000) / (0.1 x 0.004 - 0.1) = 48192.77 vs MEXC's 48200.
    assert round(cross_liquidation_price(LONG, 0.1, 50_000, 200, 0.004), 2) == 48192.77


def test_cross_long_backed_by_a_large_wallet_is_never_liquidated() -> None:
    assert cross_liquidation_price(LONG, 1, 100, 1_000, 0.005) == 0.0


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
