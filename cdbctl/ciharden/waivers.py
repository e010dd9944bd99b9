"""Waiver comments: ``# cdbctl: allow-soft-fail <reason>`` as a YAML comment, or as a shell comment
inside a ``run:`` script; the same words in any other string (a step name, an ``echo``, a quoted
scalar's text up to its closing quote) are no waiver."""

from __future__ import annotations

import bisect
import re

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cdbctl.ciharden.locate import Text, content_map
from cdbctl.ciharden.model import Candidate, Rule, Status
from cdbctl.ciharden.shell_lex import lex

_MARK = re.compile(r"#\s*cdbctl:\s*allow-soft-fail\b")
_REASON = re.compile(r"[ \t:]*(.*?)\s*$")


class Waivers:
    """Every waiver of a file, by 0-based line: (the line is only a comment, the reason)."""

    def __init__(self, t: Text, root: Node | None) -> None:
        self.lines: dict[int, tuple[bool, str]] = {}
        if "cdbctl:" not in t.text or root is None:
            return
        spans, runs = _scalars(t, root)
        starts = [s for s, _, _ in spans]
        scripts: dict[int, ScalarNode] = {}
        for m in _MARK.finditer(t.text):
            k = bisect.bisect_right(starts, m.start()) - 1
            inside = spans[k][2] if k >= 0 and spans[k][1] > m.start() else None
            if inside is None:
                self._add(t, m.start(), m.end(), t.text)
            elif id(inside) in runs:
                scripts[id(inside)] = inside
        for node in scripts.values():
            self._script(t, node)

    def _add(self, t: Text, at: int, after: int, text: str, line: int | None = None) -> None:
        """A waiver mark at ``at`` (in ``text``); its reason runs to the end of that line of text."""
        eol = text.find("\n", after)
        reason = _REASON.match(text, after, len(text) if eol < 0 else eol)
        bol = text.rfind("\n", 0, at) + 1
        number = t.line_of(at) if line is None else line
        self.lines[number] = (not text[bol:at].strip(), reason.group(1) if reason else "")

    def _script(self, t: Text, node: ScalarNode) -> None:
        """Waivers that are shell comments of a ``run:`` script (not inside its words)."""
        script = node.value
        cmap = content_map(t, node)
        tokens = lex(script)
        ends = [tok.start for tok in tokens]
        for m in _MARK.finditer(script):
            k = bisect.bisect_right(ends, m.start()) - 1
            if k >= 0 and tokens[k].end > m.start():
                continue  # inside a word: ``echo "# cdbctl: ..."``
            line = t.line_of(cmap(m.start())) if cmap else node.start_mark.line
            self._add(t, m.start(), m.end(), script, line)

    def find(self, line: int) -> tuple[bool, str] | None:
        """A waiver on the 1-based ``line`` or on a comment-only line right above it: (found, reason)."""
        own = self.lines.get(line - 1)
        if own is not None:
            return True, own[1]
        above = self.lines.get(line - 2)
        if above is not None and above[0]:
            return True, above[1]
        return None


def _scalars(t: Text, root: Node) -> tuple[list[tuple[int, int, ScalarNode]], set[int]]:
    """Source spans of every scalar, sorted, and the ids of the ``run:`` scalars."""
    spans: list[tuple[int, int, ScalarNode]] = []
    runs: set[int] = set()
    stack: list[Node] = [root]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:  # an alias: the same node again
            continue
        seen.add(id(node))
        if isinstance(node, ScalarNode):
            start, end = t.mark(node.start_mark), t.mark(node.end_mark)
            if end > start:
                spans.append((start, end, node))
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                if isinstance(key, ScalarNode) and key.value == "run" and isinstance(value, ScalarNode):
                    runs.add(id(value))
                stack += [key, value]
        elif isinstance(node, SequenceNode):
            stack += node.value
    spans.sort(key=lambda s: s[0])
    return spans, runs


def apply_waivers(waivers: Waivers, cands: list[Candidate]) -> list[Candidate]:
    """Mark waived candidates; returns info findings for waivers that give no reason."""
    extra: list[Candidate] = []
    for cand in cands:
        if cand.status is not None:
            continue
        waiver = waivers.find(cand.line)
        if waiver is None:
            continue
        if waiver[1]:
            cand.status, cand.reason = Status.waived, waiver[1]
            cand.message += f"; waived: {waiver[1]}"
        else:
            extra.append(
                Candidate(
                    Rule.waiver_without_reason,
                    cand.line,
                    cand.job,
                    cand.step,
                    "allow-soft-fail waiver has no reason and is ignored",
                    status=Status.info,
                    col=cand.col,
                )
            )
    return extra
