"""Parity that can fail: the fast evaluation function, called directly, against the traced one.

Both are generated from the rule table: cdbctl/risk/decide.py, and each engine's copy of it with only
its run's rules (specialise.py). The trace must never change a decision, nor the cut. Over the whole
input space (any-case sides and margin modes, every timestamp form, cross margin with open positions,
balances, trades, trading states, instrument rules, --stateful sequences) the fast function, called
without the engine's fail-closed wrapper (an exception fails the test), must return the traced
decision in every field, and so must decide.py's own build_fast.
"""

from __future__ import annotations

import io
from typing import Any

import msgspec
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdbctl.risk import Engine, load_market, load_state, resolve_now
from cdbctl.risk import decide as decide_module
from cdbctl.risk.config import env_layer, resolve
from cdbctl.risk.instruments import load_instruments
from cdbctl.risk.io import read_chunks
from cdbctl.risk.model import Signal
from cdbctl.risk.runner import Summary, stream_jsonl

from .helpers import NOW, ROOT
from .strategies import configs, markets, states

pytestmark = pytest.mark.unit

BOOK = load_instruments(yaml.safe_load((ROOT / "examples" / "instruments.yaml").read_text()))
T0 = 1767268800  # 2026-01-01T12:00:00Z, five seconds before NOW
BASE = {
    "BTC_USDT": (50000.0, 0.1),
    "ETHUSDT": (3000.0, 0.01),
    "SOL_USDT": (150.0, 0.01),
    "XYZUSDT": (2.0, 0.001),
}
SIDES = ["long", "short", "buy", "sell", "Long", "SHORT", "Buy", "sELL", "hold"]


@st.composite
def timestamps(draw: st.DrawFn) -> object:
    """Every accepted form (and a few refused ones) around T0."""
    ms = T0 * 1000 + draw(st.integers(-200_000, 40_000))
    sec, frac = divmod(ms, 1000)
    hour, rest = 12 + (sec - T0) // 3600, f"{(sec // 60) % 60:02d}:{sec % 60:02d}"
    iso = f"2026-01-01T{hour:02d}:{rest}"
    east, west = f"2026-01-01T{hour + 1:02d}:{rest}+01:00", f"2026-01-01T{hour - 1:02d}:{rest}.5-01:00"
    if draw(st.integers(0, 9)) == 5:  # refused or unusual spellings
        return draw(
            st.sampled_from(
                [iso, "garbage", " " + iso + "Z", iso.replace("T", " ") + "Z", "2026-01-01T12:00Z"]
            )
        )
    return draw(st.sampled_from([
        None, ms, sec, ms / 1000.0, str(ms), iso + "Z", f"{iso}.{frac:03d}Z", f"{iso}.{frac:03d}000+00:00",
        east, west,
    ]))  # fmt: skip


@st.composite
def signals(draw: st.DrawFn) -> dict[str, Any]:
    """A typed-valid signal anywhere in the input space (semantic validity varies)."""
    symbol = draw(st.sampled_from(sorted(BASE)))
    base, tick = BASE[symbol]
    price = base * draw(st.floats(0.5, 1.5))
    if draw(st.integers(0, 3)):
        price = round(round(price / tick) * tick, 8)
    sig: dict[str, Any] = {"signal_id": draw(st.integers(0, 99)), "symbol": symbol, "side": draw(st.sampled_from(SIDES[:-1]) if draw(st.integers(0, 19)) != 7 else st.just("hold")),
                           "price": price}  # fmt: skip
    if draw(st.booleans()):
        sig["target_position_usd"] = draw(st.sampled_from([0.0, 10.0, 500.0, 5000.0, 50000.0, 1e7]))
    if draw(st.booleans()):
        sig["leverage"] = draw(st.integers(1, 125))
    if draw(st.booleans()):
        sig["margin_mode"] = draw(
            st.sampled_from(
                ["isolated", "cross", "cross", "Cross", "ISOLATED", "isolated", "cross", "portfolio"]
            )
        )
    if draw(st.booleans()):
        sig["order_type"] = draw(st.sampled_from(["limit", "market"]))
    if not draw(st.integers(0, 4)):  # mostly on the protective side of the entry
        sig["stop_price"] = price * draw(
            st.floats(0.5, 1.0) if draw(st.integers(0, 3)) else st.floats(0.9, 1.5)
        )
    if draw(st.booleans()):
        sig["mark_price"] = price * draw(st.floats(0.9, 1.1))
    ts = draw(timestamps())
    if ts is not None:
        sig["timestamp"] = ts
    if draw(st.booleans()):
        sig["market"] = draw(markets()) if not draw(st.integers(0, 3)) else {
            "volatility": draw(st.floats(0.0, 1.2)), "funding_rate": draw(st.floats(-0.001, 0.001)),
            "bid": price * 0.9999, "ask": price * 1.0001, "order_book_depth": draw(st.floats(1e5, 1e8)),
        }  # fmt: skip
    return sig


@st.composite
def accounts(draw: st.DrawFn) -> dict[str, Any]:
    """A state with or without positions (cross and isolated), balances, trades and a trading state."""
    state = (
        draw(states()) if not draw(st.integers(0, 3)) else {"equity": draw(st.sampled_from([1e4, 1e5, 1e6]))}
    )
    positions = []
    for symbol in draw(st.lists(st.sampled_from(sorted(BASE)), max_size=3, unique=True)):
        base, _ = BASE[symbol]
        leg = {"symbol": symbol, "side": draw(st.sampled_from(["long", "short"])),
               "quantity": draw(st.floats(1e-3, 50.0)) * 1000.0 / base, "entry_price": base,
               "margin_mode": draw(st.sampled_from(["isolated", "cross"])), "leverage": draw(st.integers(1, 20))}  # fmt: skip
        if draw(st.booleans()):
            leg["mark_price"] = base * draw(st.floats(0.8, 1.2))
        if draw(st.booleans()):
            leg["maintenance_margin_rate"] = draw(st.floats(0.001, 0.05))
        positions.append(leg)
    if positions:
        state["positions"] = positions
    if not draw(st.integers(0, 3)):
        state["wallet_balance"] = state["equity"] * draw(st.floats(0.5, 1.5))
    if not draw(st.integers(0, 3)):
        state["available_balance"] = draw(st.floats(0.0, 1e6))
    if not draw(st.integers(0, 4)):
        state["trading_state"] = draw(st.sampled_from(["ACTIVE", "REDUCING", "HALTED"]))
    if not draw(st.integers(0, 3)):
        state["recent_trades"] = [
            {"symbol": draw(st.sampled_from(sorted(BASE))), "closed_at": T0 - draw(st.integers(-30, 2000)),
             "pnl": draw(st.floats(-10, 10)), "exit_reason": draw(st.sampled_from(["stop_loss", "take_profit"]))}
            for _ in range(draw(st.integers(1, 3)))
        ]  # fmt: skip
    return state


@st.composite
def runs(draw: st.DrawFn) -> dict[str, Any]:
    env = draw(configs())
    for key, values in (
        ("MAX_OPEN_POSITIONS", ["0", "1", "3"]), ("MAX_SYMBOL_EXPOSURE_PCT", ["0", "0.05", "0.3"]),
        ("MAX_ORDERS_PER_MINUTE", ["0", "2", "60"]), ("COOLDOWN_SEC", ["0", "600"]),
        ("MAX_POSITION_PCT", ["0.01", "0.1", "0.9"]), ("MAX_TOTAL_EXPOSURE_PCT", ["0.5", "1"]),
        ("STOPLOSS_GUARD_TRADES", ["0", "2"]), ("MAX_CONSECUTIVE_LOSSES", ["0", "2"]),
    ):  # fmt: skip
        if draw(st.booleans()):
            env[key] = draw(st.sampled_from(values))
    return {
        "env": env, "state": draw(accounts()), "market": draw(markets()) if not draw(st.integers(0, 3)) else {}, "signals": draw(st.lists(signals(), min_size=1, max_size=6)),
        "stateful": draw(st.booleans()), "book": draw(st.booleans()), "finite": draw(st.booleans()),
        "signal_clock": draw(st.booleans()),
    }  # fmt: skip


def _engines(run: dict[str, Any]) -> tuple[Engine, Engine, Engine]:
    cfg = resolve([env_layer(run["env"])]).config
    now = resolve_now(NOW)
    book = BOOK if run["book"] else None

    def build(trace: bool) -> Engine:
        return Engine(cfg, load_state(run["state"]), load_market(run["market"]), now=now, trace=trace,
                      signal_clock=run["signal_clock"],
                      stateful=run["stateful"], instruments=book, finite_inputs=run["finite"] and not trace)  # fmt: skip

    generic = build(False)  # the checked-in decide.py, every rule behind its flag
    generic.decide = generic.fast = decide_module.build_fast(generic.setup)
    return build(False), build(True), generic


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_fast_path_decides_every_signal_like_the_traced_path(run: dict[str, Any]) -> None:
    fast, traced, generic = _engines(run)
    assert fast.fast is not None and traced.fast is None and generic.fast is not None
    for raw in run["signals"]:
        sig = msgspec.json.decode(msgspec.json.encode(raw), type=Signal)  # as the CLI decodes it
        want = msgspec.to_builtins(traced.evaluate(sig))
        want.pop("checks")
        got = fast.fast(sig)  # called directly: no fail-closed wrapper hides an exception
        assert msgspec.to_builtins(got) == want
        assert msgspec.to_builtins(generic.fast(sig)) == want
    assert fast.account.positions == traced.account.positions


def test_a_replay_is_decided_entirely_by_the_fast_path() -> None:
    """Every line of a realistic replay (any-case sides, three timestamp forms, cross margin over open
    positions, --stateful, --instruments) is decided by the fast path without an internal error, as
    the traced path decides it."""
    state = {"equity": 1e6, "positions": [
        {"symbol": "BTC_USDT", "side": "long", "quantity": 0.5, "entry_price": 50000.0, "margin_mode": "cross"},
        {"symbol": "ETHUSDT", "side": "short", "quantity": 10, "entry_price": 3000.0, "mark_price": 2990.0},
    ]}  # fmt: skip
    lines = []
    forms = [lambda ms: ms, lambda ms: f"2026-01-01T12:00:{ms % 60000 / 1000:06.3f}Z",
             lambda ms: f"2026-01-01T13:00:{ms % 60000 / 1000:06.3f}+01:00"]  # fmt: skip
    for i in range(600):
        symbol = ["BTC_USDT", "ETHUSDT", "SOL_USDT"][i % 3]
        base, _ = BASE[symbol]
        rec = {"signal_id": i, "symbol": symbol, "side": ["Long", "SELL", "buy", "Short"][i % 4], "price": base,
               "target_position_usd": 1000.0, "leverage": 3, "timestamp": forms[i % 3](T0 * 1000 + i * 7),
               "margin_mode": "cross" if i % 10 == 0 else "isolated"}  # fmt: skip
        lines.append(msgspec.json.encode(rec))
    lines.append(
        b'{"symbol": "BTC_USDT", "side": "hold", "price": 1.0}'
    )  # invalid: the validity rule names it
    cfg = resolve([env_layer({"MAX_TOTAL_EXPOSURE_PCT": "1", "DATA_STALE_TIMEOUT_SEC": "100000"})]).config
    engine, traced = (
        Engine(cfg, load_state(state), now=resolve_now(NOW), stateful=True, instruments=BOOK, trace=trace)
        for trace in (False, True)
    )
    out, summary, reports = io.BytesIO(), Summary(), []
    data = b"\n".join(lines) + b"\n"
    stream_jsonl(
        read_chunks(io.BytesIO(data).read1, "x"), engine, "x", out.write, out.flush, summary, reports.append
    )
    decided = [msgspec.json.decode(line) for line in out.getvalue().splitlines()]
    assert len(decided) == 601 and summary.invalid == 1 and summary.internal == 0
    assert sum(d["approved"] for d in decided) > 100
    for line, got in zip(lines[:-1], decided[:-1], strict=True):  # the last one's detail names its line
        want = msgspec.to_builtins(traced.evaluate(msgspec.json.decode(line, type=Signal)))
        want.pop("checks")
        assert got == want
    assert reports == ["x:601: side: 'hold' is not long, short, buy or sell"]
