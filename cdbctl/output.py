"""Output formats and console factories shared by every command.

Consoles are built per call, never at import time, so colour follows Rich's rules
(NO_COLOR, FORCE_COLOR, TTY detection) for the stream actually in use.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console

SCHEMA_VERSION = 1


class OutputFormat(StrEnum):
    """Formats a command can render its result in."""

    table = "table"
    json = "json"
    jsonl = "jsonl"
    sarif = "sarif"


# Rich falls back to 80 columns when stdout is a pipe or file; tables written there are read
# by people later (logs, CI output), so give them room instead of truncating values with an ellipsis.
PIPE_WIDTH = 200


def stdout_console() -> Console:
    """A console on stdout for data (tables); wide when stdout is not a terminal."""
    import os

    from rich.console import Console

    width = None if is_terminal() or os.environ.get("COLUMNS") else PIPE_WIDTH
    return Console(file=sys.stdout, soft_wrap=False, width=width)


def stderr_console() -> Console:
    """A console on stderr for diagnostics, progress and summaries."""
    from rich.console import Console

    return Console(file=sys.stderr, stderr=True, soft_wrap=True)


def is_terminal(stream: TextIO | None = None) -> bool:
    """True when the stream (stdout by default) is an interactive terminal."""
    stream = stream or sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def dumps_json(data: Any) -> str:
    """Serialise plain data as stable, human-readable JSON (never through Rich)."""
    return json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False, allow_nan=False)


def write_stdout(text: str) -> None:
    """Write data to stdout, adding the final newline."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def warn(message: str) -> None:
    """A one-line diagnostic on stderr."""
    sys.stderr.write(f"cdbctl: warning: {message}\n")
