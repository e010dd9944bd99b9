"""Output as a person sees it: each command run in a pseudo-terminal of 80 and 120 columns."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
NOW = "2026-01-01T12:00:05Z"


def on_terminal(args: list[str], columns: int, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run cdbctl with stdout and stderr on a pty of the given width; the screen's text and exit code."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "xterm-256color", "HOME": str(ROOT)}
    base["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cdbctl", *args],
        stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, cwd=ROOT, env=base | (env or {}),
    )  # fmt: skip
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    code = proc.wait(timeout=60)
    return code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def visible(screen: str) -> list[str]:
    return ANSI.sub("", screen).splitlines()


@pytest.mark.parametrize("columns", [80, 120])
def test_risk_evaluate_fits_and_keeps_ids(columns: int) -> None:
    code, screen = on_terminal(
        ["risk", "evaluate", "examples/signals.jsonl", "--state", "examples/state.json", "--now", NOW],
        columns,
    )
    lines = visible(screen)
    assert code == 1
    assert all(len(line) <= columns for line in lines), lines
    assert "…" not in screen
    for sid in ("s1", "s2", "s3", "s4", "s5"):
        assert any(line.startswith(sid + " ") for line in lines)
    assert "checks:" not in screen  # five signals: no per-check tables
    assert lines[-1] == "5 signal(s): 2 approved, 3 rejected (0 invalid)"


@pytest.mark.parametrize("columns", [80, 120])
def test_help_fits(columns: int) -> None:
    for args in (["--help"], ["risk", "evaluate", "--help"], ["scaffold", "--help"], ["verify", "--help"]):
        code, screen = on_terminal(args, columns)
        assert code == 0
        assert all(len(line) <= columns for line in visible(screen)), args


COLOUR = re.compile(r"\x1b\[(?:[0-9]*;)*(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9]*)*m")


def test_no_color_means_no_colour() -> None:
    args = ["risk", "evaluate", "examples/signals.jsonl", "--now", NOW, "--trace"]
    _, plain = on_terminal(args, 100, {"NO_COLOR": "1"})
    assert "checks: s1" in plain
    assert not COLOUR.search(plain)


def test_json_when_stdout_is_not_a_terminal() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cdbctl", "risk", "evaluate", "examples/signal.json", "--now", NOW],
        capture_output=True, text=True, cwd=ROOT, check=False,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.returncode == 0
    assert proc.stdout.lstrip().startswith("{") and '"signal_id": "sig-001"' in proc.stdout


@pytest.mark.parametrize("columns", [80, 120])
def test_verify_one_row_per_service_fits(columns: int) -> None:
    import socket

    with socket.socket() as s:  # a free port nobody listens on: "connection refused"
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, screen = on_terminal(
        ["verify", "--no-docker", "-e", f"cdb_risk=http://127.0.0.1:{port}/health",
         "-e", f"cdb_redis=redis://:s3cret@127.0.0.1:{port}/0"],
        columns,
    )  # fmt: skip
    lines = visible(screen)
    assert code == 1
    assert all(len(line) <= columns for line in lines), lines
    assert lines[0].split()[:2] == ["SERVICE", "STATUS"]
    rows = [line for line in lines if line.startswith(("cdb_risk ", "cdb_redis "))]
    assert len(rows) == 2 and f"http://127.0.0.1:{port}/health" in rows[0]
    assert "s3cret" not in screen


def test_ci_harden_prints_one_line_per_finding() -> None:
    code, screen = on_terminal(["ci-harden", "--repo", "tests/data/e2e/repo", "--check"], 80)
    lines = [line for line in visible(screen) if line.startswith(".github/")]
    assert code == 1 and lines
    assert all(re.match(r"^\.github/workflows/ci\.yaml:\d+:\d+: [a-z-]+ .+ \[[a-z-]+\]", ln) for ln in lines)


@pytest.mark.parametrize("columns", [80, 120])
def test_scaffold_table_fits(columns: int, tmp_path: Path) -> None:
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "tests" / "data" / "e2e" / "repo", repo)
    code, screen = on_terminal(["scaffold", "--repo", str(repo), "--check"], columns)
    lines = visible(screen)
    assert code == 1
    assert lines[0].split() == ["STATUS", "FILE", "DETAIL"]
    assert all(len(line) <= columns for line in lines), lines


@pytest.mark.parametrize(
    "args",
    [
        ["risk", "config"],
        ["risk", "explain", "examples/signal.json", "--now", NOW],
        ["risk", "evaluate", "examples/signal.json", "--now", NOW],
        ["scaffold", "--repo", "tests/data/e2e/repo", "--check"],
        ["ci-harden", "--repo", "tests/data/e2e/repo", "--check"],
        ["verify", "--no-docker", "-e", "x=tcp://127.0.0.1:9"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_every_command_gives_json_when_stdout_is_not_a_terminal(args: list[str]) -> None:
    import json

    proc = subprocess.run(
        [sys.executable, "-m", "cdbctl", *args], capture_output=True, text=True, cwd=ROOT, check=False,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "HOME": str(ROOT)},
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    json.loads(proc.stdout)
