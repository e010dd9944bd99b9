"""What a run reports per file, and the unified diff `--dry-run` prints."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class FileReport:
    """The outcome for one file (or one service block of a compose file, `FILE#SERVICE`)."""

    path: str
    status: str
    kind: str  # service | vendor | root | compose | compose-block | state | base | build | temp
    service: str | None = None
    detail: str = ""
    notice: bool = False  # its own row even when its status is a quiet one (an edited obsolete file)


def file_diff(path: str, old: bytes | None, new: bytes | None) -> str:
    """A unified diff of one file (new None: the file is removed); binary files by name only."""
    before = "/dev/null" if old is None else f"a/{path}"
    after = "/dev/null" if new is None else f"b/{path}"
    if b"\0" in (old or b"") or b"\0" in (new or b""):  # the engine wheel
        return f"Binary files {before} and {after} differ\n"
    a = [] if old is None else old.decode("utf-8", "replace").splitlines(keepends=True)
    b = [] if new is None else new.decode("utf-8", "replace").splitlines(keepends=True)
    lines = difflib.unified_diff(a, b, before, after)
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )
