"""Which script edits break a script: each edit is kept only if the edited script still parses
(cdbctl/ciharden/syntax.py), so a fix never leaves a ``run:`` that bash would reject."""

from __future__ import annotations

from cdbctl.ciharden.syntax import parses


def breaking_edits(script: str, edits: list[tuple[int, int, str]]) -> set[int] | None:
    """Which of the edits (start, end, new) leave a script that does not parse: None when the script
    itself does not parse (so no edit can be shown safe), else the indices of the bad edits. All
    edits together are tried first, each alone only when that fails (scripts are checked linearly
    in the common case)."""
    if not edits:
        return set()
    if not parses(script):
        return None
    if parses(_apply(script, edits)):
        return set()
    return {i for i, edit in enumerate(edits) if not parses(_apply(script, [edit]))}


def _apply(script: str, edits: list[tuple[int, int, str]]) -> str:
    out: list[str] = []
    pos = 0
    for start, end, new in sorted(set(edits)):
        if start < pos:
            continue  # overlapping edits: only one of them is ever applied
        out += [script[pos:start], new]
        pos = end
    return "".join(out) + script[pos:]
