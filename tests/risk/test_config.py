"""Configuration: defaults < file < environment < --set, aliases, and bad values naming key and source."""

from __future__ import annotations

import re

import pytest

from cdbctl.errors import ConfigError
from cdbctl.risk import KEYS, effective_config
from cdbctl.risk.config import resolve

from .helpers import DATA, cli

pytestmark = pytest.mark.unit

ISSUE_DEFAULTS = {
    "ACCOUNT_EQUITY": 100000, "MAX_POSITION_PCT": 0.10, "MAX_DAILY_DRAWDOWN_PCT": 0.05,
    "CIRCUIT_BREAKER_THRESHOLD_PCT": 0.10, "MAX_TOTAL_EXPOSURE_PCT": 0.50, "DATA_STALE_TIMEOUT_SEC": 60,
    "STOP_LOSS_PCT": 0.02, "MAX_SPREAD_BPS": 50, "MAX_SLIPPAGE_BPS": 100, "MARGIN_MODE": "isolated",
    "DEFAULT_LEVERAGE": 5, "MAX_LEVERAGE": 10, "MIN_LIQUIDATION_DISTANCE": 0.15, "MAINTENANCE_MARGIN_RATE": 0.005,
    "FUNDING_RATE": 0.0001, "FUNDING_SETTLEMENT_HOURS": 8, "MAX_DAILY_FUNDING_FEE_PCT": 0.001,
    "FUNDING_ALERT_PCT": 0.0005, "REGIME_STRESSED_VOLATILITY": 0.60, "REGIME_PANIC_VOLATILITY": 1.00,
    "REGIME_STRESSED_SIZE_MULTIPLIER": 0.5, "SIZING_METHOD": "fixed_fractional", "TAKER_FEE": 0.0006,
    "MAKER_FEE": 0.0002, "REQUIRE_TIMESTAMP": False,
}  # fmt: skip


def test_issue_defaults() -> None:
    cfg = effective_config()
    for key, value in ISSUE_DEFAULTS.items():
        assert cfg[key] == value, key
    assert list(cfg) == [k.name for k in KEYS]


def test_env_overrides_and_ignores_unknown() -> None:
    cfg = effective_config(
        {"MAX_LEVERAGE": "20", "PATH": "/bin", "SIZING_METHOD": "KELLY", "REQUIRE_TIMESTAMP": "yes"}
    )
    assert cfg["MAX_LEVERAGE"] == 20 and cfg["SIZING_METHOD"] == "kelly" and cfg["REQUIRE_TIMESTAMP"] is True


def test_aliases_and_canonical_wins_in_one_layer() -> None:
    assert effective_config({"MAX_DRAWDOWN_PCT": "0.02"})["MAX_DAILY_DRAWDOWN_PCT"] == 0.02
    assert effective_config({"MAX_EXPOSURE_PCT": "0.3"})["MAX_TOTAL_EXPOSURE_PCT"] == 0.3
    both = {"MAX_DAILY_DRAWDOWN_PCT": "0.04", "MAX_DRAWDOWN_PCT": "0.02"}
    assert effective_config(both)["MAX_DAILY_DRAWDOWN_PCT"] == 0.04
    assert effective_config(dict(reversed(both.items())))["MAX_DAILY_DRAWDOWN_PCT"] == 0.04


def test_precedence_defaults_file_env_set() -> None:
    r = resolve(
        [
            (
                "config file f.yaml",
                {"MAX_LEVERAGE": 8, "MAX_POSITION_PCT": 0.05, "STOP_LOSS_PCT": 0.03},
                True,
            ),
            ("environment", {"MAX_LEVERAGE": "9", "MAX_POSITION_PCT": "0.06"}, False),
            ("--set", {"MAX_LEVERAGE": "7"}, True),
        ]
    )
    assert r.config.MAX_LEVERAGE == 7 and r.sources["MAX_LEVERAGE"] == "--set"
    assert r.config.MAX_POSITION_PCT == 0.06
    assert r.sources["MAX_POSITION_PCT"] == "environment variable MAX_POSITION_PCT"
    assert r.config.STOP_LOSS_PCT == 0.03 and r.sources["STOP_LOSS_PCT"] == "config file f.yaml"
    assert r.config.TAKER_FEE == 0.0006 and r.sources["TAKER_FEE"] == "default"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"MAX_LEVERAGE": "ten"},
            "MAX_LEVERAGE from environment variable MAX_LEVERAGE: 'ten' is not an integer",
        ),
        (
            {"MAX_LEVERAGE": "126"},
            "MAX_LEVERAGE from environment variable MAX_LEVERAGE: '126' is out of range (must be <= 125)",
        ),
        (
            {"STOP_LOSS_PCT": "0"},
            "STOP_LOSS_PCT from environment variable STOP_LOSS_PCT: '0' is out of range (must be > 0)",
        ),
        (
            {"TAKER_FEE": "nan"},
            "TAKER_FEE from environment variable TAKER_FEE: 'nan' is not a plain decimal number",
        ),
        (
            {"MAX_SPREAD_BPS": "-1"},
            "MAX_SPREAD_BPS from environment variable MAX_SPREAD_BPS: '-1' is out of range (must be >= 0)",
        ),
        (
            {"MAX_EXPOSURE_PCT": "x"},
            "MAX_TOTAL_EXPOSURE_PCT from environment variable MAX_EXPOSURE_PCT: 'x' is not a plain decimal number",
        ),
        (
            {"MARGIN_MODE": "portfolio"},
            "MARGIN_MODE from environment variable MARGIN_MODE: 'portfolio' is not one of isolated, cross",
        ),
        (
            {"REQUIRE_TIMESTAMP": "maybe"},
            "REQUIRE_TIMESTAMP from environment variable REQUIRE_TIMESTAMP: 'maybe' is not a boolean",
        ),
        ({"REGIME_PANIC_VOLATILITY": "0.5"}, "REGIME_PANIC_VOLATILITY must be >= REGIME_STRESSED_VOLATILITY"),
    ],
)
def test_bad_values_name_key_and_source(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        effective_config(env)
    assert str(info.value).startswith(message)


def test_file_values_typed_and_checked() -> None:
    assert resolve([("config file x", {"MAX_LEVERAGE": 8.0}, True)]).config.MAX_LEVERAGE == 8
    with pytest.raises(
        ConfigError, match=re.escape("MAX_LEVERAGE from config file x: 8.5 is not an integer")
    ):
        resolve([("config file x", {"MAX_LEVERAGE": 8.5}, True)])
    with pytest.raises(ConfigError, match=re.escape("MAX_LEVERAGE from config file x: True is not a number")):
        resolve([("config file x", {"MAX_LEVERAGE": True}, True)])
    with pytest.raises(
        ConfigError, match=re.escape("unknown risk key 'MAX_LEVERGE' in config file x")
    ) as exc:
        resolve([("config file x", {"MAX_LEVERGE": 8}, True)])
    assert exc.value.hint == "did you mean MAX_LEVERAGE? (see `cdbctl risk config`)"  # a typo names its key
    with pytest.raises(ConfigError) as exc:
        resolve([("config file x", {"QUUX": 8}, True)])
    assert exc.value.hint == "see `cdbctl risk config`"


@pytest.mark.parametrize(
    ("name", "code", "needle"),
    [
        ("risk.yaml", 0, None),
        ("nested.yaml", 0, None),
        ("risk.toml", 0, None),
        ("broken.yaml", 2, "cdbctl: error: malformed config YAML: "),
        ("unknown_key.yaml", 2, "cdbctl: error: unknown risk key 'MAX_LEVERGE' in config file "),
        ("bad_value.yaml", 2, "cdbctl: error: MAX_LEVERAGE from config file "),
        ("missing.yaml", 2, "cdbctl: error: cannot read config file: "),
        ("state.json", 2, "cdbctl: error: unknown risk key 'equity' in config file "),
    ],
)
def test_config_files_through_cli(capsys, monkeypatch, name: str, code: int, needle: str | None) -> None:  # type: ignore[no-untyped-def]
    r = cli(capsys, monkeypatch, "risk", "config", "--format", "json", "--config", str(DATA / name))
    assert r.code == code, r.err
    if needle is None:
        rows = {row["key"]: row for row in r.json()["keys"]}
        expected = {"risk.yaml": 8, "nested.yaml": 7, "risk.toml": 9}[name]
        assert rows["MAX_LEVERAGE"]["value"] == expected
        assert rows["MAX_LEVERAGE"]["source"] == f"config file {DATA / name}"
        assert r.err == ""
    else:
        assert r.out == ""
        assert r.err.startswith(needle)
        assert str(DATA / name) in r.err


def test_env_beats_file_and_set_beats_env_through_cli(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MAX_LEVERAGE", "6")
    args = ["risk", "config", "--format", "json", "--config", str(DATA / "risk.yaml")]
    rows = {row["key"]: row for row in cli(capsys, monkeypatch, *args).json()["keys"]}
    assert rows["MAX_LEVERAGE"]["value"] == 6
    rows = {
        row["key"]: row for row in cli(capsys, monkeypatch, *args, "--set", "MAX_LEVERAGE=4").json()["keys"]
    }
    assert rows["MAX_LEVERAGE"]["value"] == 4
    monkeypatch.setenv("MAX_LEVERAGE", "lots")
    r = cli(capsys, monkeypatch, *args)
    assert r.code == 2
    assert (
        r.err
        == "cdbctl: error: MAX_LEVERAGE from environment variable MAX_LEVERAGE: 'lots' is not an integer\n"
    )
    monkeypatch.delenv("MAX_LEVERAGE")
    r = cli(capsys, monkeypatch, "risk", "config", "--set", "NOPE=1")
    assert r.code == 2 and r.err.startswith("cdbctl: error: unknown risk key 'NOPE' in --set")
