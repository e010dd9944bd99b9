"""A scanner command in a script: which tool it runs, its report files and its success-forcing flags."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from itertools import pairwise

from cdbctl.ciharden.model import Command, Tool
from cdbctl.ciharden.registry import (
    NOT_A_SCAN,
    OUTPUT_FLAGS,
    RUN_WRAPPERS,
    SIMPLE_WRAPPERS,
    tools_for_command,
)
from cdbctl.ciharden.shell_lex import SimpleCommand, Token

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
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


_PYTHON = re.compile(r"^(python[0-9.]*|py)$")
_CONTAINER_RUNTIMES = frozenset({"docker", "podman", "nerdctl"})
_RUN_VALUE_OPTIONS = frozenset(
    {
        "-v",
        "--volume",
        "-e",
        "--env",
        "--env-file",
        "-w",
        "--workdir",
        "-u",
        "--user",
        "--name",
        "--network",
        "--net",
        "--entrypoint",
        "-p",
        "--publish",
        "--platform",
        "--mount",
        "-l",
        "--label",
        "--add-host",
        "--cpus",
        "-m",
        "--memory",
        "--pull",
        "--hostname",
        "-h",
    }
)


@dataclass(frozen=True)
class ShellIssue:
    """One soft-fail in a script; ``edit`` is (start, end, new) in script offsets, None = no safe fix."""

    kind: str  # "swallow" | "flag" | "default" | "pipe" | "errexit"
    tool: str
    offset: int
    message: str
    edit: tuple[int, int, str] | None


@dataclass(frozen=True)
class Invocation:
    """A scanner command found in a script: the tool, and where its command words end."""

    tool: Tool
    name_index: int
    cmd_end: int  # index into words just past the command (+ subcommand) words
    command: Command | None = None
    via_runner: bool = False  # ``make lint-trivy``: the scanner's own flags are not on this line


def _basename(word: str) -> str:
    return posixpath.basename(word.split("@", 1)[0]) if word else word


def match_scanner(words: list[Token], *, runners: bool = False) -> Invocation | None:
    """The scanner a simple command runs, if it runs one (wrappers and ``python -m`` understood;
    ``runners``: a ``make``/``just``/``task`` target named for a scanner counts too)."""
    vals = [w.value for w in words]
    i = 0
    while i < len(vals):
        v = vals[i]
        base = _basename(v)
        if _ASSIGNMENT.match(v):
            i += 1
        elif i + 1 < len(vals) and (base, vals[i + 1]) in RUN_WRAPPERS:
            i += 2
            while i < len(vals) and vals[i].startswith("-"):
                i += 1
        elif base == "uv" and vals[i + 1 : i + 3] == ["tool", "run"]:
            i += 3  # ``uv tool run bandit``
            while i < len(vals) and vals[i].startswith("-"):
                i += 1
        elif base == "java":
            jar = next((vals[k + 1] for k in range(i, len(vals) - 1) if vals[k] == "-jar"), None)
            # ``java -jar pipeline-scan.jar``: the jar's name is the command
            return _match_name(vals, vals.index(jar, i), _basename(jar).removesuffix(".jar")) if jar else None
        elif base in _TASK_RUNNERS and runners:
            return _runner_target(vals, i)
        elif base == "command" and any("v" in v or "V" in v for v in _leading_flags(vals[i + 1 :])):
            return None  # ``command -v bandit`` looks the tool up, it does not run it
        elif base in SIMPLE_WRAPPERS:
            i += 1
            while i < len(vals) and (vals[i].startswith("-") or _ASSIGNMENT.match(vals[i])):
                i += 1
            if base == "timeout" and i < len(vals):
                i += 1
        elif base in _CONTAINER_RUNTIMES and i + 1 < len(vals) and vals[i + 1] == "run":
            # ``docker run [options] aquasec/trivy:0.50 image x`` or ``... returntocorp/semgrep semgrep ci``
            i += 2
            while i < len(vals) and vals[i].startswith("-"):
                i += 2 if vals[i] in _RUN_VALUE_OPTIONS else 1
            if i >= len(vals):
                return None
            if i + 1 < len(vals) and tools_for_command(_basename(vals[i + 1])):
                i += 1
                continue
            return _match_name(vals, i, posixpath.basename(vals[i].split("@")[0]).split(":")[0])
        elif _PYTHON.match(base):
            if i + 2 < len(vals) + 1 and i + 1 < len(vals) and vals[i + 1] == "-m" and i + 2 < len(vals):
                return _match_name(vals, i + 2, vals[i + 2].replace("_", "-"))
            # ``python zap-baseline.py ...`` / ``python prowler.py ...``: a registered script by path
            script = next((k for k in range(i + 1, len(vals)) if not vals[k].startswith("-")), None)
            if script is not None and vals[script].endswith(".py"):
                return _match_name(vals, script, _basename(vals[script]))
            return None
        else:
            return _match_name(vals, i, _located(v) or base)
    return None


# ``$(find ~/dc -name dependency-check.sh)``, ``$(which trivy)``, ``$(command -v grype)`` as the
# command word: the tool is the name being looked up
_LOOKUP = re.compile(
    r"""^"?(?:\$\(|`)\s*(?:find\s.*?-i?name|which|command\s+-v|type\s+-p|realpath|readlink\s+-f)\s+"""
    r"""['"]?([\w.+-]+)['"]?\s*(?:\)|`)"?$"""
)


def _located(word: str) -> str | None:
    """The tool name a command-substitution command word looks up, if it is such a lookup."""
    m = _LOOKUP.match(word)
    return _basename(m.group(1)) if m else None


_TASK_RUNNERS = frozenset({"make", "just", "task", "mage"})
_SETUP_WORDS = frozenset({"install", "setup", "download", "update", "upgrade", "deps", "tools", "clean"})


def _runner_target(vals: list[str], i: int) -> Invocation | None:
    """``make lint-trivy`` / ``just scan-bandit``: a target whose name holds a scanner's name."""
    for k in range(i + 1, len(vals)):
        v = vals[k]
        if v.startswith("-") or "=" in v:
            continue
        parts = re.split(r"[-_:./]", v.lower())
        if _SETUP_WORDS.intersection(parts):
            return None  # ``make install-trivy``: getting the tool, not running it
        for part in parts:
            found = tools_for_command(part)
            if found:
                return Invocation(found[0][0], i, k + 1, None, via_runner=True)
    return None


def _leading_flags(vals: list[str]) -> list[str]:
    """The options before the first operand."""
    out: list[str] = []
    for v in vals:
        if not v.startswith("-") or v == "--":
            break
        out.append(v)
    return out


def _non_scan(cmd: Command, rest: list[str], pos_vals: list[str]) -> bool:
    """A flag (``checkov --list``) or leading words (``npm audit fix``) that make it no scan."""
    for entry in cmd.non_scans:
        if entry.startswith("-") and "=" in entry:  # a flag with this value: ``--format cyclonedx``
            flag, value = entry.split("=", 1)
            if entry in rest or any(a == flag and b == value for a, b in pairwise(rest)):
                return True
        elif entry.startswith("-"):
            if any(v == entry or v.startswith(entry + "=") for v in rest):
                return True
        elif pos_vals[: len(entry.split())] == entry.split():
            return True
    return False


def _match_name(vals: list[str], i: int, name: str) -> Invocation | None:
    rest = vals[i + 1 :]
    positional = [(k, v) for k, v in enumerate(rest, start=i + 1) if not v.startswith("-")]
    if any(v in NOT_A_SCAN for v in rest if v.startswith("-")) or (
        positional and positional[0][1] in NOT_A_SCAN
    ):
        return None
    for tool, cmd in tools_for_command(name):
        if cmd.non_scans and _non_scan(cmd, rest, [v for _, v in positional]):
            continue
        if cmd.goals is not None:
            goal = next((k for k, v in positional if re.search(cmd.goals, v)), None)
            if goal is not None:
                return Invocation(tool, i, goal + 1, cmd)
            continue
        if cmd.subcommands is None:
            return Invocation(tool, i, i + 1, cmd)
        pos_vals = [v for _, v in positional]
        for sub in cmd.subcommands:
            parts = sub.split()
            for p in range(min(3, len(pos_vals))):
                if pos_vals[p : p + len(parts)] == parts:
                    return Invocation(tool, i, positional[p + len(parts) - 1][0] + 1, cmd)
        if any(v == f or v.startswith(f + "=") for v in rest for f in cmd.bare_flags):
            return Invocation(tool, i, i + 1, cmd)
    return None


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


def flag_issues(cmd: SimpleCommand, inv: Invocation) -> list[ShellIssue]:
    """Flags on a scanner command that force success, and a missing blocking default."""
    if inv.via_runner:
        return []
    words = cmd.words
    issues: list[ShellIssue] = []
    seen_names = False
    for k in range(inv.cmd_end, len(words)):
        v = words[k].value
        for rule in inv.tool.flags:
            for name in rule.names:
                if v == name and not rule.bad_values:
                    prev_end = words[k - 1].end
                    issues.append(
                        ShellIssue(
                            "flag",
                            inv.tool.id,
                            words[k].start,
                            f"{name} makes {inv.tool.id} succeed on findings; removed",
                            (prev_end, words[k].end, ""),
                        )
                    )
                elif v == name and k + 1 < len(words):
                    seen_names = True
                    if words[k + 1].value in rule.bad_values:
                        nxt = words[k + 1]
                        issues.append(
                            ShellIssue(
                                "flag",
                                inv.tool.id,
                                nxt.start,
                                f"{name} {nxt.value} makes {inv.tool.id} succeed on findings; "
                                f"set to {rule.good}",
                                (nxt.start, nxt.end, rule.good),
                            )
                        )
                elif v.startswith(name + "=") and rule.bad_values:
                    seen_names = True
                    value = v[len(name) + 1 :]
                    # ``-e=false`` or ``-e="false"``: the quotes go with the value
                    spelled = (v, f'{name}="{value}"', f"{name}='{value}'")
                    if value in rule.bad_values and words[k].text in spelled:
                        w = words[k]
                        issues.append(
                            ShellIssue(
                                "flag",
                                inv.tool.id,
                                w.start,
                                f"{v} makes {inv.tool.id} succeed on findings; set to {rule.good}",
                                (w.start + len(name) + 1, w.end, rule.good),
                            )
                        )
    switch = inv.command.blocking_switch if inv.command else None
    given = (w.value for w in words[inv.cmd_end :])
    if switch and not any(v == switch or v.startswith(switch + "=") for v in given):
        last = words[inv.cmd_end - 1]
        issues.append(
            ShellIssue(
                "default",
                inv.tool.id,
                last.start,
                f"{inv.tool.id} exits 0 on findings unless told otherwise; adding {switch}",
                (last.end, last.end, " " + switch),
            )
        )
    if inv.tool.default_flag:
        names = (inv.tool.default_flag.split()[0], *inv.tool.default_aliases)
        seen_names = seen_names or any(
            w.value == n or w.value.startswith(n + "=") for w in words[inv.cmd_end :] for n in names
        )
    if inv.tool.threshold_flags and not any(
        w.value.startswith(n) for w in words[inv.cmd_end :] for n in inv.tool.threshold_flags
    ):
        last = words[inv.cmd_end - 1]
        issues.append(
            ShellIssue(
                "default",
                inv.tool.id,
                last.start,
                f"{inv.tool.id} never fails on findings without {inv.tool.threshold_flags[0]} "
                f"(a CVSS threshold below 11); add one, e.g. {inv.tool.threshold_flags[0]}=7",
                None,
            )
        )
    if inv.tool.default_flag and not seen_names:
        last = words[inv.cmd_end - 1]
        issues.append(
            ShellIssue(
                "default",
                inv.tool.id,
                last.start,
                f"{inv.tool.id} exits 0 on findings unless told otherwise; adding {inv.tool.default_flag}",
                (last.end, last.end, " " + inv.tool.default_flag),
            )
        )
    return issues
