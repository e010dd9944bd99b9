"""`cdbctl risk config`: the effective risk configuration, each value with its source."""

from __future__ import annotations

from cdbctl.commands.risk import options
from cdbctl.output import SCHEMA_VERSION, OutputFormat

HELP = """Show the effective risk configuration, each value with its source.

\b
Example:
  cdbctl risk config --set MAX_LEVERAGE=8 --format json
"""


def config_command(
    config: options.ConfigOpt = None, sets: options.SetOpt = None, fmt: options.TableOrJsonOpt = None
) -> None:
    """Show the effective risk configuration, each value with its source."""
    import msgspec

    from cdbctl.commands.formats import default_format
    from cdbctl.commands.risk.inputs import resolve_config
    from cdbctl.commands.risk.output import stdout_errors, stdout_writer, table_console

    fmt = fmt or default_format()
    rows = resolve_config(config, sets, announce=False).as_rows()
    if fmt is OutputFormat.json:
        body = {"schema_version": SCHEMA_VERSION, "keys": rows}
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
