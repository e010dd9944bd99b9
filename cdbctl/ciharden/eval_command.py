"""``eval "$CMD"``: the scripts an ``eval`` runs. Its words are joined and run as a script in the
same shell, so what it runs is known when every value its variables may have there is known
(``shell_values``); then it is scanned like any script. Anything else is reported, never guessed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from cdbctl.ciharden.model import ShellIssue
from cdbctl.ciharden.registry import may_run_scanner
from cdbctl.ciharden.shell_lex import SimpleCommand, Token, commands, lex
from cdbctl.ciharden.shell_values import (
    ASSIGN,
    MAX_CHOICES,
    REFERENCE,
    Assignments,
    expand,
)


@dataclass(frozen=True)
class EvalTarget:
    """What an ``eval`` runs: the scripts it may run (one, or several when a loop or a branch sets
    the variable; empty when not known), where the value comes from (for messages), and for a value
    not known, every text it was seen set to (does it name a scanner?)."""

    texts: tuple[str, ...]
    origin: str
    unknown: str = ""
    variables: tuple[str, ...] = ()  # the ``$NAME`` references in its arguments


def eval_args(cmd: SimpleCommand) -> list[Token] | None:
    """The arguments of an ``eval`` command (after leading assignments and ``--``), else None."""
    words = cmd.words
    i = 0
    while i < len(words) and ASSIGN.match(words[i].value) and words[i].value[0] != "=":
        i += 1
    if i >= len(words) or words[i].value != "eval":
        return None
    i += 1
    if i < len(words) and words[i].value == "--":
        i += 1
    return words[i:]


def eval_target(
    args: list[Token], index: int, assignments: Assignments, env: Mapping[str, str]
) -> EvalTarget:
    """What ``eval <args>`` (the command at ``index``) runs. A reference that cannot be resolved stays
    as written: harmless as an argument (``trivy fs $TARGET``), but in command position
    (``$TOOL fs .``) it leaves what runs unknown."""
    text = " ".join(w.value for w in args)
    names = sorted({a or b for a, b in REFERENCE.findall(text)})
    origin = ", ".join(_origin(n, index, assignments, env) for n in names) or "its arguments"
    choices = expand(text, index, assignments, env, 0)
    raw = " ".join([text, *(_raw(n, index, assignments, env) for n in names)])
    if len(choices) > MAX_CHOICES or any(_opaque_command(c) for c in choices):
        return EvalTarget((), origin, raw, tuple(names))
    return EvalTarget(tuple(choices), origin)


def _opaque_command(script: str) -> bool:
    """Does a command of the script start with an expansion (``$TOOL fs .``), so what runs is unknown?"""
    for cmd in commands(lex(script)):
        words = [w.value for w in cmd.words]
        first = next((w for w in words if not ASSIGN.match(w)), "")
        if "$" in first or "`" in first:
            return True
    return False


def _origin(name: str, index: int, assignments: Assignments, env: Mapping[str, str]) -> str:
    if assignments.texts(name):
        return f"${name}, set in this script"
    if name in env:
        return f"${name}, set in env:"
    return f"${name}, not set in this script or in env:"


def _raw(name: str, index: int, assignments: Assignments, env: Mapping[str, str]) -> str:
    """Every text ``name`` is set to (for a scanner name in a value ci-harden cannot follow)."""
    return " ".join([*assignments.texts(name), env.get(name, "")])


class _Scan(Protocol):
    """What following a script needs from ``shell.ShellScan``."""

    @property
    def tools(self) -> tuple[str, ...]: ...
    @property
    def issues(self) -> tuple[ShellIssue, ...]: ...
    @property
    def reports(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class Followed:
    """What an eval runs, as far as it is known: its scanners, their reports and issues."""

    tools: list[str]
    reports: frozenset[str]
    issues: list[ShellIssue]


def follow_eval(
    cmd: SimpleCommand,
    index: int,
    assignments: Assignments,
    env: Mapping[str, str],
    scan: Callable[[str], _Scan],
    *,
    runners: bool,
) -> Followed:
    """Scan each script an eval may run (``scan``: the shell analysis, one nesting level down); an
    eval whose script is not known is reported when it may run a scanner: a value that names one, or
    a variable in a step named for a scan (``runners``)."""
    target = eval_target(eval_args(cmd) or [], index, assignments, env)
    tools: list[str] = []
    reports: set[str] = set()
    found: list[tuple[str, ShellIssue]] = []
    for text in target.texts:
        nested = scan(text)
        tools += [t for t in nested.tools if t not in tools]
        reports |= nested.reports
        found += [(text, issue) for issue in nested.issues]
    issues = eval_issues(cmd, target, found)
    # ``eval "$(brew shellenv)"`` (no variable: the setup idiom) is not reported for the step's name alone
    if not target.texts and (may_run_scanner(target.unknown) or (runners and target.variables)):
        issues.append(opaque_issue(cmd, target))
    return Followed(tools, frozenset(reports), issues)


def eval_issues(
    cmd: SimpleCommand, target: EvalTarget, found: list[tuple[str, ShellIssue]]
) -> list[ShellIssue]:
    """The issues of the scripts an eval runs (``(text, issue)``), reported on the eval: not edited,
    since the fix belongs in the value, which other commands may use too. An issue of only some of
    the possible values says which one."""
    seen: dict[tuple[str, str, str], list[str]] = {}
    first: dict[tuple[str, str, str], ShellIssue] = {}
    for text, issue in found:
        key = (issue.kind, issue.tool, issue.message)
        seen.setdefault(key, []).append(text)
        first.setdefault(key, issue)
    out: list[ShellIssue] = []
    for key, issue in first.items():
        texts = seen[key]
        some = len(set(texts)) < len(target.texts)
        when = f" when it is '{_short(texts[0])}'" if some else ""
        message = f"in what eval runs ({target.origin}){when}: {issue.message}"
        fix = issue.proposed_fix and f"{issue.proposed_fix} in the value eval runs"
        out.append(ShellIssue(issue.kind, issue.tool, cmd.start, message, None, fix))
    return out


def opaque_issue(cmd: SimpleCommand, target: EvalTarget) -> ShellIssue:
    """An eval whose script ci-harden cannot know (reported, never guessed)."""
    return ShellIssue(
        "opaque",
        "",
        cmd.start,
        f"eval runs a value ci-harden cannot follow ({target.origin}); if it runs a scanner, check by "
        "hand that the scanner's failure fails the step",
        None,
    )


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."
