"""`cdbctl risk evaluate` / `cdbctl risk config`: every option and exit code, stdout and stderr apart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from .helpers import DATA, NOW, ROOT, cli, signal

pytestmark = pytest.mark.unit


def write_jsonl(path: Path, *records: dict[str, object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture
def two(tmp_path: Path) -> Path:
    """Two approvable signals of 10000 USDT each."""
    return write_jsonl(tmp_path / "two.jsonl", signal(signal_id="a"), signal(signal_id="b", side="short"))


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
    assert r.err.startswith("cdbctl: error: now: 'noon' is not an ISO-8601 time")


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
    assert r.err == "cdbctl: error: --format 'xml': expected table, json or jsonl\n"
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--set", "MAX_LEVERAGE")
    assert r.code == 2
    assert r.err.startswith("cdbctl: error: --set 'MAX_LEVERAGE': expected KEY=VALUE\nhint: ")
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--bogus")
    assert r.code == 2 and "No such option" in r.err and "Traceback" not in r.err
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--set", "MAX_LEVERAGE=0")
    assert r.code == 2
    assert r.err == "cdbctl: error: MAX_LEVERAGE from --set: '0' is out of range (must be >= 1)\n"


def test_help(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = cli(capsys, monkeypatch, "risk", "--help")
    assert r.code == 0 and "evaluate" in r.out and "config" in r.out
    r = cli(capsys, monkeypatch, "risk", "evaluate", "--help")
    for opt in (
        "--state",
        "--market",
        "--config",
        "--set",
        "--now",
        "--format",
        "--trace",
        "--stateful",
        "Exit codes",
    ):
        assert opt in r.out


def test_risk_config_sources(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MAX_POSITION_PCT", "0.2")
    monkeypatch.setenv("MAX_EXPOSURE_PCT", "0.4")
    args = [
        "risk",
        "config",
        "--format",
        "json",
        "--config",
        str(DATA / "risk.yaml"),
        "--set",
        "MAX_LEVERAGE=3",
    ]
    r = cli(capsys, monkeypatch, *args)
    assert r.code == 0 and r.err == ""
    body = r.json()
    assert body["schema_version"] == 1
    rows = {row["key"]: row for row in body["keys"]}
    assert rows["MAX_LEVERAGE"]["value"] == 3 and rows["MAX_LEVERAGE"]["source"] == "--set"
    assert rows["MAX_POSITION_PCT"]["value"] == 0.2
    assert rows["MAX_POSITION_PCT"]["source"] == "environment variable MAX_POSITION_PCT"
    assert rows["MAX_DAILY_DRAWDOWN_PCT"]["value"] == 0.03
    assert rows["MAX_DAILY_DRAWDOWN_PCT"]["source"] == f"config file {DATA / 'risk.yaml'}"
    assert rows["MAX_TOTAL_EXPOSURE_PCT"]["source"] == "environment variable MAX_EXPOSURE_PCT"
    assert rows["ACCOUNT_EQUITY"] == {"key": "ACCOUNT_EQUITY", "value": 100000.0, "source": "default",
                                      "default": 100000.0, "aliases": [], "help": rows["ACCOUNT_EQUITY"]["help"]}  # fmt: skip
    monkeypatch.setenv("COLUMNS", "200")
    r = cli(capsys, monkeypatch, "risk", "config")
    assert r.code == 0 and "MAX_LEVERAGE" in r.out and "environment variable MAX_POSITION_PCT" in r.out


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


@pytest.mark.parametrize("key", ["MAX_TOTAL_EXPOSURE_PCT", "MAX_SYMBOL_EXPOSURE_PCT", "MAX_POSITION_PCT"])
def test_percentage_key_above_1_is_an_input_error_with_a_hint(capsys, monkeypatch, two, key) -> None:  # type: ignore[no-untyped-def]
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--now", NOW, "--set", f"{key}=50")
    assert r.code == 2 and r.out == ""
    assert r.err == (
        f"cdbctl: error: {key} from --set: '50' is out of range (must be <= 1)\n"
        f"hint: {key} is a fraction: 0.5 means 50 %\n"
    )


def test_every_percentage_key_is_a_fraction() -> None:
    from cdbctl.risk.config import KEYS

    for spec in KEYS:
        if spec.name.endswith("_PCT"):
            assert spec.high is not None and spec.high <= 1, spec.name
