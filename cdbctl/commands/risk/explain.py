"""`cdbctl risk explain`: each check's value, limit and headroom, and the size and leverage that pass."""

from __future__ import annotations

import sys
from contextlib import closing
from typing import TYPE_CHECKING

import typer

from cdbctl.commands.risk import options
from cdbctl.errors import ExitCode
from cdbctl.output import OutputFormat

if TYPE_CHECKING:
    from cdbctl.risk.explain import Explanation

HELP = (  # one source line per paragraph: the help renderer keeps line breaks
    "Explain risk decisions: each check's value, limit and headroom, and what would pass.\n\n"
    "Input as for `risk evaluate` (one object, an array or JSONL). For a rejected signal it finds, by "
    "re-running the engine, the largest size and the highest leverage that pass, so every suggestion is one "
    "it approves.\n\n"
    "\b\nExamples:\n"
    "  cdbctl risk explain examples/signal.json --now 2026-01-01T12:00:05Z\n"
    "  cdbctl risk explain signal.json --state state.json --instruments examples/instruments.yaml\n\n"
    "Exit codes: 0 approved, 1 rejected, 2 usage or input error (unreadable file, malformed JSON, invalid "
    "record, bad instruments file), 4 internal error."
)


def explain_command(  # noqa: PLR0917  # Typer maps parameters to options
    inputs: options.InputsArg = None,
    state: options.StateOpt = None,
    market: options.MarketOpt = None,
    config: options.ConfigOpt = None,
    sets: options.SetOpt = None,
    now: options.NowOpt = None,
    instruments: options.InstrumentsOpt = None,
    fmt: options.TableOrJsonOpt = None,
) -> None:
    """Explain the risk decision for signals."""
    import msgspec

    from cdbctl.commands.formats import default_format
    from cdbctl.commands.risk.inputs import build_engine, no_signals, signal_names, signal_sources
    from cdbctl.commands.risk.output import require_stdout, stdout_errors, stdout_writer, table_console
    from cdbctl.commands.risk.table import render_explanations
    from cdbctl.risk.explain import explain, explain_decision
    from cdbctl.risk.io import Invalid, read_chunks
    from cdbctl.sanitize import clean

    fmt = fmt or default_format()
    names = signal_names(inputs)
    require_stdout()
    engine = build_engine(
        state=state, market=market, config=config, sets=sets, now=now, instruments=instruments, trace=True
    )
    out: list[Explanation] = []
    with closing(signal_sources(names)) as sources:
        for read, label in sources:
            for chunk in read_chunks(read, label):
                for i, record in enumerate(chunk.records):
                    if isinstance(record, Invalid):
                        decision = engine.invalid(
                            record.problem, record.signal_id, record.symbol, record.side
                        )
                        x = explain_decision(decision)
                    else:
                        x = explain(engine, record)
                    if x.reason in ("invalid_signal", "internal_error"):  # as evaluate: located on stderr
                        loc = chunk.location(i)  # '7' (line), '3: item 2' (array item) or None
                        line = f"{label}:{loc}: {x.detail}" if loc else f"{label}: {x.detail}"
                        sys.stderr.write(clean(line) + "\n")
                    out.append(x)
    if not out:
        raise no_signals(names)
    if fmt is OutputFormat.json:
        body: object = out[0] if len(out) == 1 else out
        stdout_writer()(msgspec.json.format(msgspec.json.encode(body), indent=2) + b"\n")
    else:
        with stdout_errors():
            render_explanations(table_console(), out)
    code = _exit_code(out)
    if code is not ExitCode.OK:
        raise typer.Exit(code)


def _exit_code(out: list[Explanation]) -> ExitCode:
    """As evaluate: a bug (internal_error) before an invalid record before a rejection."""
    reasons = {x.reason for x in out}
    if "internal_error" in reasons:
        return ExitCode.INTERNAL
    if "invalid_signal" in reasons:
        return ExitCode.USAGE
    return ExitCode.OK if all(x.approved for x in out) else ExitCode.NEGATIVE
