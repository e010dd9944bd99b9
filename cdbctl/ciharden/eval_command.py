"""``eval "$CMD"``: the scripts an ``eval`` runs. Its words are joined and run as a script in the
same shell, so what it runs is known when every value its variables may have there is known
(``shell_values``); then it is scanned like any script. Anything else is reported, never guessed.
The same following serves the other commands held in a value (``indirect``: ``bash -c "$CMD"``,
``"${CMD[@]}"``); ``runner`` names the one at hand in the messages."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from cdbctl.ciharden.model import ShellIssue
from cdbctl.ciharden.registry import may_run_scanner
from cdbctl.ciharden.shell_lex import SimpleCommand, Token, commands, lex
from cdbctl.ciharden.shell_values import ASSIGN, MAX_CHOICES, Assignments, expand, reference_names


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
    """What ``eval <args>`` (the command at ``index``) runs."""
    return value_target(" ".join(w.value for w in args), index, assignments, env)


def value_target(
    text: str, index: int, assignments: Assignments, env: Mapping[str, str], *, one_field: bool = False
) -> EvalTarget:
    """The scripts ``text`` stands for at the command at ``index``, once its variables are replaced.
    A reference that cannot be resolved stays as written: harmless as an argument (``trivy fs
    $TARGET``), but in command position (``$TOOL fs .``) it leaves what runs unknown. ``one_field``:
    only a value without blanks is known (word splitting would cut it: ``bash -c $CMD``)."""
    names = reference_names(text)
    origin = ", ".join(_origin(n, assignments, env) for n in names) or "its arguments"
    choices = expand(text, index, assignments, env, 0)
    raw = " ".join([text, *(_raw(n, assignments, env) for n in names)])
    split = one_field and any(len(c.split()) > 1 for c in choices)
    if split or len(choices) > MAX_CHOICES or any(_opaque_command(c) for c in choices):
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


def _origin(name: str, assignments: Assignments, env: Mapping[str, str]) -> str:
    shown = "${" + name + "}" if name.endswith("]") else f"${name}"
    if assignments.texts(name):
        return f"{shown}, set in this script"
    if name in env:
        return f"{shown}, set in env:"
    return f"{shown}, not set in this script or in env:"


def _raw(name: str, assignments: Assignments, env: Mapping[str, str]) -> str:
    """Every text ``name`` is set to (for a scanner name in a value ci-harden cannot follow)."""
    return " ".join([*assignments.texts(name), env.get(name, "")])


class ScriptScan(Protocol):
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


def follow(
    cmd: SimpleCommand,
    target: EvalTarget,
    scan: Callable[[str], ScriptScan],
    *,
    runners: bool,
    runner: str = "eval",
) -> Followed:
    """Scan each script ``cmd`` may run (``scan``: the shell analysis, one nesting level down); one
    whose script is not known is reported when it may run a scanner: a value that names one, or a
    variable in a step named for a scan (``runners``). ``runner`` names the command in messages."""
    tools: list[str] = []
    reports: set[str] = set()
    found: list[tuple[str, ShellIssue]] = []
    for text in target.texts:
        nested = scan(text)
        tools += [t for t in nested.tools if t not in tools]
        reports |= nested.reports
        found += [(text, issue) for issue in nested.issues]
    issues = eval_issues(cmd, target, found, runner)
    # ``eval "$(brew shellenv)"`` (no variable: the setup idiom) is not reported for the step's name alone
    if not target.texts and (may_run_scanner(target.unknown) or (runners and target.variables)):
        issues.append(opaque_issue(cmd, target, runner))
    return Followed(tools, frozenset(reports), issues)


def eval_issues(
    cmd: SimpleCommand, target: EvalTarget, found: list[tuple[str, ShellIssue]], runner: str = "eval"
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
        message = f"in what {runner} runs ({target.origin}){when}: {issue.message}"
        fix = issue.proposed_fix and f"{issue.proposed_fix} in the value {runner} runs"
        out.append(ShellIssue(issue.kind, issue.tool, cmd.start, message, None, fix))
    return out


def opaque_issue(cmd: SimpleCommand, target: EvalTarget, runner: str = "eval") -> ShellIssue:
    """A command whose script ci-harden cannot know (reported, never guessed)."""
    return ShellIssue(
        "opaque",
        "",
        cmd.start,
        f"{runner} runs a value ci-harden cannot follow ({target.origin}); if it runs a scanner, check "
        "by hand that the scanner's failure fails the step",
        None,
    )


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."
