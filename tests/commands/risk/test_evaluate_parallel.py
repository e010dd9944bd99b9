"""`cdbctl risk evaluate --jobs`: a replay on worker processes, as the user runs it."""

from __future__ import annotations

import json
import os
import signal as signal_module
import subprocess
import sys
from pathlib import Path

import pytest

from tests.risk.helpers import NOW, ROOT, cli, signal

pytestmark = pytest.mark.integration


def _replay_file(tmp_path: Path, n: int = 3000) -> Path:
    lines = [json.dumps(signal(signal_id=i, side=["Long", "sell"][i % 2], leverage=[3, 20][i % 5 == 0]))
             for i in range(n)]  # fmt: skip
    lines[1234] = '{"symbol": "BTCUSDT", "side": "hold", "price": 1}'
    path = tmp_path / "replay.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("jobs", ["2", "0"])
def test_jobs_writes_what_one_process_writes(capsys, monkeypatch, tmp_path, jobs) -> None:  # type: ignore[no-untyped-def]
    src = _replay_file(tmp_path)
    args = ("risk", "evaluate", str(src), str(src), "--now", NOW, "--format", "jsonl", "--trace")
    one = cli(capsys, monkeypatch, *args)
    many = cli(capsys, monkeypatch, *args, "--jobs", jobs)
    assert one.code == many.code == 2  # the invalid line
    assert many.out == one.out and len(many.jsonl()) == 6000
    assert many.err == one.err == f"{src}:1235: side: 'hold' is not long, short, buy or sell\n" * 2


def test_ctrl_c_stops_a_parallel_replay_and_its_workers(tmp_path: Path) -> None:
    """SIGINT to the process group (a terminal's Ctrl-C): exit 130, no traceback, no worker left."""
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable,
        "-m",
        "cdbctl",
        "risk",
        "evaluate",
        "-",
        "--format",
        "jsonl",
        "--now",
        NOW,
        "-j",
        "2",
    ]
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          cwd=ROOT, start_new_session=True) as proc:  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        proc.stdin.write((json.dumps(signal(signal_id="first")) + "\n").encode())
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["signal_id"] == "first"  # the workers run
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert len(children) == 2
        os.killpg(proc.pid, signal_module.SIGINT)
        proc.wait(timeout=30)
        err = proc.stderr.read().decode()
    assert proc.returncode in (130, -signal_module.SIGINT), err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in children)


def _zombie(pid: str) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True
