"""Line-based three-way merge (diff3) of bytes, byte-exact, with git-style conflict markers.

Lines are split on LF only and keep their ending, so CRLF files, a lone CR inside a line and a missing
final newline come out exactly as they went in wherever the merge is clean. Only a conflict block adds
bytes: the markers (in the line ending the user's file mostly uses) and, where a side's last line has no
newline, one so the marker after it starts on its own line (as `git merge-file` does).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

YOURS = b"<<<<<<< yours"
BASE = b"||||||| base"
SEP = b"======="
THEIRS = b">>>>>>> template"


@dataclass(frozen=True)
class MergeResult:
    """The merged bytes and how many conflict blocks they carry (0: a clean merge)."""

    data: bytes
    conflicts: int


def split_lines(data: bytes) -> list[bytes]:
    """The lines of data, each with its LF (the last one may have none); joined they give data back."""
    lines = data.split(b"\n")
    out = [line + b"\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def is_text(data: bytes) -> bool:
    """True when data can be merged line by line (UTF-8 without NUL bytes)."""
    if b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def has_markers(data: bytes) -> bool:
    """True when data still holds a conflict block scaffold wrote (both its opening and closing marker)."""
    lines = split_lines(data)
    return any(line.startswith(YOURS) for line in lines) and any(line.startswith(THEIRS) for line in lines)


def eol(data: bytes) -> bytes:
    """The line ending data mostly uses (CRLF when at least half its lines end so, else LF)."""
    crlf = data.count(b"\r\n")
    return b"\r\n" if crlf and crlf * 2 >= data.count(b"\n") else b"\n"


def to_lf(data: bytes) -> bytes:
    """data with every CRLF as LF."""
    return data.replace(b"\r\n", b"\n")


def to_crlf(data: bytes) -> bytes:
    """data with every bare LF as CRLF."""
    return to_lf(data).replace(b"\n", b"\r\n")


def _terminated(lines: Sequence[bytes], eol: bytes) -> list[bytes]:
    return [*lines[:-1], lines[-1] if lines[-1].endswith(b"\n") else lines[-1] + eol] if lines else []


def _matches(base: Sequence[bytes], other: Sequence[bytes]) -> list[tuple[int, int, int]]:
    # autojunk off: its heuristic treats frequent lines (blank lines in files over 200 lines) as junk,
    # which makes the matching depend on the file's length.
    matcher = difflib.SequenceMatcher(None, base, other, autojunk=False)
    return [(m.a, m.b, m.size) for m in matcher.get_matching_blocks() if m.size]


def _sync_regions(
    base: Sequence[bytes], yours: Sequence[bytes], theirs: Sequence[bytes]
) -> list[tuple[int, int, int, int]]:
    """Runs of base lines both sides kept unchanged: (base start, base end, yours start, theirs start).

    The intersections of the two pairwise matchings; a final empty region marks the ends of all three.
    """
    ym, tm = _matches(base, yours), _matches(base, theirs)
    out: list[tuple[int, int, int, int]] = []
    i = j = 0
    while i < len(ym) and j < len(tm):
        yb, yo, yn = ym[i]
        tb, to, tn = tm[j]
        lo, hi = max(yb, tb), min(yb + yn, tb + tn)
        if lo < hi:
            out.append((lo, hi, yo + lo - yb, to + lo - tb))
        if yb + yn < tb + tn:
            i += 1
        else:
            j += 1
    out.append((len(base), len(base), len(yours), len(theirs)))
    return out


class _Writer:
    """Accumulates merged lines and conflict blocks."""

    def __init__(self, eol: bytes, label: bytes) -> None:
        self.eol = eol
        self.label = label
        self.out: list[bytes] = []
        self.conflicts = 0

    def conflict(self, yours: Sequence[bytes], base: Sequence[bytes] | None, theirs: Sequence[bytes]) -> None:
        # Lines both sides agree on at the edges of the block are not part of the disagreement.
        head = 0
        while head < min(len(yours), len(theirs)) and yours[head] == theirs[head]:
            head += 1
        tail = 0
        while (
            tail < min(len(yours), len(theirs)) - head and yours[len(yours) - 1 - tail] == theirs[-1 - tail]
        ):
            tail += 1
        self.out += yours[:head]
        mid_y, mid_t = yours[head : len(yours) - tail], theirs[head : len(theirs) - tail]
        self.out.append(YOURS + self.eol)
        self.out += _terminated(mid_y, self.eol)
        if base is not None:
            self.out.append(BASE + self.eol)
            self.out += _terminated(base, self.eol)
        self.out.append(SEP + self.eol)
        self.out += _terminated(mid_t, self.eol)
        self.out.append(THEIRS + self.label + self.eol)
        self.out += yours[len(yours) - tail :]
        self.conflicts += 1

    def result(self) -> MergeResult:
        return MergeResult(b"".join(self.out), self.conflicts)


def _label(label: str) -> bytes:
    return (" " + label).encode() if label else b""


def merge3(base: bytes, yours: bytes, theirs: bytes, *, label: str = "") -> MergeResult:
    """Bring the change base -> theirs into yours; overlapping changes become conflict blocks.

    A region changed on one side only takes that side; changed identically on both sides, it is taken
    once; changed differently, it is written as `<<<<<<< yours`, `||||||| base`, `=======`,
    `>>>>>>> template <label>`.
    """
    b, y, t = split_lines(base), split_lines(yours), split_lines(theirs)
    w = _Writer(eol(yours), _label(label))
    ib = iy = it = 0
    for sb, eb, sy, st in _sync_regions(b, y, t):
        rb, ry, rt = b[ib:sb], y[iy:sy], t[it:st]
        if ry == rb:
            w.out += rt
        elif rt in (rb, ry):
            w.out += ry
        else:
            w.conflict(ry, rb, rt)
        w.out += b[sb:eb]
        ib, iy, it = eb, sy + eb - sb, st + eb - sb
    return w.result()


def mark_differences(yours: bytes, theirs: bytes, *, label: str = "") -> MergeResult:
    """Without a base: every region where yours and theirs differ becomes a two-sided conflict block."""
    y, t = split_lines(yours), split_lines(theirs)
    w = _Writer(eol(yours), _label(label))
    matcher = difflib.SequenceMatcher(None, y, t, autojunk=False)
    for op, y0, y1, t0, t1 in matcher.get_opcodes():
        if op == "equal":
            w.out += y[y0:y1]
        else:
            w.conflict(y[y0:y1], None, t[t0:t1])
    return w.result()
