"""`risk explain` core: headroom per check and the engine-verified size/leverage that would pass."""

from __future__ import annotations

import msgspec
import pytest

from cdbctl.risk import Engine, RiskConfig, RiskState, Signal
from cdbctl.risk.explain import explain, headroom
from cdbctl.risk.model import Check

pytestmark = pytest.mark.unit

BTC = Signal(symbol="BTCUSDT", side="long", price=50_000.0)


def engine(**state: float) -> Engine:
    return Engine(RiskConfig(), RiskState(**state), trace=True, now=0.0)  # type: ignore[arg-type]


def passes(eng: Engine, sig: Signal, **change: object) -> bool:
    return eng.evaluate(msgspec.structs.replace(sig, **change)).approved


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        (Check("exposure", False, 0.55, 0.5, None), -0.05),
        (Check("leverage", True, 5, 10, None), 5.0),
        (Check("liquidation", True, 0.195, 0.15, None), 0.045),  # a floor: value - limit
        (Check("daily_drawdown", True, -1000.0, -5000.0, None), 4000.0),
        (Check("spread", True, None, 50.0, "no bid/ask"), None),
        (Check("validity", True, None, None, None), None),
        (Check("unknown_check", True, 1.0, 2.0, None), None),
        (Check("trading_state", True, "ACTIVE", "HALTED", None), None),
    ],
)
def test_headroom(check: Check, expected: float | None) -> None:
    got = headroom(check)
    assert got == (pytest.approx(expected) if expected is not None else None)


def test_approved_signal_reports_its_size_and_the_highest_safe_leverage() -> None:
    eng = engine()
    result = explain(eng, BTC)
    assert result.approved
    assert result.sized_usd == pytest.approx(10_000)  # 100,000 x 1% / 2% capped at 10% of equity
    assert result.largest_size_usd == pytest.approx(10_000)
    assert result.largest_position_size == pytest.approx(0.2)
    # 1 / (0.15 + 0.005) = 6.45: leverage 6 is the highest with a 15% liquidation distance
    assert result.highest_leverage == 6
    assert [c.name for c in result.checks][:2] == ["validity", "staleness"]
    assert result.suggestions == []


def test_leverage_too_high_for_the_liquidation_distance() -> None:
    eng = engine()
    sig = msgspec.structs.replace(BTC, leverage=10)
    result = explain(eng, sig)
    assert result.reason == "liquidation_risk_too_high"
    assert result.highest_leverage == 6
    assert result.largest_size_usd is None  # isolated liquidation does not depend on the size
    assert result.suggestions == ["leverage 1 to 6 passes at this size"]
    assert passes(eng, sig, leverage=6)
    assert not passes(eng, sig, leverage=7)


def test_exposure_room_gives_the_largest_size() -> None:
    eng = engine(total_exposure_pct=0.45)
    result = explain(eng, BTC)
    assert result.reason == "max_exposure_reached"
    # room: (0.50 - 0.45) x 100,000 = 5,000 USDT
    assert result.largest_size_usd == pytest.approx(5_000, rel=1e-9)
    assert result.largest_position_size == pytest.approx(0.1, rel=1e-9)
    assert result.highest_leverage is None
    assert result.suggestions == ["target_position_usd 5,000.00 passes"]
    assert passes(eng, BTC, target_position_usd=result.largest_size_usd)
    assert not passes(eng, BTC, target_position_usd=5_000.01)


def test_two_limits_at_once_need_both_changes() -> None:
    eng = engine(total_exposure_pct=0.45)
    result = explain(eng, msgspec.structs.replace(BTC, leverage=10))
    assert (result.largest_size_usd, result.highest_leverage) == (pytest.approx(5_000), 6)
    assert result.suggestions == ["leverage 6 with target_position_usd 5,000.00 passes"]


def test_nothing_helps_when_the_day_is_over() -> None:
    result = explain(engine(daily_pnl=-6_000.0), BTC)
    assert result.reason == "max_daily_drawdown_exceeded"
    assert result.largest_size_usd is None
    assert result.highest_leverage is None
    assert result.suggestions == ["no smaller size and no other leverage passes; failing: daily_drawdown"]
    drawdown = next(c for c in result.checks if c.name == "daily_drawdown")
    assert drawdown.headroom == pytest.approx(-1_000)


def test_full_exposure_does_not_suggest_a_zero_size() -> None:
    result = explain(engine(total_exposure_pct=0.5), BTC)
    assert result.largest_size_usd is None


def test_invalid_signal_is_fixed_first() -> None:
    result = explain(engine(), msgspec.structs.replace(BTC, side="up"))
    assert result.reason == "invalid_signal"
    assert result.suggestions[0].startswith("fix the signal first: side")
    assert result.largest_size_usd is None


def test_explanation_encodes_to_json() -> None:
    data = msgspec.json.decode(msgspec.json.encode(explain(engine(), BTC)))
    assert data["schema_version"] == 1
    assert data["checks"][0]["name"] == "validity"


def test_cooldown_suggests_the_wait() -> None:
    from cdbctl.risk import load_state

    state = load_state({"recent_trades": [{"symbol": "BTCUSDT", "closed_at": -100.0, "pnl": -5.0,
                                           "exit_reason": "stop_loss"}]})  # fmt: skip
    result = explain(Engine(RiskConfig(), state, trace=True, now=0.0), BTC)
    assert result.reason == "cooldown_active"
    assert result.suggestions == ["wait 800s for the cooldown to end"]
    assert (result.largest_size_usd, result.highest_leverage) == (None, None)


def test_suggested_size_as_printed_is_approved() -> None:
    """The size a user copies from the suggestion (2 decimals) must pass: never rounded up."""
    from cdbctl.risk import MarketData

    eng = Engine(RiskConfig(), RiskState(), trace=True, now=0.0)
    market = MarketData(volatility=0.3, order_book_depth=10_000.0)
    sig = Signal(symbol="A", side="long", price=100.0, leverage=8, market=market)
    result = explain(eng, sig)
    assert result.highest_leverage == 6
    assert result.largest_size_usd is not None
    printed = f"{result.largest_size_usd:,.2f}"
    assert result.suggestions == [f"leverage 6 with target_position_usd {printed} passes"]
    # slippage: 100 bps = 1e4 x 0.3 / sqrt(365) x sqrt(size / 10,000) -> size = 4,055.5555...
    assert printed == "4,055.55"
    assert passes(eng, sig, leverage=6, target_position_usd=float(printed.replace(",", "")))
    assert result.largest_size_usd == float(printed.replace(",", ""))
