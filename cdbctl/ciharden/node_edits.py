"""Text edits built from node marks and the raw text (never by dumping YAML): replace a scalar's
characters, delete a ``key: value``'s lines, insert a ``key: value`` in a mapping's style."""

from __future__ import annotations

from yaml.nodes import MappingNode, Node, ScalarNode

from cdbctl.ciharden.locate import Text, content_end, scalar_inner
from cdbctl.ciharden.model import Edit, Fix, Mutation


def replace_scalar(t: Text, node: ScalarNode, new: str) -> Edit | None:
    """Replace a one-line scalar's characters, keeping its quotes."""
    inner = scalar_inner(t, node)
    return Edit(inner[0], inner[1], new) if inner else None


def delete_pair_lines(t: Text, key: ScalarNode, value: Node) -> Edit | None:
    """Delete the whole lines of ``key: value`` when nothing else shares them (not a ``- `` line)."""
    start_line = key.start_mark.line
    ls, _, _ = t.line_span(start_line)
    if t.text[ls : t.mark(key.start_mark)].strip(" \t"):
        return None
    vend = content_end(t, value)
    end_line = t.line_of(max(vend - 1, t.mark(value.start_mark)))
    _, le, full = t.line_span(end_line)
    rest = t.text[vend:le].strip(" \t")
    if rest and not rest.startswith("#"):
        return None
    if full == le and ls > 0:  # last line without a final newline: take the previous line's break
        _, prev_end, _ = t.line_span(start_line - 1)
        return Edit(prev_end, le, "")
    return Edit(ls, full, "")


def below_deeper_comments(t: Text, line: int, column: int) -> int:
    """The last of the comment lines after ``line`` indented deeper than ``column`` (else ``line``):
    they belong to the entry above (commented-out items), and an insert must go below them, or
    uncommenting one would continue the inserted key's value."""
    while line + 1 < len(t.starts):
        start, stop, _ = t.line_span(line + 1)
        body = t.text[start:stop].lstrip(" ")
        if not body.startswith("#") or stop - start - len(body) <= column:
            break
        line += 1
    return line


def insert_pair(
    t: Text, mapping: MappingNode, key: str, value: str, flow_value: str | None = None
) -> Edit | None:
    """Insert ``key: value`` as the mapping's last entry, matching its style and indentation."""
    if mapping.flow_style:
        end = t.mark(mapping.end_mark)
        close = t.text.rfind("}", 0, end)
        if close < 0:
            return None
        sep = ", " if mapping.value else ""
        return Edit(close, close, f"{sep}{key}: {flow_value or value}")
    if not mapping.value:
        return None
    column = mapping.value[0][0].start_mark.column
    end = content_end(t, mapping)
    line = t.line_of(max(end - 1, 0))
    line = below_deeper_comments(t, line, column)
    _, le, full = t.line_span(line)
    text = " " * column + f"{key}: {value}"
    if full == le:  # no final newline: keep it that way
        return Edit(le, le, t.eol + text)
    return Edit(full, full, text + t.eol)


def bool_fix(t: Text, key: ScalarNode, value: Node, path: tuple[str | int, ...]) -> Fix | None:
    """Remove a ``key: true`` line, or flip it to false where the line holds more (``- `` line, flow)."""
    edit = delete_pair_lines(t, key, value)
    if edit is not None:
        return Fix((edit,), (Mutation(path, "delete"),))
    if isinstance(value, ScalarNode) and value.style in ("'", '"'):
        # a quoted "false" is a string, which actionlint rejects: write the plain boolean
        if replace_scalar(t, value, "false") is not None:
            flip = Edit(t.mark(value.start_mark), t.mark(value.end_mark), "false")
            return Fix((flip,), (Mutation(path, "set", False),))
    elif isinstance(value, ScalarNode):
        plain = replace_scalar(t, value, "false")
        if plain is not None:
            return Fix((plain,), (Mutation(path, "set", constructed(value, "false")),))
    return None


def plain_value(text: str) -> object:
    """What a plain or quoted scalar we write loads as (only the forms ci-harden writes)."""
    if text[:1] in ("'", '"') and text[-1:] == text[:1]:
        return text[1:-1]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return int(text) if text.isdigit() else text


def constructed(node: ScalarNode, new: str) -> object:
    """What a scalar written over ``node`` loads as: plain_value for a plain scalar, else the text."""
    return plain_value(new) if node.style in (None, "") else new
