"""Evaluate decoded chunks with an engine: locate invalid records, count outcomes, stream JSONL."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from operator import attrgetter

import msgspec

from cdbctl.errors import ExitCode
from cdbctl.risk.engine import Engine
from cdbctl.risk.io import Chunk, Invalid
from cdbctl.risk.model import Decision

_ENC = msgspec.json.Encoder()
Reporter = Callable[[str], None]
_LOCATED = frozenset(("invalid_signal", "internal_error"))
_APPROVED = attrgetter("approved")
_REASON = attrgetter("reason")


@dataclass(slots=True)
class Summary:
    """Outcome counts of a run; ``exit_code`` follows the README table."""

    approved: int = 0
    rejected: int = 0
    invalid: int = 0
    internal: int = 0

    @property
    def total(self) -> int:
        """Records evaluated."""
        return self.approved + self.rejected

    def add(self, other: Summary) -> None:
        """Count another run's outcomes in (a parallel replay's workers count their blocks)."""
        self.approved += other.approved
        self.rejected += other.rejected
        self.invalid += other.invalid
        self.internal += other.internal

    def exit_code(self) -> int:
        """4 on an internal error, 2 on an invalid record, 1 on a rejection, else 0."""
        if self.internal:
            return int(ExitCode.INTERNAL)
        if self.invalid:
            return int(ExitCode.USAGE)
        return int(ExitCode.NEGATIVE) if self.rejected else int(ExitCode.OK)


def evaluate_chunk(
    engine: Engine, chunk: Chunk, name: str, summary: Summary, report: Reporter
) -> list[Decision]:
    """Decisions for a chunk in input order; invalid records are located, counted and reported."""
    evaluate = engine.evaluate
    records = chunk.records
    decide = engine.decide  # fast or traced: the engine's evaluation, without the per-call wrapper
    if chunk.locs is None and chunk.kind == "line":  # all records are Signals
        decisions: list[Decision] = []
        pending = iter(records)
        while True:  # one C-level loop; list.extend keeps what it got before an exception
            try:
                decisions.extend(map(decide, pending))  # type: ignore[arg-type]
                break
            except Exception as exc:  # a bug: rejected (internal_error, exit 4), never re-run elsewhere
                decisions.append(engine.internal_error(exc, records[len(decisions)]))  # type: ignore[arg-type]
    else:
        decisions = [
            engine.invalid(r.problem, r.signal_id, r.symbol, r.side)
            if isinstance(r, Invalid)
            else evaluate(r)
            for r in records
        ]
    approved = sum(map(_APPROVED, decisions))
    reasons = set(map(_REASON, decisions)) if approved != len(decisions) else ()
    if not _LOCATED.isdisjoint(reasons):  # an invalid record or a bug: locate those (a C-speed test first)
        for i, d in enumerate(decisions):
            if d.reason in _LOCATED:
                where = chunk.where(i)
                loc = chunk.location(i)  # '7' for line 7, '3: item 2' for an array item on line 3
                report(f"{name}:{loc}: {d.detail}" if loc else f"{name}: {d.detail}")
                if where:
                    d.detail = f"{where}: {d.detail}"
                if d.reason == "internal_error":
                    summary.internal += 1
                else:
                    summary.invalid += 1
    summary.approved += approved
    summary.rejected += len(decisions) - approved
    return decisions


def decide_chunks(
    chunks: Iterable[Chunk], engine: Engine, name: str, summary: Summary, report: Reporter
) -> Iterator[tuple[Chunk, list[Decision]]]:
    """Each chunk with its decisions, as the chunks arrive (nothing accumulates)."""
    for chunk in chunks:
        yield chunk, evaluate_chunk(engine, chunk, name, summary, report)


def stream_jsonl(  # noqa: PLR0917
    chunks: Iterable[Chunk],
    engine: Engine,
    name: str,
    write: Callable[[bytes], object],
    flush: Callable[[], object],
    summary: Summary,
    report: Reporter,
) -> None:
    """Evaluate and write one decision per line, chunk by chunk (flat memory, prompt on pipes)."""
    encode_lines = _ENC.encode_lines
    for _chunk, decisions in decide_chunks(chunks, engine, name, summary, report):
        if decisions:
            write(encode_lines(decisions))
            flush()


def collect(
    chunks: Iterable[Chunk], engine: Engine, name: str, summary: Summary, report: Reporter
) -> tuple[list[Decision], bool]:
    """All decisions, and whether the input was a single signal (not an array) for `json` output."""
    out: list[Decision] = []
    array = False
    for chunk, decisions in decide_chunks(chunks, engine, name, summary, report):
        array = array or chunk.kind == "item"
        out.extend(decisions)
    return out, not array
