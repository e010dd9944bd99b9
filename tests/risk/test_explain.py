"""`risk explain` core: headroom per check and the engine-verified size/leverage that would pass."""

from __future__ import annotations

import re

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdbctl.risk import Engine, MarketData, RiskConfig, RiskState, Signal
from cdbctl.risk.explain import explain, headroom
from cdbctl.risk.instruments import load_instruments
from cdbctl.risk.model import Check
from cdbctl.risk.rules import RULES

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
    assert result.suggestions == ["leverage 6 or lower passes at this size"]
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
    assert result.suggestions == ["a size of at most 5,000.00 USDT passes"]
    assert passes(eng, BTC, target_position_usd=result.largest_size_usd)
    assert not passes(eng, BTC, target_position_usd=5_000.01)


def test_two_limits_at_once_need_both_changes() -> None:
    eng = engine(total_exposure_pct=0.45)
    result = explain(eng, msgspec.structs.replace(BTC, leverage=10))
    assert (result.largest_size_usd, result.highest_leverage) == (pytest.approx(5_000), 6)
    assert result.suggestions == ["leverage 6 with a size of at most 5,000.00 USDT passes"]


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
    assert result.suggestions == [f"leverage 6 with a size of at most {printed} USDT passes"]
    # slippage: 100 bps = 1e4 x 0.3 / sqrt(365) x sqrt(size / 10,000) -> size = 4,055.5555...
    assert printed == "4,055.55"
    assert passes(eng, sig, leverage=6, target_position_usd=float(printed.replace(",", "")))
    assert result.largest_size_usd == float(printed.replace(",", ""))


def test_a_stressed_regime_suggests_the_target_to_send_and_the_position_it_gives() -> None:
    """Explain offered the pre-multiplier size (5,000 USDT) which, sent back, gave 2,500; 3,000 passes."""
    eng = engine(total_exposure_pct=0.47)  # room for 3,000 USDT of 100,000 under the 0.5 cap
    stressed = msgspec.structs.replace(BTC, market=MarketData(volatility=0.7))
    result = explain(eng, stressed)
    assert result.reason == "max_exposure_reached"
    assert result.largest_size_usd == pytest.approx(3_000.0)
    assert result.largest_target_usd == pytest.approx(6_000.0)
    assert result.largest_position_size == pytest.approx(0.06)
    assert result.suggestions[0] == (
        "target_position_usd of at most 6,000.00 USDT passes (a position of 3,000.00 USDT: "
        "the stressed regime sizes x0.5)"
    )
    sent = eng.evaluate(msgspec.structs.replace(stressed, target_position_usd=result.largest_target_usd))
    assert sent.approved and sent.position_size_usd == pytest.approx(3_000.0)


def test_or_lower_is_said_only_when_every_lower_leverage_passes() -> None:
    """A lower leverage needs more margin: with 2,100 USDT available only 5 and 6 pass at 10,000 USDT."""
    eng = Engine(RiskConfig(), RiskState(available_balance=2_100.0), trace=True, now=0.0)
    result = explain(eng, msgspec.structs.replace(BTC, leverage=10))
    assert result.reason == "liquidation_risk_too_high"
    assert result.highest_leverage == 6
    assert "leverage 5 to 6 passes at this size" in result.suggestions
    assert passes(eng, BTC, leverage=5) and passes(eng, BTC, leverage=6)
    assert not passes(eng, BTC, leverage=4)


_RANGE = re.compile(r"^leverage (\d+)(?: to (\d+)| or lower)? passes at this size$")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    exposure=st.floats(min_value=0.0, max_value=0.6),
    available=st.one_of(st.none(), st.floats(min_value=100.0, max_value=20_000.0)),
    vol=st.floats(min_value=0.0, max_value=1.2),
    leverage=st.integers(1, 20),
    target=st.one_of(st.none(), st.floats(min_value=1.0, max_value=50_000.0)),
    depth=st.one_of(st.none(), st.floats(min_value=1_000.0, max_value=1e7)),
)
def test_every_suggestion_passes_when_fed_back(  # noqa: PLR0917
    exposure: float,
    available: float | None,
    vol: float,
    leverage: int,
    target: float | None,
    depth: float | None,
) -> None:
    state = RiskState(total_exposure_pct=exposure, available_balance=available)
    eng = Engine(RiskConfig(), state, trace=True, now=0.0)
    sig = Signal(symbol="BTCUSDT", side="long", price=50_000.0, leverage=leverage, target_position_usd=target,
                 market=MarketData(volatility=vol, order_book_depth=depth))  # fmt: skip
    result = explain(eng, sig)
    if result.approved:
        return
    both = result.highest_leverage is not None and any(
        s.startswith(f"leverage {result.highest_leverage} with ") for s in result.suggestions
    )
    if result.largest_target_usd is not None:
        fed = msgspec.structs.replace(sig, target_position_usd=result.largest_target_usd)
        if both:
            fed = msgspec.structs.replace(fed, leverage=result.highest_leverage)
        d = eng.evaluate(fed)
        assert d.approved, result.suggestions
        assert d.position_size_usd == result.largest_size_usd
    for line in result.suggestions:
        m = _RANGE.match(line)
        if m is None:
            continue
        high = int(m.group(2) or m.group(1))
        low = 1 if line.endswith("or lower passes at this size") else int(m.group(1))
        for lev in range(low, high + 1):
            assert passes(eng, sig, leverage=lev), (line, lev)


TINY = load_instruments({"instruments": {"BTC_USDT": {
    "tick_size": 0.1, "contract_size": 0.0001, "quantity_step": 1, "max_quantity": 100,
    "max_leverage": 125, "maintenance_margin_rate": 0.004}}})  # fmt: skip


def test_instrument_headroom_compares_like_with_like() -> None:
    """above_max_quantity compared 10,000 USDT with a 100-contract limit (headroom +9,900 on a failure)."""
    eng = Engine(RiskConfig(), RiskState(), trace=True, now=0.0, instruments=TINY)
    result = explain(eng, BTC)  # 10,000 USDT = 2,000 contracts of 0.0001 BTC
    assert result.reason == "above_max_quantity"
    (inst,) = [c for c in result.checks if c.name == "instrument"]
    assert (inst.value, inst.limit) == (2000.0, 100.0)
    assert inst.headroom == pytest.approx(-1900.0)
    assert (inst.unit, inst.reason) == ("contracts", "above_max_quantity")
    off = explain(eng, msgspec.structs.replace(BTC, price=50_000.05, target_position_usd=500.0))
    assert off.reason == "price_off_tick"
    (inst,) = [c for c in off.checks if c.name == "instrument"]
    assert (inst.value, inst.limit, inst.headroom) == (None, 0.1, None)
    passing = explain(eng, msgspec.structs.replace(BTC, target_position_usd=250.0))
    (inst,) = [c for c in passing.checks if c.name == "instrument"]
    assert inst.passed and inst.headroom is not None and inst.headroom >= 0  # USDT above the notional floor
    assert (inst.unit, inst.reason) == ("USDT", None)


TIERED = load_instruments({"instruments": {"BTC_USDT": {
    "tick_size": 0.1, "contract_size": 0.0001, "quantity_step": 1,
    "max_leverage": 125, "maintenance_margin_rate": 0.004, "risk_base_vol": 100, "risk_level_limit": 2,
    "risk_incr_vol": 100, "risk_incr_mmr": 0.002}}})  # fmt: skip


def test_each_check_carries_the_unit_of_its_rule() -> None:
    """The unit of value, limit and headroom is the rule table's, per reason where the trace changes unit."""
    eng = Engine(RiskConfig(), RiskState(), trace=True, now=0.0, instruments=TIERED)
    result = explain(eng, msgspec.structs.replace(BTC, target_position_usd=400.0, leverage=5))
    units = {c.name: c.unit for c in result.checks}
    for rule in RULES:
        if rule.name in units and rule.name not in ("instrument", "risk_tier"):
            assert units[rule.name] == (rule.unit or None), rule.name
    assert units["exposure"] == "fraction of equity" and units["sizing"] == "USDT"
    assert units["risk_tier"] == "x"  # the leverage against the tier's maximum
    over = explain(eng, msgspec.structs.replace(BTC, target_position_usd=1500.0, leverage=5))  # 300 contracts
    (tier,) = [c for c in over.checks if c.name == "risk_tier"]
    assert (tier.passed, tier.reason, tier.unit) == (False, "risk_limit_exceeded", "contracts")
    assert (tier.value, tier.limit) == (300.0, 200.0) and tier.headroom == pytest.approx(-100.0)


def test_every_failing_check_has_negative_headroom() -> None:
    eng = engine(total_exposure_pct=0.6, daily_pnl=-6000.0)
    for c in explain(eng, msgspec.structs.replace(BTC, leverage=20)).checks:
        if not c.passed and c.headroom is not None:
            assert c.headroom <= 0, c
