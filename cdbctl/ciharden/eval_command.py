"""``eval "$CMD"``: the script an ``eval`` runs. Its words are joined and run as a script in the same
shell, so what it runs is known when each variable in them has one value at that point: assigned
earlier in the same script, unconditionally (not in a branch, loop, group, subshell or function,
not after ``&&``/``||``), or else set in the step's, job's or workflow's ``env:``. Anything else
(a value set in a branch, by a loop, by ``read``, from ``$(...)`` or a ``${{ }}`` expression) is
not known, and is reported rather than guessed."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from cdbctl.ciharden.model import ShellIssue
from cdbctl.ciharden.registry import may_run_scanner
from cdbctl.ciharden.shell_lex import SimpleCommand, Token, commands, lex

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\+?)=(.*)$", re.DOTALL)
# ``$NAME`` / ``${NAME}``; any other expansion (``$(...)``, ``${X:-y}``, ``$1``) stays as written
_REFERENCE = re.compile(r"\$(?:\{([A-Za-z_]\w*)\}|([A-Za-z_]\w*))")
_DECLARE = frozenset({"export", "declare", "typeset", "local", "readonly"})
_READS = frozenset({"read", "mapfile", "readarray"})
_CLOSERS = frozenset({"fi", "done", "esac", "}"})
_MAX_DEPTH = 4  # variables whose values name variables, followed this deep (a bound, not a shell limit)


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
    while i < len(words) and _ASSIGN.match(words[i].value) and words[i].value[0] != "=":
        i += 1
    if i >= len(words) or words[i].value != "eval":
        return None
    i += 1
    if i < len(words) and words[i].value == "--":
        i += 1
    return words[i:]


@dataclass(frozen=True)
class _Assignment:
    index: int
    value: str | None  # None: not known (``read``)
    definite: bool  # runs whenever its block runs: not after ``&&``/``||``, not in a pipe or ``&``


class Assignments:
    """Every assignment in a script, and the block each command is in (one pass, built once).

    A block is a branch, a loop body, a ``case`` arm, a group, a subshell or a function body; each
    command has the path of blocks it is nested in. An assignment surely ran before a later command
    when its block is on that command's path (the command is in the same block or one nested in it)."""

    def __init__(self, src: str, cmds: list[SimpleCommand]) -> None:
        self.by_name: dict[str, list[_Assignment]] = {}
        self.paths: list[tuple[int, ...]] = []
        self.in_loop: list[bool] = []
        stack: list[tuple[int, str]] = [(0, "top")]  # (block id, kind)
        ids = iter(range(1, 1 << 62))

        def push(kind: str) -> None:
            stack.append((next(ids), kind))

        def pop() -> None:
            if len(stack) > 1:
                stack.pop()

        def sibling() -> None:  # then/else/do, the next ``case`` arm: a new block at the same level
            stack[-1] = (next(ids), stack[-1][1])

        prev_end, prev_sep = 0, ""
        for k, cmd in enumerate(cmds):
            in_case = stack[-1][1] == "case"
            if not in_case:  # ``( CMD=x )``: parentheses between commands (a case pattern's ``)`` is none)
                gap = re.sub(r"#[^\n]*", "", src[prev_end : cmd.start])
                for c in gap:
                    push("subshell") if c == "(" else pop() if c == ")" else None
            # a backslash-newline inside quotes is no line break once eval reads the value again
            vals = [Token("word", w.text.replace("\\\n", ""), 0, 0).value for w in cmd.words]
            first = vals[0] if vals else ""
            if first in _CLOSERS:
                pop()
            function = prev_sep == "(" or first == "function"
            if function:  # ``f() { ... }``: runs when called, not here
                push("function")
            for word in cmd.prefix:
                if word.text in ("if", "while", "until"):
                    push("loop" if word.text != "if" else "if")
                elif word.text in ("then", "else", "elif", "do"):
                    sibling()
            self.paths.append(tuple(b for b, _ in stack))
            self.in_loop.append(any(kind == "loop" for _, kind in stack))
            definite = prev_sep not in ("&&", "||", "|", "|&") and cmd.sep_after not in ("|", "|&", "&")
            self._record(k, vals, definite)
            if first in ("for", "select"):  # after recording: ``for s in a b`` itself sets s
                push("loop")
            elif first == "case" or (first == "{" and not function):
                push("case" if first == "case" else "group")
            if stack[-1][1] == "case" and cmd.sep_after == ";;":
                sibling()
            prev_end, prev_sep = cmd.end, cmd.sep_after

    def surely_before(self, a: _Assignment, index: int) -> bool:
        """Did assignment ``a`` surely run before command ``index`` (whenever that one runs)?"""
        if not a.definite or index >= len(self.paths):
            return False
        path = self.paths[a.index]
        return self.paths[index][: len(path)] == path

    def set_again_in_loop(self, name: str, index: int) -> bool:
        """Is command ``index`` in a loop and ``name`` set after it (the next pass may see that)?"""
        looping = index < len(self.in_loop) and self.in_loop[index]
        return looping and any(a.index > index for a in self.by_name.get(name, []))

    def _record(self, k: int, vals: list[str], plain: bool) -> None:
        words = vals[1:] if vals[:1] == ["{"] else vals
        if not words:
            return
        if words[0] in ("for", "select") and len(words) > 1 and _NAME.match(words[1]):
            # ``for s in "bandit -r ." safety``: s takes each listed value in turn (and keeps the last)
            listed: list[str | None] = list(words[3:]) if words[2:3] == ["in"] and words[3:] else [None]
            for value in listed:
                definite = plain and value is not None and words[0] == "for"  # select: the user's pick
                self._add(words[1], _Assignment(k, value, definite))
            return
        if words[0] in _READS:
            for name in words[1:]:
                if _NAME.match(name):
                    self._add(name, _Assignment(k, None, False))
            return
        declared = words[0] in _DECLARE
        rest = words[1:] if declared else words
        if not declared and not all(_ASSIGN.match(w) for w in rest):
            return  # ``CMD=x some-command``: the value is only that command's environment
        for word in rest:
            m = _ASSIGN.match(word)
            if m is not None:  # ``CMD+=" --flag"`` is ``CMD="${CMD} --flag"``
                value = ("${" + m.group(1) + "}" if m.group(2) else "") + m.group(3)
                self._add(m.group(1), _Assignment(k, value, plain))

    def _add(self, name: str, assignment: _Assignment) -> None:
        self.by_name.setdefault(name, []).append(assignment)

    def before(self, name: str, index: int) -> list[_Assignment]:
        """The assignments to ``name`` in commands before ``index``."""
        return [a for a in self.by_name.get(name, []) if a.index < index]


def eval_target(
    args: list[Token], index: int, assignments: Assignments, env: Mapping[str, str]
) -> EvalTarget:
    """What ``eval <args>`` (the command at ``index``) runs. A reference that cannot be resolved stays
    as written: harmless as an argument (``trivy fs $TARGET``), but in command position
    (``$TOOL fs .``) it leaves what runs unknown."""
    text = " ".join(w.value for w in args)
    names = sorted({a or b for a, b in _REFERENCE.findall(text)})
    origin = ", ".join(_origin(n, index, assignments, env) for n in names) or "its arguments"
    choices = _expand(text, index, assignments, env, 0)
    raw = " ".join([text, *(_raw(n, index, assignments, env) for n in names)])
    if len(choices) > _MAX_CHOICES or any(_opaque_command(c) for c in choices):
        return EvalTarget((), origin, raw, tuple(names))
    return EvalTarget(tuple(choices), origin)


_MAX_CHOICES = 16  # combinations of values followed (a bound: more is reported as not analysable)


def _opaque_command(script: str) -> bool:
    """Does a command of the script start with an expansion (``$TOOL fs .``), so what runs is unknown?"""
    for cmd in commands(lex(script)):
        words = [w.value for w in cmd.words]
        first = next((w for w in words if not _ASSIGN.match(w)), "")
        if "$" in first or "`" in first:
            return True
    return False


def _expand(text: str, index: int, assignments: Assignments, env: Mapping[str, str], depth: int) -> list[str]:
    """The texts ``text`` can stand for once its ``$NAME`` references are replaced by the values they
    may have before command ``index`` (a reference with no known value stays as written)."""
    results = [text]
    for name in sorted({a or b for a, b in _REFERENCE.findall(text)}):
        values = _values(name, index, assignments, env, depth) if depth < _MAX_DEPTH else ["${" + name + "}"]
        pattern = re.compile(r"\$(?:\{" + name + r"\}|" + name + r"(?!\w))")
        results = [pattern.sub(v.replace("\\", "\\\\"), r) for r in results for v in values]
        if len(results) > _MAX_CHOICES:
            break
    return list(dict.fromkeys(results))


def _values(name: str, index: int, assignments: Assignments, env: Mapping[str, str], depth: int) -> list[str]:
    """The values ``name`` may have before command ``index`` (``${name}`` stands for one not known)."""
    unknown = "${" + name + "}"
    if assignments.set_again_in_loop(name, index):
        return [unknown]
    found = assignments.before(name, index)
    last = next(
        (k for k in range(len(found) - 1, -1, -1) if assignments.surely_before(found[k], index)), None
    )
    while last and found[last - 1].index == found[last].index:
        last -= 1  # the values a ``for`` loop gives, all of them
    out: list[str] = []
    if last is None:  # the value from before the script may survive: env:, or nothing known
        if name in env and "${{" not in env[name]:
            out += _expand(env[name], 0, _NO_ASSIGNMENTS, env, depth + 1)
        else:
            out.append(unknown)
    for a in found if last is None else found[last:]:
        out += [unknown] if a.value is None else _expand(a.value, a.index, assignments, env, depth + 1)
    return list(dict.fromkeys(out))


def _origin(name: str, index: int, assignments: Assignments, env: Mapping[str, str]) -> str:
    if name in assignments.by_name:
        return f"${name}, set in this script"
    if name in env:
        return f"${name}, set in env:"
    return f"${name}, not set in this script or in env:"


def _raw(name: str, index: int, assignments: Assignments, env: Mapping[str, str]) -> str:
    """Every text ``name`` is set to (for a scanner name in a value ci-harden cannot follow)."""
    texts = [a.value or "" for a in assignments.by_name.get(name, [])]
    return " ".join([*texts, env.get(name, "")])


_NO_ASSIGNMENTS = Assignments("", [])


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
