"""`cdbctl risk evaluate --jobs`: a replay on worker processes, as the user runs it."""

from __future__ import annotations

import contextlib
import json
import os
import signal as signal_module
import subprocess
import sys
import time
from collections.abc import Iterator
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


def test_ctrl_c_stops_a_parallel_replay_and_its_workers() -> None:
    """SIGINT to the process group (a terminal's Ctrl-C): exit 130, no traceback, no worker left."""
    with _live_replay() as proc:
        assert proc.stderr is not None
        children = _decided_first(proc)
        os.killpg(proc.pid, signal_module.SIGINT)
        proc.wait(timeout=30)
        err = proc.stderr.read().decode()
    assert proc.returncode in (130, -signal_module.SIGINT), err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert _gone(children)


def _zombie(pid: str) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


def test_an_input_error_after_a_replay_writes_what_one_process_writes(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A missing second input: the first input's decisions and problems come out in full, then the error."""
    src = _replay_file(tmp_path)
    args = ("risk", "evaluate", str(src), str(tmp_path / "missing.jsonl"), "--now", NOW, "--format", "jsonl")
    one = cli(capsys, monkeypatch, *args)
    many = cli(capsys, monkeypatch, *args, "--jobs", "2")
    assert one.code == many.code == 2
    assert many.out == one.out and len(many.jsonl()) == 3000
    assert many.err == one.err and many.err.endswith("missing.jsonl\n")


@contextlib.contextmanager
def _live_replay(
    *extra: str, stdout: int = subprocess.PIPE, entry: list[str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A parallel replay of stdin (and any INPUT in extra) on two workers, in a session of its own;
    a hung one is killed with its workers on the way out, so the test fails instead of hanging."""
    cmd = [
        *(entry or [sys.executable, "-m", "cdbctl"]),
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
    proc = subprocess.Popen([*cmd, *extra], stdin=subprocess.PIPE, stdout=stdout, stderr=subprocess.PIPE,
                            env=os.environ | {"PYTHONUNBUFFERED": "1"}, cwd=ROOT, start_new_session=True)  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal_module.SIGKILL)
        proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def _decided_first(proc: subprocess.Popen[bytes]) -> list[str]:
    """Send one signal and read its decision (the workers run); their pids."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write((json.dumps(signal(signal_id="first")) + "\n").encode())
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["signal_id"] == "first"
    children = _children(proc.pid)
    assert len(children) == 2
    return children


def _children(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


def _gone(pids: list[str]) -> bool:
    """Every pid has exited (waiting up to 10 s for the kernel to deliver the parent's death)."""
    for _ in range(100):
        if all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("sig", [signal_module.SIGTERM, signal_module.SIGKILL, signal_module.SIGHUP])
def test_a_parent_killed_leaves_no_worker_behind(sig: signal_module.Signals) -> None:
    """The workers wait for blocks on pipes: a parent that dies without cleaning up must take them along."""
    with _live_replay() as proc:
        children = _decided_first(proc)
        os.kill(proc.pid, sig)  # the parent alone, as `kill PID` or a supervisor does
        assert proc.wait(timeout=30) == -sig
    try:
        assert _gone(children), f"workers left behind: {children}"
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal_module.SIGKILL)


# cdbctl as its console script runs it, with the kernel's parent-death signal off: prctl is Linux's,
# elsewhere (macOS, the BSDs) a worker must notice its parent's death by itself
_NO_DEATH_SIGNAL = """\
import sys
import cdbctl.risk.parallel
cdbctl.risk.parallel.die_with_parent = lambda parent: None
from cdbctl.cli import run
sys.argv[0] = "cdbctl"
run()
"""


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "busy"])
@pytest.mark.parametrize("sig", [signal_module.SIGTERM, signal_module.SIGKILL])
def test_without_the_death_signal_workers_end_with_their_parent(
    sig: signal_module.Signals, busy: bool, tmp_path: Path
) -> None:
    """Where no parent-death signal exists, a worker sees its parent go as the end of its task pipe (idle)
    or a broken result pipe (busy: after the block it decides), and exits: none is left behind."""
    entry = [sys.executable, "-c", _NO_DEATH_SIGNAL]
    extra = [str(_replay_file(tmp_path, 200000))] if busy else []
    with _live_replay(*extra, entry=entry) as proc:
        children = _decided_first(proc)
        if busy:  # stdin ends: the workers go on to the file's blocks
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.close()
            proc.stdout.readline()
        os.kill(proc.pid, sig)
        assert proc.wait(timeout=30) == -sig
    try:
        assert _gone(children), f"workers left behind: {children}"
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal_module.SIGKILL)


def test_ctrl_c_with_a_stalled_reader_does_not_wait_for_the_writer(tmp_path: Path) -> None:
    """Ctrl-C while stdout's reader reads nothing (the writer blocked in write): exit 130 at once, as -j 1."""
    src = _replay_file(tmp_path, 100000)
    read_end, write_end = os.pipe()
    try:
        with _live_replay(str(src), stdout=write_end) as proc:
            os.close(write_end)
            assert proc.stdin is not None and proc.stderr is not None
            proc.stdin.close()
            while not _children(proc.pid):  # the workers run; soon the pipe to stdout is full
                time.sleep(0.05)
            time.sleep(1)
            os.killpg(proc.pid, signal_module.SIGINT)
            proc.wait(timeout=8)  # the writer is given 0.5 s; it used to be waited on for 10
            assert proc.returncode == 130
            assert proc.stderr.read().decode().endswith("cdbctl: interrupted\n")
    finally:
        os.close(read_end)


def test_a_reader_that_goes_away_ends_a_parallel_replay(tmp_path: Path) -> None:
    """`| head -1`: exit 141 without a traceback, the workers gone; the reading thread, blocked handing
    a block to a worker that waits to send its result to a writer that is gone, is set free."""
    src = _replay_file(tmp_path, 100000)
    with _live_replay(str(src)) as proc:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        proc.stdin.close()
        assert json.loads(proc.stdout.readline())["signal_id"] == 0
        children = _children(proc.pid)
        proc.stdout.close()
        assert proc.wait(timeout=60) == 141
        err = proc.stderr.read().decode()
    assert "Traceback" not in err and "error" not in err
    assert _gone(children)


def test_jobs_writes_jsonl_when_no_format_is_given(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = _replay_file(tmp_path)
    piped = cli(capsys, monkeypatch, "risk", "evaluate", str(src), "--now", NOW, "--jobs", "2")
    assert (
        piped.out == cli(capsys, monkeypatch, "risk", "evaluate", str(src), "--now", NOW, "-f", "jsonl").out
    )
    assert len(piped.jsonl()) == 3000 and piped.code == 2  # the invalid line 1235


def test_jobs_where_no_process_can_be_forked_is_an_environment_error(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Windows has no fork: the workers cannot be made, and --jobs says so (exit 3), never a traceback."""
    src = _replay_file(tmp_path, 2000)
    monkeypatch.delattr(os, "fork")
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(src), "--now", NOW, "--jobs", "2")
    assert (r.code, r.out) == (3, "")
    assert r.err == (
        "cdbctl: error: --jobs: this platform cannot fork worker processes\n"
        "hint: run without --jobs: one process decides the same\n"
    )
