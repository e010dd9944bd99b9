"""--repo's default: the git checkout that holds the current directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdbctl.repo_root import enclosing_repository

pytestmark = pytest.mark.unit


def test_nearest_checkout_upwards(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert enclosing_repository(deep) == tmp_path
    assert enclosing_repository(tmp_path) == tmp_path


def test_worktree_and_submodule_have_a_git_file(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    inner = tmp_path / "vendor" / "sub"
    inner.mkdir(parents=True)
    (inner / ".git").write_text("gitdir: ../../.git/modules/sub\n")
    assert enclosing_repository(inner / ".") == inner


def test_outside_any_checkout_the_directory_itself(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert enclosing_repository(plain) == plain
