"""Would a .dockerignore drop a path the generated Dockerfiles COPY? (Docker's pattern rules, pure.)

Docker reads the patterns in order, the last match wins, `!` re-includes, `**` spans directories, and a
pattern that matches a directory excludes everything below it (moby/patternmatcher).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        out += {"*": "[^/]*", "?": "[^/]"}.get(c, re.escape(c))
        i += 1
    return re.compile(out + r"\Z")


def _patterns(text: str) -> list[tuple[bool, str]]:
    rules: list[tuple[bool, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = line[1:].strip() if negate else line
        line = re.sub(r"/+", "/", line).strip("/")
        if line.startswith("./"):
            line = line[2:]
        if line:
            rules.append((negate, line))
    return rules


def excluded(text: str, paths: Iterable[str]) -> list[str]:
    """The paths (relative to the build context) that the .dockerignore text excludes."""
    rules = _patterns(text)
    out: list[str] = []
    for path in paths:
        parts = path.strip("/").split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        drop = False
        for negate, pattern in rules:
            if any(_regex(pattern).match(p) for p in prefixes):
                drop = not negate
        if drop:
            out.append(path)
    return out
