"""The cdbctl Typer application: the root command, its help and every subcommand registered.

Imported by ``cli.main`` once its Ctrl-C handling is in place (Typer, Click and Rich take a while to
import; a Ctrl-C then is an interruption like any other, never a traceback).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from cdbctl import __version__
from cdbctl.help_layout import fit_help

HELP = f"""cdbctl {__version__}: operations CLI for the Claire de Binare (CDB) back office.

\b
Examples:
  cdbctl risk evaluate examples/signal.json --now 2026-01-01T12:00:05Z
  cdbctl risk evaluate signals.jsonl --format jsonl --stateful
  cdbctl scaffold --repo path/to/cdb --dry-run
  cdbctl ci-harden --repo path/to/cdb --check
  cdbctl verify --compose docker-compose.yml --wait

\b
Exit codes:
  0  success: approved, healthy, nothing to change
  1  negative result: a signal rejected, the stack unhealthy, --check found drift (ci-harden: or a
     workflow it could not check, such as one with merge-conflict markers)
  2  usage or input error: bad flag, missing file, malformed JSON/YAML, invalid record
  3  environment error: Docker unreachable, permission denied, unsafe edit
  4  internal error (a bug; rerun with CDBCTL_DEBUG=1 for a traceback)
  130 interrupted
  141 stdout closed early by its reader (broken pipe, as for SIGPIPE)
"""


def _version_callback(value: bool) -> None:
    if value:
        sys.stdout.write(f"cdbctl {__version__}\n")
        raise typer.Exit(0)


def build_app() -> typer.Typer:
    """Build the Typer app with every command registered."""
    app = typer.Typer(
        name="cdbctl",
        help=HELP,
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def _root(
        version: Annotated[
            bool,
            typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version."),
        ] = False,
    ) -> None:
        """cdbctl: operations CLI for the CDB back office."""

    from cdbctl.commands import ciharden, risk, scaffold, verify

    for module in (risk, scaffold, ciharden, verify):
        module.register(app)
    return app


def _help_width() -> int:
    """Columns the help body gets: the terminal's (COLUMNS honoured) less Rich's padding."""
    import shutil

    return max(40, shutil.get_terminal_size((80, 24)).columns - 4)


def plain_metavars(command: Any) -> None:
    """Show values the way people write them (PATH, table|json), never Python types (<bool>, <list[str]>)."""
    from typer._click import Context

    if getattr(command, "help", None):
        command.help = fit_help(command.help, _help_width())
    help_option = command.get_help_option(Context(command, help_option_names=["-h", "--help"]))
    if help_option is not None:
        help_option.metavar = ""
    for param in getattr(command, "params", ()):
        if getattr(param, "param_type_name", "") == "argument":
            # The usage line already shows the argument's name; a type column would add "<list[str]>".
            param.display_type_rich = lambda ctx: None
        desc = getattr(param, "type_descriptor", None)
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif param.metavar is not None:
            if param.metavar.startswith("[") and param.metavar.endswith("...]"):
                param.metavar = param.metavar[1:-5].strip()  # click adds the brackets and the dots itself
        elif desc is not None and desc.is_choice:
            param.metavar = "|".join(str(getattr(c, "value", c)) for c in desc.choices or ())
        elif desc is not None and desc.is_path:
            param.metavar = "PATH"
        elif param.name:
            param.metavar = param.name.upper()
    for sub in getattr(command, "commands", {}).values():
        plain_metavars(sub)
