"""stdout of the risk commands: a reader that goes away is 141, a full disk or closed stdout exit 3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.risk.helpers import NOW, ROOT, signal

pytestmark = pytest.mark.unit


def _run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "CDBCTL_DEBUG"} | {"PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "cdbctl", *args], cwd=ROOT, env=env, check=False, **kwargs)


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("many") / "many.jsonl"
    path.write_text("".join(json.dumps(signal(signal_id=i)) + "\n" for i in range(3000)))
    return path


@pytest.mark.parametrize("fmt", ["json", "jsonl", "table"])
def test_a_reader_that_goes_away_gives_141(many: Path, fmt: str) -> None:
    """`... --format json | head -c 10`: 141 as for SIGPIPE, never 0, 1 or 4."""
    env = {k: v for k, v in os.environ.items() if k != "CDBCTL_DEBUG"} | {"PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "cdbctl", "risk", "evaluate", str(many), "--now", NOW, "--format", fmt]
    with subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.read(10)
        proc.stdout.close()
        err = proc.stderr.read()
        code = proc.wait(timeout=120)
    assert code == 141, err
    assert b"Traceback" not in err and b"internal error" not in err


@pytest.mark.parametrize(
    "args",
    [
        ["risk", "evaluate", "FILE", "--format", "json"],
        ["risk", "evaluate", "FILE", "--format", "jsonl"],
        ["risk", "evaluate", "FILE", "--format", "table"],
        ["risk", "explain", "examples/signal.json", "--format", "json"],
        ["risk", "explain", "examples/signal.json", "--format", "table"],
        ["risk", "config", "--format", "json"],
        ["risk", "config", "--format", "table"],
    ],
)
def test_stdout_on_a_full_disk_is_exit_3_naming_the_cause(many: Path, args: list[str]) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    argv = [str(many) if a == "FILE" else a for a in args] + (["--now", NOW] if args[1] != "config" else [])
    with open("/dev/full", "wb") as full:
        proc = _run(argv, stdout=full, stderr=subprocess.PIPE)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.decode() == "cdbctl: error: cannot write to stdout: No space left on device\n"


@pytest.mark.parametrize("fmt", ["json", "jsonl", "table"])
def test_closed_stdout_is_exit_3_before_any_work(many: Path, fmt: str) -> None:
    """`cdbctl risk evaluate ... >&-`: Python starts with sys.stdout None."""
    argv = [sys.executable, "-c", "import os; os.close(1); os.execv(%r, %r)"]
    cmd = [sys.executable, "-m", "cdbctl", "risk", "evaluate", str(many), "--format", fmt, "--now", NOW]
    argv[2] = argv[2] % (sys.executable, cmd)
    env = {k: v for k, v in os.environ.items() if k != "CDBCTL_DEBUG"} | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.run(argv, cwd=ROOT, env=env, stderr=subprocess.PIPE, check=False)
    assert proc.returncode == 3
    assert proc.stderr.decode().startswith("cdbctl: error: stdout is closed\nhint: ")
