"""Account rules: circuit breaker, daily drawdown and total exposure, at their boundaries."""

from __future__ import annotations

import pytest

from ..helpers import check, decide

pytestmark = pytest.mark.unit


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


def test_exposure_boundary() -> None:
    assert decide(state={"total_exposure_pct": 0.4})["approved"] is True  # 0.4 + 0.1 = 0.5
    d = decide(state={"total_exposure_pct": 0.41})
    assert d["reason"] == "max_exposure_reached"
    assert check(d, "exposure")["value"] == pytest.approx(0.51)
