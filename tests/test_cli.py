"""The CLI shell: version, help, usage errors and the error-to-exit-code mapping."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cdbctl import __version__
from cdbctl.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"cdbctl {__version__}"


def test_help_lists_commands_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for word in ("risk", "scaffold", "ci-harden", "verify", "Exit codes", "Examples"):
        assert word in out


def test_unknown_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    err = capsys.readouterr().err
    assert "No such command" in err
    assert "Traceback" not in err


def test_python_dash_m_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cdbctl", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"cdbctl {__version__}"


def test_broken_pipe_exits_141_without_traceback(tmp_path: Path) -> None:
    signals = tmp_path / "many.jsonl"
    line = '{"symbol": "BTC_USDT", "side": "long", "price": 50000}\n'
    signals.write_text(line * 20000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cdbctl", "risk", "evaluate", str(signals), "--format", "jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, like `| head -1`
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141
    assert b'"symbol":"BTC_USDT"' in first
    assert "Traceback" not in err


def test_ctrl_c_exits_130_with_one_line() -> None:
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "cdbctl", "risk", "evaluate", "-", "--format", "jsonl"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    proc.stdin.write(b'{"symbol": "BTC_USDT", "side": "long", "price": 50000}\n')
    proc.stdin.flush()
    assert proc.stdout is not None
    proc.stdout.readline()  # the first decision: the command is running and waiting for more input
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    proc.stdin.close()
    assert proc.returncode == 130
    assert err.decode().strip().endswith("cdbctl: interrupted")
    assert "Traceback" not in err.decode()
