"""Find positions in a workflow with PyYAML's C composer and build exact text edits from them.

The composer gives line/column marks for every node at a fraction of the cost of ruamel.yaml's
round-trip loader; edits are computed from those marks and the raw text, never by dumping YAML.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cdbctl.ciharden.model import Edit
from cdbctl.errors import InputError

_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
_ANCHOR = re.compile(r"(?:^|[\s\[{,])&[^\s\[\]{},]")
_ALIAS = re.compile(r"(?:^|[\s\[{,])\*[^\s\[\]{},]")
MAX_EXPANDED_NODES = 100_000  # billion-laughs guard: node count with aliases expanded
MAX_DEPTH = 1000  # nesting guard: PyYAML's C composer recurses once per level
# ``- - - x`` and ``? ? x`` nest one level per two characters on a single line
_DEEP_DASHES = re.compile(rf"(?:[-?][ \t]+){{{MAX_DEPTH}}}")
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class WorkflowError(InputError):
    """A workflow file that cannot be used (invalid YAML, alias bomb); carries the 1-based line."""

    def __init__(self, message: str, *, path: str, line: int | None) -> None:
        super().__init__(message, where=f"{path}:{line}" if line else path)
        self.path = path
        self.line = line


class Text:
    """The decoded file with a table of line starts (YAML's line breaks) and its newline style."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in _BREAK.finditer(text)]
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


def _too_deep(text: str) -> int | None:
    """1-based line where nesting passes MAX_DEPTH (PyYAML's C composer recurses per level and a
    deep enough ``[[[[...`` or ``- - - ...`` overflows the C stack), else None. Cheap for normal files."""
    if _DEEP_DASHES.search(text):
        return text.count("\n", 0, _DEEP_DASHES.search(text).start()) + 1  # type: ignore[union-attr]
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return None
    depth = 0
    for i, c in enumerate(text):
        if c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return text.count("\n", 0, i) + 1
        elif c in "]}":
            depth = max(depth - 1, 0)
    return None


def compose(text: str, path: str) -> Node | None:
    """Compose a YAML document with marks; raise WorkflowError with the line on any problem."""
    deep = _too_deep(text)
    if deep is not None:
        raise WorkflowError(f"YAML nested more than {MAX_DEPTH} levels deep", path=path, line=deep)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise WorkflowError(f"invalid YAML: {exc.problem or exc.context}", path=path, line=line) from exc
    except yaml.YAMLError as exc:
        raise WorkflowError(f"invalid YAML: {exc}", path=path, line=None) from exc
    except RecursionError as exc:
        raise WorkflowError("YAML nested too deeply", path=path, line=None) from exc
    if node is not None and _ANCHOR.search(text) and _ALIAS.search(text):
        _check_expansion(node, path)
    if node is not None and "!" in text:
        _check_tags(node, path)
    return node


_SHORT_TAG = "tag:yaml.org,2002:"


def _check_tags(root: Node, path: str) -> None:
    """Refuse tags the safe loader cannot construct (``!!python/object:...``, ``!custom``), naming
    the tag and its line: every edit is verified by loading the file, which would fail on them."""
    known = _Loader.yaml_constructors
    stack = [root]
    seen: set[int] = set()
    first: Node | None = None
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.tag not in known and (first is None or node.start_mark.index < first.start_mark.index):
            first = node
        stack.extend(_children(node))
    if first is not None:
        tag = first.tag
        tag = "!!" + tag[len(_SHORT_TAG) :] if tag.startswith(_SHORT_TAG) else tag
        raise WorkflowError(
            f"unsupported YAML tag '{tag}' (workflows hold plain data)",
            path=path,
            line=first.start_mark.line + 1,
        )


def _check_expansion(root: Node, path: str) -> None:
    """Refuse alias bombs and recursive aliases before anything walks the data."""
    sizes: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            active.discard(key)
            total = 1 + sum(sizes[id(c)] for c in children)
            if total > MAX_EXPANDED_NODES:
                line = node.start_mark.line + 1
                raise WorkflowError(
                    f"aliases expand to more than {MAX_EXPANDED_NODES} nodes", path=path, line=line
                )
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in active:
            raise WorkflowError("recursive alias", path=path, line=node.start_mark.line + 1)
        active.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
        for c in children:
            if id(c) in active:
                raise WorkflowError("recursive alias", path=path, line=c.start_mark.line + 1)


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def mget(node: Node | None, key: str) -> tuple[ScalarNode, Node] | None:
    """The (key node, value node) pair for a string key of a mapping node."""
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == key:
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


def replace_scalar(t: Text, node: ScalarNode, new: str) -> Edit | None:
    """Replace a one-line scalar's characters, keeping its quotes."""
    inner = scalar_inner(t, node)
    return Edit(inner[0], inner[1], new) if inner else None


def delete_pair_lines(t: Text, key: ScalarNode, value: Node) -> Edit | None:
    """Delete the whole lines of ``key: value`` when nothing else shares them (not a ``- `` line)."""
    start_line = key.start_mark.line
    ls, _, _ = t.line_span(start_line)
    if t.text[ls : t.mark(key.start_mark)].strip(" \t"):
        return None
    vend = content_end(t, value)
    end_line = t.line_of(max(vend - 1, t.mark(value.start_mark)))
    _, le, full = t.line_span(end_line)
    rest = t.text[vend:le].strip(" \t")
    if rest and not rest.startswith("#"):
        return None
    if full == le and ls > 0:  # last line without a final newline: take the previous line's break
        _, prev_end, _ = t.line_span(start_line - 1)
        return Edit(prev_end, le, "")
    return Edit(ls, full, "")


def insert_pair(
    t: Text, mapping: MappingNode, key: str, value: str, flow_value: str | None = None
) -> Edit | None:
    """Insert ``key: value`` as the mapping's last entry, matching its style and indentation."""
    if mapping.flow_style:
        end = t.mark(mapping.end_mark)
        close = t.text.rfind("}", 0, end)
        if close < 0:
            return None
        sep = ", " if mapping.value else ""
        return Edit(close, close, f"{sep}{key}: {flow_value or value}")
    if not mapping.value:
        return None
    column = mapping.value[0][0].start_mark.column
    end = content_end(t, mapping)
    line = t.line_of(max(end - 1, 0))
    # comment lines indented deeper than the keys belong to the last entry (commented-out inputs):
    # insert below them, or uncommenting one would continue the inserted scalar
    while line + 1 < len(t.starts):
        start, stop, _ = t.line_span(line + 1)
        body = t.text[start:stop].lstrip(" ")
        if not body.startswith("#") or stop - start - len(body) <= column:
            break
        line += 1
    _, le, full = t.line_span(line)
    text = " " * column + f"{key}: {value}"
    if full == le:  # no final newline: keep it that way
        return Edit(le, le, t.eol + text)
    return Edit(full, full, text + t.eol)
