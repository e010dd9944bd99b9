"""Writing decisions out: every write checked, the `json` format streamed like `jsonl`.

One ``write`` call may take fewer bytes than it was given (Linux moves at most 2,147,479,552 bytes
per write(2); a pipe or a non-blocking descriptor takes less); ``write_all`` loops until every byte
is taken, so a large output can never be cut silently. ``JsonStream`` prints the bytes
``msgspec.json.format(encode(body), indent=2)`` would print for the whole body, decision by decision,
so memory stays flat whatever the number of signals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import msgspec

from cdbctl.errors import EnvironmentProblem
from cdbctl.risk.model import Decision

Write = Callable[[memoryview], "int | None"]
MAX_WRITE = 1 << 30  # one call never asks for more than the kernel moves at once
_NO_PROGRESS_LIMIT = 100  # consecutive zero-byte writes before giving up (a dead sink)


def write_all(write: Write, data: bytes | bytearray | memoryview, *, name: str = "stdout") -> None:
    """Write every byte of ``data``: short counts are resumed, a sink that takes nothing is an error.

    ``write`` returns the number of bytes it took (``None`` from a non-blocking raw stream means 0).
    """
    view = memoryview(data).cast("B")
    stalled = 0
    while view:
        n = write(view[:MAX_WRITE])
        if n is None or n <= 0:
            stalled += 1
            if stalled >= _NO_PROGRESS_LIMIT:
                raise EnvironmentProblem(f"cannot write to {name}: no byte taken after {stalled} tries")
            continue
        if n > len(view):
            raise EnvironmentProblem(f"cannot write to {name}: it reported {n} bytes written of {len(view)}")
        stalled = 0
        view = view[n:]


_ENC = msgspec.json.Encoder()


def _indented_item(decision: Decision) -> bytes:
    # the item exactly as it appears inside an indented array: '[\n' + item + '\n]'
    return msgspec.json.format(_ENC.encode((decision,)), indent=2)[2:-2]


class JsonStream:
    """`--format json` written as decisions arrive: one object for a single signal, else an array.

    Whether the body is an array is known only at the second decision (or at the end), so the first
    decision is held back until then; after that nothing is held.
    """

    __slots__ = ("_count", "_first", "_write")

    def __init__(self, write: Callable[[bytes], None]) -> None:
        self._write = write
        self._first: Decision | None = None
        self._count = 0

    def add(self, decisions: Iterable[Decision]) -> None:
        """Write (or hold) the next decisions."""
        for d in decisions:
            self._count += 1
            if self._count == 1:
                self._first = d
                continue
            if self._first is not None:
                self._write(b"[\n" + _indented_item(self._first))
                self._first = None
            self._write(b",\n" + _indented_item(d))

    def close(self, *, single: bool) -> None:
        """Finish the document; ``single``: the input was one object or JSONL, not an array."""
        if self._count == 0:
            return
        if self._first is not None:  # exactly one decision
            if single:
                self._write(msgspec.json.format(_ENC.encode(self._first), indent=2) + b"\n")
                return
            self._write(b"[\n" + _indented_item(self._first))
        self._write(b"\n]\n")
