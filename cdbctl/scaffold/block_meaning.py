"""What compose reads of a service block, for blocks the user rewrote in another style.

A block scaffold added may be rewritten without changing what it means: in flow style
(`cdb_core: {build: ..., ports: [...]}`), with an anchor, or with settings moved into an extension field
and merged back (`<<: *defaults`). Its lines then say little, its meaning (merge keys applied, aliases
followed, as a YAML loader builds it) says whether it is still scaffold's block, and whether a merge by
lines kept what the user meant. Values are compared as loaded; a sequence is one value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from cdbctl.errors import CdbctlError
from cdbctl.scaffold.compose_doc import semantic
from cdbctl.scaffold.yamltree import YNode

# The meaning of a block text in the file at the block's place (None: it does not load there).
Meaning = Callable[[bytes], Any]


class Clash(Exception):
    """The two sides changed one value differently."""


_ABSENT = object()


def meaning_at(text: str, where: str, span: tuple[int, int], name: str) -> Meaning:
    """The meaning of any text of service name's block, put in place of the lines at span in text."""

    def meaning(block: bytes) -> Any:
        spliced = text[: span[0]] + block.decode() + text[span[1] :]
        try:
            data = semantic(spliced, where)
        except CdbctlError:
            return None
        services = data.get("services") if isinstance(data, dict) else None
        value = services.get(name) if isinstance(services, dict) else None
        return value if isinstance(value, dict) else None

    return meaning


def restyled(node: YNode) -> bool:
    """Whether a service's block is not plain block style: flow style, or a merge key or alias inside."""
    return node.flow or any(_merges(node))


def _merges(node: YNode) -> Iterator[bool]:
    if node.kind == "alias":
        yield True
    for key, value in node.items:
        yield key.value == "<<"
        yield from _merges(value)
    for child in node.children:
        yield from _merges(child)


def _leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            yield from _leaves(sub, (*path, str(key)))
    else:
        yield path, repr(value)


def kept_share(render: Any, block: Any) -> float:
    """The share of a render's values (each leaf of its mappings) the block still has at the same place."""
    if not isinstance(render, dict) or not isinstance(block, dict):
        return 0.0
    theirs = set(_leaves(render))
    return len(theirs & set(_leaves(block))) / len(theirs) if theirs else 0.0


def merge_meaning(base: Any, yours: Any, theirs: Any) -> Any:
    """yours with the change base -> theirs, key by key into mappings; Clash where both changed one value."""
    if yours == base:
        return theirs
    if theirs in (base, yours):
        return yours
    if not all(isinstance(v, dict) for v in (base, yours, theirs)):
        raise Clash
    out = {}
    for key in [*yours, *(k for k in theirs if k not in yours)]:
        merged = merge_meaning(base.get(key, _ABSENT), yours.get(key, _ABSENT), theirs.get(key, _ABSENT))
        if merged is not _ABSENT:
            out[key] = merged
    return out
