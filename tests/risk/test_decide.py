"""The generated fast evaluation with instrument rules decides exactly like the traced one (differential)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdbctl.risk import Engine, resolve_now
from cdbctl.risk.config import env_layer, resolve
from cdbctl.risk.instruments import load_instruments
from cdbctl.risk.model import Signal

pytestmark = pytest.mark.unit

BOOK = load_instruments(yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "instruments.yaml")
                                       .read_text()))  # fmt: skip
NOW = "2026-01-01T12:00:05Z"
PRICES = {"BTC_USDT": (0.1, 50000.0), "ETHUSDT": (0.01, 3000.0), "SOL_USDT": (0.01, 150.0),
          "DOGE_USDT": (0.00001, 0.2), "PEPE_USDT": (1e-8, 0.00001)}  # fmt: skip


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, Any]]:
    symbol = draw(st.sampled_from(sorted(PRICES)))
    tick, base = PRICES[symbol]
    ticks = draw(st.integers(1, int(base * 3 / tick)))
    price = round(ticks * tick, 8) if draw(st.booleans()) else base * draw(st.floats(0.5, 1.5))
    signal: dict[str, Any] = {"symbol": symbol, "side": draw(st.sampled_from(["long", "short", "BUY", "sell"])),
                              "price": price}  # fmt: skip
    if draw(st.booleans()):
        signal["target_position_usd"] = draw(st.sampled_from([0.0, 1.0, 4.99, 5.0, 123.45, 1e4, 5e6, 1e9]))
    if draw(st.booleans()):
        signal["leverage"] = draw(st.integers(1, 125))
    if draw(st.booleans()):
        signal["margin_mode"] = draw(st.sampled_from(["isolated", "cross"]))
    if draw(st.booleans()):
        signal["mark_price"] = price * draw(st.floats(0.7, 1.3))
    if draw(st.booleans()):
        signal["market"] = {
            "funding_rate": draw(st.floats(-0.003, 0.003)),
            "volatility": draw(st.floats(0, 1.5)),
        }
    env = {"MAX_LEVERAGE": str(draw(st.integers(1, 125))), "MAX_POSITION_PCT": str(draw(st.floats(0.01, 0.9))),
           "ACCOUNT_EQUITY": str(draw(st.sampled_from([1e3, 1e5, 1e8]))),
           "MIN_LIQUIDATION_DISTANCE": str(draw(st.floats(0.0, 0.5))),
           "MAX_TOTAL_EXPOSURE_PCT": "1"}  # fmt: skip
    return env, signal


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_fast_path_with_instruments_equals_the_traced_path(
    case: tuple[dict[str, str], dict[str, Any]],
) -> None:
    env, raw = case
    cfg = resolve([env_layer(env)]).config
    sig = msgspec.convert(raw, Signal)
    fast = Engine(cfg, now=resolve_now(NOW), instruments=BOOK)
    assert fast.fast is not None
    traced = Engine(cfg, now=resolve_now(NOW), instruments=BOOK, trace=True)
    want = msgspec.to_builtins(traced.evaluate(sig))
    want.pop("checks")
    assert msgspec.to_builtins(fast.evaluate(sig)) == want


def test_a_mark_price_in_the_fast_path() -> None:
    cfg = resolve([]).config
    sig = msgspec.convert(
        {"symbol": "BTC_USDT", "side": "long", "price": 50000.0, "mark_price": 49000.0}, Signal
    )
    fast = Engine(cfg, now=resolve_now(NOW), instruments=BOOK).evaluate(sig)
    traced = msgspec.to_builtins(
        Engine(cfg, now=resolve_now(NOW), instruments=BOOK, trace=True).evaluate(sig)
    )
    traced.pop("checks")
    assert msgspec.to_builtins(fast) == traced
    assert fast.liquidation_distance == pytest.approx((49000 - 50000 * (1 - 0.2 + 0.004)) / 49000)


@st.composite
def replays(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, Any], list[dict[str, Any]], bool]:
    env = {"MAX_ORDERS_PER_MINUTE": str(draw(st.integers(0, 6))), "MAX_OPEN_POSITIONS": str(draw(st.integers(0, 3))),
           "MAX_TOTAL_EXPOSURE_PCT": "1", "MAX_LEVERAGE": "50", "MIN_LIQUIDATION_DISTANCE": "0.01",
           "MAX_SYMBOL_EXPOSURE_PCT": str(draw(st.sampled_from([0.0, 0.05, 0.3]))),
           "MAX_POSITION_PCT": str(draw(st.floats(0.01, 0.5))), "DATA_STALE_TIMEOUT_SEC": "100000"}  # fmt: skip
    state: dict[str, Any] = {"equity": draw(st.sampled_from([1e4, 1e5]))}
    if draw(st.booleans()):
        state["trading_state"] = draw(st.sampled_from(["ACTIVE", "REDUCING", "HALTED"]))
    if draw(st.booleans()):
        state["positions"] = [{"symbol": "BTCUSDT", "side": draw(st.sampled_from(["long", "short"])),
                               "quantity": draw(st.floats(0.001, 1.0)), "entry_price": 50000.0}]  # fmt: skip
    if draw(st.booleans()):
        state["available_balance"] = draw(st.floats(0.0, 2e4))
    if draw(st.booleans()):
        state["recent_trades"] = [{"symbol": "ETH_USDT", "closed_at": 1767268790.0, "pnl": -3.0,
                                   "exit_reason": "stop_loss"}]  # fmt: skip
    signals = []
    clock = 1767268790
    for i in range(draw(st.integers(1, 12))):
        clock += draw(st.sampled_from([0, 0, 1, 30, 61]))
        symbol = draw(st.sampled_from(["BTC_USDT", "ETHUSDT", "SOL_USDT"]))
        tick, base = PRICES[symbol]
        signals.append({"signal_id": str(i), "symbol": symbol, "side": draw(st.sampled_from(["long", "short"])),
                        "price": round(round(base / tick) * tick, 8), "timestamp": clock,
                        "leverage": draw(st.integers(1, 20)),
                        "target_position_usd": draw(st.sampled_from([10.0, 500.0, 5000.0, 50000.0])),
                        "mark_price": base * draw(st.sampled_from([0.9, 1.0, 1.1]))})  # fmt: skip
    return env, state, signals, draw(st.booleans())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replays())
def test_stateful_replay_fast_equals_traced(
    case: tuple[dict[str, str], dict[str, Any], list[Any], bool],
) -> None:
    """A --stateful replay: the fast path's decisions (and the positions they build) match the traced path's."""
    from cdbctl.risk import load_state

    env, state, raw, with_book = case
    cfg = resolve([env_layer(env)]).config
    book = BOOK if with_book else None
    now = resolve_now("2026-01-01T12:30:00Z")  # after every signal (timestamps <= 12:12:12)
    fast = Engine(cfg, load_state(state), now=now, stateful=True, instruments=book)
    slow = Engine(cfg, load_state(state), now=now, stateful=True, instruments=book, trace=True)
    assert fast.fast is not None
    for item in raw:
        sig = msgspec.convert(item, Signal)
        expected = msgspec.to_builtins(slow.evaluate(sig))
        expected.pop("checks")
        assert msgspec.to_builtins(fast.evaluate(sig)) == expected
    assert fast.account.positions == slow.account.positions
    assert fast.account.used_margin == pytest.approx(slow.account.used_margin)
