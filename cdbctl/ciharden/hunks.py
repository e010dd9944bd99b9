"""A unified diff written from the edits ci-harden made (linear in the edits and the lines they
touch), instead of difflib over the whole file (superlinear on huge workflows)."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from cdbctl.ciharden.model import Edit

CONTEXT = 3
_BREAK = re.compile(r"\r\n|\n|\r")


@dataclass
class _Region:
    """Old lines [a, b) that the edits in it rewrite."""

    a: int
    b: int
    edits: list[Edit] = field(default_factory=list)


def unified(path: str, before: str, edits: Iterable[Edit]) -> str:
    """The unified diff (``a/``/``b/`` prefixes, 3 lines of context, difflib's header format) of
    applying the non-overlapping ``edits`` to ``before``."""
    ordered = sorted(set(edits), key=lambda e: (e.start, e.end))
    if not ordered:
        return ""
    starts = [0] + [m.end() for m in _BREAK.finditer(before)]
    if starts[-1] == len(before):
        starts.pop()  # no line starts at the very end
    bounds = [*starts, len(before)]
    old = [before[bounds[i] : bounds[i + 1]] for i in range(len(starts))]
    regions: list[_Region] = []
    for edit in ordered:
        a = max(bisect.bisect_right(starts, edit.start) - 1, 0)
        at_line_start = a < len(starts) and edit.start == starts[a]
        if edit.start == edit.end and at_line_start and edit.new.endswith(("\n", "\r")):
            b = a  # whole lines inserted before line a
        elif edit.start == len(before) and edit.start == edit.end and (not old or before[-1:] in "\r\n"):
            a = b = len(old)  # appended after the last line break
        else:
            b = max(bisect.bisect_right(starts, max(edit.end - 1, edit.start)), a + 1)
            b = min(b, len(old))
        if regions and regions[-1].b >= a:  # the same or touching lines: one region
            regions[-1].a, regions[-1].b = min(regions[-1].a, a), max(regions[-1].b, b)
            regions[-1].edits.append(edit)
        else:
            regions.append(_Region(a, b, [edit]))
    changes: list[tuple[int, int, list[str]]] = []
    for region in regions:
        pos = bounds[region.a] if region.a < len(bounds) else len(before)
        end = bounds[region.b] if region.b < len(bounds) else len(before)
        pieces: list[str] = []
        for e in region.edits:
            pieces += [before[pos : e.start], e.new]
            pos = e.end
        pieces.append(before[pos:end])
        changes.append((region.a, region.b, _lines("".join(pieces))))
    return _render(path, old, changes)


def _lines(text: str) -> list[str]:
    """Lines with their breaks (``\\r\\n``, ``\\n`` or ``\\r``), the last one possibly without."""
    out: list[str] = []
    pos = 0
    for m in _BREAK.finditer(text):
        out.append(text[pos : m.end()])
        pos = m.end()
    if pos < len(text):
        out.append(text[pos:])
    return out


def _range(start: int, length: int) -> str:
    """difflib's range format: ``start`` alone for one line, ``start-1,0`` for none."""
    if length == 1:
        return str(start + 1)
    if not length:
        return f"{start},0"
    return f"{start + 1},{length}"


def _line(prefix: str, line: str) -> str:
    if line.endswith(("\n", "\r")):
        return prefix + line
    return prefix + line + "\n\\ No newline at end of file\n"


def _render(path: str, old: list[str], changes: list[tuple[int, int, list[str]]]) -> str:
    out = [f"--- a/{path}\n", f"+++ b/{path}\n"]
    k = 0
    shift = 0  # new line number minus old line number, before the current change
    while k < len(changes):
        j = k  # a hunk holds the changes whose context windows overlap
        while j + 1 < len(changes) and changes[j + 1][0] - changes[j][1] <= 2 * CONTEXT:
            j += 1
        lo = max(changes[k][0] - CONTEXT, 0)
        hi = min(changes[j][1] + CONTEXT, len(old))
        new_start = lo + shift
        body: list[str] = []
        pos = lo
        new_count = 0
        for a, b, new in changes[k : j + 1]:
            body += [_line(" ", line) for line in old[pos:a]]
            new_count += a - pos
            body += [_line("-", line) for line in old[a:b]]
            body += [_line("+", line) for line in new]
            new_count += len(new)
            shift += len(new) - (b - a)
            pos = b
        body += [_line(" ", line) for line in old[pos:hi]]
        new_count += hi - pos
        out.append(f"@@ -{_range(lo, hi - lo)} +{_range(new_start, new_count)} @@\n")
        out += body
        k = j + 1
    return "".join(out)
