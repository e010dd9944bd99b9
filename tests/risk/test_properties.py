"""Hypothesis properties: never crash, never approve past a hard limit, caps hold, leverage monotone,
and the fast evaluation decides exactly like the traced one."""

from __future__ import annotations

import io
import math
from typing import Any

import msgspec
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdbctl.errors import InputError
from cdbctl.risk import Engine, evaluate_json, load_market, load_state, resolve_now
from cdbctl.risk.config import env_layer, resolve
from cdbctl.risk.instruments import load_instruments
from cdbctl.risk.io import read_chunks, record_from_object
from cdbctl.risk.model import Signal
from cdbctl.risk.runner import Summary, stream_jsonl

from .helpers import NOW, ROOT
from .strategies import configs, markets, signals, states

pytestmark = pytest.mark.unit
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EPS = 1e-9

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["symbol", "side", "price", "leverage", "market", "timestamp", "volatility",
                                       "bid", "ask", "signal_id", "target_position_usd", "x"]), inner, max_size=6),
    max_leaves=20,
)  # fmt: skip


@SETTINGS
@given(signals(), states(), configs(), markets())
def test_fast_path_equals_traced_path(sig: dict[str, Any], state: dict[str, Any], env: dict[str, str],
                                   market: dict[str, Any]) -> None:  # fmt: skip
    cfg = resolve([env_layer(env)]).config
    record = record_from_object(sig)
    if not isinstance(record, Signal):
        return
    now = resolve_now(NOW)
    fast = Engine(cfg, load_state(state), load_market(market), now=now)
    slow = Engine(cfg, load_state(state), load_market(market), now=now, trace=True)
    expected = msgspec.to_builtins(slow.evaluate(record))
    expected.pop("checks")
    assert msgspec.to_builtins(fast.evaluate(record)) == expected
    # the CLI's configuration: records decoded from JSON text, finiteness known
    cli_engine = Engine(cfg, load_state(state), load_market(market), now=now, finite_inputs=True)
    decoded = msgspec.json.decode(msgspec.json.encode(sig), type=Signal)
    assert msgspec.to_builtins(cli_engine.evaluate(decoded)) == expected


@SETTINGS
@given(json_values)
def test_never_crashes_on_any_json(payload: Any) -> None:
    try:
        out = evaluate_json(payload, now=NOW)
    except InputError:
        assert not isinstance(payload, dict | list)
        return
    decisions = out if isinstance(out, list) else [out]
    for d in decisions:
        assert d["reason"] != "internal_error"
        assert isinstance(d["approved"], bool)


@SETTINGS
@given(st.lists(st.binary(max_size=60) | st.builds(lambda s: msgspec.json.encode(s), signals()), max_size=6))
def test_jsonl_stream_never_crashes(lines: list[bytes]) -> None:
    data = b"\n".join(lines)
    engine = Engine(resolve([]).config, now=resolve_now(NOW), finite_inputs=True)
    out = io.BytesIO()
    summary = Summary()
    try:
        stream_jsonl(read_chunks(io.BytesIO(data).read1, "x"), engine, "x", out.write, out.flush, summary,
                     lambda _m: None)  # fmt: skip
    except InputError:
        return
    decoded = [msgspec.json.decode(line) for line in out.getvalue().splitlines()]
    assert len(decoded) == summary.total
    assert all(d["reason"] != "internal_error" for d in decoded)


@SETTINGS
@given(signals(), states(), configs(), markets())
def test_never_approves_past_a_hard_limit(sig: dict[str, Any], state: dict[str, Any], env: dict[str, str],
                                          market: dict[str, Any]) -> None:  # fmt: skip
    cfg = resolve([env_layer(env)]).config
    d = evaluate_json(sig, env=env, state=state, market=market, now=NOW)
    assert isinstance(d, dict)
    equity = state["equity"]
    cap = equity * cfg.MAX_POSITION_PCT
    assert d["position_size_usd"] <= cap * (1 + EPS)
    if "target_position_usd" in sig:
        assert d["position_size_usd"] <= sig["target_position_usd"]
    if not d["approved"]:
        assert d["position_size"] == 0.0 and d["position_size_usd"] == 0.0 and d["reason"]
        return
    checks = {c["name"]: c for c in d["checks"]}
    assert all(c["passed"] for c in d["checks"])
    assert d["position_size_usd"] > 0
    assert d["leverage"] <= cfg.MAX_LEVERAGE
    assert d["liquidation_distance"] >= cfg.MIN_LIQUIDATION_DISTANCE
    assert d["regime"] != "panic"
    assert checks["exposure"]["value"] <= cfg.MAX_TOTAL_EXPOSURE_PCT
    assert checks["funding"]["value"] <= cfg.MAX_DAILY_FUNDING_FEE_PCT
    assert d["expected_slippage_bps"] <= cfg.MAX_SLIPPAGE_BPS
    if checks["spread"]["value"] is not None:
        assert checks["spread"]["value"] <= cfg.MAX_SPREAD_BPS
    if state.get("peak_equity"):
        assert (state["peak_equity"] - equity) / state["peak_equity"] < cfg.CIRCUIT_BREAKER_THRESHOLD_PCT
    assert state["daily_pnl"] > -equity * cfg.MAX_DAILY_DRAWDOWN_PCT
    stop, lp = d["stop_price"], d["liquidation_price"]
    assert stop > lp if d["side"] == "long" else stop < lp


@SETTINGS
@given(
    st.floats(min_value=1e-3, max_value=1e6),
    st.sampled_from(["long", "short"]),
    st.sampled_from(["isolated", "cross"]),
    st.floats(min_value=0.0, max_value=0.05),
    st.integers(1, 124),
)
def test_lower_leverage_never_closer_liquidation(
    price: float, side: str, mode: str, mmr: float, lev: int
) -> None:
    env = {"MAINTENANCE_MARGIN_RATE": str(mmr), "MAX_LEVERAGE": "125"}
    sig = {"symbol": "X", "side": side, "price": price, "margin_mode": mode}
    low = evaluate_json(sig | {"leverage": lev}, env=env, now=NOW)
    high = evaluate_json(sig | {"leverage": lev + 1}, env=env, now=NOW)
    assert isinstance(low, dict) and isinstance(high, dict)
    assert abs(low["liquidation_price"] - price) >= abs(high["liquidation_price"] - price) * (1 - EPS)
    assert low["liquidation_distance"] >= high["liquidation_distance"]


# -- the account and instrument rules (instrument rules, positions, trading state, cooldowns, margin) ------

_BOOK = load_instruments(yaml.safe_load((ROOT / "examples" / "instruments.yaml").read_text()))


@st.composite
def account_states(draw: st.DrawFn) -> dict[str, Any]:
    """The account state fields (positions, trades, balances, trading state), each present or not."""
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["trading_state"] = draw(st.sampled_from(["ACTIVE", "REDUCING", "HALTED"]))
    if draw(st.booleans()):
        out["positions"] = [{"symbol": draw(st.sampled_from(["BTCUSDT", "ETH_USDT", "SOLUSDT"])),
                             "side": draw(st.sampled_from(["long", "short"])),
                             "quantity": draw(st.floats(min_value=0.001, max_value=50.0)),
                             "entry_price": draw(st.floats(min_value=1.0, max_value=60000.0)),
                             "margin_mode": draw(st.sampled_from(["isolated", "cross"]))}]  # fmt: skip
    if draw(st.booleans()):
        out["recent_trades"] = [{"symbol": "BTCUSDT", "closed_at": "2026-01-01T11:59:00Z", "pnl": -1.0,
                                 "exit_reason": "stop_loss"}]  # fmt: skip
    if draw(st.booleans()):
        out["available_balance"] = draw(st.floats(min_value=0.0, max_value=1e6))
    return out


@SETTINGS
@given(signals(), states(), account_states(), configs(), markets(), st.booleans())
def test_fast_path_equals_traced_path_with_account_rules(  # noqa: PLR0917
    sig: dict[str, Any], state: dict[str, Any], account: dict[str, Any], env: dict[str, str],
    market: dict[str, Any], with_instruments: bool,
) -> None:  # fmt: skip
    """With instrument rules and account inputs the fast path decides exactly like the traced one."""
    cfg = resolve([env_layer(env)]).config
    record = record_from_object(sig)
    if not isinstance(record, Signal):
        return
    book = _BOOK if with_instruments else None
    full = state | account
    now = resolve_now(NOW)
    fast = Engine(cfg, load_state(full), load_market(market), now=now, instruments=book)
    slow = Engine(cfg, load_state(full), load_market(market), now=now, instruments=book, trace=True)
    assert fast.fast is not None
    expected = msgspec.to_builtins(slow.evaluate(record))
    expected.pop("checks")
    assert msgspec.to_builtins(fast.evaluate(record)) == expected


@given(st.floats(allow_nan=True, allow_infinity=True))
@SETTINGS
def test_money_rounds_like_round_to_8_decimals(usd: float) -> None:
    """formulas.money's float trick equals round(usd * 1e8) / 1e8 where it applies; else keeps usd."""
    from cdbctl.risk.formulas import money

    got = money(usd)
    if -1e7 < usd < 1e7:
        assert got == round(usd * 1e8) / 1e8
        assert abs(got - usd) <= 0.5e-8 + abs(usd) * 1e-15
    else:
        assert got == usd or (math.isnan(got) and math.isnan(usd))  # NaN stays NaN
