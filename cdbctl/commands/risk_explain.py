"""`cdbctl risk explain` and the `--instruments FILE` loader shared with `cdbctl risk evaluate`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cdbctl.errors import InputError, UsageError
from cdbctl.sanitize import clean

if TYPE_CHECKING:
    from cdbctl.risk.explain import Explanation
    from cdbctl.risk.instruments import InstrumentBook

EXPLAIN_HELP = (  # one source line per paragraph: the help renderer keeps line breaks
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

TableJsonOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        metavar="table|json",
        help="Output format (default: table on a terminal, else json).",
    ),
]
InstrumentsOpt = Annotated[
    Path | None,
    typer.Option(
        "--instruments",
        help="Instrument rules per symbol (JSON or YAML: tick, contract size, minimums, risk-limit tiers).",
    ),
]


def read_instruments(path: Path) -> InstrumentBook:
    """Parse an instruments file (JSON or YAML, by content) and validate it; InputError names the field."""
    from cdbctl.risk.instruments import load_instruments

    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a leading BOM is dropped
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read instruments file: {err}", where=str(path)) from None
    data: Any
    if path.suffix.lower() == ".json":
        from cdbctl.risk.jsondoc import decode_document

        data = decode_document(text.encode(), "instruments", str(path))
    else:
        from cdbctl.commands.risk_yaml import load_yaml

        data = load_yaml(text, "instruments", str(path))  # YAML is a superset of JSON: any other suffix
    return load_instruments(data, source=str(path))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.6g}"
    return "-" if value is None else str(value)


def _render(explanations: list[Explanation]) -> None:
    from rich.table import Table

    from cdbctl.commands.risk_output import table_console

    console = table_console()
    for x in explanations:
        label = " ".join(str(p) for p in (x.signal_id, x.symbol, x.side) if p is not None) or "signal"
        verdict = "APPROVED" if x.approved else f"REJECTED: {x.reason}"
        table = Table(title=f"{label}: {verdict}", title_justify="left")
        for col in ("check", "passed", "value", "limit", "headroom", "detail"):
            table.add_column(col)
        for c in x.checks:
            table.add_row(
                c.name,
                "yes" if c.passed else "NO",
                _fmt(c.value),
                _fmt(c.limit),
                _fmt(c.headroom),
                c.detail or "",
            )
        console.print(table)
        if x.detail:
            console.print(f"detail: {x.detail}")
        if x.sized_usd is not None:
            console.print(f"size from the sizing check: {x.sized_usd:,.2f} USDT")
        if x.largest_size_usd is not None:
            base = _fmt(x.largest_position_size)
            # found together with a lower leverage (explain._both): it passes only at that leverage
            both = not x.approved and any(
                s.startswith(f"leverage {x.highest_leverage} with ") for s in x.suggestions
            )
            at = f" at leverage {x.highest_leverage}" if both else ""
            sent = x.largest_target_usd
            via = (
                f", send target_position_usd {sent:,.2f}"
                if sent is not None and sent != x.largest_size_usd
                else ""
            )
            console.print(f"largest size that passes{at}: {x.largest_size_usd:,.2f} USDT ({base} base{via})")
        if x.highest_leverage is not None:
            console.print(f"highest leverage that passes: {x.highest_leverage}")
        for line in x.suggestions:
            console.print(f"to pass: {line}")


def explain_cmd(  # noqa: PLR0917  # Typer maps parameters to options
    inputs: Annotated[list[str] | None, typer.Argument(metavar="[INPUT ...]", show_default=False)] = None,
    state: Annotated[Path | None, typer.Option("--state", help="Risk state JSON.")] = None,
    market: Annotated[Path | None, typer.Option("--market", help="Default market conditions JSON.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML or TOML file of risk keys.")] = None,
    sets: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="KEY=VALUE", help="Override one risk key (repeatable)."),
    ] = None,
    now: Annotated[str | None, typer.Option("--now", metavar="ISO8601", help="Evaluation clock.")] = None,
    instruments: InstrumentsOpt = None,
    fmt: TableJsonOpt = None,
) -> None:
    """Explain the risk decision for signals."""
    import msgspec

    from cdbctl.commands.risk import _open_input, _read_json_file, _resolve, input_names, state_located
    from cdbctl.commands.risk_output import require_stdout, stdout_errors, stdout_writer
    from cdbctl.output import is_terminal
    from cdbctl.risk import load_market, load_state, resolve_now
    from cdbctl.risk.engine import Engine
    from cdbctl.risk.explain import explain, explain_decision
    from cdbctl.risk.io import Invalid, read_chunks

    fmt = fmt or ("table" if is_terminal() else "json")
    if fmt not in ("table", "json"):
        raise UsageError(f"--format {fmt!r}: expected table or json")
    names = input_names(inputs)
    require_stdout()
    if names == ["-"] and not inputs and is_terminal(sys.stdin):
        raise UsageError(
            "no INPUT given and stdin is a terminal", hint="pass a signal file or pipe one into -"
        )
    resolved = _resolve(config, sets)
    st = load_state(_read_json_file(state, "state"), str(state)) if state else None
    mk = load_market(_read_json_file(market, "market"), str(market)) if market else None
    book = read_instruments(instruments) if instruments else None
    try:
        engine = Engine(resolved.config, st, mk, now=resolve_now(now), trace=True, instruments=book)
    except InputError as err:
        raise state_located(err, state) from None
    out: list[Explanation] = []
    invalid = internal = False
    for name in names:
        stream, label = _open_input(name)
        try:
            for chunk in read_chunks(getattr(stream, "read1", stream.read), label):
                for i, record in enumerate(chunk.records):
                    if isinstance(record, Invalid):
                        decision = engine.invalid(
                            record.problem, record.signal_id, record.symbol, record.side
                        )
                        x = explain_decision(decision)
                    else:
                        x = explain(engine, record)
                    if x.reason in ("invalid_signal", "internal_error"):  # as evaluate: exit 2 (4), located
                        invalid = True
                        internal = internal or x.reason == "internal_error"
                        loc = chunk.location(i)  # '7' (line), '3: item 2' (array item) or None
                        line = f"{label}:{loc}: {x.detail}" if loc else f"{label}: {x.detail}"
                        sys.stderr.write(clean(line) + "\n")
                    out.append(x)
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
    if not out:
        raise InputError("no signals", where=", ".join(n if n != "-" else "<stdin>" for n in names))
    if fmt == "json":
        body: object = out[0] if len(out) == 1 else out
        stdout_writer()(msgspec.json.format(msgspec.json.encode(body), indent=2) + b"\n")
    else:
        with stdout_errors():
            _render(out)
    if internal:
        raise typer.Exit(4)
    if invalid:
        raise typer.Exit(2)
    if not all(x.approved for x in out):
        raise typer.Exit(1)
