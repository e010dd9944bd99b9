"""CDB's services/risk_engine.py API served by cdbctl: names, signatures, CDB's key names and
defaults, the two-rule circuit breaker, unknown keys logged or refused, and no exception ever."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdbctl.errors import ConfigError
from cdbctl.risk import cdb_config

from .helpers import DATA, NOW, cli

pytestmark = pytest.mark.unit

BTC = {"symbol": "BTCUSDT", "side": "buy", "price": 50000.0}
CLEAN = {"equity": 100000.0, "daily_pnl": 0.0, "total_exposure_pct": 0.0}
LOOSE = {"MAX_TOTAL_EXPOSURE_PCT": 1.0, "MIN_LIQUIDATION_DISTANCE": 0.05, "MAX_SLIPPAGE_BPS": 300.0}
DEEP = {"volatility": 0.5, "order_book_depth": 5_000_000.0, "funding_rate": 0.0001}


def test_imports_exactly_as_cdb_does() -> None:
    """CDB's code and tests: `from services import risk_engine` and `from services.risk_engine import ...`."""
    from cdbctl import risk as risk_engine
    from cdbctl.risk import (
        EnhancedRiskDecision,
        RiskDecision,
        evaluate_signal,
        evaluate_signal_v2,
        generate_stop_loss,
        limit_position_size,
        load_risk_config,
    )

    assert risk_engine.evaluate_signal is evaluate_signal
    assert callable(risk_engine._calculate_signal_notional)
    assert issubclass(EnhancedRiskDecision, RiskDecision)
    params = {
        evaluate_signal: ["signal_event", "risk_state", "risk_config"],
        evaluate_signal_v2: ["signal_event", "risk_state", "risk_config", "market_conditions"],
        limit_position_size: ["signal_event", "risk_config", "equity"],
        generate_stop_loss: ["signal_event", "risk_config"],
    }
    for fn, names in params.items():
        positional = [
            p.name for p in inspect.signature(fn).parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD
        ]
        assert positional == names, fn.__name__
    assert inspect.signature(limit_position_size).parameters["equity"].default is None
    assert isinstance(load_risk_config(), dict)


def test_decision_classes_keep_cdbs_positional_order() -> None:
    from cdbctl.risk import EnhancedRiskDecision, RiskDecision

    assert RiskDecision(False, "x", 0.0, None) == RiskDecision(
        approved=False, reason="x", position_size=0.0, stop_price=None
    )
    positional = [f.name for f in dataclasses.fields(EnhancedRiskDecision) if not f.kw_only]
    assert positional == [
        "approved", "reason", "position_size", "stop_price", "liquidation_price", "liquidation_distance",
        "leverage", "expected_slippage_bps", "execution_fees", "sizing_method", "funding_fee_estimate",
    ]  # fmt: skip
    d = EnhancedRiskDecision(True, None, 1.0, 9.0, 8.0)
    assert d.liquidation_price == 8.0 and d.detail is None


def v2(config: dict[str, Any] | None = None, state: dict[str, Any] | None = None, **kw: Any) -> Any:
    from cdbctl.risk import evaluate_signal_v2

    signal = {**BTC, **kw.pop("signal", {})}
    market = kw.pop("market", DEEP)
    return evaluate_signal_v2(signal, state if state is not None else CLEAN, config or {}, market, **kw)


# --- CDB's key names are aliases; CDB's sizing names are choices ------------------------------------


@pytest.mark.parametrize(
    ("config", "usd"),
    [
        ({"RISK_PER_TRADE": 0.002}, 10_000.0),  # 100000 x 0.002 / 0.02
        ({"RISK_PER_TRADE": 0.004, "STOP_LOSS_PCT": 0.04}, 10_000.0),
        ({"SIZING_METHOD": "volatility_targeting", "TARGET_VOL": 0.1}, 20_000.0),  # 100000 x 0.1 / 0.5
        ({"SIZING_METHOD": "atr_based", "ATR_MULTIPLIER": 4.0, "RISK_PER_TRADE": 0.01}, 5_000.0),
        ({"SIZING_METHOD": "kelly_criterion", "KELLY_FRACTION": 0.5}, 12_500.0),  # (0.5 - 0.5 x 0.5) x 0.5
    ],
)
def test_cdb_sizing_keys_size_the_order(config: dict[str, Any], usd: float) -> None:
    market = {**DEEP, "atr": 2500.0}
    d = v2({**LOOSE, **config}, market=market)
    assert d.approved is True, d.detail
    assert d.position_size_usd == pytest.approx(usd)
    assert d.position_size == pytest.approx(usd / 50000.0)
    assert d.sizing_method == config.get("SIZING_METHOD", "fixed_fractional")


def test_kelly_inputs_come_from_the_market_as_cdb_passes_them_else_the_state() -> None:
    config = {**LOOSE, "SIZING_METHOD": "kelly_criterion", "KELLY_FRACTION": 1.0}
    from_market = v2(config, market={**DEEP, "win_rate": 0.6, "avg_win": 0.02, "avg_loss": 0.01})
    assert from_market.position_size_usd == pytest.approx(40_000.0)  # 0.6 - 0.4 x 0.5 = 0.4
    from_state = v2(config, state={**CLEAN, "win_rate": 0.55, "avg_win": 0.03, "avg_loss": 0.015})
    assert from_state.position_size_usd == pytest.approx(32_500.0)  # 0.55 - 0.45 x 0.5


def test_cdb_defaults_apply_through_this_api() -> None:
    """CDB's defaults: leverage = MAX_LEVERAGE 10, which CDB's own 15 % liquidation distance refuses."""
    d = v2({"RISK_PER_TRADE": 0.002})  # 10 % of equity: within CDB's 30 % exposure cap
    assert (d.approved, d.reason) == (False, "liquidation_risk_too_high")
    assert d.liquidation_distance == pytest.approx(0.095)  # 1/10 - 0.005
    assert d.position_size == 0.0 and d.stop_price is None
    d = v2(LOOSE)
    assert d.approved is True and d.leverage == 10
    assert d.position_size_usd == pytest.approx(100_000.0)  # RISK_PER_TRADE 0.02 / STOP_LOSS_PCT 0.02
    assert v2({"MIN_LIQUIDATION_DISTANCE": 0.05}).reason == "max_exposure_reached"  # 1.0 > CDB's 0.30


def test_approval_metadata_in_cdbs_units() -> None:
    d = v2({**LOOSE, "RISK_PER_TRADE": 0.002})
    assert d.stop_price == pytest.approx(49_000.0)
    assert d.liquidation_price == pytest.approx(45_250.0) and d.liquidation_distance == pytest.approx(0.095)
    assert d.funding_fee_estimate == pytest.approx(1.0)  # 10000 x 0.0001 per 8 h settlement
    assert d.funding_fee_daily == pytest.approx(3.0)
    assert d.execution_fees == pytest.approx(6.0)  # taker fee on the entry
    assert d.fees_usd == pytest.approx(12.0)  # round trip
    assert d.expected_slippage_bps is not None and d.expected_slippage_bps > 0
    assert [c.name for c in d.checks][:3] == ["validity", "staleness", "circuit_breaker"]


def test_a_slippage_rejection_reports_the_slippage() -> None:
    d = v2({**LOOSE, "MAX_SLIPPAGE_BPS": 100.0}, market={"volatility": 0.15, "order_book_depth": 10_000.0})
    assert (d.approved, d.reason) == (False, "excessive_slippage")
    assert d.expected_slippage_bps == pytest.approx(248.2, abs=0.1)  # 1e4 x 0.15 / sqrt(365) x sqrt(10)
    assert d.liquidation_price is None and d.leverage is None


# --- the circuit breaker: CDB's daily loss, and the drawdown from peak_equity --------------------------


def test_a_minus_15_percent_day_trips_the_breaker_even_with_a_loose_daily_limit() -> None:
    state = {**CLEAN, "daily_pnl": -15_000.0}
    d = v2({**LOOSE, "MAX_DRAWDOWN_PCT": 0.2}, state=state)
    assert (d.approved, d.reason) == (False, "circuit_breaker_triggered")
    assert d.detail == "daily loss 15.0000% of equity 100000 >= 10.0000%"
    from cdbctl.risk import evaluate_signal

    v1 = evaluate_signal({**BTC, "size": 0.1}, state, {"MAX_DRAWDOWN_PCT": 0.2})
    assert (v1.approved, v1.reason) == (False, "circuit_breaker_triggered")


def test_either_rule_trips_and_the_value_is_the_larger_fraction() -> None:
    from cdbctl.risk import evaluate_json

    peak = evaluate_json(BTC, state={"equity": 88_000.0, "peak_equity": 100_000.0, "daily_pnl": -1_000.0})
    assert isinstance(peak, dict) and peak["reason"] == "circuit_breaker_triggered"
    (cb,) = [c for c in peak["checks"] if c["name"] == "circuit_breaker"]
    assert cb["value"] == pytest.approx(0.12) and cb["detail"].startswith("drawdown 12.0000% from peak")
    day = evaluate_json(
        BTC, state={"equity": 100_000.0, "daily_pnl": -10_000.0}, env={"MAX_DAILY_DRAWDOWN_PCT": "0.5"}
    )
    assert isinstance(day, dict) and day["reason"] == "circuit_breaker_triggered"
    ok = evaluate_json(
        BTC, state={"equity": 100_000.0, "daily_pnl": -9_999.0}, env={"MAX_DAILY_DRAWDOWN_PCT": "0.5"}
    )
    assert isinstance(ok, dict) and ok["approved"] is True


def test_the_cli_breaker_fires_on_cdb_shaped_state(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state.json"
    state.write_text('{"equity": 100000, "daily_pnl": -15000, "total_exposure_pct": 0}')
    signal = tmp_path / "s.json"
    signal.write_text('{"symbol": "BTCUSDT", "side": "buy", "price": 50000}')
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(signal), "--state", str(state), "--now", NOW,
            "--set", "MAX_DAILY_DRAWDOWN_PCT=0.2", "--format", "jsonl")  # fmt: skip
    assert r.code == 1 and r.jsonl()[0]["reason"] == "circuit_breaker_triggered"


# --- unknown keys and bad values: logged, refused with strict, never an exception --------------------


def test_unknown_keys_are_logged_once_each(caplog: pytest.LogCaptureFixture) -> None:
    cdb_config._warned.clear()
    with caplog.at_level(logging.WARNING, logger="cdbctl.risk"):
        v2({**LOOSE, "MAX_LEVERGE": 3, "BASE_SLIPPAGE_BPS": 5.0})
        v2({**LOOSE, "MAX_LEVERGE": 3, "OTHER": 1})
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "risk_config key 'MAX_LEVERGE' is not a risk key cdbctl knows: it has no effect",
        "risk_config key 'OTHER' is not a risk key cdbctl knows: it has no effect",
    ]


def test_strict_makes_an_unknown_key_a_config_error_but_accepts_cdbs_own_keys() -> None:
    from cdbctl.risk import load_risk_config

    d = v2({**LOOSE, "MAX_LEVERGE": 3}, strict=True)
    assert (d.approved, d.reason, d.position_size) == (False, "config_error", 0.0)
    assert d.detail == "unknown risk key 'MAX_LEVERGE' in risk_config"
    assert v2({**load_risk_config({}), **LOOSE}, strict=True).approved is True


@pytest.mark.parametrize(
    ("config", "detail"),
    [
        ({"MAX_LEVERAGE": "ten"}, "MAX_LEVERAGE from risk_config: 'ten' is not an integer"),
        ({"SIZING_METHOD": "martingale"}, "SIZING_METHOD from risk_config: 'martingale' is not one of"),
        ({"RISK_PER_TRADE": float("nan")}, "RISK_PER_TRADE_PCT from risk_config: nan is not a finite number"),
        ({"MAX_POSITION_PCT": 0.0}, "MAX_POSITION_PCT from risk_config: 0.0 is out of range"),
        ({"TARGET_VOL": "8_0"}, "TARGET_VOLATILITY from risk_config: '8_0' is not a plain decimal number"),
    ],
)
def test_a_bad_value_is_a_config_error_decision(config: dict[str, Any], detail: str) -> None:
    d = v2(config)
    assert (d.approved, d.reason, d.position_size) == (False, "config_error", 0.0)
    assert d.detail.startswith(detail)


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
keys = st.sampled_from(["price", "side", "symbol", "equity", "daily_pnl", "MAX_LEVERAGE", "SIZING_METHOD",
                        "RISK_PER_TRADE", "volatility", "order_book_depth", "positions", "x"])  # fmt: skip
dicts = st.dictionaries(keys, json_like, max_size=5)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signal=st.one_of(dicts, json_like), state=dicts, config=dicts, market=dicts)
def test_v2_never_raises_and_never_approves_junk(signal: Any, state: Any, config: Any, market: Any) -> None:
    from cdbctl.risk import evaluate_signal, evaluate_signal_v2

    d = evaluate_signal_v2(signal, state, config, market)
    if d.approved:
        assert math.isfinite(d.position_size) and d.position_size > 0
    v1 = evaluate_signal(signal if isinstance(signal, dict) else {}, state, config)
    assert v1.approved in (True, False)


# --- evaluate_signal and its helpers: CDB's arithmetic, fail closed ---------------------------------

V1 = {"ACCOUNT_EQUITY": 100_000.0, "MAX_DRAWDOWN_PCT": 0.05, "MAX_POSITION_PCT": 0.10,
      "MAX_TOTAL_EXPOSURE_PCT": 0.30, "STOP_LOSS_PCT": 0.02}  # fmt: skip


@pytest.mark.parametrize(
    ("state", "signal", "expected"),
    [
        ({"total_exposure_pct": 0.05}, {"size": 1.0}, (True, None, 0.2, 49_000.0)),  # capped at 10 %
        ({"total_exposure_pct": 0.05}, {"size": 0.1}, (True, None, 0.1, 49_000.0)),
        ({"total_exposure_pct": 0.05}, {"size": 1.0, "side": "sell"}, (True, None, 0.2, 51_000.0)),
        ({"total_exposure_pct": 0.05}, {"size": 1.0, "side": "short"}, (True, None, 0.2, 51_000.0)),
        ({"total_exposure_pct": 0.25}, {"size": 1.0}, (False, "max_exposure_reached", 0.0, None)),
        ({"total_exposure_pct": 0.0}, {"size": 0.1, "notional": 40_000.0}, (False, "max_exposure_reached", 0.0, None)),
        ({"daily_pnl": -5_000.0}, {"size": 1.0}, (False, "max_daily_drawdown_exceeded", 0.0, None)),
        ({}, {}, (False, "position_size_zero_after_sizing", 0.0, None)),  # CDB approved a size of 0
        ({}, {"size": 1.0, "price": 0.0}, (False, "position_size_zero_after_sizing", 0.0, None)),
        ({"equity": 0.0}, {"size": 1.0}, (False, "invalid_signal", 0.0, None)),
        # numbers as the CLI reads them: text only as a plain decimal (a Redis stream gives text), never
        # a flag; float() made True a size of 1 and '5_0000' a price of 50000
        ({}, {"size": "0.1", "price": "50000.0"}, (True, None, 0.1, 49_000.0)),
        ({}, {"size": Decimal("0.1"), "price": Decimal("50000")}, (True, None, 0.1, 49_000.0)),
        ({}, {"size": True}, (False, "position_size_zero_after_sizing", 0.0, None)),
        ({}, {"size": 0.1, "price": "5_0000"}, (False, "position_size_zero_after_sizing", 0.0, None)),
        ({}, {"size": "0x1"}, (False, "position_size_zero_after_sizing", 0.0, None)),
        ({}, {"size": " inf"}, (False, "position_size_zero_after_sizing", 0.0, None)),
    ],
)  # fmt: skip
def test_evaluate_signal(state: dict[str, Any], signal: dict[str, Any], expected: tuple[Any, ...]) -> None:
    from cdbctl.risk import evaluate_signal

    d = evaluate_signal({**BTC, **signal}, {"equity": 100_000.0, **state}, V1)
    got = (d.approved, d.reason, d.position_size, d.stop_price)
    assert got == pytest.approx(expected) if expected[0] else got == expected


def test_helpers() -> None:
    from cdbctl import risk as risk_engine

    assert risk_engine.limit_position_size({**BTC, "size": 1.0}, V1) == pytest.approx(0.2)
    assert risk_engine.limit_position_size({**BTC, "size": 1.0}, {**V1, "MAX_POSITION_PCT": 0.0}) == 0.0
    assert risk_engine.limit_position_size({**BTC, "size": 1.0}, {**V1, "MAX_POSITION_PCT": "x"}) == 0.0
    # '1_0' is no plain decimal (float() read 10: a cap of ten times the equity)
    assert risk_engine.limit_position_size({**BTC, "size": 100.0}, {**V1, "MAX_POSITION_PCT": "1_0"}) == 0.0
    assert risk_engine.limit_position_size({**BTC, "size": 1.0}, {**V1, "MAX_POSITION_PCT": "0.1"}) == 0.2
    assert risk_engine.generate_stop_loss({"price": 100.0}, {"STOP_LOSS_PCT": True})["stop_price"] == 0.0
    assert risk_engine.limit_position_size({**BTC, "size": 1.0, "price": 1e-320}, V1) == 1.0
    assert risk_engine.limit_position_size({**BTC, "size": 1.0}, V1, equity=1_000_000.0) == 1.0
    assert risk_engine._calculate_signal_notional({"price": 100.0}, 3.0) == 300.0
    assert risk_engine._calculate_signal_notional({"price": 100.0, "notional": 50.0}, 3.0) == 50.0
    assert risk_engine.generate_stop_loss({"price": 0.0, "side": "BUY"}, V1) == {
        "stop_price": 0.0,
        "side": "buy",
    }
    assert risk_engine.generate_stop_loss({"price": 100.0}, {}) == {"stop_price": 98.0, "side": "buy"}
    assert (
        risk_engine.generate_stop_loss({"price": 1e308, "side": "sell"}, {"STOP_LOSS_PCT": 0.9})["stop_price"]
        == 0.0
    )


# --- load_risk_config: CDB's keys and defaults, read from the environment, checked ------------------


def test_load_risk_config_defaults_are_cdbs() -> None:
    from cdbctl.risk import load_risk_config

    config = load_risk_config({})
    assert config["MAX_TOTAL_EXPOSURE_PCT"] == 0.30 and config["MAX_LEVERAGE"] == 10
    assert (
        config["RISK_PER_TRADE"] == 0.02 and config["TARGET_VOL"] == 0.20 and config["KELLY_FRACTION"] == 0.25
    )
    assert config["FILL_THRESHOLD"] == 0.80 and config["SIZING_METHOD"] == "fixed_fractional"


def test_load_risk_config_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from cdbctl.risk import load_risk_config

    monkeypatch.setenv("MAX_EXPOSURE_PCT", "0.4")  # CDB's older name, read when the new one is unset
    monkeypatch.setenv("SIZING_METHOD", "Volatility_Targeting")
    monkeypatch.setenv("BASE_SLIPPAGE_BPS", "7")
    config = load_risk_config()
    assert config["MAX_TOTAL_EXPOSURE_PCT"] == 0.4
    assert config["SIZING_METHOD"] == "volatility_targeting" and config["BASE_SLIPPAGE_BPS"] == 7.0
    monkeypatch.setenv("MAX_LEVERAGE", "8_0")
    with pytest.raises(ConfigError, match="MAX_LEVERAGE from environment variable MAX_LEVERAGE: '8_0'"):
        load_risk_config()


# --- the CLI takes CDB's names too -------------------------------------------------------------------


def test_cli_accepts_cdb_keys_from_every_source(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "cdb.yaml"
    path.write_text("RISK_PER_TRADE: 0.002\nSIZING_METHOD: volatility_targeting\nFILL_THRESHOLD: 0.8\n")
    monkeypatch.setenv("TARGET_VOL", "0.3")
    r = cli(
        capsys,
        monkeypatch,
        "risk",
        "config",
        "--config",
        str(path),
        "--set",
        "ATR_MULTIPLIER=3",
        "--format",
        "json",
    )
    assert r.code == 0
    rows = {row["key"]: row for row in r.json()["keys"]}
    assert rows["RISK_PER_TRADE_PCT"]["value"] == 0.002 and rows["SIZING_METHOD"]["value"] == "vol_target"
    assert (
        rows["TARGET_VOLATILITY"]["value"] == 0.3
        and rows["TARGET_VOLATILITY"]["source"] == "environment variable TARGET_VOL"
    )
    assert rows["ATR_STOP_MULTIPLIER"]["value"] == 3.0
    assert r.err == (
        f"cdbctl: warning: FILL_THRESHOLD (config file {path}) is a CDB key cdbctl does not use: "
        "no partial fills are simulated: an order too large for the book is rejected\n"
    )


def test_examples_still_resolve(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = cli(capsys, monkeypatch, "risk", "config", "--config", str(DATA / "risk.yaml"), "--format", "json")
    assert r.code == 0 and r.err == ""


@pytest.mark.parametrize(
    "env",
    [
        {"MAX_DAILY_DRAWDOWN_PCT": "0.03"},  # CDB's current risk service reads this name
        {"MAX_DAILY_DRAWDOWN_PCT": "0.03", "MAX_DRAWDOWN_PCT": "0.04"},
        {"RISK_PER_TRADE_PCT": "0.005", "TARGET_VOLATILITY": "0.1", "ATR_STOP_MULTIPLIER": "3"},
        {"MAX_EXPOSURE_PCT": "0.4"},
        {"MAX_EXPOSURE_PCT": "0.4", "MAX_TOTAL_EXPOSURE_PCT": "0.35"},
    ],
)
def test_load_risk_config_reads_an_environment_as_the_cli_does(capsys, monkeypatch, env) -> None:  # type: ignore[no-untyped-def]
    # One environment, one limit: load_risk_config() ignored cdbctl's names, so a service ran on CDB's
    # 5 % drawdown default while `cdbctl risk config` showed the 3 % the operator had set.
    from cdbctl.risk import load_risk_config
    from cdbctl.risk.config import canonical_key
    from cdbctl.risk.keys import KEYS

    for var in [*cdb_config.CDB_DEFAULTS, *(n for k in KEYS for n in (k.name, *k.aliases))]:
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    r = cli(capsys, monkeypatch, "risk", "config", "--format", "json")
    assert r.code == 0, r.err
    shown = {row["key"]: row["value"] for row in r.json()["keys"]}
    loaded = load_risk_config()
    touched = {canonical_key(var) for var in env}
    compared = {name: key for name in cdb_config.CDB_DEFAULTS if (key := canonical_key(name)) in touched}
    assert compared, env
    assert {name: loaded[name] for name in compared} == {name: shown[key] for name, key in compared.items()}
