"""Report files a scan writes (its output flags, redirections and action inputs), matched by name, and
what a scan scans without how it reports (two runs with the same key are the same scan)."""

from __future__ import annotations

import posixpath
import re

from cdbctl.ciharden.invocation import Invocation
from cdbctl.ciharden.registry import OUTPUT_FLAGS
from cdbctl.ciharden.shell_lex import SimpleCommand

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.DOTALL)
_ARG_OUTPUT = re.compile(
    r"(?:^|\s)(?:--output|--output-file|--sarif-file|--json-file|-o)(?:=|\s+)['\"]?([^\s'\"]+)"
)


def canonical(text: str) -> str:
    """``${{ matrix.service }}`` spelled one way (``§matrix.service§``), so a report path with an
    expression in it is one word and compares equal however it is spaced."""
    if "${{" not in text:
        return text
    return _EXPRESSION.sub(lambda m: "§" + "".join(m.group(1).split()) + "§", text)


def report_name(path: str) -> str:
    """The name a report path is matched by: its basename, expressions canonical."""
    return posixpath.basename(canonical(path.strip()).rstrip("/"))  # ``-o out/``: the directory "out"


def arg_reports(args: str, flags: tuple[str, ...] = ()) -> set[str]:
    """Report files named in an action input holding CLI arguments (``scan-args: --output=r.json``),
    also by a tool's own report ``flags`` (``cmd_options: -J report.json``)."""
    found = {report_name(m.group(1)) for m in _ARG_OUTPUT.finditer(canonical(args))}
    if flags:
        own = "|".join(re.escape(f) for f in flags)
        pattern = rf"(?:^|\s)(?:{own})(?:=|\s+)['\"]?([^\s'\"]+)"
        found |= {report_name(m.group(1)) for m in re.finditer(pattern, canonical(args))}
    return found


def reports_of(cmd: SimpleCommand, inv: Invocation) -> set[str]:
    """Report files a scanner command writes (output flags, redirections), as basenames."""
    vals = [w.value for w in cmd.words]
    out: set[str] = set()
    for k, v in enumerate(vals[inv.cmd_end :], start=inv.cmd_end):
        for f in (*OUTPUT_FLAGS, *inv.tool.report_flags):
            if v == f and k + 1 < len(vals):
                out.add(vals[k + 1])
            elif v.startswith(f + "="):
                out.add(v[len(f) + 1 :])
    out.update(t.value for op, t in cmd.redirects if t is not None and op.text in (">", ">>", ">|", "&>"))
    return {report_name(p) for p in out if p and "$" not in canonical(p).replace("§", "")}


_FORMAT_FLAGS = ("--format", "-f")
_FORMAT_SWITCHES = frozenset({"--json", "--sarif", "--text", "--junit-xml", "--gitlab-sast", "--quiet", "-q"})


def scan_key(cmd: SimpleCommand, inv: Invocation) -> tuple[str, ...]:
    """What a scanner command scans, without how it reports (output, format and report flags
    dropped): two runs with the same key are the same scan."""
    tool = inv.tool
    vals = [w.value for w in cmd.words]
    # flags that only decide the exit status go too, so a hardened run keeps its key
    deciding = [r.names for r in tool.flags if r.bad_values]
    default = (tool.default_flag.split()[0], *tool.default_aliases) if tool.default_flag else ()
    valued = (
        *OUTPUT_FLAGS,
        *_FORMAT_FLAGS,
        *tool.report_flags,
        *default,
        *(n for ns in deciding for n in ns),
    )
    switches = {n for r in tool.flags if not r.bad_values for n in r.names} | _FORMAT_SWITCHES
    if inv.command is not None and inv.command.blocking_switch:
        switches.add(inv.command.blocking_switch)
    kept: list[str] = [tool.id, *vals[: inv.cmd_end]]
    k = inv.cmd_end
    while k < len(vals):
        v = vals[k]
        if v in valued:
            k += 2
            continue
        if v not in switches and not any(v.startswith(f + "=") for f in (*valued, *switches)):
            kept.append(v)
        k += 1
    return tuple(kept)
