"""`cdbctl risk config`: every key's effective value and source; precedence, aliases and bad values."""

from __future__ import annotations

import json

import pytest

from tests.risk.helpers import DATA, NOW, cli, run

pytestmark = pytest.mark.unit


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


@pytest.mark.parametrize("key", ["MAX_TOTAL_EXPOSURE_PCT", "MAX_SYMBOL_EXPOSURE_PCT", "MAX_POSITION_PCT"])
def test_percentage_key_above_1_is_an_input_error_with_a_hint(capsys, monkeypatch, two, key) -> None:  # type: ignore[no-untyped-def]
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(two), "--now", NOW, "--set", f"{key}=50")
    assert r.code == 2 and r.out == ""
    assert r.err == (
        f"cdbctl: error: {key} from --set: '50' is out of range (must be <= 1)\n"
        f"hint: {key} is a fraction: 0.5 means 50 %\n"
    )


def test_every_percentage_key_is_a_fraction(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Each *_PCT key refuses 1.5 (150 %): a percentage is written as a fraction, so the hint above holds."""
    keys = [
        row["key"] for row in cli(capsys, monkeypatch, "risk", "config", "--format", "json").json()["keys"]
    ]
    pct = [k for k in keys if k.endswith("_PCT")]
    assert len(pct) >= 5
    for key in pct:
        r = cli(capsys, monkeypatch, "risk", "config", "--format", "json", "--set", f"{key}=1.5")
        assert r.code == 2 and "out of range (must be <= 1)" in r.err, key


def test_config_lists_the_account_keys_with_defaults(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, monkeypatch, "risk", "config", "--format", "json", "--set", "COOLDOWN_SEC=60")
    assert code == 0
    rows = {r["key"]: r for r in json.loads(out)["keys"]}
    assert rows["MAX_OPEN_POSITIONS"]["value"] == 10
    assert rows["MAX_ORDERS_PER_MINUTE"]["value"] == 6000
    assert rows["MAX_SYMBOL_EXPOSURE_PCT"]["value"] == 0.0
    assert (rows["COOLDOWN_SEC"]["value"], rows["COOLDOWN_SEC"]["source"]) == (60.0, "--set")


def test_bad_account_key_value(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, monkeypatch, "risk", "config", "--set", "MAX_OPEN_POSITIONS=-1")
    assert code == 2 and "MAX_OPEN_POSITIONS" in err


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
