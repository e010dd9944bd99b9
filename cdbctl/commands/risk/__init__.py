"""`cdbctl risk`: evaluate signals, explain decisions, show the configuration (the engine is cdbctl.risk)."""

from __future__ import annotations

import typer

HELP = "Pre-trade risk engine: evaluate signals, explain decisions, show the effective configuration."


def register(app: typer.Typer) -> None:
    """Add the `risk` sub-app (evaluate, explain, config) to the app."""
    from cdbctl.commands.risk import config, evaluate, explain

    sub = typer.Typer(name="risk", help=HELP, no_args_is_help=True)
    sub.command("evaluate", help=evaluate.HELP)(evaluate.evaluate_command)
    sub.command("config", help=config.HELP)(config.config_command)
    sub.command("explain", help=explain.HELP)(explain.explain_command)
    app.add_typer(sub, name="risk")
