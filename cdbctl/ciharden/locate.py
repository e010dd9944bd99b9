"""Positions in a workflow: the text with its line starts, node lookups, and maps from offsets in a
scalar's value to offsets in the file (literal, folded, multi-line plain and one-line scalars).

Marks come from PyYAML's C composer (cdbctl/ciharden/composer.py); edits are computed from them and
the raw text (cdbctl/ciharden/node_edits.py), never by dumping YAML.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from itertools import accumulate

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
_RARE_BREAK = re.compile("[\r\x85\u2028\u2029]")  # a YAML line break other than "\n"


class Text:
    """The decoded file with a table of line starts (YAML's line breaks) and its newline style."""

    def __init__(self, text: str) -> None:
        self.text = text
        if _RARE_BREAK.search(text):
            self.starts = [0] + [m.end() for m in _BREAK.finditer(text)]
        else:  # only "\n": line lengths summed (half the time of a match object per line)
            lengths = accumulate(map(len, text.split("\n")[:-1]))
            self.starts = [0, *[total + k for k, total in enumerate(lengths, 1)]]
        self.eol = "\r\n" if "\r\n" in text else "\n"

    def offset(self, line: int, column: int) -> int:
        """Offset of a 0-based (line, column) mark."""
        return self.starts[line] + column if line < len(self.starts) else len(self.text)

    def mark(self, mark: yaml.Mark) -> int:
        """Offset of a PyYAML mark."""
        return self.offset(mark.line, mark.column)

    def line_of(self, offset: int) -> int:
        """0-based line containing offset."""
        lo, hi = 0, len(self.starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of an offset."""
        line = self.line_of(offset)
        return line + 1, offset - self.starts[line] + 1

    def line_span(self, line: int) -> tuple[int, int, int]:
        """(start, end of content, end including the line break) of a 0-based line."""
        start = self.starts[line]
        full = self.starts[line + 1] if line + 1 < len(self.starts) else len(self.text)
        end = full
        while end > start and self.text[end - 1] in "\r\n\x85\u2028\u2029":
            end -= 1
        return start, end, full


def mget(node: Node | None, key: str) -> tuple[ScalarNode, Node] | None:
    """The (key node, value node) pair for a string key of a mapping node."""
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if k.value == key and isinstance(k, ScalarNode):  # a collection key's value is a list
                return k, v
    return None


def mval(node: Node | None, key: str) -> Node | None:
    """The value node for a string key of a mapping node."""
    pair = mget(node, key)
    return pair[1] if pair else None


def mstr(node: Node | None, key: str) -> str | None:
    """The string value of a scalar under a string key of a mapping node."""
    return sval(mval(node, key))


def sval(node: Node | None) -> str | None:
    """A scalar node's string value."""
    return node.value if isinstance(node, ScalarNode) else None


def scalar_inner(t: Text, node: ScalarNode) -> tuple[int, int] | None:
    """Source span of a single-line scalar's characters (inside quotes), if they equal its value."""
    if node.start_mark.line != node.end_mark.line or node.style in ("|", ">"):
        return None
    start, end = t.mark(node.start_mark), t.mark(node.end_mark)
    if node.style in ("'", '"'):
        start, end = start + 1, end - 1
    return (start, end) if t.text[start:end] == node.value else None


def content_map(t: Text, node: ScalarNode) -> Callable[[int], int] | None:
    """Map offsets in a scalar's value to file offsets (literal block or verbatim one-line scalars)."""
    inner = scalar_inner(t, node)
    if inner is not None:
        base = inner[0]
        return lambda off: base + off
    if node.style == ">":
        segments = _folded_segments(t, node)
        return _fold_map(t, node, segments) if segments is not None else None
    if node.style in (None, "") and node.start_mark.line != node.end_mark.line:
        return _fold_map(t, node, _plain_segments(t, node))
    if node.style != "|":
        return None
    first = node.start_mark.line + 1
    lines = node.value.split("\n")
    indent = None
    for i, content in enumerate(lines):
        if first + i >= len(t.starts):
            if content:
                return None
            continue
        start, end, _ = t.line_span(first + i)
        src = t.text[start:end]
        if content:
            ind = len(src) - len(content)
            if (
                ind < 0
                or src[ind:] != content
                or src[:ind].strip(" ")
                or (indent is not None and ind != indent)
            ):
                return None
            indent = ind
        elif src.strip(" ") and i < len(lines) - 1:
            return None
    if indent is None:
        return None
    line_starts = [0]
    for content in lines[:-1]:
        line_starts.append(line_starts[-1] + len(content) + 1)
    block_indent = indent

    def to_source(off: int) -> int:
        i = bisect.bisect_right(line_starts, off) - 1
        col = off - line_starts[i]
        if first + i >= len(t.starts):
            return len(t.text)
        start, end, _ = t.line_span(first + i)
        return min(start + block_indent + col, end)

    return to_source


Segments = list[tuple[int, int, bool]]  # per source line: (start, end, has text); blank: (eol, eol, False)


def _folded_segments(t: Text, node: ScalarNode) -> Segments | None:
    """Per source line of a ``>`` scalar: where its text is (after the block indent)."""
    end_line = min(node.end_mark.line if node.end_mark.column else node.end_mark.line - 1, len(t.starts) - 1)
    spans = [t.line_span(k)[:2] for k in range(node.start_mark.line + 1, end_line + 1)]
    texts = [t.text[a:b] for a, b in spans]
    indent = next((len(x) - len(x.lstrip(" ")) for x in texts if x.strip()), None)
    if indent is None:
        return None
    out: Segments = []
    for (start, end), text in zip(spans, texts, strict=True):
        if not text.strip():
            out.append((end, end, False))
        elif text[:indent].strip(" ") or text[indent : indent + 1] in (" ", "\t"):
            return None  # more-indented lines keep their breaks: not modelled, so not mapped
        else:
            out.append((start + indent, end, True))
    return out


def _plain_segments(t: Text, node: ScalarNode) -> Segments:
    """Per source line of a multi-line plain scalar: its text without surrounding blanks."""
    out: Segments = []
    first, last = node.start_mark.line, node.end_mark.line
    for k in range(first, last + 1):
        start, end, _ = t.line_span(k)
        start = t.mark(node.start_mark) if k == first else start
        end = t.mark(node.end_mark) if k == last else end
        text = t.text[start:end]
        if not text.strip(" \t"):
            out.append((end, end, False))
            continue
        out.append((start + len(text) - len(text.lstrip(" \t")), start + len(text.rstrip(" \t")), True))
    return out


def _fold_map(t: Text, node: ScalarNode, segments: Segments) -> Callable[[int], int] | None:
    """Offsets map for a folded or multi-line plain scalar.

    Rebuilds the value with YAML's line folding (one break between text lines -> a space mapped to
    that line break, n+1 breaks -> n newlines) and gives up (None) unless it reproduces the parsed
    value exactly."""
    chars: list[str] = []
    where: list[int] = []
    breaks: list[int] = []  # source offsets of the line breaks seen since the last text line
    for start, end, has_text in segments:
        if not has_text:
            breaks.append(end)
            continue
        if chars:
            seps = [(" ", breaks[0])] if len(breaks) == 1 else [("\n", b) for b in breaks[1:]]
            for ch, at in seps:
                chars.append(ch)
                where.append(at)
        chars.extend(t.text[start:end])
        where.extend(range(start, end))
        breaks = [end]
    built = "".join(chars)
    if not built or not node.value.startswith(built) or node.value[len(built) :].strip("\n"):
        return None
    stop = where[-1] + 1
    return lambda off: where[off] if off < len(where) else stop


def content_end(t: Text, node: Node) -> int:
    """Offset just past the last character that belongs to a node's own text."""
    while isinstance(node, MappingNode | SequenceNode) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    end = t.mark(node.end_mark)
    while end > 0 and t.text[end - 1] in " \t\r\n\x85\u2028\u2029":
        end -= 1
    return end
