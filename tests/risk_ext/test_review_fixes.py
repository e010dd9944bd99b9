"""Review findings on the landed risk engine: each one pinned by a test."""

from __future__ import annotations

import json

import pytest

from tests.risk.helpers import NOW, cli, signal

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
