"""Decode a whole JSON document (--state, --market, --instruments) with errors as `what: field: problem`.

msgspec's untyped decoder reports an out-of-range number as "Number out of range - at `$[...]`" (keys
masked) and a syntax error with a byte offset; the user needs the field path and the line instead.
"""

from __future__ import annotations

import json
import math
from typing import Any

import msgspec

from cdbctl.errors import InputError

_OUT_OF_RANGE = object()  # stands in for a number a 64-bit float cannot hold while the path is searched


def decode_document(data: bytes, what: str, where: str) -> Any:
    """The decoded document; InputError `what: field: problem` or `malformed what JSON: ...` (file:line)."""
    try:
        return msgspec.json.decode(data)
    except RecursionError:
        raise InputError(f"malformed {what} JSON: nested too deeply", where=where) from None
    except msgspec.DecodeError as err:
        msg = str(err)
        if msg.startswith("Number out of range"):
            path = _out_of_range_path(data)
            field = f"{path}: " if path else ""
            problem = f"{field}number out of range (beyond a 64-bit float)"
            raise InputError(f"{what}: {problem}", where=where) from None
        problem, line = _syntax(data, msg)
        raise InputError(f"malformed {what} JSON: {problem}", where=f"{where}:{line}") from None


def _syntax(data: bytes, msg: str) -> tuple[str, int]:
    """msgspec's syntax error without its '(byte N)' and prefix, and the line N falls on."""
    head, sep, rest = msg.rpartition(" (byte ")
    offset = rest.rstrip(")")
    if sep and offset.isdigit():
        msg, end = head, int(offset)
    else:
        end = len(data.rstrip())  # truncated input: the last line with content
    msg = msg.removeprefix("JSON is malformed: ")
    problem = msg[0].lower() + msg[1:] if msg and not msg[1:2].isupper() else msg
    return problem or "malformed JSON", data.count(b"\n", 0, end) + 1


def _out_of_range_path(data: bytes) -> str | None:
    """The path (`positions[0].size`) of the first number a float cannot hold, found by a slower re-parse."""

    def number(text: str) -> object:
        value = float(text)
        return value if math.isfinite(value) else _OUT_OF_RANGE

    try:
        doc = json.loads(data.decode("utf-8"), parse_float=number)
    except (ValueError, RecursionError):
        return None
    return _find(doc, "")


def _find(node: object, path: str) -> str | None:
    if node is _OUT_OF_RANGE:
        return path or None
    items: list[tuple[str, object]]
    if isinstance(node, dict):
        items = [(f"{path}.{key}" if path else str(key), value) for key, value in node.items()]
    elif isinstance(node, list):
        items = [(f"{path}[{i}]", value) for i, value in enumerate(node)]
    else:
        return None
    for sub, value in items:
        if (found := _find(value, sub)) is not None:
            return found
    return None
