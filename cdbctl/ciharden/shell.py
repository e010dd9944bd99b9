"""Analyse a ``run:`` script: which scanners it runs and how their failure is swallowed.

Offsets in the result are offsets into the script text (the YAML scalar's value); ``locate`` maps
them back to the file.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from cdbctl.ciharden.discard import (
    Conditions,
    and_list_issue,
    and_or,
    assignment_swallow,
    conditions,
    negation_or_condition,
)
from cdbctl.ciharden.handlers import errexit_fix, handler_cut, set_options, swallowing_handler
from cdbctl.ciharden.indirect import follow_held, held_command
from cdbctl.ciharden.invocation import match_scanner
from cdbctl.ciharden.model import ShellIssue
from cdbctl.ciharden.nested import (
    background,
    background_issue,
    inline_issues,
    inline_script,
    substitution_discard,
)
from cdbctl.ciharden.quoting import substitutions
from cdbctl.ciharden.report_files import has_variable, report_paths, reports_of, scan_key
from cdbctl.ciharden.script_exits import status_kept
from cdbctl.ciharden.shell_lex import SimpleCommand, commands, lex
from cdbctl.ciharden.shell_values import Scope, report_patterns
from cdbctl.ciharden.success_flags import flag_issues

__all__ = ["ShellIssue", "ShellScan", "match_scanner", "scan_script"]


@dataclass(frozen=True)
class ShellScan:
    """What a script runs and how it neuters scanners."""

    tools: tuple[str, ...]
    issues: tuple[ShellIssue, ...]
    reports: frozenset[str]
    other_pipes: bool


_MAX_NESTING = 8  # command substitutions looked into, nested this deep (a bound, not a shell limit)


def scan_script(
    src: str,
    *,
    errexit: bool = True,
    pipefail: bool = False,
    nesting: int = 0,
    runners: bool = False,
    env: Mapping[str, str] | None = None,
    outer: tuple[Scope, int] | None = None,
) -> ShellScan:
    """Find scanner invocations in a script and every way their failure is lost (``nesting``: how
    many command substitutions deep ``src`` is; ``runners``: the step is named for a scan, so a
    ``make``/``just`` target named for a scanner counts as one; ``env``: the step's environment as
    set in the workflow, for what ``eval "$CMD"`` runs; ``outer``: the script and command ``src``
    runs in, for the variables set there)."""
    cmds = commands(lex(src))
    scope = Scope(src, cmds, outer)
    state = {"errexit": errexit, "pipefail": pipefail}
    issues: list[ShellIssue] = []
    tools: list[str] = []
    reports: set[str] = set()
    piping: list[int] = []  # commands whose output is piped
    covered: set[int] = set()  # scanner pipelines and the swallowing handlers a fix removes
    errexit_off_at: int | None = None  # index of the ``set +e`` command
    defaults: dict[tuple[str, ...], list[list[int]]] = {}  # scan -> per run, its missing-default issues
    conds: Conditions | None = None  # computed on first need: a third of the scripts run no scanner
    for idx, cmd in enumerate(cmds):
        known = len(issues)
        found = (
            _substituted(src, cmd, (tools, issues, reports), nesting + 1, (env, (scope, idx)))
            if nesting < _MAX_NESTING
            else []
        )
        was_on = state["errexit"]
        set_options(cmd, state)
        if was_on and not state["errexit"]:
            errexit_off_at = idx
        inv = match_scanner(cmd.words, runners=runners)
        if cmd.sep_after in ("|", "|&"):
            piping.append(idx)
        inline = inline_script(cmd) if inv is None and nesting < _MAX_NESTING else None
        held = held_command(cmd, inline) if inv is None and nesting < _MAX_NESTING else None
        inner: list[str] = []
        if held is not None:  # ``eval "$CMD"``, ``bash -c "$CMD"``, ``"${CMD[@]}"``: what the value runs
            errexit, pipefail = held.shell or (state["errexit"], state["pipefail"])
            nested_scan = partial(
                scan_script,
                errexit=errexit,
                pipefail=pipefail,
                nesting=nesting + 1,
                runners=runners,
                env=env,  # a ``-c`` shell of its own sees the environment, not this script's variables
                outer=None if held.shell else (scope, idx),
            )
            where = (idx, scope.get(), env or {})
            followed = follow_held(cmd, held, where, nested_scan, runners=runners)
            inner = followed.tools
            tools.extend(inner)
            reports |= followed.reports
            issues.extend(followed.issues)
        if inline is not None and not inner:  # ``bash -c "bandit || true"``: a script of its own
            # (also ``bash -c "$PRE && trivy fs ."`` when $PRE is not known: trivy still runs)
            nested = scan_script(
                inline.word.value, errexit=inline.errexit, pipefail=inline.pipefail, nesting=nesting + 1
            )
            inner = list(nested.tools)
            tools.extend(inner)
            reports |= nested.reports
            issues.extend(inline_issues(inline, nested.issues))
        if inv is None and not inner:
            if (
                found
                and cmd.sep_after == "||"
                and idx + 1 < len(cmds)
                and swallowing_handler(src, cmds, idx + 1)[0]
            ):
                issues.extend(assignment_swallow(cmd, cmds[idx + 1], found[0]))
            elif found and cmd.sep_after != "||" and len(issues) == known:
                conds = conds or conditions(src, cmds)
                if conds.start[idx] is None:
                    issues.extend(d for d in [substitution_discard(cmd, found[0])] if d is not None)
            continue
        if inv is not None:
            tool = inv.tool.id
            tools.append(tool)
            if not inv.via_runner:
                reports |= reports_of(cmd, inv)
                named = [path for path in report_paths(cmd, inv) if has_variable(path)]
                if named:  # ``--json-output-file "$JSON_FILE"``: by what the variable holds there
                    reports |= report_patterns(named, idx, scope.get(), env or {})
            first = len(issues)
            issues.extend(flag_issues(cmd, inv))
            defaults.setdefault(scan_key(cmd, inv), []).append(
                [k for k in range(first, len(issues)) if issues[k].kind == "default"]
            )
        else:
            tool = inner[0]
        end = idx
        while cmds[end].sep_after in ("|", "|&") and end + 1 < len(cmds):
            end += 1
            vals = [w.value for w in cmds[end].words]
            if vals and vals[0] == "tee":
                reports |= {posixpath.basename(v) for v in vals[1:] if not v.startswith("-")}
        if end > idx and not state["pipefail"]:
            issues.append(
                ShellIssue(
                    "pipe",
                    tool,
                    cmds[idx + 1].start,
                    f"{tool} is piped into another command without pipefail; "
                    "the pipeline's status is the last command's",
                    None,
                    "run the pipeline under pipefail (bash: set -o pipefail)",
                )
            )
        last_idx = end
        covered.update(range(idx, end + 1))
        conds = conds or conditions(src, cmds)
        discard = negation_or_condition(src, cmds, (idx, end), conds, tool)
        if discard is not None:
            issues.append(discard)
        if background(src, cmds, conds.list_end[end]):
            # ``bandit || true &``: cutting the handler would leave it in the background, unseen
            issues.append(background_issue(tool, cmd.start))
            last_idx = conds.list_end[end]
        elif cmds[end].sep_after == "||" and end + 1 < len(cmds):
            swallow, h_end = swallowing_handler(src, cmds, end + 1)
            if swallow:
                covered.update(range(end + 1, h_end + 1))  # removed by the fix: its pipes do not count
                handler_text = src[cmds[end + 1].start : cmds[h_end].end]
                # a here-document's body follows the line: cutting its operator would turn it into code
                heredoc = any(
                    op.text in ("<<", "<<-") for c in cmds[end + 1 : h_end + 1] for op, _ in c.redirects
                )
                cut = None if heredoc else handler_cut(src, cmds, end, h_end)
                issues.append(
                    ShellIssue(
                        "swallow",
                        tool,
                        cmds[end + 1].start,
                        f"{tool}'s failure is swallowed by '|| {handler_text}'",
                        cut,
                        f"remove '|| {handler_text}'",
                    )
                )
            last_idx = h_end
        elif state["errexit"] and cmds[end].sep_after == "&&":
            either = and_or(src, cmds, end, conds, tool)
            issues.extend([either] if either else and_list_issue(src, cmds, (idx, end), conds, tool))
        if not state["errexit"] and last_idx + 1 < len(cmds) and not status_kept(src, cmds, cmd, last_idx):
            fix = errexit_fix(src, cmds, errexit_off_at, errexit)
            issues.append(
                ShellIssue(
                    "errexit",
                    tool,
                    cmd.start,
                    f"errexit is off (set +e) and a later command decides the step's "
                    f"status, so {tool}'s failure is ignored",
                    fix,
                    "remove the 'set +e' line" if fix else None,
                )
            )
    # ``grype dir:x`` (a summary) then ``grype dir:x -o json > r.json``: the last run of the same scan
    # is the one to make blocking, so the report is still written before the step fails
    repeated = {k for runs in defaults.values() for earlier in runs[:-1] for k in earlier}
    issues = [issue for k, issue in enumerate(issues) if k not in repeated]
    other_pipes = any(i not in covered for i in piping)
    return ShellScan(tuple(dict.fromkeys(tools)), tuple(issues), frozenset(reports), other_pipes)


def _substituted(
    src: str,
    cmd: SimpleCommand,
    out: tuple[list[str], list[ShellIssue], set[str]],
    nesting: int,
    context: tuple[Mapping[str, str] | None, tuple[Scope, int]],
) -> list[str]:
    """Scanners run inside ``$(...)``/backticks of a command's words: their tools count, and a swallow
    there (``x=$(bandit -f json . || true)``) is reported (cutting it could change what x gets).
    ``context``: the environment and where the command is, for the variables a substitution reads."""
    tools, issues, reports = out
    env, outer = context
    found: list[str] = []
    for word in (*cmd.words, *(t for _, t in cmd.redirects if t is not None)):
        if "$(" not in word.text and "`" not in word.text:
            continue
        for a, b in substitutions(word.text):
            base = word.start + a
            inner = scan_script(src[base : word.start + b], nesting=nesting, env=env, outer=outer)
            found.extend(inner.tools)
            reports |= inner.reports
            for issue in inner.issues:
                if issue.kind == "discard":  # from a deeper substitution, or ``$(! scanner)``: not cut
                    message = issue.message
                elif issue.kind == "swallow":
                    message = (
                        f"{issue.message} inside a command substitution, so the step never sees the failure"
                    )
                else:
                    continue
                issues.append(ShellIssue("discard", issue.tool, base + issue.offset, message, None))
    tools.extend(found)
    return found
