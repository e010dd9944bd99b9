"""The only writer: confined to the repository, atomic, mode- and byte-preserving."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cdbctl.errors import EnvironmentProblem, InputError
from cdbctl.scaffold.fs import RepoFS

pytestmark = pytest.mark.unit


def test_write_creates_parents_and_reads_back(tmp_path: Path) -> None:
    fs = RepoFS(tmp_path)
    fs.write("a/b/c.txt", b"x\r\ny", mode=0o640)
    assert (tmp_path / "a/b/c.txt").read_bytes() == b"x\r\ny"
    assert (tmp_path / "a/b/c.txt").stat().st_mode & 0o777 == 0o640
    assert fs.read("a/b/c.txt") == b"x\r\ny"
    assert fs.read("missing.txt") is None


def test_replace_keeps_mode_and_leaves_no_temp_files(tmp_path: Path) -> None:
    fs = RepoFS(tmp_path)
    target = tmp_path / "f.sh"
    target.write_bytes(b"old")
    os.chmod(target, 0o750)
    fs.write("f.sh", b"new", mode=0o644)
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o750
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.sh"]


@pytest.mark.parametrize("rel", ["../x", "a/../../x", "/etc/passwd", ""])
def test_paths_outside_are_refused(tmp_path: Path, rel: str) -> None:
    with pytest.raises(EnvironmentProblem):
        RepoFS(tmp_path).write(rel, b"x")


def test_symlink_inside_the_repo_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    RepoFS(tmp_path).write("link/f", b"x")
    assert (tmp_path / "real/f").read_bytes() == b"x"


def test_symlink_escape_is_refused(tmp_path: Path) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    repo.mkdir()
    outside.mkdir()
    (repo / "esc").symlink_to(outside)
    fs = RepoFS(repo)
    with pytest.raises(EnvironmentProblem) as info:
        fs.write("esc/f", b"x")
    assert info.value.hint and str(outside) in info.value.hint
    with pytest.raises(EnvironmentProblem):
        fs.read("esc/f")
    assert list(outside.iterdir()) == []


def test_symlinked_file_is_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_bytes(b"keep")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    with pytest.raises(EnvironmentProblem):
        RepoFS(tmp_path).write("link.txt", b"x")
    assert (tmp_path / "link.txt").is_symlink() and (tmp_path / "real.txt").read_bytes() == b"keep"


def test_dangling_symlink_out_is_refused(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo/d").symlink_to(tmp_path / "nowhere")
    with pytest.raises(EnvironmentProblem):
        RepoFS(tmp_path / "repo").write("d/f", b"x")
    assert not (tmp_path / "nowhere").exists()


def test_missing_repo_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        RepoFS(tmp_path / "nope")


def test_reading_a_directory_is_environment_error(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(EnvironmentProblem):
        RepoFS(tmp_path).read("d")
