"""The one `--format/-f` option of every command: which formats each renders and which one it picks.

Every command's format is an `OutputFormat`; the Literal it is annotated with lists the subset that
command renders. Typer builds the option's choices (help, completion and the usage error naming the
accepted values) from that Literal, so a value outside the subset never reaches the command.
"""

from __future__ import annotations

from typing import Any, Literal

import typer

from cdbctl.output import OutputFormat, is_terminal

#: risk explain, risk config, scaffold, verify
TableOrJson = Literal[OutputFormat.table, OutputFormat.json]
#: risk evaluate: decisions, also as JSON lines for streams
DecisionFormat = Literal[OutputFormat.table, OutputFormat.json, OutputFormat.jsonl]
#: ci-harden: findings as a table, plain lines, GitHub annotations, JSON or SARIF
FindingsFormat = Literal[
    OutputFormat.table, OutputFormat.text, OutputFormat.github, OutputFormat.json, OutputFormat.sarif
]

DEFAULT_HELP = "Output format (default: table on a terminal, else json)."


def format_option(help: str = DEFAULT_HELP, *, case_sensitive: bool = True) -> Any:
    """The `--format/-f` option; annotate it with one of the Literal subsets above (or None for the default).

    case_sensitive=False only where a command has always accepted any case (ci-harden: SARIF, GitHub).
    """
    return typer.Option("--format", "-f", help=help, case_sensitive=case_sensitive)


def default_format(*, text_data: bool = False) -> TableOrJson:
    """The format when none is given: a table on a terminal, JSON for a pipe or a file.

    text_data: the command's data is text (a --dry-run diff), so its report stays lines even when piped.
    """
    return OutputFormat.table if text_data or is_terminal() else OutputFormat.json
