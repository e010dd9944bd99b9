"""A positional YAML tree built from ruamel.yaml parser events.

Events (unlike composed nodes) keep aliases where they occur and give the exact character span
of every scalar and flow collection, which is what splicing edits need.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cdbctl.errors import InputError


@dataclass
class YNode:
    """One YAML node with its character span in the source text."""

    kind: str  # "scalar" | "map" | "seq" | "alias"
    start: int
    end: int
    line: int  # 0-based line of start
    column: int
    value: str | None = None  # scalar text, or alias target
    style: str | None = None  # scalar quote style: None (plain), "'", '"', "|", ">"
    anchor: str | None = None
    flow: bool = False
    tag: str | None = None
    items: list[tuple[YNode, YNode]] = field(default_factory=list)  # mapping entries
    children: list[YNode] = field(default_factory=list)  # sequence entries

    def get(self, key: str) -> YNode | None:
        """The value of a direct (non-merged) key of a mapping, or None."""
        for k, v in self.items:
            if k.kind == "scalar" and k.value == key:
                return v
        return None

    def key_node(self, key: str) -> YNode | None:
        """The key node of a direct key of a mapping, or None."""
        for k, _ in self.items:
            if k.kind == "scalar" and k.value == key:
                return k
        return None


# Far deeper than any compose file; keeps the recursive builders (here and PyYAML's) off Python's limit.
MAX_DEPTH = 200


class _TreeError(Exception):
    """A problem at a position: parse_tree turns it into an InputError naming file, line and column."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


def _node(events: Iterator[Any], ev: Any, depth: int = 0) -> YNode:
    name = type(ev).__name__
    sm, em = ev.start_mark, ev.end_mark
    if depth > MAX_DEPTH:
        raise _TreeError(f"malformed YAML: nested too deeply (over {MAX_DEPTH} levels)", sm.line, sm.column)
    if name == "AliasEvent":
        return YNode("alias", sm.index, em.index, sm.line, sm.column, value=ev.anchor)
    anchor = getattr(ev, "anchor", None)
    tag = getattr(ev, "tag", None)
    if name == "ScalarEvent":
        return YNode(
            "scalar",
            sm.index,
            em.index,
            sm.line,
            sm.column,
            value=ev.value,
            style=ev.style or None,  # libyaml says "" for a plain scalar, ruamel None
            anchor=anchor,
            tag=tag,
        )
    if name == "MappingStartEvent":
        node = YNode("map", sm.index, em.index, sm.line, sm.column, anchor=anchor, flow=bool(ev.flow_style))
        node.tag = tag
        seen: dict[str, YNode] = {}
        while True:
            kev = next(events)
            if type(kev).__name__ == "MappingEndEvent":
                node.end = kev.end_mark.index
                return node
            key = _node(events, kev, depth + 1)
            if key.kind == "scalar" and key.value is not None and key.value != "<<":
                first = seen.setdefault(key.value, key)
                if first is not key:
                    # As docker compose (yaml.v3) does: a key twice is an error, not "the last one wins".
                    raise _TreeError(
                        f"key {key.value!r} defined twice (first on line {first.line + 1})",
                        key.line,
                        key.column,
                    )
            node.items.append((key, _node(events, next(events), depth + 1)))
    if name == "SequenceStartEvent":
        node = YNode("seq", sm.index, em.index, sm.line, sm.column, anchor=anchor, flow=bool(ev.flow_style))
        while True:
            sev = next(events)
            if type(sev).__name__ == "SequenceEndEvent":
                node.end = sev.end_mark.index
                return node
            node.children.append(_node(events, sev, depth + 1))
    raise InputError(f"unexpected YAML event {name}")


def _events(text: str) -> list[Any]:
    """The parser events of text: libyaml's C parser when PyYAML has it (linear and fast), else ruamel's.

    Both give the same events with character offsets; the pure-Python parsers took minutes on MB files.
    """
    import yaml

    if getattr(yaml, "__with_libyaml__", False):
        return list(yaml.parse(text, Loader=yaml.CSafeLoader))
    from ruamel.yaml import YAML

    return list(YAML(typ="rt").parse(text))


@functools.lru_cache(maxsize=8)
def parse_tree(text: str, where: str) -> YNode | None:
    """Parse the first document of text into a YNode tree (None for an empty document).

    Cached: a run reads each compose text several times (builds, patch, self-check); callers never
    change the tree.
    """
    import yaml
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        events = iter(_events(text))
        root: YNode | None = None
        for ev in events:
            name = type(ev).__name__
            if name in {"StreamStartEvent", "DocumentStartEvent"}:
                continue
            if name in {"DocumentEndEvent", "StreamEndEvent"}:
                break
            root = _node(events, ev)
        return root
    except _TreeError as exc:
        raise InputError(exc.message, where=f"{where}:{exc.line + 1}:{exc.column + 1}") from None
    except (MarkedYAMLError, yaml.MarkedYAMLError) as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        raise InputError(f"malformed YAML: {exc.problem or exc.context}", where=loc) from None
    except (YAMLError, yaml.YAMLError) as exc:
        raise InputError(f"malformed YAML: {exc}", where=where) from None


def anchors(node: YNode | None, out: dict[str, YNode] | None = None) -> dict[str, YNode]:
    """Every anchored node of the tree by anchor name (the last definition wins, as in YAML)."""
    out = {} if out is None else out
    if node is None:
        return out
    if node.anchor:
        out[node.anchor] = node
    for k, v in node.items:
        anchors(k, out)
        anchors(v, out)
    for c in node.children:
        anchors(c, out)
    return out


# What a YAML loader would build, aliases expanded; a "billion laughs" file is refused before a loader
# (or a deep comparison of two loaded documents) ever expands it. Far above any real compose file.
MAX_EXPANDED = 2_000_000


def expanded_size(root: YNode | None, named: dict[str, YNode], where: str) -> int:
    """The node count of root with every alias expanded; InputError above MAX_EXPANDED or on a cycle.

    Iterative and memoised per node, so it is linear in the text however the aliases nest.
    """
    if root is None:
        return 0
    memo: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[YNode, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in memo:
            continue
        kids = _kids(node, named)
        if done:
            active.discard(key)
            memo[key] = (0 if node.kind == "alias" else 1) + sum(memo.get(id(k), 0) for k in kids)
            if memo[key] > MAX_EXPANDED:
                raise InputError(
                    f"YAML aliases expand to over {MAX_EXPANDED} values (an alias bomb?); not processed",
                    where=f"{where}:{node.line + 1}:{node.column + 1}",
                )
            continue
        if key in active:
            raise InputError("recursive YAML alias", where=f"{where}:{node.line + 1}:{node.column + 1}")
        active.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in memo)
    return memo[id(root)]


def _kids(node: YNode, named: dict[str, YNode]) -> list[YNode]:
    if node.kind == "alias":
        target = named.get(node.value or "")
        return [target] if target is not None else []
    return [*(n for kv in node.items for n in kv), *node.children]
