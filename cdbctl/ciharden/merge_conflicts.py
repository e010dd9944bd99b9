"""Merge-conflict markers left in a workflow: the usual reason a workflow stops being valid YAML right
after a merge. Named as such, because the parser's own message ("could not find expected ':'") points
at the line after a marker and says nothing of the cause."""

from __future__ import annotations

import re
from dataclasses import dataclass

# git writes each marker at column 0: seven characters, then a space and a label (none for =======)
_MARKER = re.compile(r"^(<{7}|\|{7}|>{7})(?:[ \t][^\n]*)?$|^(={7})[ \t]*$", re.MULTILINE)
# what a ``<<<<<<< HEAD`` / ``>>>>>>> feature/x`` line leaves when only its marker is deleted: one
# space and the label. Only labels that read as a git ref (HEAD, a name with a slash, a commit id)
# count, so a stray word is left to the parser's message.
_LEFTOVER = re.compile(r"^ (HEAD|[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)+|[0-9a-f]{7,40})[ \t]*$")
_SHOWN = 3  # markers named in the message; the rest are counted


@dataclass(frozen=True)
class Conflict:
    """Why a file that failed to parse is broken, and where (1-based line and column)."""

    message: str
    line: int
    col: int


def conflict_in(text: str, failed_at: int | None) -> Conflict | None:
    """The merge-conflict markers in ``text`` (which failed to parse at 1-based line ``failed_at``),
    or a marker's leftover on that line or the one before it; None when neither is there."""
    found = [(text.count("\n", 0, m.start()) + 1, m.group(1) or m.group(2)) for m in _MARKER.finditer(text)]
    if found:
        named = ", ".join(f"{marker} at line {line}" for line, marker in found[:_SHOWN])
        more = f" and {len(found) - _SHOWN} more" if len(found) > _SHOWN else ""
        return Conflict(f"merge-conflict markers ({named}{more}): resolve the conflict", found[0][0], 1)
    if failed_at is None:
        return None
    lines = text.splitlines()
    for line in (failed_at, failed_at - 1):
        m = _LEFTOVER.match(lines[line - 1]) if 0 < line <= len(lines) else None
        if m is not None:
            ref = m.group(1)
            return Conflict(
                f"merge-conflict markers, partly deleted: '{ref}' is the label of a '<<<<<<<' or "
                "'>>>>>>>' line whose marker is gone; finish resolving the conflict",
                line,
                2,
            )
    return None
