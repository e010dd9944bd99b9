"""`cdbctl risk evaluate` and `cdbctl risk config`: load inputs, run the engine, render, exit code."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

import typer

from cdbctl.commands.risk_explain import (
    EXPLAIN_HELP,
    InstrumentsOpt,
    TableJsonOpt,
    explain_cmd,
    read_instruments,
)
from cdbctl.commands.risk_output import require_stdout, stdout_errors, stdout_writer, table_console
from cdbctl.errors import InputError, UsageError
from cdbctl.sanitize import clean

if TYPE_CHECKING:
    from cdbctl.risk.config import ResolvedConfig
    from cdbctl.risk.model import Decision

EVALUATE_HELP = """Evaluate trade signals against the pre-trade risk checks.

INPUT is a file or - (stdin) holding one JSON object, a JSON array or JSONL (one signal per line);
without INPUT, stdin is read. Configuration: defaults < --config file < environment < --set.

\b
Examples:
  cdbctl risk evaluate examples/signal.json --now 2026-01-01T12:00:05Z
  cdbctl risk evaluate examples/signals.jsonl --state examples/state.json --format jsonl
  tail -f signals.jsonl | cdbctl risk evaluate - --format jsonl --stateful

\b
Exit codes: 0 all approved, 1 at least one rejected, 2 usage or input error
(unreadable file, no signals, malformed JSON, an invalid record), 4 internal error.
"""

CONFIG_HELP = """Show the effective risk configuration, each value with its source.

\b
Example:
  cdbctl risk config --set MAX_LEVERAGE=8 --format json
"""

StateOpt = Annotated[Path | None, typer.Option("--state", help="Risk state JSON (equity, daily_pnl, ...).")]
MarketOpt = Annotated[Path | None, typer.Option("--market", help="Default market conditions JSON.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML or TOML file of risk keys.")]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", metavar="KEY=VALUE", help="Override one risk key (repeatable).")
]
NowOpt = Annotated[
    str | None, typer.Option("--now", metavar="ISO8601", help="Evaluation clock (default: the current time).")
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        metavar="table|json|jsonl",
        help="Output format (default: table on a terminal, else json).",
    ),
]


def _read_json_file(path: Path, what: str) -> Any:
    from cdbctl.risk.jsondoc import decode_document

    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read {what} file: {err.strerror or err}", where=str(path)) from None
    data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 BOM, as signal inputs accept it
    return decode_document(data, what, str(path))


def _read_config_file(path: Path) -> dict[str, object]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a leading BOM is dropped
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read config file: {err}", where=str(path)) from None
    data: object
    if path.suffix.lower() == ".toml":
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"malformed TOML: {err}", where=str(path)) from None
    else:
        from cdbctl.commands.risk_yaml import load_yaml

        data = load_yaml(text, "config", str(path))  # duplicate keys, 8_0, deep nesting: input errors
    if data is None:
        return {}
    if isinstance(data, dict) and set(data) == {"risk"} and isinstance(data["risk"], dict):
        data = data["risk"]
    if not isinstance(data, dict) or any(isinstance(v, dict | list) for v in data.values()):
        raise InputError("config file must be a mapping of KEY: scalar value", where=str(path))
    return {str(k): v for k, v in data.items()}


def state_located(err: InputError, state: Path | None) -> InputError:
    """A state error the engine finds while parsing positions or trades names the --state file too."""
    if err.where is None and state is not None and err.message.startswith("state"):
        err.where = str(state)
    return err


def _resolve(config: Path | None, sets: list[str] | None, *, announce: bool = True) -> ResolvedConfig:
    from cdbctl.risk.config import resolve

    layers: list[tuple[str, dict[str, object], bool]] = []
    if config is not None:
        layers.append((f"config file {config}", _read_config_file(config), True))
    layers.append(("environment", dict(os.environ), False))
    overrides: dict[str, object] = {}
    for item in sets or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: expected KEY=VALUE", hint="e.g. --set MAX_LEVERAGE=8")
        overrides[key.strip()] = value
    layers.append(("--set", overrides, True))
    resolved = resolve(layers)
    if announce:
        _announce_environment(resolved, resolve([layer for layer in layers if layer[0] != "environment"]))
    for name, source in resolved.unused:
        from cdbctl.output import warn
        from cdbctl.risk.config import UNUSED_CDB_KEYS

        why = UNUSED_CDB_KEYS[name.strip().upper().replace("-", "_")]
        warn(f"{name} ({source}) is a CDB key cdbctl does not use: {why}")
    return resolved


def _announce_environment(resolved: ResolvedConfig, without_env: ResolvedConfig) -> None:
    """Name on stderr every value the shell's environment changed: an ambient export must not go unseen."""
    for key, source in resolved.sources.items():
        value = getattr(resolved.config, key)
        if source.startswith("environment") and value != getattr(without_env.config, key):
            variable = source.removeprefix("environment variable ").strip() or key
            sys.stderr.write(f"cdbctl: note: {key}={value} from environment ({variable})\n")


def input_names(inputs: list[str] | None) -> list[str]:
    """The INPUT names to read (stdin when none); UsageError if '-' is given twice (stdin reads once)."""
    names = inputs or ["-"]
    if (dashes := names.count("-")) > 1:
        raise UsageError(f"'-' (stdin) given {dashes} times: stdin can be read only once")
    return names


def _open_input(name: str) -> tuple[BinaryIO, str]:
    if name == "-":
        return sys.stdin.buffer, "<stdin>"
    try:
        return open(name, "rb"), name  # closed by the caller
    except OSError as err:
        raise InputError(f"cannot read input: {err.strerror or err}", where=name) from None


def evaluate(  # noqa: PLR0917  # Typer maps parameters to options
    inputs: Annotated[list[str] | None, typer.Argument(metavar="[INPUT ...]", show_default=False)] = None,
    state: StateOpt = None,
    market: MarketOpt = None,
    config: ConfigOpt = None,
    sets: SetOpt = None,
    now: NowOpt = None,
    fmt: FormatOpt = None,
    trace: Annotated[
        bool, typer.Option("--trace", help="Add the per-check trace (jsonl, and tables of several signals).")
    ] = False,
    stateful: Annotated[
        bool,
        typer.Option("--stateful", help="Approved signals add their exposure for the signals after them."),
    ] = False,
    instruments: InstrumentsOpt = None,
) -> None:
    """Evaluate trade signals against the pre-trade risk checks."""
    import msgspec

    from cdbctl.output import is_terminal
    from cdbctl.risk import load_market, load_state, resolve_now
    from cdbctl.risk.engine import Engine
    from cdbctl.risk.io import read_chunks
    from cdbctl.risk.runner import Summary, decide_chunks
    from cdbctl.risk.sink import JsonStream

    fmt = fmt or ("table" if is_terminal() else "json")
    if fmt not in ("table", "json", "jsonl"):
        raise UsageError(f"--format {fmt!r}: expected table, json or jsonl")
    names = input_names(inputs)
    if names == ["-"] and not inputs and is_terminal(sys.stdin):
        raise UsageError("no INPUT given and stdin is a terminal", hint="pass a file or pipe signals into -")
    resolved = _resolve(config, sets)
    st = load_state(_read_json_file(state, "state"), str(state)) if state else None
    mk = load_market(_read_json_file(market, "market"), str(market)) if market else None
    book = read_instruments(instruments) if instruments else None
    try:
        engine = Engine(
            resolved.config,
            st,
            mk,
            now=resolve_now(now),
            trace=fmt != "jsonl" or trace,
            stateful=stateful,
            finite_inputs=True,  # every input is JSON text: no NaN or infinity can get through
            instruments=book,
        )
    except InputError as err:
        raise state_located(err, state) from None
    summary = Summary()

    def report(msg: str) -> None:
        sys.stderr.write(clean(msg) + "\n")  # quotes the input's own text

    decisions: list[Decision] = []
    array = False
    require_stdout()  # closed: exit 3 before any work
    write = stdout_writer() if fmt != "table" else None
    json_out = JsonStream(write) if write is not None and fmt == "json" else None
    encode_lines = msgspec.json.Encoder().encode_lines
    for name in names:
        stream, label = _open_input(name)
        try:
            read = getattr(stream, "read1", stream.read)
            for chunk, got in decide_chunks(read_chunks(read, label), engine, label, summary, report):
                if write is not None and json_out is None:
                    if got:
                        write(encode_lines(got))
                elif json_out is not None:
                    array = array or chunk.kind == "item"
                    json_out.add(got)  # streamed: the output is never held whole in memory
                else:
                    decisions.extend(got)
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
    if summary.total == 0:
        raise InputError("no signals", where=", ".join(n if n != "-" else "<stdin>" for n in names))
    if json_out is not None:
        json_out.close(single=not array)
    elif fmt == "table":
        from cdbctl.commands.risk_table import render

        with stdout_errors():
            render(table_console(), decisions, trace=trace)
        sys.stderr.write(
            f"{summary.total} signal(s): {summary.approved} approved, {summary.rejected} rejected"
            f" ({summary.invalid} invalid)\n"
        )
    code = summary.exit_code()
    if code:
        raise typer.Exit(code)


def show_config(
    config: ConfigOpt = None,
    sets: SetOpt = None,
    fmt: TableJsonOpt = None,
) -> None:
    """Show the effective risk configuration, each value with its source."""
    import msgspec

    from cdbctl.output import is_terminal

    fmt = fmt or ("table" if is_terminal() else "json")
    if fmt not in ("table", "json"):
        raise UsageError(f"--format {fmt!r}: expected table or json")
    rows = _resolve(config, sets, announce=False).as_rows()
    if fmt == "json":
        body = {"schema_version": 1, "keys": rows}
        stdout_writer()(msgspec.json.format(msgspec.json.encode(body), indent=2) + b"\n")
        return
    from rich.table import Table

    table = Table(title="risk configuration (defaults < --config < environment < --set)")
    for col in ("key", "value", "source", "default", "aliases"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["key"], str(r["value"]), r["source"], str(r["default"]), ", ".join(r["aliases"]))
    with stdout_errors():
        table_console().print(table)


def register(app: typer.Typer) -> None:
    """Add the `risk` sub-app (evaluate, config) to the app."""
    sub = typer.Typer(name="risk", help="Pre-trade risk engine (K1).", no_args_is_help=True)
    sub.command("evaluate", help=EVALUATE_HELP)(evaluate)
    sub.command("config", help=CONFIG_HELP)(show_config)
    sub.command("explain", help=EXPLAIN_HELP)(explain_cmd)
    app.add_typer(sub, name="risk")
