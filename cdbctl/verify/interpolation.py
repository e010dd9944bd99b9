"""Variable interpolation exactly as Compose v2 (compose-go's template package) does it.

`$$` is a literal `$`; `$NAME` and `${NAME}` are substituted, `${NAME}` with the operators
`:-`, `-`, `:?`, `?`, `:+`, `+` (arguments nest). Any other `$` stays as it is: `$(cat f)`, `$1`,
a lone `$` or `5$` reach the container unchanged (Compose v1 refused them; v2 keeps them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cdbctl.errors import InputError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRACED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?\Z", re.DOTALL)
# The value itself is never quoted: it may hold a password (compose names only the key, too).
_INVALID = "invalid interpolation format (you may need to escape any $ with another $)"


def interpolate(value: Any, env: Mapping[str, str], where: str) -> Any:
    """Substitute variables in every string of a YAML value (mapping keys stay as written)."""
    if isinstance(value, str):
        return interpolate_text(value, env, where)
    if isinstance(value, dict):
        return {k: interpolate(v, env, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def interpolate_text(text: str, env: Mapping[str, str], where: str) -> str:
    """Substitute variables in one string."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "$":
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            end = _closing_brace(text, i + 2)
            if end < 0:
                raise InputError(_INVALID, where=where)
            out.append(_expand(text[i + 2 : end], env, where, text))
            i = end + 1
        else:
            m = _NAME.match(text, i + 1)
            if m:
                out.append(env.get(m.group(0), ""))
                i = m.end()
            else:  # `$(`, `$1`, `$ `, a trailing `$`: literal in Compose v2
                out.append("$")
                i += 1
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    """Index of the '}' closing a '${' whose body starts at `start` (nested '${...}' allowed), or -1."""
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("$$", i):  # an escaped dollar never opens a nested '${'
            i += 2
            continue
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _expand(body: str, env: Mapping[str, str], where: str, text: str) -> str:
    """Expand the inside of one ${...}: NAME, then an optional operator and a (recursive) argument."""
    m = _BRACED.match(body)
    if not m:
        raise InputError(_INVALID, where=where)
    name, op, arg = m.group(1), m.group(2), m.group(3) or ""
    value = env.get(name, "")
    present = bool(value) if op and op.startswith(":") else name in env
    if op in (":-", "-"):
        return value if present else interpolate_text(arg, env, where)
    if op in (":?", "?"):
        if not present:
            reason = interpolate_text(arg, env, where)
            tail = f": {reason}" if reason else ""
            raise InputError(f"required variable {name} is missing a value{tail}", where=where)
        return value
    if op in (":+", "+"):
        return interpolate_text(arg, env, where) if present else ""
    return value
