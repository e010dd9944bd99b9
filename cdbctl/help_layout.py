"""Help text laid out for the terminal it is shown on: whole example commands, no ragged prose.

Typer prints a paragraph marked with click's ``\\b`` line by line and wraps each line again where it
is too long for the terminal, which cuts example commands mid-option and leaves prose ragged. Here a
preformatted paragraph that is only prose is handed back to the reflowing renderer, and a long
example line is broken between words with shell continuations, as a person would type it.
"""

from __future__ import annotations

import re
import textwrap

_MARK = "\b"
_COMMAND = re.compile(r"^\s*(cdbctl |tail |[A-Z_]+=\S* cdbctl )")
_ITEM = re.compile(r"^(\s*\S{1,3}\s{2,})")  # "  1  text": the text column of a code/term list


def _wrap_command(line: str, width: int) -> list[str]:
    indent = line[: len(line) - len(line.lstrip())]
    # an option stays on one line with its value, as people read and type it
    groups: list[str] = []
    for word in line.split():
        if groups and groups[-1].startswith("-") and " " not in groups[-1] and not word.startswith("-"):
            groups[-1] += " " + word
        else:
            groups.append(word)
    out = [indent + groups[0]]
    for group in groups[1:]:
        if len(out[-1]) + 1 + len(group) + 2 > width:
            out[-1] += " \\"
            out.append(indent + "    " + group)
        else:
            out[-1] += " " + group
    return out


def _wrap_item(line: str, width: int) -> list[str]:
    match = _ITEM.match(line)
    hang = " " * len(match.group(1)) if match else line[: len(line) - len(line.lstrip())]
    return textwrap.wrap(
        line, width=width, subsequent_indent=hang, break_long_words=False, break_on_hyphens=False
    )


def fit_paragraph(paragraph: str, width: int) -> str:
    """One help paragraph fitted to width (text columns available to the help body)."""
    if not paragraph.startswith(_MARK):
        return paragraph  # reflowed by the renderer
    lines = paragraph[len(_MARK) :].lstrip("\n").split("\n")
    if lines and all(not ln[:1].isspace() for ln in lines) and not any(_COMMAND.match(ln) for ln in lines):
        heading, *rest = lines
        if heading.endswith(":") and rest:  # "Examples:" style heading over prose: keep the heading line
            return paragraph
        return " ".join(ln.strip() for ln in lines)  # prose: let the renderer reflow it
    out: list[str] = []
    for line in lines:
        if len(line) <= width:
            out.append(line)
        elif _COMMAND.match(line):
            out.extend(_wrap_command(line, width))
        else:
            out.extend(_wrap_item(line, width))
    return _MARK + "\n" + "\n".join(out)


def fit_help(text: str, width: int) -> str:
    """The whole help text with every preformatted paragraph fitted to width."""
    return "\n\n".join(fit_paragraph(p, width) for p in text.split("\n\n"))
