"""The shared atomic writer: all or nothing, and no rename over what the user made read-only (issue 17/5)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cdbctl.atomic import check_replaceable, leftover_temps, replace_file, stage, temp_target
from cdbctl.cli import main

pytestmark = pytest.mark.unit


def test_replace_keeps_old_or_new_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a.yml"
    target.write_bytes(b"old")
    replace_file(target, b"new\r\n", 0o640)
    assert target.read_bytes() == b"new\r\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["a.yml"]


@pytest.mark.parametrize("mode", [0o444, 0o400, 0o555])
def test_read_only_file_is_refused_even_for_root(tmp_path: Path, mode: int) -> None:
    """A 0444 file was replaced anyway: the rename only needs the directory to be writable."""
    target = tmp_path / "ci.yml"
    target.write_bytes(b"keep me")
    target.chmod(mode)
    with pytest.raises(PermissionError, match=f"read-only \\(mode {mode:04o}\\)"):
        replace_file(target, b"changed", 0o644)
    assert target.read_bytes() == b"keep me"
    assert target.stat().st_mode & 0o777 == mode
    assert [p.name for p in tmp_path.iterdir()] == ["ci.yml"]


def test_fifo_or_directory_is_not_replaced(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    for name in ("fifo", "dir"):
        with pytest.raises(OSError, match="not a regular file"):
            replace_file(tmp_path / name, b"x", 0o644)
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError, match="symlink"):
        check_replaceable(tmp_path / "link")


def test_temp_files_are_recognised_for_their_target(tmp_path: Path) -> None:
    target = tmp_path / "docker-compose.yml"
    tmp = stage(target, b"x", 0o644)  # what a kill -9 before the rename leaves
    assert temp_target(tmp.name) == "docker-compose.yml"
    assert temp_target("docker-compose.yml") is None
    assert temp_target(".docker-compose.yml.tmp") is None
    (tmp_path / ".other.abcdefgh.tmp").write_text("")
    assert leftover_temps(tmp_path, {"docker-compose.yml"}) == [tmp]
    assert leftover_temps(tmp_path / "missing", {"x"}) == []


def test_ci_harden_refuses_a_read_only_workflow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ci-harden shares the writer: a 0444 workflow is reported (exit 3), not replaced."""
    wf = tmp_path / ".github/workflows/ci.yml"
    wf.parent.mkdir(parents=True)
    text = "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: bandit -r . || true\n"
    wf.write_text(text)
    wf.chmod(0o444)
    code = main(["ci-harden", "--repo", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "read-only (mode 0444)" in err
    assert wf.read_text() == text and wf.stat().st_mode & 0o777 == 0o444
    assert sorted(p.name for p in wf.parent.iterdir()) == ["ci.yml"]


def test_ctrl_c_is_held_until_the_block_ends_then_raised() -> None:
    import signal

    from cdbctl.atomic import deferred_interrupt

    done = []
    with pytest.raises(KeyboardInterrupt), deferred_interrupt():
        os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, in the middle of the block
        done.append("rest of the block")
    assert done == ["rest of the block"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with deferred_interrupt():  # nothing caught: nothing raised
        done.append("again")
    assert done == ["rest of the block", "again"]
