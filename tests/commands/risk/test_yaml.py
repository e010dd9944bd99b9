"""--config and --instruments YAML read strictly: duplicate keys, YAML 1.1 numbers and deep nesting are
input errors naming the key or value and its line."""

from __future__ import annotations

import pytest

from tests.risk.helpers import cli

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("MAX_LEVERAGE: 8\nMAX_POSITION_PCT: 0.1\nMAX_LEVERAGE: 20\n",
         "config: duplicate key 'MAX_LEVERAGE' (first on line 1), {path}:3"),
        ("risk:\n  STOP_LOSS_PCT: 0.02\n  STOP_LOSS_PCT: 0.02\n",
         "config: duplicate key 'STOP_LOSS_PCT' (first on line 2), {path}:3"),
        ("MAX_LEVERAGE: 8_0\n", "config: '8_0' is not a plain decimal number, {path}:1"),
        ("MAX_LEVERAGE: 1:30\n", "config: '1:30' is not a plain decimal number, {path}:1"),
        ("MAX_LEVERAGE: 0x10\n", "config: '0x10' is not a plain decimal number, {path}:1"),
        ("STOP_LOSS_PCT: .inf\n", "config: '.inf' is not a plain decimal number, {path}:1"),
        ("a: " + "[" * 20000 + "\n", "malformed config YAML: nested too deeply, {path}"),
    ],
)  # fmt: skip
def test_yaml_config_attacks_are_input_errors(capsys, monkeypatch, tmp_path, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "risk.yaml"
    path.write_text(text)
    r = cli(capsys, monkeypatch, "risk", "config", "--config", str(path), "--format", "json")
    assert (r.code, r.out) == (2, "")
    assert r.err == "cdbctl: error: " + message.format(path=path) + "\n"


def test_yaml_merge_keys_may_override_a_merged_key(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "risk.yaml"
    path.write_text("base: &b {MAX_LEVERAGE: 3}\nrisk:\n  <<: *b\n  MAX_LEVERAGE: 4\n")
    from cdbctl.commands.risk.yaml import load_yaml

    assert load_yaml(path.read_text(), "config", str(path))["risk"] == {"MAX_LEVERAGE": 4}
