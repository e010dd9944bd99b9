"""One output-format enum for every command: each accepts exactly its subset, JSON when not a terminal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cdbctl.cli import main
from cdbctl.commands.formats import default_format
from cdbctl.output import OutputFormat

pytestmark = pytest.mark.unit

ACCEPTED = {
    ("risk", "evaluate"): ["table", "json", "jsonl"],
    ("risk", "explain"): ["table", "json"],
    ("risk", "config"): ["table", "json"],
    ("scaffold",): ["table", "json"],
    ("verify",): ["table", "json"],
    ("ci-harden",): ["table", "text", "github", "json", "sarif"],
}


@pytest.mark.parametrize(("command", "accepted"), list(ACCEPTED.items()), ids=" ".join)
def test_each_command_accepts_exactly_its_formats(
    capsys: pytest.CaptureFixture[str], command: tuple[str, ...], accepted: list[str]
) -> None:
    assert main([*command, "--format", "xml"]) == 2
    err = capsys.readouterr().err
    found = re.search(r"'xml' is not one of (.*)\.\n", err)
    assert found, err
    assert found.group(1) == ", ".join(f"'{name}'" for name in accepted)
    assert set(accepted) <= {f.value for f in OutputFormat}
    assert f"hint: see 'cdbctl {' '.join(command)} --help'" in err  # --format typed: no -f/-c hint


@pytest.mark.parametrize("command", list(ACCEPTED), ids=" ".join)
def test_help_shows_the_accepted_formats(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main([*command, "--help"]) == 0
    assert "|".join(ACCEPTED[command]) in capsys.readouterr().out


def test_ci_harden_takes_any_case_the_others_their_exact_values(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """ci-harden has always taken SARIF and GitHub as written in their own docs; the rest lower case."""
    assert main(["ci-harden", "--repo", str(tmp_path), "--check", "--format", "SARIF"]) == 0
    assert '"version": "2.1.0"' in capsys.readouterr().out
    assert main(["risk", "config", "--format", "JSON"]) == 2
    assert "'JSON' is not one of 'table', 'json'." in capsys.readouterr().err


def test_default_is_json_for_a_pipe_and_table_for_text_data(capsys: pytest.CaptureFixture[str]) -> None:
    # capsys: stdout is not a terminal
    assert default_format() is OutputFormat.json
    assert default_format(text_data=True) is OutputFormat.table  # a --dry-run's diff stays text
