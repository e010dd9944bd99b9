"""Constructs that discard a scanner's exit status without ``|| true``: ``! scanner``, a scanner as
the condition of an ``if`` that never fails, and ``scanner && x || y``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cdbctl.ciharden.model import ShellIssue
from cdbctl.ciharden.shell_lex import SimpleCommand

_OPENS = {"if": "fi", "elif": "fi", "while": "done", "until": "done"}
_LOOPS = frozenset({"for", "select"})
_CHAINS = ("&&", "||", "|", "|&")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_STATUS_READ = re.compile(r"\$\?|PIPESTATUS|\$\{\?\}")


def fails(cmd: SimpleCommand) -> bool:
    """A command that makes the step fail (exit N>0, exit $rc, false, return N>0)."""
    vals = [w.value for w in cmd.words]
    if not vals:
        return False
    if vals[0] in ("exit", "return"):
        return len(vals) > 1 and vals[1] != "0"
    return vals[0] == "false"


@dataclass(frozen=True)
class Conditions:
    """The if/elif/while/until conditions of a script, found in one pass.

    ``start[i]``: the index of the command that opens the condition command i belongs to (None outside
    conditions): ``if make && bandit -r .; then`` -> both map to ``make``. ``closer``: opener index ->
    index of its ``fi``/``done``."""

    start: list[int | None]
    closer: dict[int, int]
    list_end: list[int]  # the last command of the and-or list (``a && b || c``, pipes too) of each
    ors_before: list[int]  # ``||`` operators after the first i commands
    keeps_before: list[int]  # commands that fail the step or keep a status (``rc=$?``) among the first i

    def handles_in(self, a: int, b: int) -> bool:
        """Does any of the commands a..b fail the step or keep the status for later (``rc=$?``)?"""
        return self.keeps_before[b + 1] > self.keeps_before[a]


def conditions(src: str, cmds: list[SimpleCommand]) -> Conditions:
    """Scan the script's conditions and constructs once (per-scanner scans were quadratic)."""
    start: list[int | None] = []
    closer: dict[int, int] = {}
    keeps_before = [0]
    stack: list[tuple[str, list[int]]] = []  # (closing word, openers it closes)
    cur: int | None = None
    for i, cmd in enumerate(cmds):
        for p in cmd.prefix:
            if p.text in ("then", "do"):
                cur = None
            elif p.text in _OPENS:
                cur = i
                if p.text != "elif":
                    stack.append((_OPENS[p.text], [i]))
                elif stack and stack[-1][0] == "fi":
                    stack[-1][1].append(i)
        start.append(cur)
        first = cmd.words[0].value if cmd.words else ""
        if first in _LOOPS:
            stack.append(("done", []))
        elif first == "case":
            stack.append(("esac", []))
        elif stack and first == stack[-1][0]:
            for opener in stack.pop()[1]:
                closer[opener] = i
        failing = fails(cmd)
        keeps_before.append(
            keeps_before[-1] + (failing or bool(_STATUS_READ.search(src, cmd.start, cmd.end)))
        )
    n = len(cmds)
    list_end = list(range(n))
    for i in range(n - 2, -1, -1):
        if cmds[i].sep_after in _CHAINS:
            list_end[i] = list_end[i + 1]
    ors_before = [0]
    for cmd in cmds:
        ors_before.append(ors_before[-1] + (cmd.sep_after == "||"))
    return Conditions(start, closer, list_end, ors_before, keeps_before)


def group_end(src: str, cmds: list[SimpleCommand], k: int) -> int:
    """The last command of a ``{ ...; }`` or ``( ... )`` group that cmds[k] opens, else k."""
    first = cmds[k].words[0].value if cmds[k].words else ""
    if first == "{":
        depth = 0
        for j in range(k, len(cmds)):
            word = cmds[j].words[0].value if cmds[j].words else ""
            depth += (word == "{") - (word == "}")
            if depth <= 0:
                return j
        return len(cmds) - 1
    depth = src.count("(", cmds[k - 1].end if k else 0, cmds[k].start)
    if depth == 0:
        return k
    for j in range(k, len(cmds)):
        for c in src[cmds[j].end : cmds[j + 1].start if j + 1 < len(cmds) else len(src)]:
            depth += (c == "(") - (c == ")")
            if depth <= 0:
                return j
    return len(cmds) - 1


def _opener(cmd: SimpleCommand) -> str:
    return next(p.text for p in reversed(cmd.prefix) if p.text in _OPENS)


def negation_or_condition(
    src: str, cmds: list[SimpleCommand], span: tuple[int, int], conds: Conditions, tool: str
) -> ShellIssue | None:
    """``if scanner; then ... fi`` with no branch that fails, or ``! scanner`` (its ``!`` is cut when
    it starts a line that is nothing but the scanner command)."""
    idx, end = span  # the scanner command and the last command of its pipeline
    cmd = cmds[idx]
    first = cmd.words[0].start if cmd.words else cmd.start
    cond = conds.start[idx]
    if cond is not None:
        kw = _opener(cmds[cond])
        if kw in ("while", "until"):
            return None  # ``until scanner; do sleep 5; done`` only ends on success
        if conds.handles_in(cond, conds.closer.get(cond, len(cmds) - 1)):
            return None  # a branch fails the step: the script handles the status itself
        return ShellIssue(
            "discard",
            tool,
            first,
            f"{tool} is the condition of an '{kw}' none of whose branches fails the step, "
            f"so {tool}'s failure only picks a branch",
            None,
        )
    bangs = [p for p in cmd.prefix if p.text == "!"]
    if not bangs:
        return None
    line_start = src.rfind("\n", 0, cmd.start) + 1
    simple = (
        [p.text for p in cmd.prefix] == ["!"]
        and not src[line_start : cmd.start].strip()
        and (idx == 0 or cmds[idx - 1].sep_after not in _CHAINS)
        and end == idx
        and cmd.sep_after in ("\n", ";", "")
    )
    return ShellIssue(
        "discard",
        tool,
        bangs[0].start,
        f"'! {tool}' succeeds when {tool} fails (and errexit ignores a negated command)",
        (bangs[0].start, first, "") if simple else None,
        "remove the '!'" if simple else None,
    )


def and_or(src: str, cmds: list[SimpleCommand], end: int, conds: Conditions, tool: str) -> ShellIssue | None:
    """``scanner && x || y`` where nothing fails: y runs when the scanner fails and the list succeeds."""
    if conds.start[end] is not None:
        return None
    last = group_end(src, cmds, conds.list_end[end])
    if conds.handles_in(end + 1, last) or conds.ors_before[last] == conds.ors_before[end]:
        return None  # a handler fails the step, or there is no ``||`` branch
    return ShellIssue(
        "discard",
        tool,
        cmds[end + 1].start,
        f"{tool} runs in an '&& ... || ...' list: when {tool} fails the '||' branch runs "
        "and the list succeeds",
        None,
    )


def assignment_swallow(cmd: SimpleCommand, handler: SimpleCommand, tool: str) -> list[ShellIssue]:
    """``x=$(scanner) || true``: a bare assignment's status is its substitution's, which the
    (swallowing) handler throws away."""
    if not cmd.words or not all(_ASSIGNMENT.match(w.value) for w in cmd.words):
        return []
    return [
        ShellIssue(
            "discard",
            tool,
            handler.start,
            f"an assignment takes {tool}'s status from its command substitution, and the '||' "
            f"after it swallows {tool}'s failure",
            None,
        )
    ]


def and_list_issue(
    src: str, cmds: list[SimpleCommand], span: tuple[int, int], conds: Conditions, tool: str
) -> list[ShellIssue]:
    """``scanner && x`` followed by more commands: errexit ignores a failure of any command of an
    ``&&`` list but the last, so the script goes on. Only a list that starts its line is judged (a
    condition, ``if scanner && x; then``, is the script's own handling); reported, not fixed."""
    idx, end = span
    first = cmds[idx].words[0].start if cmds[idx].words else cmds[idx].start  # after if/while/!
    line_start = src.rfind("\n", 0, first) + 1
    if src[line_start:first].strip():
        return []
    k = group_end(src, cmds, conds.list_end[end])
    if conds.handles_in(end + 1, k):
        return []
    if k + 1 >= len(cmds):
        return []  # the list is the script's last command: its status is the step's
    return [
        ShellIssue(
            "swallow",
            tool,
            cmds[end + 1].start,
            f"{tool} runs in an '&& ...' list that more commands follow: errexit ignores its failure there",
            None,
        )
    ]
