"""The shared output path: JSON and Rich consoles never pass a control character from data."""

from __future__ import annotations

import io
import json
import sys

import pytest
from rich.table import Table
from rich.text import Text

from cdbctl.output import dumps_json, stderr_console, stdout_console

pytestmark = pytest.mark.unit

HOSTILE = "a\x1b]0;PWNED\x07b\x1b[31mc\x9b2Jd\u202ee\x7ff[/]g[bold]h"


def test_dumps_json_escapes_what_json_dumps_leaves_raw() -> None:
    text = dumps_json({"s": HOSTILE, "ok": "naïve 日本"})
    assert not any(ch in text for ch in "\x1b\x07\x9b\u202e\x7f")
    assert "\\u009b" in text and "\\u202e" in text and "\\u007f" in text
    assert "naïve 日本" in text  # printable non-ASCII stays readable
    assert json.loads(text) == {"s": HOSTILE, "ok": "naïve 日本"}  # the data is unchanged


def render(monkeypatch: pytest.MonkeyPatch, *, color: bool) -> str:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setenv("COLUMNS", "400")
    if color:
        monkeypatch.setenv("FORCE_COLOR", "1")
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", "1")
    console = stdout_console()
    table = Table(title=f"title {HOSTILE}")
    table.add_column("string", no_wrap=True)
    table.add_column("text", no_wrap=True)
    table.add_row(HOSTILE, Text(HOSTILE, style="green"))
    console.print(table)
    console.print(HOSTILE)
    return out.getvalue()


def test_stdout_console_shows_data_literally_without_its_controls(monkeypatch: pytest.MonkeyPatch) -> None:
    text = render(monkeypatch, color=False)
    assert not any(ch in text for ch in "\x1b\x07\x9b\u202e\x7f")
    assert text.count("[/]g[bold]h") == 4  # a string, a Text cell, the title, a print: never markup
    assert text.count("PWNED") == 4


def test_rich_keeps_its_own_colours(monkeypatch: pytest.MonkeyPatch) -> None:
    text = render(monkeypatch, color=True)
    assert "\x1b[32m" in text  # the green style: Rich's own escape, written
    assert "\x1b]0;" not in text and "\x07" not in text and "\x9b" not in text


def test_stderr_console_strips_controls_from_data_too(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    stderr_console().print(Text(HOSTILE))
    assert not any(ch in err.getvalue() for ch in "\x1b\x07\x9b\u202e")
