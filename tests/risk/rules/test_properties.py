"""Hypothesis: the instrument and account rules never approve what their hard limits forbid, never crash."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdbctl.risk import Engine, load_state, resolve_now
from cdbctl.risk.config import env_layer, resolve
from cdbctl.risk.instruments import load_instruments, normalize_symbol
from cdbctl.risk.model import Signal

pytestmark = pytest.mark.unit

BOOK = load_instruments(yaml.safe_load((Path(__file__).resolve().parents[3] / "examples" / "instruments.yaml")
                                       .read_text()))  # fmt: skip
NOW = "2026-01-01T12:00:05Z"
SIGNAL_TS = 1767268800.0  # 2026-01-01T12:00:00Z
BASE = {"BTC_USDT": 50000.0, "ETH_USDT": 3000.0, "SOL_USDT": 150.0, "PEPE_USDT": 0.00001}


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    symbol = draw(st.sampled_from(["BTC_USDT", "BTC_USDT", "ETH_USDT", "SOL_USDT", "PEPE_USDT"]))
    inst = BOOK.get(symbol)
    price = BASE[symbol] * draw(st.floats(0.8, 1.2))
    if inst is not None and draw(st.integers(0, 3)):  # mostly on the tick
        price = round(price / inst.tick_size) * inst.tick_size
    signal: dict[str, Any] = {"symbol": symbol, "side": draw(st.sampled_from(["long", "short"])), "price": price,
                              "timestamp": "2026-01-01T12:00:00Z",
                              "leverage": draw(st.integers(1, 125))}  # fmt: skip
    if draw(st.booleans()):
        signal["target_position_usd"] = draw(st.floats(0.0, 5e6))
    if draw(st.booleans()):
        signal["mark_price"] = price * draw(st.floats(0.9, 1.1))
    if draw(st.booleans()):
        signal["margin_mode"] = "cross"
    state: dict[str, Any] = {"equity": draw(st.floats(1e3, 1e8))}
    if not draw(st.integers(0, 3)):
        state["trading_state"] = draw(st.sampled_from(["ACTIVE", "REDUCING", "HALTED"]))
    positions = []
    for sym in draw(st.lists(st.sampled_from(sorted(BASE)), max_size=3, unique=True)):
        positions.append({"symbol": sym, "side": draw(st.sampled_from(["long", "short"])),
                          "quantity": draw(st.floats(1e-3, 1e5)), "entry_price": BASE[sym],
                          "mark_price": BASE[sym] * draw(st.floats(0.9, 1.1)),
                          "margin_mode": draw(st.sampled_from(["isolated", "cross"]))})  # fmt: skip
    if positions:
        state["positions"] = positions
    if not draw(st.integers(0, 3)):
        state["recent_trades"] = [{"symbol": symbol, "closed_at": SIGNAL_TS - draw(st.floats(0, 2000)),
                                   "pnl": -1.0, "exit_reason": "stop_loss"}]  # fmt: skip
    if draw(st.booleans()):
        state["available_balance"] = draw(st.floats(0.0, 1e6))
    env = {"MAX_LEVERAGE": "125", "MAX_TOTAL_EXPOSURE_PCT": "1", "MIN_LIQUIDATION_DISTANCE": "0.01",
           "MAX_OPEN_POSITIONS": str(draw(st.integers(0, 3))), "COOLDOWN_SEC": "600",
           "MAX_POSITION_PCT": str(draw(st.floats(0.01, 1.0)))}  # fmt: skip
    return {"signal": signal, "state": state, "env": env}


def _held(state: dict[str, Any], symbol: str) -> dict[str, Any] | None:
    for p in state.get("positions", []):
        if normalize_symbol(p["symbol"]) == normalize_symbol(symbol):
            return dict(p)
    return None


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_never_approves_past_a_conditional_limit(case: dict[str, Any]) -> None:
    sig, state, env = case["signal"], case["state"], case["env"]
    cfg = resolve([env_layer(env)]).config
    engine = Engine(cfg, load_state(state), None, now=resolve_now(NOW), trace=True, instruments=BOOK)
    d = msgspec.to_builtins(engine.evaluate(msgspec.convert(sig, Signal)))
    assert d["reason"] != "internal_error", d["detail"]
    if not d["approved"]:
        return
    symbol, price, qty, lev = sig["symbol"], sig["price"], d["position_size"], d["leverage"]
    held = _held(state, symbol)
    reduces = held is not None and held["side"] != sig["side"]
    trading = state.get("trading_state", "ACTIVE")
    assert trading != "HALTED"
    if trading == "REDUCING":
        assert reduces and held is not None
        assert qty <= held["quantity"] * (1 + 1e-9)
    inst = BOOK.get(symbol)
    assert inst is not None  # unknown instruments fail closed
    steps = qty / inst.base_step
    assert abs(steps - round(steps)) < 1e-6  # a whole number of steps
    ticks = price / inst.tick_size
    assert abs(ticks - round(ticks)) <= 1e-6
    assert qty * price >= inst.min_notional - 1e-9
    assert round(steps) * inst.quantity_step >= inst.min_quantity
    same = held is not None and held["side"] == sig["side"]
    contracts = round(steps) * inst.quantity_step + (
        held["quantity"] / inst.contract_size if same and held else 0.0
    )
    tiers = [t for t in inst.tiers if contracts <= t.max_contracts + 1e-9]
    assert tiers and lev <= tiers[0].max_leverage
    if "available_balance" in state and not reduces:
        notional = d["position_size_usd"]
        assert notional / lev + notional * 0.0012 <= state["available_balance"] * (1 + 1e-9) + 1e-9
    for trade in state.get("recent_trades", []):
        assert SIGNAL_TS - trade["closed_at"] >= 600  # no stop-loss on the symbol within the cooldown
    positions = state.get("positions", [])
    if held is None and int(env["MAX_OPEN_POSITIONS"]) > 0:
        assert len(positions) < int(env["MAX_OPEN_POSITIONS"])
    assert math.isfinite(d["liquidation_price"]) and d["liquidation_distance"] >= cfg.MIN_LIQUIDATION_DISTANCE
