"""Compose a workflow with PyYAML's C composer (line/column marks for every node at a fraction of the
cost of ruamel.yaml's round-trip loader), refusing what would crash or mislead it: alias bombs,
recursive aliases, nesting deep enough to overflow the C stack, tags the safe loader cannot build.
"""

from __future__ import annotations

import re

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from cdbctl.ciharden.merge_conflicts import conflict_in
from cdbctl.ciharden.model import located
from cdbctl.errors import InputError

# an anchor (``&name``) and an alias (``*name``) at the start of the text or after a space or flow
# indicator; split in two because a leading ``^|`` alternative makes re try it at every position
_ANCHOR_START = re.compile(r"&[^\s\[\]{},]")
_ANCHOR = re.compile(r"[\s\[{,]&[^\s\[\]{},]")
_ALIAS_START = re.compile(r"\*[^\s\[\]{},]")
_ALIAS = re.compile(r"[\s\[{,]\*[^\s\[\]{},]")
MAX_EXPANDED_NODES = 100_000  # billion-laughs guard: node count with aliases expanded
MAX_DEPTH = 1000  # nesting guard: PyYAML's C composer recurses once per level
# ``- - - x`` and ``? ? x`` nest one level per two characters on a single line
_DEEP_DASHES = re.compile(rf"(?:[-?][ \t]+){{{MAX_DEPTH}}}")
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class WorkflowError(InputError):
    """A workflow file that cannot be used (invalid YAML, alias bomb); carries the 1-based line and
    column where known."""

    def __init__(self, message: str, *, path: str, line: int | None, col: int | None = None) -> None:
        super().__init__(message, where=located(path, line, col))
        self.path = path
        self.line = line
        self.col = col if line else None


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


def _has_aliases(text: str) -> bool:
    """Could the text hold both an anchor and an alias (only then can aliases expand)?"""
    return (
        "&" in text
        and "*" in text
        and (_ANCHOR_START.match(text) is not None or _ANCHOR.search(text) is not None)
        and (_ALIAS_START.match(text) is not None or _ALIAS.search(text) is not None)
    )


def compose(text: str, path: str) -> Node | None:
    """Compose a YAML document with marks; raise WorkflowError with the line on any problem."""
    deep = _too_deep(text)
    if deep is not None:
        raise WorkflowError(f"YAML nested more than {MAX_DEPTH} levels deep", path=path, line=deep)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise _invalid(exc, text, path) from exc
    except yaml.YAMLError as exc:
        conflict = conflict_in(text, None)
        if conflict is not None:
            raise WorkflowError(
                f"invalid YAML: {conflict.message}", path=path, line=conflict.line, col=conflict.col
            ) from exc
        raise WorkflowError(f"invalid YAML: {exc}", path=path, line=None) from exc
    except RecursionError as exc:
        raise WorkflowError("YAML nested too deeply", path=path, line=None) from exc
    if node is not None and _has_aliases(text):
        _check_expansion(node, path)
    if node is not None and "!" in text:
        _check_tags(node, path)
    return node


def _invalid(exc: yaml.MarkedYAMLError, text: str, path: str) -> WorkflowError:
    """One line for a parse error: merge-conflict markers when they are the cause (located at the
    first one), else the parser's problem and what it was parsing, at the problem's line and column."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    col = mark.column + 1 if mark is not None else None
    what = " ".join(str(x) for x in (exc.problem, exc.context) if x)
    what = " ".join(what.split()) or "cannot be parsed"  # PyYAML's texts may hold line breaks
    conflict = conflict_in(text, line)
    if conflict is None:
        return WorkflowError(f"invalid YAML: {what}", path=path, line=line, col=col)
    # the location is the conflict's; where the parser gave up is said only when it is elsewhere
    stopped = f", at {line}:{col}" if line and (line, col) != (conflict.line, conflict.col) else ""
    return WorkflowError(
        f"invalid YAML: {conflict.message} (parser{stopped}: {what})",
        path=path,
        line=conflict.line,
        col=conflict.col,
    )


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
            col=first.start_mark.column + 1,
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
