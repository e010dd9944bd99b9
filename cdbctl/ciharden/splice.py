"""Apply text edits, verify them against the intended data change, and render unified diffs."""

from __future__ import annotations

import bisect
import difflib
from collections.abc import Iterable
from typing import Any

import yaml

from cdbctl.ciharden.model import Edit, Fix, Mutation
from cdbctl.ciharden.syntax import parses

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Splice non-overlapping edits into text (every other character is kept as is)."""
    out: list[str] = []
    pos = 0
    for edit in sorted(set(edits), key=lambda e: (e.start, e.end)):
        if edit.start < pos:
            raise ValueError("overlapping edits")
        out.append(text[pos : edit.start])
        out.append(edit.new)
        pos = edit.end
    out.append(text[pos:])
    return "".join(out)


def overlaps(a: Edit, b: Edit) -> bool:
    """True when two distinct edits touch the same characters, insert at the same point, or one
    inserts strictly inside the other's span. An insertion at either end of a deleted or replaced
    span is no conflict (apply_edits puts it before or after): that lets one run both remove a
    step's last ``continue-on-error`` line and write ``exit-code`` in right above it."""
    if a == b:
        return False
    if a.start == a.end and b.start == b.end:
        return a.start == b.start
    if a.start == a.end:
        return b.start < a.start < b.end
    if b.start == b.end:
        return a.start < b.start < a.end
    return a.start < b.end and b.start < a.end


def load_data(text: str) -> Any:
    """The plain data of a document (safe constructor).

    Composed with the C composer, then built by the safe constructor: three times faster than
    ``yaml.load`` with CSafeLoader on big files (the verification of every written file loads it)."""
    return construct(yaml.compose(text, Loader=_Loader))


def construct(node: yaml.Node | None) -> Any:
    """The plain data of a composed document (SafeConstructor: no arbitrary objects)."""
    if node is None:
        return None
    return yaml.constructor.SafeConstructor().construct_document(node)


def _expected(data: Any, mutations: Iterable[Mutation]) -> Any:
    splices: dict[tuple[str | int, ...], list[tuple[int, int, str]]] = {}
    for m in mutations:
        if m.op == "splice":
            splices.setdefault(m.path, []).append(m.value)
            continue
        parent = data
        for part in m.path[:-1]:
            parent = parent[part]
        if m.op == "delete":
            del parent[m.path[-1]]
        else:
            parent[m.path[-1]] = m.value
    for path, cuts in splices.items():
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        value = parent[path[-1]]
        pieces: list[str] = []
        pos = 0
        for start, end, new in sorted(set(cuts)):  # one pass: re-slicing per cut was quadratic
            pieces += [value[pos:start], new]
            pos = max(pos, end)
        parent[path[-1]] = "".join(pieces) + value[pos:]
    return data


def verify(
    original: str, fixes: list[Fix], *, scripts: bool = True, base: yaml.Node | None = None
) -> str | None:
    """The spliced text when it parses to exactly the intended data, else None. ``scripts=False``
    skips re-checking that every edited script parses: the analysis already checked each script
    with all of its edits (run_scripts.guarded), which holds as long as every planned fix is applied."""
    try:
        new = apply_edits(original, (e for f in fixes for e in f.edits))
        mutations = [m for f in fixes for m in f.mutations]
        expected = _expected(construct(base) if base is not None else load_data(original), mutations)
        if load_data(new) != expected:
            return None
        # every edited script must still parse (the same guard the analysis applies to each edit)
        for path in {m.path for m in mutations if m.op == "splice"} if scripts else ():
            value = expected
            for part in path:
                value = value[part]
            if not isinstance(value, str) or not parses(value):
                return None
        return new
    except (ValueError, KeyError, IndexError, TypeError, yaml.YAMLError, RecursionError):
        return None


def choose(
    original: str, fixes: list[Fix], *, check: bool = True, base: yaml.Node | None = None
) -> tuple[str, list[bool]]:
    """Apply every fix that verifies; returns the new text and which fixes were kept.

    ``check=False`` skips the re-parse (for ``--check``, which writes nothing and only needs to know
    that a fix exists); anything that is written or shown as a diff is verified.
    """
    kept = _first_come(fixes)
    chosen = [f for f, k in zip(fixes, kept, strict=True) if k]
    if not check:
        return apply_edits(original, (e for f in chosen for e in f.edits)), kept
    new = verify(original, chosen, scripts=not all(kept), base=base) if chosen else original
    if new is not None:
        return new, kept
    # Some fix does not verify: keep the good ones, in order, by halving the rest (a few re-parses per
    # bad fix instead of one per fix, which took hours on a huge workflow).
    accepted: list[Fix] = []
    current = original
    pending = [[i for i, k in enumerate(kept) if k]]
    while pending:
        group = pending.pop()
        attempt = verify(original, [*accepted, *(fixes[i] for i in group)], base=base)
        if attempt is not None:
            accepted.extend(fixes[i] for i in group)
            current = attempt
        elif len(group) == 1:
            kept[group[0]] = False
        else:
            half = len(group) // 2
            pending += [group[half:], group[:half]]  # the first half is tried first
    return current, kept


def _first_come(fixes: list[Fix]) -> list[bool]:
    """Keep each fix unless one of its edits overlaps an edit of an earlier kept fix.

    Kept edits never overlap each other, so sorted by start their ends ascend too, and only the few
    kept edits just left of a new edit's end can touch it: not pairwise, so huge files stay fast."""
    kept = [True] * len(fixes)
    spans: list[tuple[int, int, str]] = []  # kept edits as (start, end, new), sorted
    for i, fix in enumerate(fixes):
        for edit in fix.edits:
            k = bisect.bisect_right(spans, (edit.end + 1,))  # every kept edit starting at or before its end
            while k > 0 and spans[k - 1][1] >= edit.start:
                k -= 1
                if overlaps(edit, Edit(*spans[k])):
                    kept[i] = False
                    break
            if not kept[i]:
                break
        if kept[i]:
            for edit in fix.edits:
                bisect.insort(spans, (edit.start, edit.end, edit.new))
    return kept


def unified_diff(path: str, before: str, after: str) -> str:
    """A unified diff between two versions of a file (``a/`` and ``b/`` prefixes, like git)."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    )
    out: list[str] = []
    for line in lines:
        out.append(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n")
    return "".join(out)
