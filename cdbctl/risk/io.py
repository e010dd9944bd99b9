"""Decoding signal input (one object, an array or JSONL) into typed records, chunk by chunk.

JSONL is read in bounded chunks (flat memory, works on pipes as data arrives) and each chunk is
decoded in one ``decode_lines`` call; only a chunk with a bad or blank line falls back to decoding
line by line, so every invalid record still gets its own location and decision.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, NamedTuple

import msgspec

from cdbctl.errors import InputError
from cdbctl.risk.cdb_state import from_cdb_service
from cdbctl.risk.model import MarketData, RiskState, Signal
from cdbctl.risk.records import DECODE_ERRORS as _DECODE_ERRORS
from cdbctl.risk.records import Chunk, Invalid, Record, describe, record_from_object, records_from_document
from cdbctl.risk.timeparse import parse_now

__all__ = [
    "Chunk", "Invalid", "LineBlock", "Record", "Unit", "decode_payload", "load_market", "load_state",
    "read_chunks", "read_units", "record_from_object", "records_from_document", "resolve_now",
]  # fmt: skip

# Bytes of JSONL decided at a time. Small enough that a chunk's signals, decisions and output stay in
# the CPU caches between decoding, deciding and encoding (1 MiB chunks made a replay ~1.4x slower,
# a traced one ~1.9x: bench/bench_risk_replay.py); a traced decision is ~8x its signal.
CHUNK_SIZE = 1 << 16
TRACED_CHUNK_SIZE = 1 << 14
PARALLEL_BLOCK_SIZE = 1 << 20  # a --jobs worker's share at a time (a pipe round trip per block), split there
MAX_LINE = 64 << 20  # one JSONL line: a signal is a few hundred bytes
MAX_DOCUMENT = 1 << 30  # one JSON document (array or object), decoded whole
_TYPED = msgspec.json.Decoder(Signal)
_ANY = msgspec.json.Decoder()
_BOM = b"\xef\xbb\xbf"


def _line_record(line: bytes) -> Record:
    try:
        return _TYPED.decode(line)
    except _DECODE_ERRORS as err:
        raw: object = None
        if isinstance(err, msgspec.ValidationError):
            try:
                raw = _ANY.decode(line)
            except _DECODE_ERRORS:
                raw = None
        return Invalid(describe(err), raw)


def _slow_block(block: bytes, first: int) -> Chunk:
    records: list[Record] = []
    locs: list[int] = []
    for n, line in enumerate(block.split(b"\n"), first):
        if line.strip():
            records.append(_line_record(line))
            locs.append(n)
    return Chunk(records, first, locs, "line")


def _block(block: bytes, first: int, newlines: int) -> Chunk:
    lines = newlines + (0 if block.endswith(b"\n") else 1)
    try:
        records: list[Record] = _TYPED.decode_lines(block)  # type: ignore[assignment]  # list[Signal]
    except _DECODE_ERRORS:
        return _slow_block(block, first)
    if len(records) != lines:  # blank lines or two objects on one line: locate exactly
        return _slow_block(block, first)
    return Chunk(records, first, None, "line")


class LineBlock(NamedTuple):
    """Whole JSONL lines not decoded yet (a worker of a parallel replay decodes them)."""

    data: bytes
    first: int  # the line number of its first line
    newlines: int

    def decode(self) -> Chunk:
        """The block's records, each invalid line located as in any other chunk."""
        return _block(self.data, self.first, self.newlines)

    def split(self, size: int) -> Iterator[LineBlock]:
        """The block in pieces of whole lines of about ``size`` bytes, numbered on (a worker decides a
        large block piece by piece, each small enough to stay in the CPU caches)."""
        data, first, start = self.data, self.first, 0
        while len(data) - start > size:
            cut = data.find(b"\n", start + size - 1)
            if cut < 0:
                break
            piece = data[start : cut + 1]
            newlines = piece.count(b"\n")
            yield LineBlock(piece, first, newlines)
            first, start = first + newlines, cut + 1
        rest = data[start:] if start else data
        if rest or not start:
            yield LineBlock(rest, first, rest.count(b"\n"))


Unit = Chunk | LineBlock


def _too_long(name: str, line: int, limit: int) -> InputError:
    return InputError(
        f"line {line} is longer than {limit >> 20} MiB (the longest JSONL line accepted)",
        where=name,
        hint="one signal per line; a signal is a few hundred bytes",
    )


def _lines(  # noqa: PLR0917
    buf: bytes, read: Callable[[int], bytes], size: int, eof: bool, name: str, max_line: int
) -> Iterator[LineBlock]:
    """JSONL blocks of whole lines; each byte is scanned and copied a bounded number of times."""
    first = 1
    start = len(buf) - len(buf.lstrip())  # blank lines before the first record
    nl = buf.find(b"\n", start)
    if (nl if nl >= 0 else len(buf)) - start > max_line:
        raise _too_long(name, buf.count(b"\n", 0, start) + 1, max_line)
    pending: list[bytes] = [buf]  # the unfinished last line, in pieces: joined once it ends
    pending_len = len(buf)
    new = buf  # the bytes not yet searched for a newline
    while True:
        nl = new.rfind(b"\n")
        if nl >= 0:
            cut = pending_len - len(new) + nl + 1
            whole = b"".join(pending)
            block, rest = whole[:cut], whole[cut:]
            pending, pending_len = [rest], len(rest)
            newlines = block.count(b"\n")  # once per block: a full scan of about 1 MiB
            yield LineBlock(block, first, newlines)
            first += newlines
        if pending_len > max_line:
            raise _too_long(name, first, max_line)
        if eof:
            rest = b"".join(pending)
            if rest.strip():
                yield LineBlock(rest, first, rest.count(b"\n"))
            return
        new = read(size)
        if new:
            pending.append(new)
            pending_len += len(new)
        else:
            eof = True


def _read_head(read: Callable[[int], bytes], size: int, name: str, max_document: int) -> tuple[bytes, bool]:
    """The input up to its first line that holds more than blanks (or all of it), and whether it ended."""
    pieces: list[bytes] = []
    total = 0
    started = False  # a non-blank byte seen: the next newline ends the first line
    while True:
        more = read(size)
        if not more:
            return b"".join(pieces), True
        pieces.append(more)
        total += len(more)
        if not started:
            body = more.lstrip()
            started = bool(body)
            if started and b"\n" in body:
                return b"".join(pieces), False
        elif b"\n" in more:
            return b"".join(pieces), False
        if total > max_document:
            raise _too_large(name, max_document)


def _read_rest(  # noqa: PLR0917
    head: bytes, read: Callable[[int], bytes], size: int, eof: bool, name: str, max_document: int
) -> bytes:
    """The whole input as one document (a JSON array or object), read to its end once."""
    pieces = [head]
    total = len(head)
    while not eof:
        more = read(size)
        if not more:
            break
        pieces.append(more)
        total += len(more)
        if total > max_document:
            raise _too_large(name, max_document)
    return b"".join(pieces)


def _too_large(name: str, limit: int) -> InputError:
    return InputError(
        f"JSON document (or first line) larger than {limit >> 20} MiB",
        where=name,
        hint="give many signals as JSONL (one per line): it is streamed in flat memory",
    )


def chunk_size(traced: bool) -> int:
    """The bytes of JSONL decided at a time by an engine with or without the trace."""
    return TRACED_CHUNK_SIZE if traced else CHUNK_SIZE


def read_chunks(
    read: Callable[[int], bytes],
    name: str,
    size: int = CHUNK_SIZE,
    *,
    max_line: int = MAX_LINE,
    max_document: int = MAX_DOCUMENT,
) -> Iterator[Chunk]:
    """Chunks of records from a byte reader (``read1`` of a file or stdin); InputError if not JSON.

    A JSONL line longer than ``max_line`` and a whole JSON document larger than ``max_document``
    are input errors: both would otherwise be held (and decoded) whole in memory.
    """
    for unit in read_units(read, name, size, max_line=max_line, max_document=max_document):
        yield unit.decode() if isinstance(unit, LineBlock) else unit


def read_units(
    read: Callable[[int], bytes],
    name: str,
    size: int = CHUNK_SIZE,
    *,
    max_line: int = MAX_LINE,
    max_document: int = MAX_DOCUMENT,
) -> Iterator[Unit]:
    """As ``read_chunks``, with JSONL left undecoded in blocks of whole lines (decoded where evaluated)."""
    # read until the first line is complete: that decides between JSONL and one JSON document
    buf, eof = _read_head(read, size, name, max_document)
    if buf.startswith(_BOM):
        buf = buf[len(_BOM) :]
    head = buf.lstrip()
    if not head:
        return
    if b"\x00" in buf[:4096]:
        raise InputError("binary data, not JSON or JSONL", where=name)
    if head[:1] == b"[" or (head[:1] == b"{" and not _first_line_is_json(head)):
        buf = _read_rest(buf, read, size, eof, name, max_document)
        try:
            doc = _ANY.decode(buf)
        except _DECODE_ERRORS as err:
            if head[:1] == b"[":
                raise InputError(f"malformed JSON array: {describe(err)}", where=name) from None
            if not _looks_like_jsonl(head):  # one pretty-printed object with a typo: one error, at its line
                yield Chunk([Invalid(describe(err))], 1, [_error_line(buf, str(err))], "line")
                return
            eof = True  # all of it is in buf now
        else:
            yield records_from_document(doc, buf)
            return
    yield from _lines(buf, read, size, eof, name, max_line)


def _looks_like_jsonl(head: bytes) -> bool:
    """JSONL puts one object on each line: its second non-blank line starts a new object too."""
    lines = [line for line in head.split(b"\n", 8)[1:8] if line.strip()]
    return not lines or lines[0].lstrip().startswith(b"{")


def _error_line(buf: bytes, message: str) -> int:
    """The line of msgspec's '(byte N)' in a decode error (the last line if it has no offset)."""
    _, sep, rest = message.rpartition("(byte ")
    offset = int(rest.rstrip(")")) if sep and rest.rstrip(")").isdigit() else len(buf.rstrip())
    return buf.count(b"\n", 0, offset) + 1


def _first_line_is_json(head: bytes) -> bool:
    line = head.split(b"\n", 1)[0]
    try:
        _ANY.decode(line)
    except _DECODE_ERRORS:
        return False
    return True


def decode_payload(payload: bytes | str | dict[str, Any] | list[Any]) -> Chunk:
    """Records of a service payload (one object or a list; bytes/str are JSON); InputError if malformed."""
    obj: object = payload
    if isinstance(payload, bytes | str):
        try:
            obj = _ANY.decode(payload)
        except _DECODE_ERRORS as err:
            raise InputError(f"malformed JSON payload: {describe(err)}") from None
    return records_from_document(obj)


def load_state(state: Mapping[str, Any] | None, where: str | None = None) -> RiskState:
    """A validated RiskState from a mapping; InputError naming the field (and file, if any).

    CDB's risk-service fields (``circuit_breaker``, ``total_exposure``) are translated first."""
    if isinstance(state, Mapping):
        state = from_cdb_service(state, where)
    state_value: RiskState = _convert(state, RiskState, "state", where)
    return state_value


def load_market(market: Mapping[str, Any] | None, where: str | None = None) -> MarketData:
    """Validated default MarketData from a mapping; InputError naming the field (and file, if any)."""
    market_value: MarketData = _convert(market, MarketData, "market", where)
    return market_value


def _convert(obj: Mapping[str, Any] | None, typ: type[Any], what: str, where: str | None) -> Any:
    if obj is None:
        return typ()
    if not isinstance(obj, Mapping):
        raise InputError(f"{what}: expected a JSON object, got {type(obj).__name__}", where=where)
    try:
        value = msgspec.convert(dict(obj), typ)
    except (msgspec.ValidationError, RecursionError) as err:
        raise InputError(f"{what}: {describe(err)}", where=where) from None
    for field in value.__struct_fields__:
        v = getattr(value, field)
        if isinstance(v, float) and not -math.inf < v < math.inf:
            raise InputError(f"{what}: {field}: must be a finite number", where=where)
    return value


def resolve_now(now: datetime | float | str | None) -> float | None:
    """Epoch seconds for `now` (None keeps the live clock); InputError if unparseable."""
    epoch = parse_now(now)
    if now is not None and epoch is None:
        raise InputError(f"now: {now!r} is not an ISO-8601 time with Z or offset, nor epoch seconds")
    return epoch
