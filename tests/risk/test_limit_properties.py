"""Hypothesis properties of the margin, instrument and rate-limit helpers."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdbctl.risk.account_rules import OrderRateLimiter
from cdbctl.risk.instruments import floor_quantity, load_instruments, tier_for
from cdbctl.risk.margin import (
    check_margin,
    cross_liquidation_price,
    isolated_liquidation_price,
    liquidation_distance,
    max_leverage_for_distance,
)
from cdbctl.risk.positions import LONG, SHORT, Position

pytestmark = pytest.mark.unit

prices = st.floats(min_value=1e-4, max_value=1e6, allow_nan=False, allow_infinity=False)
rates = st.floats(min_value=0.001, max_value=0.2)
sides = st.sampled_from([LONG, SHORT])
leverages = st.integers(min_value=1, max_value=125)


@given(sides, prices, rates, leverages)
def test_lower_leverage_never_gives_a_closer_liquidation(
    side: int, entry: float, mmr: float, lev: int
) -> None:
    if lev == 1:
        return
    near = liquidation_distance(side, isolated_liquidation_price(side, entry, lev, mmr), entry)
    far = liquidation_distance(side, isolated_liquidation_price(side, entry, lev - 1, mmr), entry)
    assert far >= near - 1e-12


@given(sides, prices, rates, st.floats(min_value=0.0, max_value=0.9), st.floats(min_value=0.5, max_value=1.5))
def test_max_leverage_for_distance_is_tight(
    side: int, entry: float, mmr: float, dist: float, move: float
) -> None:
    reference = entry * move
    best = max_leverage_for_distance(side, entry, mmr, dist, reference=reference, cap=125)
    assert 0 <= best <= 125
    if best >= 1:
        lp = isolated_liquidation_price(side, entry, best, mmr)
        assert liquidation_distance(side, lp, reference) >= dist - 1e-9
    if best < 125:
        lp = isolated_liquidation_price(side, entry, best + 1, mmr)
        assert liquidation_distance(side, lp, reference) < dist + 1e-9


@given(
    st.floats(min_value=0.0, max_value=1e7),
    leverages,
    st.floats(min_value=0, max_value=0.01),
    st.floats(min_value=0, max_value=1e7),
)
def test_max_notional_always_fits(notional: float, lev: int, fee: float, available: float) -> None:
    result = check_margin(notional, lev, fee, available)
    assert result.passed == (result.required <= available + 1e-9)
    fitted = check_margin(result.max_notional, lev, fee, available)
    assert fitted.passed
    if result.max_notional > 0:
        assert not check_margin(result.max_notional * 1.001 + 1e-6, lev, fee, available).passed


@given(
    side=sides,
    qty=st.floats(min_value=0.01, max_value=1e4),
    entry=prices,
    wallet=st.floats(min_value=0, max_value=1e7),
    mmr=rates,
    other_qty=st.floats(min_value=0.01, max_value=1e3),
    other_entry=prices,
    other_mark=prices,
)
def test_cross_short_leg_is_the_mirror_of_the_long_leg(
    *,
    side: int,
    qty: float,
    entry: float,
    wallet: float,
    mmr: float,
    other_qty: float,
    other_entry: float,
    other_mark: float,
) -> None:
    leg = dict(
        symbol="O",
        quantity=other_qty,
        entry_price=other_entry,
        mark_price=other_mark,
        maintenance_margin_rate=mmr,
    )
    long_leg = Position(side=LONG, **leg)
    short_leg = Position(side=SHORT, **leg)
    assert short_leg.unrealized_pnl() == pytest.approx(-long_leg.unrealized_pnl())
    # Raw formula value (before the zero floor) differs by exactly 2 x PnL / denominator.
    denominator = qty * mmr - side * qty
    with_long = cross_liquidation_price(side, qty, entry, wallet, mmr, others=[long_leg])
    with_short = cross_liquidation_price(side, qty, entry, wallet, mmr, others=[short_leg])
    assert with_long >= 0 and with_short >= 0
    if with_long > 0 and with_short > 0:
        gap = 2 * long_leg.unrealized_pnl() / denominator
        assert with_long - with_short == pytest.approx(gap, rel=1e-6, abs=1e-6 * max(1.0, entry))


@given(sides, st.floats(min_value=0.01, max_value=1e4), prices, st.floats(min_value=0, max_value=1e9), rates)
def test_more_wallet_never_brings_cross_liquidation_closer(
    side: int, qty: float, entry: float, wallet: float, mmr: float
) -> None:
    low = cross_liquidation_price(side, qty, entry, wallet, mmr)
    high = cross_liquidation_price(side, qty, entry, wallet * 2 + 1, mmr)
    assert (high <= low + 1e-9) if side == LONG else (high >= low - 1e-9)


INSTRUMENT = load_instruments(
    {
        "BTC_USDT": {
            "tick_size": 0.1,
            "contract_size": 0.0001,
            "quantity_step": 5,
            "max_leverage": 125,
            "maintenance_margin_rate": 0.004,
            "initial_margin_rate": 0.008,
            "risk_base_vol": 150000,
            "risk_incr_vol": 150000,
            "risk_incr_mmr": 0.004,
            "risk_incr_imr": 0.004,
            "risk_level_limit": 5,
        }
    }
).get("BTC_USDT")


@given(st.floats(min_value=0, max_value=1e4, allow_nan=False))
def test_floor_quantity_never_rounds_up(base: float) -> None:
    assert INSTRUMENT is not None
    contracts, units = floor_quantity(INSTRUMENT, base)
    assert units <= base * (1 + 1e-12)
    assert base - units < INSTRUMENT.base_step * (1 + 1e-9) + 1e-12
    assert math.isclose(contracts % 5, 0, abs_tol=1e-6) or math.isclose(contracts % 5, 5, abs_tol=1e-6)


@given(st.floats(min_value=0, max_value=1e6), st.floats(min_value=0, max_value=1e6))
def test_bigger_positions_never_get_an_easier_tier(a: float, b: float) -> None:
    assert INSTRUMENT is not None
    small, big = sorted((a, b))
    t_small, t_big = tier_for(INSTRUMENT, small), tier_for(INSTRUMENT, big)
    if t_big is not None:
        assert t_small is not None
        assert t_big.maintenance_margin_rate >= t_small.maintenance_margin_rate
        assert t_big.max_leverage <= t_small.max_leverage


@given(
    st.integers(min_value=1, max_value=20),
    st.lists(st.floats(min_value=0, max_value=30, allow_nan=False), min_size=1, max_size=200),
)
def test_rate_limiter_never_exceeds_the_limit_in_any_window(limit: int, gaps: list[float]) -> None:
    limiter = OrderRateLimiter(limit)
    now = 0.0
    accepted: list[float] = []
    for gap in gaps:
        now += gap
        if limiter.allows(now):
            limiter.record(now)
            accepted.append(now)
        else:
            assert limiter.retry_after(now) > 0
    for start in accepted:
        assert sum(1 for t in accepted if start <= t < start + 60.0) <= limit
