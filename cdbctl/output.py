"""Output formats and console factories shared by every command.

Consoles are built per call, never at import time, so colour follows Rich's rules
(NO_COLOR, FORCE_COLOR, TTY detection) for the stream actually in use.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console

SCHEMA_VERSION = 1


class OutputFormat(StrEnum):
    """Every format a command renders its result in (each command's subset: cdbctl.commands.formats)."""

    table = "table"
    text = "text"  # one line per finding
    github = "github"  # GitHub Actions workflow commands (annotations)
    json = "json"
    jsonl = "jsonl"
    sarif = "sarif"


# Rich falls back to 80 columns when stdout is a pipe or file; tables written there are read
# by people later (logs, CI output), so give them room instead of truncating values with an ellipsis.
PIPE_WIDTH = 200


def stdout_console() -> Console:
    """A console on stdout for data (tables); wide when stdout is not a terminal.

    Markup is off: data is never Rich markup (a '[/]' in a symbol or a server reply used to crash
    the table), and no control character from the data reaches the terminal (see _safe_console).
    """
    import os

    width = None if is_terminal() or os.environ.get("COLUMNS") else PIPE_WIDTH
    return _safe_console()(file=sys.stdout, soft_wrap=False, width=width, markup=False)


def stderr_console() -> Console:
    """A console on stderr for diagnostics, progress and summaries (markup on: escape data)."""
    return _safe_console()(file=sys.stderr, stderr=True, soft_wrap=True)


@cache
def _safe_console() -> type[Console]:
    """A Rich Console that writes no control character it did not make itself.

    Every renderable (strings, Text, tables, titles, live displays) becomes Segments before it is
    written; a segment that is not one of Rich's own control segments holds only text, so ESC, BEL,
    C1 and bidi controls in it come from data and are removed (line breaks, which Rich emits as text
    segments, stay).
    """
    from rich.console import Console, ConsoleOptions, RenderableType
    from rich.segment import Segment

    from cdbctl.sanitize import strip_controls

    class SafeConsole(Console):
        def render(
            self, renderable: RenderableType, options: ConsoleOptions | None = None
        ) -> Iterable[Segment]:
            for segment in super().render(renderable, options):
                text = segment.text
                if segment.control is None and text != "\n" and strip_controls(text) != text:
                    # Removed, not replaced: Rich measured them as zero width when it laid out.
                    lines = (strip_controls(line, "") for line in text.split("\n"))
                    yield Segment("\n".join(lines), segment.style)
                else:
                    yield segment

    return SafeConsole


def is_terminal(stream: TextIO | None = None) -> bool:
    """True when the stream (stdout by default) is an interactive terminal."""
    stream = stream or sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def dumps_json(data: Any) -> str:
    """Serialise plain data as stable, human-readable JSON (never through Rich).

    json.dumps escapes only C0 controls; DEL, C1 (e.g. the 8-bit CSI) and bidi overrides would
    reach a terminal raw, so they are escaped too (the decoded data is unchanged).
    """
    from cdbctl.sanitize import escape_json_text

    return escape_json_text(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False, allow_nan=False))


def write_stdout(text: str) -> None:
    """Write data to stdout, adding the final newline."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def note(message: str) -> None:
    """A one-line remark on stderr about a choice made for the user (sanitised like warn)."""
    _diagnostic("note", message)


def warn(message: str) -> None:
    """A one-line diagnostic on stderr (sanitised: it may quote a file name or a URL)."""
    _diagnostic("warning", message)


def _diagnostic(kind: str, message: str) -> None:
    from cdbctl.sanitize import clean

    sys.stderr.write(f"cdbctl: {kind}: {clean(message)}\n")
