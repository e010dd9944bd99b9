"""The compiled fast evaluation (cdbctl/risk/native.c): built, current, and decision for decision the
Python engine's, bit for bit, over the whole input space."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdbctl.risk import Engine, load_market, load_state, native, resolve_now
from cdbctl.risk.config import env_layer, resolve
from cdbctl.risk.model import Signal
from cdbctl.risk.timeparse import to_epoch

from .helpers import NOW
from .test_parity import BOOK, runs, signals

pytestmark = pytest.mark.unit

MODULE, WHY = native.loaded()
NATIVE_DIR = Path(native.__file__).parent


def test_the_compiled_engine_is_built_and_current() -> None:
    assert WHY is None and MODULE is not None, f"{WHY}: run `pip install -e .` (needs a C compiler)"
    assert native.source_hash(NATIVE_DIR) == MODULE.SOURCE_HASH


def test_a_build_from_other_sources_is_never_used(tmp_path: Path) -> None:
    assert MODULE is not None
    sources = sorted(NATIVE_DIR.glob(native.SOURCES))
    assert {p.name for p in sources} >= {"native.c", "native_body.h", "native_rules.h", "native_decide.h"}
    for path in sources:
        shutil.copy(path, tmp_path / path.name)
    assert native.stale(MODULE, tmp_path) is None
    (tmp_path / "native_body.h").write_text("/* edited */\n", encoding="utf-8")
    why = native.stale(MODULE, tmp_path)
    assert why is not None and why.startswith("stale: ") and "reinstall cdbctl" in why
    (tmp_path / "native_body.h").unlink()  # a source file less (or more) is other sources too
    assert native.stale(MODULE, tmp_path) is not None
    for path in tmp_path.glob(native.SOURCES):  # sources absent (a wheel without them): the stamp is trusted
        path.unlink()
    assert native.stale(MODULE, tmp_path) is None


def _engine(run: dict[str, Any], *, compiled: bool, trace: bool = False) -> Engine:
    cfg = resolve([env_layer(run["env"])]).config
    return Engine(
        cfg, load_state(run["state"]), load_market(run["market"]), now=resolve_now(NOW), trace=trace,
        signal_clock=run["signal_clock"], stateful=run["stateful"], instruments=BOOK if run["book"] else None,
        finite_inputs=True, compiled=compiled,
    )  # fmt: skip


def _compiled(engine: Engine) -> bool:
    return MODULE is not None and isinstance(engine.decide, MODULE.Engine)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs(), st.booleans())
def test_the_compiled_engine_decides_every_signal_as_python_does(run: dict[str, Any], trace: bool) -> None:
    """Same decisions in every field (with --trace every check's too), and the same account afterwards
    (a --stateful replay's positions and exposure), called directly: an exception fails the test."""
    fast, python = _engine(run, compiled=True, trace=trace), _engine(run, compiled=False, trace=trace)
    assert not _compiled(python)
    assert _compiled(fast), native.unsupported(fast.setup, trace)  # every rule has C code and a C trace
    for raw in run["signals"]:
        sig = msgspec.json.decode(msgspec.json.encode(raw), type=Signal)  # as the CLI decodes it
        assert msgspec.json.encode(fast.decide(sig)) == msgspec.json.encode(python.decide(sig))  # bit for bit
    assert fast.account.positions == python.account.positions
    assert fast.state.total_exposure_pct == python.state.total_exposure_pct


PLAIN = {
    "env": {},
    "state": {"equity": 1e5},
    "market": {},
    "stateful": False,
    "book": False,
    "signal_clock": False,
}


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({}, None),
        ({"signal_clock": True}, None),
        ({"env": {"SIZING_METHOD": "vol_target", "MARGIN_MODE": "cross"}}, None),
    ],
)
def test_which_runs_the_compiled_engine_decides(change: dict[str, Any], why: str | None) -> None:
    engine = _engine(PLAIN | change, compiled=True)
    assert native.unsupported(engine.setup, False) == why
    assert _compiled(engine) == (why is None)


def test_decoded_python_objects_are_decided_by_python() -> None:
    cfg = resolve([]).config
    loose = Engine(cfg, now=resolve_now(NOW))  # objects from Python (explain, the API) may hold NaN
    assert native.unsupported(loose.setup, False) == "inputs that are not JSON text can hold NaN"
    assert not _compiled(loose) and loose.fast is not None


def test_a_run_constant_not_exact_as_a_double_leaves_the_run_to_python(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An integer beyond 2**53 would compare inexactly as a C double: Python decides such a run."""
    from cdbctl.risk import decide

    real = decide.native_namespace

    def huge(setup: Any) -> dict[str, object]:
        return real(setup) | {"stale": 2**60}

    monkeypatch.setattr(decide, "native_namespace", huge)
    engine = _engine(PLAIN, compiled=True)
    assert not _compiled(engine)
    sig = msgspec.json.decode(
        msgspec.json.encode({"symbol": "BTCUSDT", "side": "long", "price": 1.0}), type=Signal
    )
    assert engine.fast is not None and engine.fast(sig).symbol == "BTCUSDT"
    monkeypatch.setattr(decide, "native_namespace", lambda setup: real(setup) | {"stale": 2**53})
    assert _compiled(_engine(PLAIN, compiled=True))  # exact: the compiled engine decides


@st.composite
def iso_shapes(draw: st.DrawFn) -> str:
    """The shape the C parser reads, and its near misses (every one must parse as timeparse does)."""
    moment = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    digits = draw(st.sampled_from(["", "", "1", "123", "123456", "1234567", "12a"]))
    if digits:
        text += "." + digits
    tail = draw(st.sampled_from(["Z", "Z", "+00:00", "-00:00", "+05:30", "-11:45", "+23:59", "+24:00", "-12:60",
                                 "+0530", "", "z", "Zx", "+05:3"]))  # fmt: skip
    text += tail
    return draw(st.sampled_from([text, text, text.replace("T", " "), text[:-1] + "é", "x" + text]))


@settings(max_examples=2000, deadline=None)
@given(iso_shapes() | st.text(max_size=40))
def test_the_c_timestamp_parser_agrees_with_timeparse(text: str) -> None:
    assert MODULE is not None
    got = MODULE.epoch(text)
    if got is not None:  # else: not the C shape, timeparse decides (tested in test_timeparse.py)
        assert got == to_epoch(text)


def test_the_c_timestamp_parser_reads_the_common_forms() -> None:
    assert MODULE is not None
    base = datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp()
    assert MODULE.epoch("2026-01-01T12:00:00Z") == base
    assert MODULE.epoch("2026-01-01T12:00:00.123Z") == base + 0.123
    assert MODULE.epoch("2026-01-01T13:00:00.5+01:00") == base + 0.5
    assert MODULE.epoch("2024-02-29T00:00:00Z") == datetime(2024, 2, 29, tzinfo=UTC).timestamp()
    for refused in (
        "2023-02-29T00:00:00Z",
        "2026-01-01T12:00:00",
        "2026-01-01T24:00:00Z",
        "2026-01-01T12:00Z",
    ):
        assert MODULE.epoch(refused) is None
    far = datetime(9999, 12, 31, tzinfo=UTC) - timedelta(seconds=1)
    assert MODULE.epoch(far.strftime("%Y-%m-%dT%H:%M:%SZ")) is None  # beyond 2**53 us: timeparse decides


def test_signals_strategy_is_shared() -> None:
    assert signals is not None  # the parity strategies are this module's input space


TINY = {  # a contract whose limits a test reaches with a few signals
    "tick_size": 0.000000000001, "contract_size": 1, "quantity_step": 1, "min_quantity": 1, "max_quantity": 50,
    "min_notional": 5, "max_leverage": 20, "maintenance_margin_rate": 0.004, "initial_margin_rate": 0.05,
    "funding_interval_hours": 4, "risk_base_vol": 20, "risk_incr_vol": 10, "risk_incr_mmr": 0.004,
    "risk_incr_imr": 0.05, "risk_level_limit": 3,
}  # fmt: skip


def _replay(run: dict[str, Any], book: Any, lines: list[dict[str, Any]]) -> list[str]:
    """Each signal through the compiled engine and the Python one: equal bit for bit; their reasons."""
    engines = []
    for compiled in (True, False):
        cfg = resolve([env_layer(run.get("env", {}))]).config
        engines.append(Engine(cfg, load_state(run.get("state", {"equity": 1e5})), now=resolve_now(NOW),
                              stateful=run.get("stateful", False), instruments=book, finite_inputs=True,
                              compiled=compiled))  # fmt: skip
    fast, python = engines
    assert _compiled(fast) and not _compiled(python)
    reasons = []
    for raw in lines:
        sig = msgspec.json.decode(msgspec.json.encode(raw), type=Signal)
        got, want = fast.decide(sig), python.decide(sig)
        assert msgspec.json.encode(got) == msgspec.json.encode(want)
        reasons.append(got.reason)
    return reasons


def _sig(**fields: Any) -> dict[str, Any]:
    return {"symbol": "TINY_USDT", "side": "long", "price": 10.0, "leverage": 2, "timestamp": "2026-01-01T12:00:00Z",
            "target_position_usd": 100.0} | fields  # fmt: skip


def test_rare_paths_of_the_instrument_rules_decide_as_python_does() -> None:
    from cdbctl.risk.instruments import load_instruments

    book = load_instruments({"schema_version": 1, "instruments": {"TINY_USDT": TINY}})
    reasons = _replay({}, book, [
        _sig(),
        _sig(symbol="TINY/USDT:USDT"),  # another spelling: found through the book's normalised lookup
        _sig(price=10.000000000005, target_position_usd=100.0),  # flooring rounds up past the target: fitted
        _sig(target_position_usd=5000.0),  # 500 contracts > max_quantity 50
        _sig(target_position_usd=300.0, leverage=15),  # 30 contracts: tier 1 (max leverage 10)
        _sig(target_position_usd=450.0),  # 45 contracts: beyond the last tier (40)
        _sig(symbol="NOPE_USDT"),
        _sig(price=10.0000000000005),  # half a tick off
        _sig(target_position_usd=20.0),  # 2 contracts, 20 USDT: fine; then below the minimum notional
        _sig(target_position_usd=4.0),
    ])  # fmt: skip
    assert reasons == [
        None, None, None, "above_max_quantity", "leverage_exceeds_max", "risk_limit_exceeded", "unknown_instrument",
        "price_off_tick", None, "below_min_notional",
    ]  # fmt: skip


def test_the_order_rate_and_a_tiny_price_decide_as_python_does() -> None:
    run = {"env": {"MAX_ORDERS_PER_MINUTE": "2", "MAX_TOTAL_EXPOSURE_PCT": "1"}, "stateful": True}
    btc = {"symbol": "BTCUSDT", "side": "long", "price": 50000.0, "timestamp": "2026-01-01T12:00:00Z"}
    reasons = _replay(run, None, [btc | {"price": 1e-320}] + [btc | {"signal_id": i} for i in range(4)])
    assert reasons == ["numeric_overflow", None, None, "order_rate_exceeded", "order_rate_exceeded"]


def test_epoch_numbers_decide_as_python_does() -> None:
    """CDB's signal service writes int epoch seconds: read in C, like ms and float epochs, as timeparse does."""
    now = 1767268805  # helpers.NOW
    stamps: list[object] = [now - 5, (now - 5) * 1000, now - 4.5, (now - 4.5) * 1000, -5, 0, 10**11, 10**11 + 1,
                            10**18, 10**19, -0.0, 1e300, now + 3600]  # fmt: skip
    lines = [{"symbol": "BTCUSDT", "side": "BUY", "price": 50000.0, "timestamp": ts} for ts in stamps]
    reasons = _replay({"env": {"DATA_STALE_TIMEOUT_SEC": "60"}}, None, lines)
    assert reasons[:4] == [None] * 4 and reasons[4] == "invalid_timestamp_format"
    assert reasons[-1] == "invalid_signal"  # an hour in the future
