"""Decoded signal records and where each came from: a typed ``Signal`` or an ``Invalid`` record
with its problem, grouped in chunks that know each record's line (or array item)."""

from __future__ import annotations

import re

import msgspec

from cdbctl.errors import InputError
from cdbctl.risk.model import Signal

DECODE_ERRORS = (msgspec.ValidationError, msgspec.DecodeError, RecursionError)


class Invalid:
    """A record that failed to decode: where it was, what is wrong, and what could be salvaged."""

    __slots__ = ("problem", "side", "signal_id", "symbol")

    def __init__(self, problem: str, raw: object = None) -> None:
        self.problem = problem
        fields = raw if isinstance(raw, dict) else {}
        self.signal_id = fields.get("signal_id")
        self.symbol = fields.get("symbol")
        self.side = fields.get("side")


Record = Signal | Invalid


class Chunk:
    """Decoded records of one chunk; ``locs`` None means record i sits at ``first + i``."""

    __slots__ = ("_item_lines", "doc", "first", "kind", "locs", "records")

    def __init__(
        self, records: list[Record], first: int, locs: list[int] | None, kind: str, doc: bytes | None = None
    ) -> None:
        self.records = records
        self.first = first
        self.locs = locs
        self.kind = kind  # "line" | "item" | "object"
        self.doc = doc  # the JSON array's text, to find an item's line only when one is reported
        self._item_lines: list[int] | None = None

    def where(self, i: int) -> str | None:
        """The human location of record i: 'line 7', 'item 3' or None for a single object."""
        if self.kind == "object":
            return None
        n = self.locs[i] if self.locs is not None else self.first + i
        return f"{self.kind} {n}"

    def location(self, i: int) -> str | None:
        """Record i's `file:` suffix for stderr: '7' (line), '3: item 2' (array item on line 3) or None."""
        where = self.where(i)
        if where is None or self.kind == "line":
            return where[5:] if where else None
        if self.doc is not None:
            if self._item_lines is None:
                self._item_lines = item_lines(self.doc)
            if i < len(self._item_lines):
                return f"{self._item_lines[i]}: {where}"
        return where


_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[][{},]')
_NON_SPACE = re.compile(rb"\S")


def item_lines(doc: bytes) -> list[int]:
    """The line each top-level item of a JSON array starts on (only run when an item is reported)."""
    starts: list[int] = []
    depth = 0
    for token in _TOKENS.finditer(doc):
        c = token.group()[:1]
        if c in b"[{":
            depth += 1
            if depth == 1:
                starts.append(token.end())
        elif c in b"]}":
            depth -= 1
        elif c == b"," and depth == 1:
            starts.append(token.end())
    lines: list[int] = []
    line, at = 1, 0
    for start in starts:
        found = _NON_SPACE.search(doc, start)
        pos = found.start() if found is not None else len(doc)
        line += doc.count(b"\n", at, pos)
        at = pos
        lines.append(line)
    return lines


def describe(err: BaseException) -> str:
    """`field: problem` for a decode or validation error."""
    if isinstance(err, RecursionError):
        return "json: nested too deeply"
    msg = str(err)
    if isinstance(err, msgspec.DecodeError) and not isinstance(err, msgspec.ValidationError):
        return f"json: {_lower_first(msg)}" if msg else "json: malformed JSON"
    field = "record"
    if " - at `" in msg:
        msg, path = msg.rsplit(" - at `", 1)
        path = path.rstrip("`")
        field = path[2:] if path.startswith("$.") else (path.lstrip("$") or "record")
    elif msg.startswith("Object missing required field `"):
        field = msg.split("`")[1]
        msg = "missing required field"
    msg = msg.replace("`", "")
    return f"{field}: {_lower_first(msg)}"


def _lower_first(msg: str) -> str:
    """'Expected ...' -> 'expected ...', but an acronym stays ('JSON is malformed', not 'jSON')."""
    if not msg or msg[1:2].isupper():
        return msg
    return msg[0].lower() + msg[1:]


def record_from_object(obj: object) -> Record:
    """A typed Signal from an already-decoded JSON value, or the Invalid describing why not."""
    try:
        return msgspec.convert(obj, Signal)
    except DECODE_ERRORS as err:
        return Invalid(describe(err), obj)


def records_from_document(obj: object, doc: bytes | None = None) -> Chunk:
    """Records of a whole JSON document: an object is one signal, an array many (``doc``: its text)."""
    if isinstance(obj, list):
        return Chunk([record_from_object(o) for o in obj], 1, None, "item", doc)
    if isinstance(obj, dict):
        return Chunk([record_from_object(obj)], 1, None, "object")
    raise InputError(f"expected a JSON object or array of signals, got {type(obj).__name__}")
