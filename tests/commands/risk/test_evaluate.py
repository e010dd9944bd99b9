"""`cdbctl risk evaluate`: formats, options, exit codes and streaming, stdout and stderr apart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.risk.helpers import DATA, EXAMPLES, NOW, ROOT, SIGNAL, cli, run, signal, write_jsonl

pytestmark = pytest.mark.unit


def test_exit_0_all_approved_default_format_json_array(capsys, monkeypatch, two) -> None:  # type: ignore[no-untyped-def]
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--now", NOW)
    assert r.code == 0 and r.err == ""
    out = r.json()  # not a terminal: json; two signals: an array
    assert [d["signal_id"] for d in out] == ["a", "b"]
    assert all(d["approved"] and len(d["checks"]) == 12 for d in out)


def test_exit_1_on_a_rejection_and_json_object_for_one_signal(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    one = write_jsonl(tmp_path / "one.jsonl", signal(leverage=20))
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(one), "--now", NOW, "--format", "json")
    assert r.code == 1 and r.err == ""
    out = r.json()
    assert isinstance(out, dict)
    assert out["reason"] == "leverage_exceeds_max" and out["checks"][6]["passed"] is False


def test_jsonl_compact_and_trace(capsys, monkeypatch, two) -> None:  # type: ignore[no-untyped-def]
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--now", NOW, "--format", "jsonl")
    assert r.code == 0
    rows = r.jsonl()
    assert len(rows) == 2 and all("checks" not in d for d in rows)
    assert len(r.out.splitlines()) == 2
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--now", NOW, "--format", "jsonl", "--trace")
    assert [c["name"] for c in r.jsonl()[0]["checks"]][:2] == ["validity", "staleness"]


def test_table_format(capsys, monkeypatch, two) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COLUMNS", "200")
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--now", NOW, "--format", "table")
    assert r.code == 0
    assert "decision" in r.out and "BTCUSDT" in r.out and "approved" in r.out
    assert "checks:" not in r.out  # several signals: one row each, no per-check tables
    assert r.err == "2 signal(s): 2 approved, 0 rejected (0 invalid)\n"
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--now", NOW, "--format", "table", "--trace")
    assert r.out.count("checks:") == 2 and "liquidation" in r.out


def test_now_changes_staleness(capsys, monkeypatch, two) -> None:  # type: ignore[no-untyped-def]
    r = cli(
        capsys,
        monkeypatch,
        "risk",
        "evaluate",
        str(two),
        "--now",
        "2026-01-01T12:05:00Z",
        "--format",
        "jsonl",
    )
    assert r.code == 1
    assert {d["reason"] for d in r.jsonl()} == {"stale_data"}
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--now", "noon")
    assert r.code == 2 and r.out == ""
    assert r.err.startswith("cdbctl: error: --now 'noon' is not an ISO-8601 time")


def test_state_market_config_and_set(capsys, monkeypatch, two) -> None:  # type: ignore[no-untyped-def]
    args = ["risk", "evaluate", str(two), "--now", NOW, "--format", "jsonl"]
    r = cli(capsys, monkeypatch, *args, "--state", str(DATA / "state.json"))
    # equity 50000: cap 5000 USDT; exposure 0.35 + 0.1 = 0.45
    assert [d["position_size_usd"] for d in r.jsonl()] == [5000.0, 5000.0]
    r = cli(capsys, monkeypatch, *args, "--market", str(DATA / "market.json"))
    assert {d["regime"] for d in r.jsonl()} == {"stressed"}
    r = cli(capsys, monkeypatch, *args, "--config", str(DATA / "risk.yaml"))
    assert {d["position_size_usd"] for d in r.jsonl()} == {5000.0}  # MAX_POSITION_PCT 0.05
    r = cli(capsys, monkeypatch, *args, "--set", "MAX_POSITION_PCT=0.02", "--set", "max_leverage=4")
    assert r.code == 1
    rows = r.jsonl()
    assert rows[0]["reason"] == "leverage_exceeds_max"  # leverage 5 > 4


def test_stateful_adds_exposure(capsys, monkeypatch, two) -> None:  # type: ignore[no-untyped-def]
    args = ["risk", "evaluate", str(two), "--now", NOW, "--format", "jsonl", "--state", str(DATA / "state.json"),
            "--set", "MAX_POSITION_PCT=0.10"]  # fmt: skip
    r = cli(capsys, monkeypatch, *args)  # each alone: 0.35 + 0.10 = 0.45
    assert [d["approved"] for d in r.jsonl()] == [True, True]
    r = cli(capsys, monkeypatch, *args, "--stateful")  # the second sees 0.45 + 0.10
    assert r.code == 1
    assert [d["reason"] for d in r.jsonl()] == [None, "max_exposure_reached"]
    r = cli(capsys, monkeypatch, *args[:5], "--format", "json", *args[7:], "--stateful", "--trace")
    assert r.json()[1]["checks"][7]["value"] == pytest.approx(0.55)


def test_several_inputs_and_stdin_dash(capsys, monkeypatch, two) -> None:  # type: ignore[no-untyped-def]
    stdin = (json.dumps(signal(signal_id="in")) + "\n").encode()
    r = cli(
        capsys, monkeypatch, "risk", "evaluate", str(two), "-", "--now", NOW, "--format", "jsonl", stdin=stdin
    )
    assert r.code == 0
    assert [d["signal_id"] for d in r.jsonl()] == ["a", "b", "in"]
    r = cli(capsys, monkeypatch, "risk", "evaluate", "--now", NOW, "--format", "json", stdin=stdin)
    assert r.json()["signal_id"] == "in"


def test_usage_errors(capsys, monkeypatch, two) -> None:  # type: ignore[no-untyped-def]
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--format", "xml")
    assert r.code == 2 and r.out == ""
    assert r.err == (
        "cdbctl: error: Invalid value for '--format' / '-f': 'xml' is not one of 'table', 'json', 'jsonl'.\n"
        "hint: see 'cdbctl risk evaluate --help'\n"
    )
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--set", "MAX_LEVERAGE")
    assert r.code == 2
    assert r.err.startswith("cdbctl: error: --set 'MAX_LEVERAGE': expected KEY=VALUE\nhint: ")
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--bogus")
    assert r.code == 2 and "No such option" in r.err and "Traceback" not in r.err
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--set", "MAX_LEVERAGE=0")
    assert r.code == 2
    assert r.err == "cdbctl: error: MAX_LEVERAGE from --set: '0' is out of range (must be >= 1)\n"


def test_readme_quick_start_runs_exactly() -> None:
    cmd = [sys.executable, "-m", "cdbctl", "risk", "evaluate", "examples/signals.jsonl", "--state",
           "examples/state.json", "--now", "2026-01-01T12:00:05Z"]  # fmt: skip
    readme = (ROOT / "README.md").read_text()
    assert (
        "cdbctl risk evaluate examples/signals.jsonl --state examples/state.json --now 2026-01-01T12:00:05Z"
        in readme
    )
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stderr  # the bundled examples include rejections
    assert proc.stderr == ""
    out = json.loads(proc.stdout)
    assert [d["approved"] for d in out] == [True, True, False, False, False]
    assert [d["reason"] for d in out[2:]] == [
        "liquidation_risk_too_high",
        "stale_data",
        "market_regime_panic",
    ]


def test_examples_single_signal_market_and_config() -> None:
    cmd = [sys.executable, "-m", "cdbctl", "risk", "evaluate", "examples/signal.json", "--market",
           "examples/market.json", "--config", "examples/risk.yaml", "--now", NOW]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["signal_id"] == "sig-001"


def test_stdin_subprocess_streams_line_by_line() -> None:
    """A decision comes back for each line while stdin is still open (no full read)."""
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        [sys.executable, "-m", "cdbctl", "risk", "evaluate", "-", "--format", "jsonl", "--now", NOW],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT,
    ) as proc:  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        got: list[dict[str, object]] = []
        try:
            for i in range(3):
                proc.stdin.write((json.dumps(signal(signal_id=f"live-{i}")) + "\n").encode())
                proc.stdin.flush()
                box: list[bytes] = []
                reader = threading.Thread(target=lambda b=box: b.append(proc.stdout.readline()))  # type: ignore[union-attr, misc]
                reader.start()
                reader.join(timeout=30)
                assert box, "no decision while stdin stays open: input is not streamed"
                got.append(json.loads(box[0]))
        finally:
            proc.stdin.close()
            proc.wait(timeout=30)
    assert [d["signal_id"] for d in got] == ["live-0", "live-1", "live-2"]
    assert proc.returncode == 0


def test_environment_value_that_changes_the_run_is_named_on_stderr(capsys, monkeypatch, two) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MAX_LEVERAGE", "8")
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--now", NOW)
    assert r.code == 0
    assert r.err == "cdbctl: note: MAX_LEVERAGE=8 from environment (MAX_LEVERAGE)\n"
    monkeypatch.setenv("MAX_LEVERAGE", "10")  # the default: nothing changes, nothing to say
    monkeypatch.setenv("MAX_EXPOSURE_PCT", "0.4")  # an alias is named as the user spelled it
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--now", NOW)
    assert r.err == "cdbctl: note: MAX_TOTAL_EXPOSURE_PCT=0.4 from environment (MAX_EXPOSURE_PCT)\n"
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--now", NOW, "--set", "MAX_EXPOSURE_PCT=0.4")
    assert r.err == ""  # --set wins over the environment: the environment changed nothing


@pytest.mark.parametrize("name", ["instruments.yaml", "instruments.json"])
def test_evaluate_with_bundled_instruments(capsys, monkeypatch, signal_file: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, monkeypatch, "risk", "evaluate", str(signal_file), "--now", NOW, "--format",
                         "json", "--instruments", str(EXAMPLES / name))  # fmt: skip
    assert (code, err) == (0, "")
    d = json.loads(out)
    assert d["approved"] is True and d["position_size"] == 0.2
    assert [c["name"] for c in d["checks"]][8:10] == ["instrument", "risk_tier"]


def test_evaluate_jsonl_with_instruments_rejects_off_tick(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    lines = b"".join(json.dumps(SIGNAL | {"signal_id": str(i), "price": p}).encode() + b"\n"
                     for i, p in enumerate((50000.0, 50000.05)))  # fmt: skip
    code, out, _ = run(capsys, monkeypatch, "risk", "evaluate", "-", "--now", NOW, "--format", "jsonl",
                       "--instruments", str(EXAMPLES / "instruments.yaml"), stdin=lines)  # fmt: skip
    assert code == 1
    assert [json.loads(line)["reason"] for line in out.splitlines()] == [None, "price_off_tick"]


def test_off_tick_detail_shows_the_price_as_given(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    stdin = json.dumps(SIGNAL | {"price": 50000.05}).encode()
    code, out, _ = run(capsys, monkeypatch, "risk", "evaluate", "-", "--now", NOW, "--format", "json",
                       "--instruments", str(EXAMPLES / "instruments.yaml"), stdin=stdin)  # fmt: skip
    assert code == 1
    d = json.loads(out)
    assert d["reason"] == "price_off_tick"
    # `:g` printed "price 50000.1 is not a multiple of the tick 0.1": a contradiction to the reader
    assert d["detail"] == "price 50000.05 is not a multiple of the tick 0.1 (nearest 50000)"


@pytest.mark.parametrize("price", [5e-324, 1e-300, 0.04])
def test_price_below_one_tick_is_off_tick_not_an_internal_error(capsys, monkeypatch, price: float) -> None:  # type: ignore[no-untyped-def]
    """A positive price under one tick (XRP_USDT tick 0.0001... BTC_USDT 0.1) is no valid price:
    5e-324 made the quantity infinite (OverflowError, exit 4) and 1e-300 passed the tick test."""
    for fmt in ("json", "jsonl"):  # the traced and the fast evaluation
        stdin = json.dumps(SIGNAL | {"price": price}).encode()
        code, out, err = run(capsys, monkeypatch, "risk", "evaluate", "-", "--now", NOW, "--format", fmt,
                             "--instruments", str(EXAMPLES / "instruments.yaml"), stdin=stdin)  # fmt: skip
        assert (code, err) == (1, "")
        d = json.loads(out)
        assert (d["approved"], d["reason"]) == (False, "price_off_tick")
        assert d["detail"].endswith("is not a multiple of the tick 0.1 (nearest 0)")


def test_now_signal_replays_a_day_as_it_ran(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`--now signal` judges each signal at its own timestamp: a stop-loss at 12:00 cools its symbol down
    for the signals of the next hour only; with one evaluation time for the day, it counts for none."""
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"recent_trades": [
        {"symbol": "BTC_USDT", "closed_at": "2026-01-01T12:00:00Z", "pnl": -10.0, "exit_reason": "stop_loss"},
    ]}))  # fmt: skip
    day = write_jsonl(
        tmp_path / "day.jsonl",
        *(signal(signal_id=t, timestamp=f"2026-01-01T{t}Z") for t in ("09:00:00", "12:30:00", "18:00:00")),
    )
    args = (
        "risk",
        "evaluate",
        str(day),
        "--state",
        str(state),
        "--format",
        "jsonl",
        "--set",
        "COOLDOWN_SEC=3600",
    )
    r = cli(capsys, monkeypatch, *args, "--now", "signal")
    assert r.code == 1 and r.err == ""
    assert [d["reason"] for d in r.jsonl()] == [None, "cooldown_active", None]
    r = cli(
        capsys, monkeypatch, *args, "--now", "2026-01-01T23:59:59Z", "--set", "DATA_STALE_TIMEOUT_SEC=86400"
    )
    assert [d["reason"] for d in r.jsonl()] == [None, None, None]  # judged at the day's end: the lock ended


def test_now_signal_rejects_a_signal_without_timestamp(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = write_jsonl(tmp_path / "s.jsonl", signal(), signal(timestamp=None))
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(src), "--now", "Signal", "--format", "jsonl")
    assert r.code == 2  # an invalid record
    assert r.jsonl()[0]["approved"] is True
    assert r.err == f"{src}:2: timestamp: missing (--now signal judges each signal at its own timestamp)\n"


def test_now_signal_trace_skips_the_checks_of_a_signal_without_a_time(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Its later checks have no time to be judged at: skipped, never judged at the wall clock (a
    stop-loss cooldown at the wall clock would make the trace depend on when the replay ran)."""
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"recent_trades": [
        {"symbol": "BTC_USDT", "closed_at": "2026-01-01T12:00:00Z", "pnl": -10.0, "exit_reason": "stop_loss"},
    ]}))  # fmt: skip
    src = write_jsonl(tmp_path / "s.jsonl", signal(timestamp=None), signal(timestamp="noon"))
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(src), "--state", str(state), "--now", "signal",
            "--trace", "--format", "jsonl")  # fmt: skip
    assert r.code == 2  # the first is an invalid record
    missing, garbled = r.jsonl()
    assert (missing["reason"], garbled["reason"]) == ("invalid_signal", "invalid_timestamp_format")
    for d, skipped in (
        (missing, "skipped: the signal is invalid"),
        (garbled, "skipped: invalid_timestamp_format"),
    ):
        validity, staleness, *rest = d["checks"]
        assert (validity["passed"], staleness["passed"], staleness["reason"]) == (True, False, d["reason"])
        assert "cooldown" in [c["name"] for c in rest]
        assert all((c["passed"], c["value"], c["detail"]) == (False, None, skipped) for c in rest)


def test_bad_now_names_the_accepted_forms(capsys, monkeypatch, two) -> None:  # type: ignore[no-untyped-def]
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--now", "tomorrow")
    assert r.code == 2 and r.out == ""
    assert r.err == (
        "cdbctl: error: --now 'tomorrow' is not an ISO-8601 time with Z or offset, epoch seconds, nor 'signal'\n"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--jobs", "-1"], "--jobs: -1 is negative (0 means one process per CPU)"),
        (["--jobs", "100000", "--format", "jsonl"],
         f"--jobs: 100000 is more than {max(4 * len(os.sched_getaffinity(0)), 8)} "
         f"(4 per usable CPU, {len(os.sched_getaffinity(0))} here)"),
        (["--jobs", "2", "--format", "json"], "--jobs needs --format jsonl (got json)"),
        (["-j", "0", "--format", "table"], "--jobs needs --format jsonl (got table)"),
        (["--jobs", "2", "--format", "jsonl", "--stateful"],
         "--jobs: a --stateful replay runs in one process (each approval changes the next signal's state)"),
    ],
)  # fmt: skip
def test_jobs_refuses_what_cannot_be_split(capsys, monkeypatch, two, extra, message) -> None:  # type: ignore[no-untyped-def]
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--now", NOW, *extra)
    assert (r.code, r.out) == (2, "")
    assert r.err == f"cdbctl: error: {message}\n"


def test_a_cdb_risk_service_state_file_is_read_as_cdb_means_it(capsys, monkeypatch, tmp_path, two) -> None:  # type: ignore[no-untyped-def]
    # `curl cdb_risk:8002/status | jq .risk_state > state.json`: a tripped breaker used to be ignored
    cdb = {"circuit_breaker": True, "daily_pnl": -600.0, "last_prices": {}, "open_positions": 0,
           "pending_orders": 0, "positions": {}, "signals_approved": 4, "signals_blocked": 1,
           "total_exposure": 0.0}  # fmt: skip
    state = tmp_path / "state.json"
    state.write_text(json.dumps(cdb))
    r = cli(
        capsys, monkeypatch, "risk", "evaluate", str(two), "--state", str(state), "--now", NOW, "-f", "jsonl"
    )
    assert r.code == 1 and [d["reason"] for d in r.jsonl()] == ["trading_halted", "trading_halted"]
    # its exposure is USDT: without the state's equity it cannot become a fraction, so it is refused
    state.write_text(json.dumps({**cdb, "circuit_breaker": False, "total_exposure": 45000.0}))
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--state", str(state), "--now", NOW)
    assert r.code == 2 and r.out == ""
    assert r.err == (
        "cdbctl: error: state: total_exposure: 45000.0 USDT (CDB's notional) needs the state's equity to become "
        f"total_exposure_pct; add equity (the balance CDB sizes against) or give total_exposure_pct, {state}\n"
    )
    state.write_text(
        json.dumps({**cdb, "circuit_breaker": False, "total_exposure": 45000.0, "equity": 100000})
    )
    r = cli(
        capsys, monkeypatch, "risk", "evaluate", str(two), "--state", str(state), "--now", NOW, "-f", "jsonl"
    )
    assert r.code == 1 and [d["reason"] for d in r.jsonl()] == ["max_exposure_reached"] * 2
