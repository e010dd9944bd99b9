"""`cdbctl risk evaluate`: read signals, decide each with the engine, stream the decisions, exit code."""

from __future__ import annotations

import sys
from contextlib import closing
from typing import TYPE_CHECKING

import typer

from cdbctl.commands.risk import options
from cdbctl.errors import ExitCode, UsageError
from cdbctl.output import OutputFormat

if TYPE_CHECKING:
    from collections.abc import Callable

    from cdbctl.risk.engine import Engine
    from cdbctl.risk.model import Decision
    from cdbctl.risk.runner import Summary

HELP = (  # one source line per paragraph: the help renderer keeps line breaks
    "Evaluate trade signals against the pre-trade risk checks.\n\n"
    "INPUT is a file or - (stdin) holding one JSON object, a JSON array or JSONL (one signal per line); "
    "without INPUT, stdin is read. Configuration: defaults < --config file < environment < --set.\n\n"
    "\b\nExamples:\n"
    "  cdbctl risk evaluate examples/signal.json --now 2026-01-01T12:00:05Z\n"
    "  cdbctl risk evaluate examples/signals.jsonl --state examples/state.json --format jsonl\n"
    "  tail -f signals.jsonl | cdbctl risk evaluate - --format jsonl --stateful\n"
    "  cdbctl risk evaluate day.jsonl --now signal --jobs 0 > decisions.jsonl\n\n"
    "Exit codes: 0 all approved, 1 at least one rejected, 2 usage or input error (unreadable file, no "
    "signals, malformed JSON, an invalid record), 3 environment error (stdout unwritable, a --jobs worker "
    "killed), 4 internal error, 130 interrupted."
)


def evaluate_command(  # noqa: PLR0917  # Typer maps parameters to options
    inputs: options.InputsArg = None,
    state: options.StateOpt = None,
    market: options.MarketOpt = None,
    config: options.ConfigOpt = None,
    sets: options.SetOpt = None,
    now: options.NowOpt = None,
    fmt: options.DecisionFormatOpt = None,
    trace: options.TraceOpt = False,
    stateful: options.StatefulOpt = False,
    instruments: options.InstrumentsOpt = None,
    jobs: options.JobsOpt = 1,
) -> None:
    """Evaluate trade signals against the pre-trade risk checks."""
    import msgspec

    from cdbctl.commands.formats import default_format
    from cdbctl.commands.risk.inputs import build_engine, no_signals, signal_names, signal_sources
    from cdbctl.commands.risk.output import require_stdout, stdout_errors, stdout_writer, table_console
    from cdbctl.risk.io import chunk_size, read_chunks
    from cdbctl.risk.runner import Summary, decide_chunks
    from cdbctl.risk.sink import JsonStream
    from cdbctl.sanitize import clean

    fmt = fmt or (OutputFormat.jsonl if jobs != 1 else default_format())  # --jobs streams JSONL
    workers = _workers(jobs, fmt, stateful)
    names = signal_names(inputs)
    engine = build_engine(
        state=state,
        market=market,
        config=config,
        sets=sets,
        now=now,
        instruments=instruments,
        trace=fmt is not OutputFormat.jsonl or trace,
        stateful=stateful,
        finite_inputs=True,  # every input is JSON text: no NaN or infinity can get through
    )
    summary = Summary()

    def report(msg: str) -> None:
        sys.stderr.write(clean(msg) + "\n")  # quotes the input's own text

    decisions: list[Decision] = []  # the table needs every row; json and jsonl are streamed
    array = False
    require_stdout()  # closed: exit 3 before any work
    write = stdout_writer() if fmt is not OutputFormat.table else None
    json_out = JsonStream(write) if write is not None and fmt is OutputFormat.json else None
    if workers > 1 and write is not None:  # jsonl (_workers refuses the other formats)
        _replay_in_parallel(names, engine, workers, write, summary, report)
    else:
        encode_lines = msgspec.json.Encoder().encode_lines
        with closing(signal_sources(names)) as sources:
            for read, label in sources:
                chunks = read_chunks(read, label, chunk_size(engine.trace))
                for chunk, got in decide_chunks(chunks, engine, label, summary, report):
                    if json_out is not None:
                        array = array or chunk.kind == "item"
                        json_out.add(got)  # streamed: the output is never held whole in memory
                    elif write is not None:
                        if got:
                            write(encode_lines(got))
                    else:
                        decisions.extend(got)
    if summary.total == 0:
        raise no_signals(names)
    if json_out is not None:
        json_out.close(single=not array)
    elif fmt is OutputFormat.table:
        from cdbctl.commands.risk.table import render

        with stdout_errors():
            render(table_console(), decisions, trace=trace)
        sys.stderr.write(
            f"{summary.total} signal(s): {summary.approved} approved, {summary.rejected} rejected"
            f" ({summary.invalid} invalid)\n"
        )
    code = ExitCode(summary.exit_code())
    if code is not ExitCode.OK:
        raise typer.Exit(code)


MAX_JOBS_PER_CPU = 4


def _workers(jobs: int, fmt: OutputFormat, stateful: bool) -> int:
    """The number of processes --jobs asks for; UsageError for what cannot be split."""
    if jobs < 0:
        raise UsageError(f"--jobs: {jobs} is negative (0 means one process per CPU)")
    if jobs == 1:
        return 1
    if stateful:
        raise UsageError(
            "--jobs: a --stateful replay runs in one process (each approval changes the next signal's state)"
        )
    if fmt is not OutputFormat.jsonl:
        raise UsageError(f"--jobs needs --format jsonl (got {fmt.value})")
    from cdbctl.risk.parallel import require_fork, usable_cpus

    cpus = usable_cpus()
    most = max(MAX_JOBS_PER_CPU * cpus, 8)  # each worker holds an engine (~25 MiB); more only thrash
    if jobs > most:
        raise UsageError(
            f"--jobs: {jobs} is more than {most} ({MAX_JOBS_PER_CPU} per usable CPU, {cpus} here)"
        )
    if (jobs or cpus) > 1:
        require_fork()
    return jobs or cpus


def _replay_in_parallel(  # noqa: PLR0917
    names: list[str],
    engine: Engine,
    workers: int,
    write: Callable[[bytes], None],
    summary: Summary,
    report: Callable[[str], None],
) -> None:
    from cdbctl.commands.risk.inputs import signal_sources
    from cdbctl.risk.io import PARALLEL_BLOCK_SIZE, read_units
    from cdbctl.risk.parallel import ParallelReplay

    sys.stdout.flush()  # the workers are forks: nothing buffered here may be written twice
    sys.stderr.flush()
    with (
        closing(signal_sources(names)) as sources,
        ParallelReplay(engine, workers, write, summary, report) as run,
    ):
        for read, label in sources:
            run.run(read_units(read, label, PARALLEL_BLOCK_SIZE), label)
        run.finish()
