"""Inputs of `risk evaluate` and `risk explain`: stdin, config spellings, state/market/instrument errors."""

from __future__ import annotations

import json

import pytest

from .helpers import NOW, cli, signal

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("command", ["evaluate", "explain"])
def test_stdin_dash_twice_is_a_usage_error(capsys, monkeypatch, tmp_path, command) -> None:  # type: ignore[no-untyped-def]
    """Stdin can be read once: a second '-' would silently read nothing, so it is refused up front."""
    one = tmp_path / "one.json"
    one.write_text(json.dumps(signal()))
    stdin = (json.dumps(signal(signal_id="in")) + "\n").encode()
    r = cli(capsys, monkeypatch, "risk", command, "-", str(one), "-", "--now", NOW, stdin=stdin)
    assert r.code == 2 and r.out == ""
    assert len(r.err.splitlines()) == 1
    assert "'-' (stdin) given 2 times" in r.err


def _config_run(capsys, monkeypatch, *args: str):  # type: ignore[no-untyped-def]
    for name in ("MAX_DAILY_DRAWDOWN_PCT", "MAX_DRAWDOWN_PCT", "MAX_LEVERAGE"):
        monkeypatch.delenv(name, raising=False)
    return cli(capsys, monkeypatch, "risk", "config", "--format", "json", *args)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("risk.yaml", "MAX_DAILY_DRAWDOWN_PCT: 0.04\nMAX_DRAWDOWN_PCT: 0.02\n"),
        ("risk.yaml", "MAX_DRAWDOWN_PCT: 0.02\nMAX_DAILY_DRAWDOWN_PCT: 0.04\n"),
        ("risk.toml", "MAX_DAILY_DRAWDOWN_PCT = 0.04\nMAX_DRAWDOWN_PCT = 0.02\n"),
    ],
)
def test_key_and_alias_with_different_values_in_one_config_file(  # type: ignore[no-untyped-def]
    capsys, monkeypatch, tmp_path, name, text
) -> None:
    path = tmp_path / name
    path.write_text(text)
    r = _config_run(capsys, monkeypatch, "--config", str(path))
    assert r.code == 2 and r.out == ""
    first = r.err.splitlines()[0]
    assert "MAX_DAILY_DRAWDOWN_PCT" in first and "MAX_DRAWDOWN_PCT" in first
    assert f"config file {path}" in first and "0.04" in first and "0.02" in first


def test_key_and_alias_with_different_values_via_set(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sets = ["--set", "MAX_EXPOSURE_PCT=0.3", "--set", "MAX_TOTAL_EXPOSURE_PCT=0.4"]
    r = _config_run(capsys, monkeypatch, *sets)
    assert r.code == 2 and r.out == ""
    first = r.err.splitlines()[0]
    assert "MAX_TOTAL_EXPOSURE_PCT" in first and "MAX_EXPOSURE_PCT" in first and "--set" in first


def test_two_spellings_of_one_key_in_one_file_conflict(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "risk.yaml"
    path.write_text("max_leverage: 5\nMAX_LEVERAGE: 8\n")
    r = _config_run(capsys, monkeypatch, "--config", str(path))
    assert r.code == 2 and "max_leverage" in r.err and "MAX_LEVERAGE" in r.err


def test_key_and_alias_with_the_same_value_are_accepted(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "risk.yaml"
    path.write_text("MAX_DAILY_DRAWDOWN_PCT: 0.04\nMAX_DRAWDOWN_PCT: '0.040'\n")
    r = _config_run(capsys, monkeypatch, "--config", str(path))
    assert r.code == 0, r.err
    row = next(x for x in r.json()["keys"] if x["key"] == "MAX_DAILY_DRAWDOWN_PCT")
    assert row["value"] == 0.04 and row["source"] == f"config file {path}"
    r = _config_run(
        capsys, monkeypatch, "--set", "MAX_DRAWDOWN_PCT=0.03", "--set", "MAX_DAILY_DRAWDOWN_PCT=0.03"
    )
    assert r.code == 0, r.err


def test_key_and_alias_across_sources_follow_precedence(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "risk.yaml"
    path.write_text("MAX_DAILY_DRAWDOWN_PCT: 0.04\n")
    r = _config_run(capsys, monkeypatch, "--config", str(path), "--set", "MAX_DRAWDOWN_PCT=0.02")
    assert r.code == 0, r.err
    row = next(x for x in r.json()["keys"] if x["key"] == "MAX_DAILY_DRAWDOWN_PCT")
    assert row["value"] == 0.02 and row["source"] == "--set"


@pytest.mark.parametrize(
    ("option", "content", "message"),
    [
        ("--state", '{"equity": 1e999}', "cdbctl: error: state: equity: number out of range"),
        ("--state", '{"equity": 1000,\n "daily_pnl": -1e400}', "state: daily_pnl: number out of range"),
        (
            "--state",
            '{"positions": [{"symbol": "BTCUSDT", "side": "long", "size": 1e999}]}',
            "state: positions[0].size: number out of range",
        ),
        ("--market", '{"volatility": -1e999}', "cdbctl: error: market: volatility: number out of range"),
        (
            "--instruments",
            '{"instruments": {"BTCUSDT": {"tick_size": 1e999}}}',
            "instruments: instruments.BTCUSDT.tick_size: number out of range",
        ),
        ("--state", '{"equity": 1000,\n"daily_pnl": 5}\nx', "malformed state JSON: trailing characters"),
        ("--market", '{"volatility":\n', "malformed market JSON: input data was truncated"),
        ("--instruments", '{"BTC_USDT": ', "malformed instruments JSON: input data was truncated"),
    ],
)
def test_state_market_instruments_decode_errors_name_the_field(  # type: ignore[no-untyped-def]
    capsys, monkeypatch, tmp_path, *, option, content, message
) -> None:
    sig = tmp_path / "s.json"
    sig.write_text(json.dumps(signal()))
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(sig), "--now", NOW, option, str(bad))
    assert r.code == 2 and r.out == ""
    assert len(r.err.splitlines()) == 1, r.err
    assert message in r.err and str(bad) in r.err
    assert "$[" not in r.err and "`" not in r.err and "(byte" not in r.err


@pytest.mark.parametrize(
    ("content", "line"),
    [('{"equity": 1000,\n"daily_pnl": 5}\nx', 3), ('{"equity": 1000,\n "daily_pnl": 5,\n', 2)],
)
def test_malformed_state_names_the_line(capsys, monkeypatch, tmp_path, content, line) -> None:  # type: ignore[no-untyped-def]
    sig = tmp_path / "s.json"
    sig.write_text(json.dumps(signal()))
    bad = tmp_path / "state.json"
    bad.write_text(content)
    r = cli(capsys, monkeypatch, "risk", "explain", str(sig), "--now", NOW, "--state", str(bad))
    assert r.code == 2 and r.err.rstrip().endswith(f", {bad}:{line}")
