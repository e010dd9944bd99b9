"""Market rules: volatility regime, spread, funding and slippage, with hand-computed numbers."""

from __future__ import annotations

import math

import pytest

from ..helpers import check, decide, signal

pytestmark = pytest.mark.unit


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


def test_spread_boundary() -> None:
    # (100.25 - 99.75) / 100 = 50 bps
    d = decide(signal(price=100.0, market={"bid": 99.75, "ask": 100.25}))
    assert check(d, "spread")["value"] == pytest.approx(50.0)
    assert d["approved"] is True
    d = decide(signal(price=100.0, market={"bid": 99.74, "ask": 100.26}))
    assert d["reason"] == "excessive_spread"


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
