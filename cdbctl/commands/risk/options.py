"""The options of the `cdbctl risk` commands, defined once and reused by evaluate, explain and config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cdbctl.commands.formats import DecisionFormat, TableOrJson, format_option

InputsArg = Annotated[list[str] | None, typer.Argument(metavar="[INPUT ...]", show_default=False)]
StateOpt = Annotated[
    Path | None, typer.Option("--state", help="Risk state JSON (equity, daily_pnl, positions, ...).")
]
MarketOpt = Annotated[Path | None, typer.Option("--market", help="Default market conditions JSON.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML or TOML file of risk keys.")]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", metavar="KEY=VALUE", help="Override one risk key (repeatable).")
]
NowOpt = Annotated[
    str | None,
    typer.Option(
        "--now",
        metavar="ISO8601|signal",
        help="Evaluation clock (default: the current time); 'signal': each signal at its own timestamp.",
    ),
]
InstrumentsOpt = Annotated[
    Path | None,
    typer.Option(
        "--instruments",
        help="Instrument rules per symbol (JSON or YAML: tick, contract size, minimums, risk-limit tiers).",
    ),
]
TraceOpt = Annotated[
    bool, typer.Option("--trace", help="Add the per-check trace (jsonl, and tables of several signals).")
]
StatefulOpt = Annotated[
    bool, typer.Option("--stateful", help="Approved signals add their exposure for the signals after them.")
]
JobsOpt = Annotated[
    int,
    typer.Option(
        "--jobs",
        "-j",
        metavar="N",
        help="Decide JSONL input on N processes (0: one per CPU); writes jsonl; not with --stateful.",
    ),
]
DecisionFormatOpt = Annotated[DecisionFormat | None, format_option()]
TableOrJsonOpt = Annotated[TableOrJson | None, format_option()]
