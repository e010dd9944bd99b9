"""The `.env` / `env_file` format as Compose v2 reads it (compose-go's dotenv parser).

`KEY=VALUE` or `KEY: VALUE`, optional `export `, comments (`#` at the start of a line, or after
whitespace in an unquoted value), single quotes (literal, may span lines), double quotes (may span
lines; `\\n`, `\\"`, `\\\\` escapes), and a bare `KEY` that takes its value from the environment.
Unquoted and double-quoted values are interpolated (earlier keys of the file first, then the
environment); single-quoted ones are not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from cdbctl.errors import InputError
from cdbctl.verify.interpolation import interpolate_text

_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_.\-\[\]]*)[ \t]*(?:([=:])[ \t]*)?")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t"}


def read_dotenv(path: Path, lookup: Mapping[str, str] | None = None) -> dict[str, str]:
    """Parse a `.env` file (an absent file is empty); with `lookup`, interpolate as compose does."""
    if not path.is_file():
        return {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f".env file is not UTF-8 text (byte {exc.start})", where=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read .env file: {exc.strerror}", where=str(path)) from None
    return parse_dotenv(text, str(path), lookup)


def parse_dotenv(text: str, where: str, lookup: Mapping[str, str] | None = None) -> dict[str, str]:
    """Parse dotenv text; `where` names the file in errors (with the line number)."""
    out: dict[str, str] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        number, raw = index + 1, lines[index]
        index += 1
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export ") or line.startswith("export\t"):
            line = line[7:].lstrip()
        m = _ASSIGN.match(line)
        rest = line[m.end() :] if m else line
        if not m or (m.group(2) is None and rest and not rest.startswith("#")):
            # the line is not quoted back: it may hold a password
            raise InputError("malformed line (expected KEY=VALUE)", where=f"{where}:{number}")
        key = m.group(1)
        if m.group(2) is None:  # a bare KEY passes the environment's value through
            if lookup is not None and key in lookup:
                out[key] = lookup[key]
            continue
        literal = False
        if rest[:1] in ("'", '"'):
            quote, body = rest[0], rest[1:]
            end = _closing(body, quote)
            while end < 0:  # a quoted value may go on over the next lines
                if index >= len(lines):
                    raise InputError(f"unterminated {quote} quote in {key}", where=f"{where}:{number}")
                body += "\n" + lines[index]
                index += 1
                end = _closing(body, quote)
            value = body[:end]
            literal = quote == "'"
            if quote == '"':
                value = re.sub(r"\\(.)", lambda e: _ESCAPES.get(e.group(1), e.group(1)), value)
        else:
            value = re.split(r"[ \t]#", rest, maxsplit=1)[0].strip()
        if lookup is not None and not literal:
            value = interpolate_text(value, {**lookup, **out}, f"{where}:{number}")
        out[key] = value
    return out


def _closing(body: str, quote: str) -> int:
    """Index of the quote closing a value (double quotes may be escaped), or -1."""
    i = 0
    while i < len(body):
        if quote == '"' and body[i] == "\\":
            i += 2
            continue
        if body[i] == quote:
            return i
        i += 1
    return -1
