"""A scanner command in a script: which tool it runs (through wrappers, ``python -m``, ``docker run``,
task runners) and where its command words end."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from itertools import pairwise

from cdbctl.ciharden.model import Command, Tool
from cdbctl.ciharden.registry import NOT_A_SCAN, RUN_WRAPPERS, SIMPLE_WRAPPERS, tools_for_command
from cdbctl.ciharden.shell_lex import Token

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")

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
    entries = tools_for_command(name)
    if not entries:
        return None  # most commands (echo, cd, pip) are no scanner: nothing below to look at
    rest = vals[i + 1 :]
    positional = [(k, v) for k, v in enumerate(rest, start=i + 1) if not v.startswith("-")]
    if any(v in NOT_A_SCAN for v in rest if v.startswith("-")) or (
        positional and positional[0][1] in NOT_A_SCAN
    ):
        return None
    for tool, cmd in entries:
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
