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


_OUTPUT_FLAG_SET = frozenset(OUTPUT_FLAGS)


def report_paths(cmd: SimpleCommand, inv: Invocation) -> set[str]:
    """The report paths a scanner command writes (output flags, redirections), as written."""
    vals = [w.value for w in cmd.words]
    flags = _OUTPUT_FLAG_SET.union(inv.tool.report_flags)
    out: set[str] = set()
    for k, v in enumerate(vals[inv.cmd_end :], start=inv.cmd_end):
        if v in flags:
            if k + 1 < len(vals):
                out.add(vals[k + 1])
        elif "=" in v:  # ``--output=r.json`` (no flag holds "=": a registry test checks it)
            flag, _, path = v.partition("=")
            if flag in flags:
                out.add(path)
    out.update(t.value for op, t in cmd.redirects if t is not None and op.text in (">", ">>", ">|", "&>"))
    return {p for p in out if p}


def has_variable(path: str) -> bool:
    """Does a report path hold a shell expansion (``$JSON_FILE``, ``$(date)``)?"""
    return "$" in canonical(path).replace("§", "") or "`" in path


def reports_of(cmd: SimpleCommand, inv: Invocation) -> set[str]:
    """Report files a scanner command writes (output flags, redirections), as basenames."""
    return {report_name(p) for p in report_paths(cmd, inv) if not has_variable(p)}


_EXPANSION = re.compile(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|`[^`]*`")
_STEM_LITERALS = 3  # literal characters a pattern's name needs before its extension to match by


def report_pattern(path: str) -> str | None:
    """A report path with expansions left (``/tmp/wiz-scan-$(echo $IMG).json``) as the glob a later
    step reads it by (``wiz-scan-*.json``), or None when too little of its name is literal to match
    safely (``$OUT``, ``${NAME}.json``)."""
    text = canonical(path)
    while "$(" in text:  # innermost first: ``$(echo $(date))``
        start = text.rfind("$(")
        end = text.find(")", start)
        if end < 0:
            return None
        text = text[:start] + "*" + text[end + 1 :]
    name = report_name(_EXPANSION.sub("*", text))
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return name if len(stem.replace("*", "")) >= _STEM_LITERALS and "$" not in name else None


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
    valued = {
        *OUTPUT_FLAGS,
        *_FORMAT_FLAGS,
        *tool.report_flags,
        *default,
        *(n for ns in deciding for n in ns),
    }
    switches = {n for r in tool.flags if not r.bad_values for n in r.names} | _FORMAT_SWITCHES
    if inv.command is not None and inv.command.blocking_switch:
        switches.add(inv.command.blocking_switch)
    named = valued | switches
    kept: list[str] = [tool.id, *vals[: inv.cmd_end]]
    k = inv.cmd_end
    while k < len(vals):
        v = vals[k]
        if v in valued:
            k += 2
            continue
        # ``--format=json``: a flag with its value in one word (no flag holds "=")
        if v not in switches and not ("=" in v and v.partition("=")[0] in named):
            kept.append(v)
        k += 1
    return tuple(kept)
