"""The shared CLI paths under attack: stdout closed by its reader, hostile text in error messages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cdbctl.cli import main

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CORPUS = ROOT / "tests" / "data" / "ciharden" / "corpus"
ESCAPES = "\x1b]0;PWNED\x07\x1b[31m"


@pytest.fixture
def workflows_repo(tmp_path: Path) -> Path:
    """A repository whose workflows ci-harden has findings in (stdout gets a report)."""
    repo = tmp_path / "repo"
    workflows = repo / ".github" / "workflows"
    workflows.mkdir(parents=True)
    for source in sorted(CORPUS.glob("*.yml"))[:3]:
        shutil.copy(source, workflows / source.name)
    return repo


COMMANDS = [
    ["risk", "evaluate", str(EXAMPLES / "signal.json"), "--format", "table"],
    ["risk", "evaluate", str(EXAMPLES / "signal.json"), "--format", "json"],
    ["risk", "evaluate", str(EXAMPLES / "signals.jsonl"), "--format", "jsonl"],
    ["risk", "explain", str(EXAMPLES / "signal.json")],
    ["risk", "config"],
    ["risk", "config", "--format", "json"],
    ["--help"],
    ["verify", "--help"],
    ["--version"],
    ["ci-harden", "--repo", "{repo}", "--check"],
    ["ci-harden", "--repo", "{repo}", "--check", "--format", "json"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_every_command_exits_141_into_a_closed_pipe(args: list[str], workflows_repo: Path) -> None:
    # Rich raises SystemExit(1) on a broken pipe: that read as "rejected" or "found something".
    read_end, write_end = os.pipe()
    os.close(read_end)
    argv = [a.replace("{repo}", str(workflows_repo)) for a in args]
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "cdbctl", *argv],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60, cwd=workflows_repo.parent,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert proc.returncode == 141, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr


DATA_COMMANDS = [
    *[c for c in COMMANDS if c[0] in ("risk", "ci-harden")],
    ["scaffold", "--repo", "{repo}", "--dry-run"],
    ["scaffold", "--repo", "{repo}", "--check", "--format", "json"],
    ["verify", "--no-docker", "-e", "gone=tcp://127.0.0.1:9", "--format", "json"],
    ["verify", "--no-docker", "-e", "gone=tcp://127.0.0.1:9", "--format", "table"],
]


@pytest.mark.parametrize("args", DATA_COMMANDS, ids=" ".join)
def test_every_command_on_a_full_or_closed_stdout_is_an_environment_error(
    args: list[str], workflows_repo: Path
) -> None:
    """stdout on /dev/full or closed (>&-): exit 3 naming the cause, never 4 or a traceback."""
    argv = [a.replace("{repo}", str(workflows_repo)) for a in args]
    cmd = [sys.executable, "-m", "cdbctl", *argv]
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            cmd, stdout=full, stderr=subprocess.PIPE, text=True, timeout=60, cwd=workflows_repo.parent
        )
    assert proc.returncode == 3, proc.stderr
    assert "No space left on device" in proc.stderr and "Traceback" not in proc.stderr
    closed = subprocess.run(
        ["bash", "-c", 'exec "$@" >&-', "bash", *cmd],
        stderr=subprocess.PIPE, text=True, timeout=60, cwd=workflows_repo.parent,
    )  # fmt: skip
    assert closed.returncode == 3, closed.stderr
    assert "stdout is closed" in closed.stderr and "Traceback" not in closed.stderr


def test_an_error_quoting_a_hostile_file_name_is_inert(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    name = tmp_path / f"x{ESCAPES}.json"
    assert main(["risk", "evaluate", str(name)]) == 2
    err = capsys.readouterr().err
    assert "cdbctl: error: cannot read input" in err
    assert "\x1b" not in err and "\x07" not in err
    assert "PWNED" in err


def test_a_usage_error_quoting_a_url_masks_its_password(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--format", "redis://:Hunter2SECRET@127.0.0.1"]) == 2
    err = capsys.readouterr().err
    assert "Hunter2SECRET" not in err
    assert "redis://:***@127.0.0.1" in err


@pytest.mark.parametrize("command", [["risk", "evaluate", "--format", "table"], ["risk", "explain"]])
def test_a_hostile_symbol_is_shown_literally_in_risk_tables(
    command: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # '[/]' was Rich markup (exit 4); the escapes reached the terminal raw.
    signal = json.loads((EXAMPLES / "signal.json").read_text())
    signal["symbol"] = f"BTC[/]{ESCAPES}\u202eUSDT"
    path = tmp_path / "signal.json"
    path.write_text(json.dumps(signal))
    code = main([*command, str(path), "--now", "2026-01-01T12:00:05Z"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "BTC[/]" in out and "PWNED" in out
    assert not any(ch in out + err for ch in "\x1b\x07\u202e")


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_risk_json_escapes_the_controls_json_leaves_raw(fmt: str, tmp_path: Path) -> None:
    signal = json.loads((EXAMPLES / "signal.json").read_text())
    signal["symbol"] = f"BTC{ESCAPES}\x9b\u202e\x7fUSDT"
    path = tmp_path / "signal.json"
    path.write_text(json.dumps(signal))
    proc = subprocess.run(
        [sys.executable, "-m", "cdbctl", "risk", "evaluate", str(path), "--format", fmt, "--now", "2026-01-01T12:00:05Z"],
        capture_output=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode()
    assert not any(ch in text for ch in "\x1b\x07\x9b\u202e\x7f")
    assert json.loads(text.splitlines()[0] if fmt == "jsonl" else text)["symbol"] == signal["symbol"]


def test_diagnostics_naming_a_hostile_file_are_inert(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Every command's stderr lines quote file names: a name is outside text too.
    bad = tmp_path / f"signals{ESCAPES}.jsonl"
    bad.write_text('{"signal_id": "s1", "symbol": "BTCUSDT", "side": "up", "price": 1, "leverage": 1}\n')
    workflows = tmp_path / "repo" / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / f"w{ESCAPES}.yml").write_text("jobs: [unclosed\n")
    runs = [  # ci-harden: a workflow it cannot check is a result (1), not an input error
        (["risk", "evaluate", str(bad), "--format", "jsonl"], 2),
        (["risk", "explain", str(bad)], 2),
        (["ci-harden", "--repo", str(tmp_path / "repo"), "--check"], 1),
    ]
    for args, expected in runs:
        code = main(args)
        err = capsys.readouterr().err
        assert code == expected, (args, err)
        assert "PWNED" in err and "\x1b" not in err and "\x07" not in err, args
