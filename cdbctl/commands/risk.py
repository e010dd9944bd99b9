"""`cdbctl risk` (placeholder until its issue lands)."""

from __future__ import annotations

import typer

from cdbctl.errors import UsageError


def register(app: typer.Typer) -> None:
    """Add the command to the app."""

    @app.command("risk", help="Not available yet in this build.")
    def _cmd() -> None:
        raise UsageError("'risk' is not available yet in this build")
