"""The account and instrument rules inside the engine: hand-computed numbers, trace placement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from cdbctl.errors import InputError
from cdbctl.risk import Engine, load_state, resolve_now
from cdbctl.risk.config import env_layer, resolve
from cdbctl.risk.instruments import InstrumentBook, load_instruments
from cdbctl.risk.io import record_from_object
from cdbctl.risk.model import Signal

pytestmark = pytest.mark.unit

NOW = "2026-01-01T12:00:05Z"
TS = "2026-01-01T12:00:00Z"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BOOK = load_instruments(yaml.safe_load((EXAMPLES / "instruments.yaml").read_text()))
CORE = ["validity", "staleness", "circuit_breaker", "daily_drawdown", "market_regime", "sizing", "leverage",
        "exposure", "spread", "liquidation", "funding", "slippage"]  # fmt: skip


def sig(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"signal_id": "t", "symbol": "BTC_USDT", "side": "long", "price": 50000.0,
                            "timestamp": TS}  # fmt: skip
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def engine(env: dict[str, str] | None = None, state: dict[str, Any] | None = None,
           book: InstrumentBook | None = None, *, trace: bool = True, stateful: bool = False) -> Engine:  # fmt: skip
    cfg = resolve([env_layer(env)]).config
    return Engine(cfg, load_state(state), None, now=resolve_now(NOW), trace=trace, stateful=stateful,
                  instruments=book)  # fmt: skip


def decide(signal: dict[str, Any], env: dict[str, str] | None = None, state: dict[str, Any] | None = None,
           book: InstrumentBook | None = None) -> dict[str, Any]:  # fmt: skip
    """The traced decision; the untraced engine must decide the same (the fast path)."""
    record = record_from_object(signal)
    assert isinstance(record, Signal)
    traced: dict[str, Any] = msgspec.to_builtins(engine(env, state, book).evaluate(record))
    plain = msgspec.to_builtins(engine(env, state, book, trace=False).evaluate(record))
    assert plain == {k: v for k, v in traced.items() if k != "checks"}
    return traced


def check(d: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in d["checks"] if c["name"] == name)


def names(d: dict[str, Any]) -> list[str]:
    return [c["name"] for c in d["checks"]]


# --- which checks run -------------------------------------------------------------------------------


def test_plain_run_keeps_the_core_trace_and_the_fast_path() -> None:
    assert names(decide(sig())) == CORE
    assert engine(trace=False).fast is not None


def test_untraced_copy_decides_as_the_traced_engine_without_checks() -> None:
    traced = engine({"MAX_LEVERAGE": "5"}, book=BOOK)
    probe = traced.untraced()
    assert probe is traced.untraced() and probe.untraced() is probe  # made once
    assert traced.trace and not probe.trace and probe.fast is not None
    for fields in ({}, {"leverage": 10}, {"price": 50000.05}):
        record = record_from_object(sig(**fields))
        assert isinstance(record, Signal)
        full = msgspec.to_builtins(traced.evaluate(record))
        assert msgspec.to_builtins(probe.evaluate(record)) == {k: v for k, v in full.items() if k != "checks"}
    plain = engine(trace=False)
    assert plain.untraced() is plain


def test_instruments_add_their_checks_after_exposure() -> None:
    d = decide(sig(), book=BOOK)
    assert names(d) == [*CORE[:8], "instrument", "risk_tier", *CORE[8:]]
    assert engine(book=BOOK, trace=False).fast is not None  # the fast path runs them too


def test_every_conditional_check_when_all_inputs_are_present() -> None:
    state = {"trading_state": "ACTIVE", "positions": [], "recent_trades": [],
             "available_balance": 50000.0}  # fmt: skip
    eng = engine({"MAX_SYMBOL_EXPOSURE_PCT": "0.2"}, state | {"recent_trades": [
        {"symbol": "ETHUSDT", "closed_at": 0, "pnl": 1}]}, BOOK, stateful=True)  # fmt: skip
    d = msgspec.to_builtins(eng.evaluate(msgspec.convert(sig(), Signal)))
    conditional = ["trading_state", "cooldown", "order_rate", "open_positions", "instrument", "risk_tier",
                "symbol_limit", "margin"]  # fmt: skip
    assert names(d) == [*CORE[:8], *conditional, *CORE[8:]]
    assert d["approved"] is True


# --- instrument rules ---------------------------------------------------------------------------------


def test_size_is_floored_to_the_contract_step() -> None:
    # 1234.56 USDT at 50,000 = 0.0246912 BTC = 246.9 contracts of 0.0001 -> 246 contracts = 0.0246 BTC
    d = decide(sig(target_position_usd=1234.56), book=BOOK)
    assert d["approved"] is True
    assert d["position_size"] == 0.0246
    assert d["position_size_usd"] == pytest.approx(1230.0)
    assert d["fees_usd"] == pytest.approx(1230.0 * 0.0012)
    assert check(d, "instrument")["value"] == pytest.approx(1230.0)
    assert check(d, "instrument")["limit"] == pytest.approx(5.0)  # max(5 USDT, 1 contract = 5 USDT)


def test_price_off_the_tick() -> None:
    d = decide(sig(price=50000.05), book=BOOK)
    assert d["reason"] == "price_off_tick"
    assert "not a multiple of the tick 0.1" in d["detail"]


def test_below_min_notional() -> None:
    d = decide(sig(target_position_usd=4.99), book=BOOK)
    assert d["reason"] == "below_min_notional"
    assert d["position_size"] == 0.0
    assert "below the minimum 5 USDT" in d["detail"]


def test_unknown_instrument_fails_closed() -> None:
    d = decide(sig(symbol="PEPE_USDT"), book=BOOK)
    assert d["reason"] == "unknown_instrument"
    assert d["detail"] == "PEPE_USDT: not in the instrument rules"


def test_mexc_worked_example_through_the_engine() -> None:
    # 0.1 BTC long at 50,000, 25x, tier-0 MMR 0.4% -> liquidation 48,200, distance 3.6%
    env = {"MAX_LEVERAGE": "125", "MIN_LIQUIDATION_DISTANCE": "0.03"}
    d = decide(sig(leverage=25, target_position_usd=5000.0), env, book=BOOK)
    assert d["approved"] is True
    assert d["position_size"] == pytest.approx(0.1)
    assert d["liquidation_price"] == pytest.approx(48200.0)
    assert d["liquidation_distance"] == pytest.approx(0.036)
    # 1 / (0.03 + 0.004) = 29.4 -> 29, below the tier's 125
    assert d["max_safe_leverage"] == 29


def test_liquidation_and_funding_on_the_mark_price() -> None:
    env = {"MAX_LEVERAGE": "125", "MIN_LIQUIDATION_DISTANCE": "0.03"}
    signal = sig(leverage=25, target_position_usd=5000.0, mark_price=49000.0,
                 market={"funding_rate": 0.0001})  # fmt: skip
    d = decide(signal, env, book=BOOK)
    assert d["liquidation_price"] == pytest.approx(48200.0)
    assert d["liquidation_distance"] == pytest.approx(800 / 49000)  # the fair price is closer
    assert d["reason"] == "liquidation_risk_too_high"
    # 1 / (1.004 - 49,000 x 0.97 / 50,000) = 18.7 -> 18
    assert d["max_safe_leverage"] == 18
    # 0.1 BTC x 49,000 x 0.01% x 3 settlements
    assert d["funding_fee_daily"] == pytest.approx(0.1 * 49000 * 0.0001 * 3)


def test_mark_price_without_instruments_uses_the_config_mmr() -> None:
    d = decide(sig(mark_price=45000.0))  # 5x: LP = 50,000 x (1 - 0.2 + 0.005) = 40,250
    assert d["liquidation_price"] == pytest.approx(40250.0)
    assert d["liquidation_distance"] == pytest.approx(4750 / 45000)
    assert d["reason"] == "liquidation_risk_too_high"


# --- MEXC risk-limit tiers ------------------------------------------------------------------------------

BIG = {"equity": 10_000_000.0}
SOL_HELD = {"symbol": "SOL_USDT", "side": "long", "quantity": 29000, "entry_price": 100.0, "leverage": 5}


def test_tier_one_lowers_the_max_leverage() -> None:
    # 29,000 held + 2,000 ordered = 31,000 contracts > riskBaseVol 30,000: tier 1, IMR 3% -> 33x
    env = {"MAX_LEVERAGE": "50"}
    d = decide(sig(symbol="SOL_USDT", price=100.0, leverage=40, target_position_usd=200000.0), env,
               BIG | {"positions": [SOL_HELD]}, BOOK)  # fmt: skip
    assert d["reason"] == "leverage_exceeds_max"
    assert d["detail"] == "leverage 40 > 33, the max of risk-limit tier 1"
    tier = check(d, "risk_tier")
    assert (tier["value"], tier["limit"]) == (40, 33)


def test_tier_mmr_feeds_the_liquidation_price() -> None:
    # tier 1 MMR = 1% + 0.5% = 1.5%: LP = 100 x (1 - 1/2 + 0.015) = 51.5
    d = decide(sig(symbol="SOL_USDT", price=100.0, leverage=2, target_position_usd=200000.0), None,
               BIG | {"positions": [SOL_HELD]}, BOOK)  # fmt: skip
    assert d["approved"] is True
    assert d["liquidation_price"] == pytest.approx(51.5)


def test_beyond_the_last_tier() -> None:
    held = SOL_HELD | {"quantity": 149000}
    d = decide(sig(symbol="SOL_USDT", price=100.0, leverage=2, target_position_usd=200000.0), None,
               BIG | {"positions": [held]}, BOOK)  # fmt: skip
    assert d["reason"] == "risk_limit_exceeded"
    assert check(d, "risk_tier")["limit"] == 150000


# --- account rules --------------------------------------------------------------------------------------

BTC_LONG = {"symbol": "BTCUSDT", "side": "long", "quantity": 0.1, "entry_price": 50000.0, "leverage": 5}


@pytest.mark.parametrize(
    ("positions", "lp"),
    [
        (None, (100_000 + 10_000) / (0.2 * 1.005)),  # alone: 547,263.68 (was 549,750 from a second formula)
        ([], (100_000 + 10_000) / (0.2 * 1.005)),
        # an isolated ETH leg locks its margin (3,000 / 10) out of the wallet
        ([{"symbol": "ETHUSDT", "side": "long", "quantity": 1, "entry_price": 3000.0, "leverage": 10,
           "margin_mode": "isolated"}], (100_000 - 300 + 10_000) / (0.2 * 1.005)),
        # a cross ETH leg at its entry price: its maintenance margin (3,000 x 0.005) counts
        ([{"symbol": "ETHUSDT", "side": "long", "quantity": 1, "entry_price": 3000.0, "leverage": 10,
           "margin_mode": "cross"}], (100_000 - 15 + 10_000) / (0.2 * 1.005)),
    ],
)  # fmt: skip
def test_one_cross_liquidation_formula_with_or_without_other_positions(
    positions: list[dict[str, Any]] | None, lp: float
) -> None:
    """The same cross short jumped between two formulas by whether any other position existed."""
    state: dict[str, Any] = {"equity": 100_000.0}
    if positions is not None:
        state["positions"] = positions
    d = decide(sig(side="short", margin_mode="cross", target_position_usd=10_000.0), state=state)
    assert d["approved"] is True, d["detail"]
    assert d["liquidation_price"] == pytest.approx(lp, rel=1e-12)
    assert round(lp, 2) in (547263.68, 545771.14, 547189.05)


def test_halted_rejects_everything() -> None:
    d = decide(sig(side="short"), state={"trading_state": "HALTED", "positions": [BTC_LONG]})
    assert (d["reason"], d["detail"]) == ("trading_halted", "trading is halted")


def test_reducing_lets_only_reductions_through_and_caps_them() -> None:
    state = {"trading_state": "reducing", "positions": [BTC_LONG]}
    adding = decide(sig(), state=state)
    assert adding["reason"] == "reduce_only"
    closing = decide(sig(side="sell"), state=state)
    assert closing["approved"] is True
    assert closing["position_size"] == pytest.approx(0.1)  # 10,000 sized, capped at the 0.1 BTC open
    assert decide(sig(symbol="ETHUSDT", price=3000.0), state=state)["reason"] == "reduce_only"


def test_max_open_positions_only_stops_new_symbols() -> None:
    state = {"positions": [BTC_LONG, BTC_LONG | {"symbol": "ETHUSDT", "entry_price": 3000.0}]}
    env = {"MAX_OPEN_POSITIONS": "2"}
    d = decide(sig(symbol="SOLUSDT", price=100.0), env, state)
    assert d["reason"] == "max_open_positions_reached"
    assert (check(d, "open_positions")["value"], check(d, "open_positions")["limit"]) == (3, 2)
    assert decide(sig(), env, state)["approved"] is True  # adds to the open BTC position


def test_cooldown_after_a_stop_loss() -> None:
    trades = [
        {"symbol": "BTC_USDT", "closed_at": "2026-01-01T11:58:25Z", "pnl": -120.0, "exit_reason": "stop_loss"}
    ]
    d = decide(sig(), state={"recent_trades": trades})  # signal at 12:00:00, 95 s after the stop
    assert d["reason"] == "cooldown_active"
    assert check(d, "cooldown")["value"] == pytest.approx(800.0)  # judged at --now 12:00:05
    assert decide(sig(), {"COOLDOWN_SEC": "60"}, {"recent_trades": trades})["approved"] is True
    assert decide(sig(symbol="ETHUSDT", price=3000.0), state={"recent_trades": trades})["approved"] is True


@pytest.mark.parametrize("timestamp", [TS, None])
def test_a_stop_loss_between_the_signal_and_its_evaluation_blocks_reentry(timestamp: str | None) -> None:
    """The cooldown used to fail open: a stop closed after the signal's timestamp (12:00:00) but before
    the evaluation (--now 12:00:05) did not count, while the same signal without a timestamp was blocked."""
    trades = [
        {"symbol": "BTCUSDT", "closed_at": "2026-01-01T12:00:02Z", "pnl": -120.0, "exit_reason": "stop_loss"}
    ]
    d = decide(sig(timestamp=timestamp), state={"recent_trades": trades})
    assert d["reason"] == "cooldown_active"
    assert check(d, "cooldown")["value"] == pytest.approx(897.0)  # 12:00:02 + 900 s - 12:00:05
    later = [trades[0] | {"closed_at": "2026-01-01T12:00:09Z"}]  # after the evaluation: not known yet
    assert decide(sig(timestamp=timestamp), state={"recent_trades": later})["approved"] is True


@pytest.mark.parametrize(("now", "blocked"), [("2026-01-01T11:59:00Z", ["b"]), ("2026-01-01T12:20:00Z", [])])
def test_a_replay_judges_cooldowns_at_one_evaluation_time(now: str, blocked: list[str]) -> None:
    """As documented: locks are judged at max(evaluation time, signal time). A stop at 12:00 locks until
    12:15; with --now before the replay every signal is judged at its own time (b at 12:05 blocked), with
    --now after it every signal at --now, when the lock is over (a replay without --now: at the clock)."""
    trades = [
        {"symbol": "BTC_USDT", "closed_at": "2026-01-01T12:00:00Z", "pnl": -5.0, "exit_reason": "stop_loss"}
    ]
    cfg = resolve([env_layer({"DATA_STALE_TIMEOUT_SEC": "1e9", "MAX_FUTURE_SKEW_SEC": "1e9"})]).config
    for trace in (False, True):
        eng = Engine(cfg, load_state({"recent_trades": trades}), None, now=resolve_now(now), trace=trace)
        times = {"a": "2026-01-01T11:59:00Z", "b": "2026-01-01T12:05:00Z", "c": "2026-01-01T12:20:00Z"}
        got = []
        for sid, ts in times.items():
            record = record_from_object(sig(signal_id=sid, timestamp=ts))
            assert isinstance(record, Signal)
            d = eng.evaluate(record)
            assert d.approved or d.reason == "cooldown_active", d
            if not d.approved:
                got.append(sid)
        assert got == blocked


COARSE = load_instruments({"instruments": {"XYZ_USDT": {
    "tick_size": 0.000000000001, "contract_size": 1, "quantity_step": 1, "min_quantity": 1,
    "max_quantity": 1000000, "max_leverage": 20, "maintenance_margin_rate": 0.005}}})  # fmt: skip


@pytest.mark.parametrize(
    ("price", "target", "contracts"),
    [
        (10.000000000005, 10_000.0, 999),  # 1,000 steps would be 10,000.000000005 USDT: past the target
        (10.0, 10_000.0, 1000),  # exactly the target: kept
        (0.1, 0.3, 3),  # 0.3 / 0.1 = 2.9999999999999996: binary noise, still 3 steps
        (9.999999999995, 10_000.0, 1000),
    ],
)
def test_flooring_never_rounds_up_past_the_target(price: float, target: float, contracts: int) -> None:
    """Flooring to the quantity step had a 1e-9 tolerance that could round a size up past a cap."""
    d = decide(sig(symbol="XYZUSDT", price=price, target_position_usd=target, leverage=2), book=COARSE)
    assert d["approved"] is True, d["detail"]
    assert d["position_size"] == contracts
    assert d["position_size_usd"] <= target
    assert check(d, "instrument")["value"] <= target


def test_order_rate_in_a_stateful_replay() -> None:
    eng = engine({"MAX_ORDERS_PER_MINUTE": "2", "MAX_TOTAL_EXPOSURE_PCT": "1"}, stateful=True)
    signals = [msgspec.convert(sig(signal_id=str(i), target_position_usd=100.0), Signal) for i in range(4)]
    reasons = [eng.evaluate(s).reason for s in signals]
    assert reasons == [None, None, "order_rate_exceeded", "order_rate_exceeded"]


def test_stateful_replay_counts_new_positions() -> None:
    eng = engine({"MAX_OPEN_POSITIONS": "1", "MAX_TOTAL_EXPOSURE_PCT": "1"}, stateful=True)
    first = eng.evaluate(msgspec.convert(sig(target_position_usd=100.0), Signal))
    other = eng.evaluate(
        msgspec.convert(sig(symbol="ETHUSDT", price=3000.0, target_position_usd=100.0), Signal)
    )
    same = eng.evaluate(msgspec.convert(sig(target_position_usd=100.0), Signal))
    assert (first.approved, other.reason, same.approved) == (True, "max_open_positions_reached", True)


def test_insufficient_margin() -> None:
    # 10,000 at 5x: margin 2,000 + fees 10,000 x (0.0006 + 0.0006) = 12 -> 2,012 > 1,000 available
    d = decide(sig(), state={"available_balance": 1000.0})
    assert d["reason"] == "insufficient_margin"
    m = check(d, "margin")
    assert (m["value"], m["limit"]) == (pytest.approx(2012.0), 1000.0)


def test_margin_from_equity_minus_used_margin() -> None:
    d = decide(sig(), state={"equity": 100000.0, "used_margin": 98000.0})
    assert d["reason"] == "insufficient_margin"
    assert check(d, "margin")["limit"] == pytest.approx(2000.0)


def test_symbol_limit_nets_opposite_orders() -> None:
    env = {"MAX_SYMBOL_EXPOSURE_PCT": "0.15"}
    state = {"positions": [BTC_LONG | {"quantity": 0.2}]}  # 10,000 USDT of BTC already
    assert decide(sig(), env, state)["reason"] == "symbol_limit_exceeded"  # 20,000 > 15,000
    assert decide(sig(side="short"), env, state)["approved"] is True  # nets to 0
    # above the cap already (20,000 held): a smaller opposite order passes, a flip past the cap does not
    over = {"positions": [BTC_LONG | {"quantity": 0.4}]}
    assert decide(sig(side="short", target_position_usd=5000.0), env, over)["approved"] is True
    flip = decide(sig(side="short", target_position_usd=60000.0), env | {"MAX_POSITION_PCT": "1"}, over)
    assert flip["reason"] == "symbol_limit_exceeded"  # sized 50,000: 20,000 long -> 30,000 short


# --- cross margin with other legs ---------------------------------------------------------------------------


def test_cross_margin_counts_a_short_legs_profit() -> None:
    base = {"symbol": "ETHUSDT", "quantity": 10.0, "entry_price": 3000.0, "mark_price": 2700.0,
            "margin_mode": "cross", "maintenance_margin_rate": 0.01}  # fmt: skip
    env = {"MARGIN_MODE": "cross"}
    losing_long = decide(sig(), env, {"wallet_balance": 5000.0, "positions": [base | {"side": "long"}]})
    winning_short = decide(sig(), env, {"wallet_balance": 5000.0, "positions": [base | {"side": "short"}]})
    # BTC 0.2 long, MMR 0.5%: LP = (WB - 270 + UPNL - 0.2 x 50,000) / (0.2 x 0.005 - 0.2)
    for d, upnl in ((losing_long, -3000.0), (winning_short, 3000.0)):
        expected = (5000.0 - 270.0 + upnl - 10000.0) / (0.2 * 0.005 - 0.2)
        assert d["liquidation_price"] == pytest.approx(expected)
    assert winning_short["liquidation_price"] < losing_long["liquidation_price"]


# --- bad state ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"positions": [{"symbol": "BTCUSDT", "side": "flat", "quantity": 1, "entry_price": 1}]},
         "state.positions[0]: side: must be long, short, buy or sell"),
        ({"recent_trades": [{"symbol": "BTCUSDT", "pnl": 1}]}, "state.recent_trades[0]: closed_at: missing"),
        ({"trading_state": "PAUSED"}, "state.trading_state: must be ACTIVE, REDUCING or HALTED"),
    ],
)  # fmt: skip
def test_bad_state_is_an_input_error(state: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as caught:
        engine(state=state)
    assert message in str(caught.value)


def test_library_api_takes_instruments_as_parsed_data() -> None:
    from cdbctl.risk import evaluate_json

    raw = yaml.safe_load((EXAMPLES / "instruments.yaml").read_text())
    d = evaluate_json(sig(target_position_usd=1234.56), now=NOW, instruments=raw)
    assert isinstance(d, dict)
    assert d["position_size"] == 0.0246
    assert evaluate_json(sig(target_position_usd=1234.56), now=NOW, instruments=BOOK) == d
    with pytest.raises(InputError, match="unknown field"):
        evaluate_json(sig(), now=NOW, instruments={"BTC_USDT": {"tick_sise": 1}})


def test_above_the_order_maximum() -> None:
    # 30,000,000 USDT at 50,000 = 600 BTC = 6,000,000 contracts > maxVol 5,000,000
    d = decide(sig(target_position_usd=30_000_000.0), {"MAX_POSITION_PCT": "1"}, {"equity": 1e9}, BOOK)
    assert d["reason"] == "above_max_quantity"
    assert d["detail"] == "6e+06 contracts exceed the order maximum of 5e+06"
    assert check(d, "risk_tier")["passed"] is False  # and past the last tier (750,000 contracts)


def test_an_invalid_signals_trace_names_the_reason_of_its_failed_check() -> None:
    """Every failed check carries its reason, also the validity check of a record that did not decode."""
    engine = Engine(resolve([env_layer({})]).config, now=resolve_now("2026-01-01T12:00:05Z"), trace=True)
    d = msgspec.to_builtins(engine.invalid("price: expected float, got str", "s1", "BTCUSDT", "long"))
    first, *rest = d["checks"]
    assert first == {"name": "validity", "passed": False, "value": None, "limit": None,
                     "detail": "price: expected float, got str", "reason": "invalid_signal"}  # fmt: skip
    assert all(c["detail"] == "skipped: the signal is invalid" and "reason" not in c for c in rest)
