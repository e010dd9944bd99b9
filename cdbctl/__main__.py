"""Entry point for ``python -m cdbctl``."""

from cdbctl.cli import run

run()
