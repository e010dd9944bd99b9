"""Rules on the signal: validity and staleness, with their boundaries."""

from __future__ import annotations

import math

import msgspec
import pytest

from cdbctl.risk import Engine, load_state
from cdbctl.risk.config import env_layer, resolve
from cdbctl.risk.model import Decision, Signal
from cdbctl.risk.timeparse import to_epoch

from ..helpers import check, decide, signal

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"side": "hold"}, "side: 'hold' is not long, short, buy or sell"),
        ({"margin_mode": "portfolio"}, "margin_mode: 'portfolio' is not isolated or cross"),
        ({"market": {"bid": 101.0, "ask": 100.0}}, "market.bid: 101 is above market.ask 100 (crossed book)"),
        ({"price": "50000"}, "price: expected float, got str"),
        ({"price": 0}, "price: expected float > 0.0"),
        ({"price": None}, "price: missing required field"),
        ({"symbol": ""}, "symbol: expected str of length >= 1"),
        ({"leverage": 0}, "leverage: expected int >= 1"),
        ({"leverage": 126}, "leverage: expected int <= 125"),
        ({"leverage": 5.5}, "leverage: expected int | null, got float"),
        ({"leverage": True}, "leverage: expected int | null, got bool"),
        ({"market": {"volatility": "high"}}, "market.volatility: expected float | null, got str"),
        ({"market": {"funding_rate": math.inf}}, "market.funding_rate: must be a finite number"),
        ({"target_position_usd": math.nan}, "target_position_usd: expected float >= 0.0"),
        ({"price": math.nan}, "price: expected float > 0.0"),
        ({"price": math.inf}, "price: must be a finite number > 0"),
    ],
)
def test_validity_names_the_field(fields: dict[str, object], detail: str) -> None:
    d = decide(signal(**fields))
    assert d["approved"] is False
    assert d["reason"] == "invalid_signal"
    assert d["detail"] == detail
    assert d["position_size"] == 0.0
    assert check(d, "validity")["passed"] is False
    assert all(not c["passed"] and c["detail"].startswith("skipped") for c in d["checks"][1:])


@pytest.mark.parametrize(
    ("raw", "side"), [("LONG", "long"), ("Buy", "long"), ("sell", "short"), ("SHORT", "short")]
)
def test_side_any_case(raw: str, side: str) -> None:
    d = decide(signal(side=raw))
    assert d["side"] == side and d["approved"] is True


@pytest.mark.parametrize(
    ("ts", "reason", "age"),
    [
        ("2026-01-01T11:59:05Z", None, 60.0),  # exactly the timeout passes
        ("2026-01-01T11:59:04Z", "stale_data", 61.0),
        ("2026-01-01T12:59:04+01:00", "stale_data", 61.0),  # offsets are honoured
        ("2026-01-01T12:00:10Z", None, -5.0),  # 5 s in the future is tolerated
        ("2026-01-01T12:00:11Z", "invalid_signal", -6.0),
        (1767268800, None, 5.0),  # epoch seconds of 2026-01-01T12:00:00Z
        (1767268800000, None, 5.0),  # epoch milliseconds
        (1767268800.5, None, 4.5),
    ],
)
def test_staleness(ts: object, reason: str | None, age: float) -> None:
    d = decide(signal(timestamp=ts))
    assert d["reason"] == reason
    assert check(d, "staleness")["value"] == pytest.approx(age)
    if reason == "stale_data":
        assert d["detail"] == "age=61s > 60s"
    if reason == "invalid_signal":
        assert d["detail"].startswith("timestamp: 6s in the future")


@pytest.mark.parametrize("ts", ["yesterday", "2026-01-01T12:00:00", "", "2026-13-01T00:00:00Z"])
def test_unparseable_timestamp(ts: str) -> None:
    d = decide(signal(timestamp=ts))
    assert d["reason"] == "invalid_timestamp_format"
    assert "timestamp" in d["detail"]


def test_missing_timestamp_passes_unless_required() -> None:
    assert decide(signal(timestamp=None))["approved"] is True
    d = decide(signal(timestamp=None), env={"REQUIRE_TIMESTAMP": "true"})
    assert d["reason"] == "invalid_signal"
    assert d["detail"] == "timestamp: missing (REQUIRE_TIMESTAMP is true)"


@pytest.mark.parametrize(
    ("side", "stop", "detail"),
    [
        ("long", 50000.0, "stop_price: 50000 is not below the entry price 50000 for a long"),
        ("long", 51000.0, "stop_price: 51000 is not below the entry price 50000 for a long"),
        ("short", 49000.0, "stop_price: 49000 is not above the entry price 50000 for a short"),
    ],
)
def test_stop_on_the_wrong_side_of_the_entry_is_invalid(side: str, stop: float, detail: str) -> None:
    """A long's stop above its entry (a short's below) fires at once or never protects: not approvable."""
    d = decide(signal(side=side, stop_price=stop))
    assert (d["approved"], d["reason"], d["detail"]) == (False, "invalid_signal", detail)
    assert decide(signal(side=side, stop_price=49500.0 if side == "long" else 50500.0))["approved"] is True


# --- the signal clock (`--now signal`): each signal judged at its own timestamp ----------------------


def _signal_clock(raw: dict[str, object], **state: object) -> tuple[Decision, Decision]:
    """(fast, traced) decisions of engines on the signal clock; the two agree on every field."""
    cfg = resolve([env_layer({"COOLDOWN_SEC": "3600"})]).config
    fast, traced = (Engine(cfg, load_state(state or None), signal_clock=True, trace=t) for t in (False, True))
    sig = msgspec.json.decode(msgspec.json.encode(raw), type=Signal)
    d_fast, d_traced = fast.decide(sig), traced.decide(sig)
    assert msgspec.structs.replace(d_traced, checks=msgspec.UNSET) == d_fast
    return d_fast, d_traced


def test_signal_clock_judges_an_old_signal_when_it_was_emitted() -> None:
    fast, traced = _signal_clock(signal(timestamp="2020-01-01T00:00:00Z"))
    assert fast.approved is True  # six years old, but judged at its own time: age 0
    assert traced.checks is not msgspec.UNSET
    assert next(c for c in traced.checks if c.name == "staleness").value == 0.0


def test_signal_clock_refuses_a_timestamp_from_the_future() -> None:
    fast, _ = _signal_clock(signal(timestamp="2099-01-01T00:00:00Z"))  # ahead of the wall clock
    assert fast.reason == "invalid_signal"
    assert fast.detail is not None and fast.detail.startswith("timestamp: ")
    assert fast.detail.endswith("s in the future (max skew 5s)")


def test_signal_clock_needs_a_timestamp() -> None:
    fast, _ = _signal_clock(signal(timestamp=None))
    assert fast.reason == "invalid_signal"
    assert fast.detail == "timestamp: missing (--now signal judges each signal at its own timestamp)"


@pytest.mark.parametrize(
    ("ts", "reason"),
    [
        ("2026-01-01T11:59:59Z", None),  # before the stop-loss closed: nothing to cool down from
        ("2026-01-01T12:30:00Z", "cooldown_active"),  # 30 minutes into the hour's cooldown
        ("2026-01-01T13:00:00Z", None),  # the cooldown ended exactly
    ],
)
def test_signal_clock_judges_cooldowns_at_each_signals_time(ts: str, reason: str | None) -> None:
    trades = [
        {"symbol": "BTC_USDT", "closed_at": "2026-01-01T12:00:00Z", "pnl": -10.0, "exit_reason": "stop_loss"}
    ]
    fast, _ = _signal_clock(signal(timestamp=ts), recent_trades=trades)
    assert fast.reason == reason


@pytest.mark.parametrize(
    ("ts", "reason"),
    [(None, "invalid_signal"), ("yesterday noon", "invalid_timestamp_format")],
)
def test_signal_clock_skips_the_checks_of_a_signal_without_a_time(
    ts: str | None, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under `--now signal` a signal without a usable timestamp has no time to judge the later checks
    at: they are skipped (as for any invalid signal), never judged at the wall clock. The wall clock is
    set inside and then outside a stop-loss's cooldown: the decisions must not change."""
    trades = [
        {"symbol": "BTC_USDT", "closed_at": "2026-01-01T12:00:00Z", "pnl": -10.0, "exit_reason": "stop_loss"}
    ]
    seen = []
    for wall in ("2026-01-01T12:30:00Z", "2026-06-01T00:00:00Z"):
        epoch = to_epoch(wall)
        monkeypatch.setattr("time.time", lambda epoch=epoch: epoch)
        fast, traced = _signal_clock(signal(timestamp=ts), recent_trades=trades)
        seen.append(traced)
        assert fast.reason == reason
        assert traced.checks is not msgspec.UNSET
        names = [c.name for c in traced.checks]
        assert names[:2] == ["validity", "staleness"] and "cooldown" in names
        validity, staleness, *rest = traced.checks
        assert validity.passed is True
        assert (staleness.passed, staleness.reason, staleness.detail) == (False, reason, fast.detail)
        assert all(not c.passed and c.value is None and c.detail.startswith("skipped: ") for c in rest)
    assert seen[0] == seen[1]
