"""Three-way merge of a block-style YAML mapping by its keys, for what the line merge calls a conflict.

A line merge collides when two changes touch adjacent lines, even when they set different keys: you add
`FEATURE_X` under `environment:` right before the `REDIS_URL` line the template changes. Keys of a mapping
have no order that matters, so such changes are independent: each key is merged on its own (one side
changed it: that side; both changed it alike: once; both changed it differently: a conflict), recursively
into nested mappings; anything else (a sequence, a block scalar, a flow collection) is one value compared
as text. Key order follows your text, with the template's new keys placed after the key they follow there.

Only plain block mappings are taken (one `key:` per line, deeper lines belong to it, comments and blank
lines to the key after them); anything else gives None and the caller keeps its conflict.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

_T = TypeVar("_T")

# A block mapping key on its own line: plain or quoted, then `:` and a space or the end of the line.
_KEY = re.compile(rb"""( *)([^\s#'"\-?:,\[\]{}&*!|>%@`][^:#]*?|"[^"]*"|'[^']*')[ \t]*:(?:[ \t]|$)""")


class _Unmergeable(Exception):
    """Not a plain block mapping, or the two sides changed one key differently."""


@dataclass(frozen=True)
class _Item:
    key: bytes
    lead: tuple[bytes, ...]  # the comment and blank lines before the key line
    line: bytes  # the key line
    body: tuple[bytes, ...]  # the deeper lines after the key line
    children: tuple[_Item, ...] | None  # a nested mapping's items, else None (a value compared as text)
    tail: tuple[bytes, ...] = ()  # a nested mapping's trailing comment and blank lines

    @property
    def core(self) -> tuple[bytes, ...]:
        return (self.line, *self.body)

    @property
    def text(self) -> tuple[bytes, ...]:
        return self.lead + self.core


def _indent(line: bytes) -> int:
    return len(line) - len(line.lstrip(b" "))


def _filler(line: bytes) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith(b"#")


def _level(lines: Sequence[bytes]) -> tuple[list[_Item], tuple[bytes, ...]]:
    """The items of one mapping level (its lines), and the comment/blank lines after the last item."""
    content = [line for line in lines if not _filler(line)]
    if not content:
        return [], tuple(lines)
    depth = _indent(content[0])
    items: list[_Item] = []
    pending: list[bytes] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _filler(line):
            pending.append(line)
            i += 1
            continue
        match = _KEY.match(line.rstrip(b"\r\n"))
        if _indent(line) != depth or match is None:
            raise _Unmergeable
        j = i + 1
        while j < len(lines) and (_filler(lines[j]) or _indent(lines[j]) > depth):
            j += 1
        body = list(lines[i + 1 : j])
        while body and _filler(body[-1]):  # comments after a value belong to the next key
            j -= 1
            body.pop()
        items.append(_item(match.group(2), tuple(pending), line, tuple(body)))
        pending = []
        i = j
    keys = [item.key for item in items]
    if len(set(keys)) != len(keys):
        raise _Unmergeable
    return items, tuple(pending)


def _item(key: bytes, lead: tuple[bytes, ...], line: bytes, body: tuple[bytes, ...]) -> _Item:
    value = line.split(b":", 1)[1] if b":" in line else b""
    first = next((part for part in body if not _filler(part)), None)
    if value.split(b"#")[0].strip() == b"" and first is not None and _KEY.match(first.rstrip(b"\r\n")):
        children, tail = _level(body)
        return _Item(key, lead, line, body, tuple(children), tail)
    return _Item(key, lead, line, body, None)


def _pick(base: _T, yours: _T, theirs: _T) -> _T:
    """The side that changed (both alike: yours); both changed differently: _Unmergeable."""
    if yours == base:
        return theirs
    if theirs in (base, yours):
        return yours
    raise _Unmergeable


def _merge_items(base: Sequence[_Item], yours: Sequence[_Item], theirs: Sequence[_Item]) -> list[_Item]:
    b, y, t = ({i.key: i for i in items} for items in (base, yours, theirs))
    out: dict[bytes, _Item | None] = {}
    for key in [*y, *(k for k in t if k not in y)]:
        out[key] = _merge_one(b.get(key), y.get(key), t.get(key))
    order = list(y)
    for n, key in enumerate(t):  # the template's new keys go after the key they follow in its text
        if key not in y:
            before = next((k for k in reversed(list(t)[:n]) if k in order), None)
            order.insert(order.index(before) + 1 if before is not None else 0, key)
    return [item for key in order if (item := out[key]) is not None]


def _merge_one(base: _Item | None, yours: _Item | None, theirs: _Item | None) -> _Item | None:
    if base is None or yours is None or theirs is None:  # added or removed on a side: taken whole
        picked = _pick(*(i.text if i is not None else None for i in (base, yours, theirs)))
        return next((i for i in (yours, theirs) if i is not None and i.text == picked), None)
    lead = _pick(base.lead, yours.lead, theirs.lead)  # your comment above a key the template changed
    try:
        core = _pick(base.core, yours.core, theirs.core)
    except _Unmergeable:
        if base.children is None or yours.children is None or theirs.children is None:
            raise
        line = _pick(base.line, yours.line, theirs.line)
        tail = _pick(base.tail, yours.tail, theirs.tail)
        children = tuple(_merge_items(base.children, yours.children, theirs.children))
        body = tuple(part for child in children for part in child.text) + tail
        return _Item(yours.key, lead, line, body, children, tail)
    source = yours if yours.core == core else theirs
    return _Item(source.key, lead, source.line, source.body, source.children, source.tail)


def merge_mapping(base: bytes, yours: bytes, theirs: bytes) -> bytes | None:
    """yours with the change base -> theirs merged key by key; None when that cannot be done soundly.

    The three texts are one block mapping entry each (a compose service: its key line and deeper lines).
    """
    lines = [text.splitlines(keepends=True) for text in (base, yours, theirs)]
    if not all(lines) or not all(text.endswith(b"\n") for text in (base, yours, theirs)):
        return None
    try:
        b, y, t = (_level(part) for part in lines)
        merged = _merge_items(b[0], y[0], t[0])
        tail = _pick(b[1], y[1], t[1])
    except _Unmergeable:
        return None
    assert isinstance(tail, tuple)
    return b"".join(line for item in merged for line in item.text) + b"".join(tail)
