"""Which repository a command works on when --repo is not given."""

from __future__ import annotations

from pathlib import Path


def enclosing_repository(start: Path) -> Path:
    """The nearest directory from start upwards that holds `.git` (a checkout or worktree), else start.

    Run from a subdirectory, ci-harden would otherwise find no workflows and pass a CI gate green,
    and scaffold would generate a second stack inside the subdirectory (git and pre-commit look upwards too).
    """
    start = start.absolute()
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return start
