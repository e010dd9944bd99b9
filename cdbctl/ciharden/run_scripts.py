"""A ``run:`` step: the scanners a script runs, its soft-fails as candidates with their script edits
(each kept only when the edited script still parses), ``shell: bash`` where a pipe loses a status."""

from __future__ import annotations

import re

from yaml.nodes import ScalarNode

from cdbctl.ciharden.edit_guard import breaking_edits
from cdbctl.ciharden.locate import Text, content_map, mstr
from cdbctl.ciharden.model import Edit, Fix, Mutation, Rule, ShellIssue, Status
from cdbctl.ciharden.nested import pwsh_swallows
from cdbctl.ciharden.node_edits import insert_pair
from cdbctl.ciharden.registry import may_run_scanner
from cdbctl.ciharden.shell import ShellScan, scan_script
from cdbctl.ciharden.step_context import (
    Context,
    StepInfo,
    add_candidate,
    env_of,
    node_at,
    posix_shell,
    shell_of,
)

# a script issue's kind -> the rule it is reported under (for run: scripts and argument inputs alike)
KIND_RULE = {
    "swallow": Rule.failure_swallowed,
    "flag": Rule.success_flag,
    "default": Rule.nonblocking_default,
    "pipe": Rule.pipe_without_pipefail,
    "errexit": Rule.errexit_off,
    "discard": Rule.status_discarded,
    "opaque": Rule.not_analysable,
}
# a step named like a scan: its ``make lint-trivy`` counts as the scanner the target is named for
_SCAN_NAMED = re.compile(r"scan|secur|audit|vuln|sast|dast|sca\b|cve|lint", re.IGNORECASE)
_RUNNER = re.compile(r"\b(?:make|just|task|mage)\s")
# a command held in a value (``indirect``): ``eval``, a ``-c`` string that starts with an expansion, an array
_HELD = re.compile(r"(?<![\w.-])eval\b|\s-[a-z]*c\s+\"?\$|\[[@*]\]\}")


def guarded(script: str, issues: list[ShellIssue]) -> list[ShellIssue]:
    """The issues, with the edit taken away (report-only) from each one that would leave a script
    that does not parse, or every edit when the script's own syntax cannot be followed."""
    edited = [k for k, issue in enumerate(issues) if issue.edit is not None]
    bad = breaking_edits(script, [e for k in edited if (e := issues[k].edit) is not None])
    if bad is not None and not bad:
        return issues
    out = list(issues)
    for j, k in enumerate(edited):
        if bad is None:
            note = "; ci-harden cannot follow this script's syntax, so it is not edited"
        elif j in bad:
            note = "; the edited script would no longer parse, so it is not edited"
        else:
            continue
        issue = issues[k]
        out[k] = ShellIssue(
            issue.kind, issue.tool, issue.offset, issue.message + note, None, issue.proposed_fix
        )
    return out


def run_candidates(t: Text, ctx: Context, info: StepInfo, run: ScalarNode) -> None:
    """Candidates for a ``run:`` script (also records the scanners it runs and their reports)."""
    shell = shell_of(info.node, ctx)
    if not posix_shell(info.node, ctx):
        # not a POSIX shell: || and set +e mean other things there, so only which scanner runs is used
        # (continue-on-error on the step is still a soft-fail)
        if may_run_scanner(run.value):
            found = scan_script(run.value)
            info.tools.extend(found.tools)
            info.reports |= found.reports
            if any(ps in (shell or ("pwsh" if ctx.windows else "")).lower() for ps in ("pwsh", "powershell")):
                cmap = content_map(t, run)
                for issue in pwsh_swallows(run.value, lambda part: scan_script(part).tools):
                    where = t.position(cmap(issue.offset)) if cmap else node_at(run)
                    add_candidate(
                        info,
                        ctx,
                        Rule.failure_swallowed,
                        where,
                        issue.message,
                        tool=issue.tool,
                        fix=None,
                        proposed_fix=issue.proposed_fix,
                    )
                # ``grype dir:x`` without --fail-on: the same command line in pwsh, reported only (a
                # pwsh step fails on the last native command's exit code, so an edit may not block)
                for issue in found.issues:
                    if issue.kind == "default":
                        where = t.position(cmap(issue.offset)) if cmap else node_at(run)
                        add_candidate(
                            info,
                            ctx,
                            Rule.nonblocking_default,
                            where,
                            issue.message + " (PowerShell: reported only)",
                            tool=issue.tool,
                            fix=None,
                            proposed_fix=issue.proposed_fix,
                        )
        return
    if shell in (None, "bash", "sh"):
        errexit, pipefail = True, shell == "bash"
    else:
        flags = shell.split()
        errexit = any(f.startswith("-") and "e" in f for f in flags) or "errexit" in flags
        pipefail = "pipefail" in flags
    if not may_run_scanner(run.value) and not _RUNNER.search(run.value) and not _HELD.search(run.value):
        return
    runners = _SCAN_NAMED.search(" ".join(filter(None, (mstr(info.node, "name"), info.step_id)))) is not None
    env = {**ctx.env, **env_of(info.node)}
    scan: ShellScan = scan_script(run.value, errexit=errexit, pipefail=pipefail, runners=runners, env=env)
    info.tools.extend(scan.tools)
    info.reports |= scan.reports
    cmap = content_map(t, run)
    run_path = (*info.path, "run")
    for issue in guarded(run.value, list(scan.issues)):
        fix = None
        if issue.edit is not None and cmap is not None:
            a, b, new = issue.edit
            fix = Fix((Edit(cmap(a), cmap(b), new),), (Mutation(run_path, "splice", (a, b, new)),))
        elif issue.kind == "pipe" and not (scan.other_pipes or shell or ctx.default_shell or ctx.container):
            edit = insert_pair(t, info.node, "shell", "bash")
            fix = Fix((edit,), (Mutation((*info.path, "shell"), "set", "bash"),)) if edit else None
        where = t.position(cmap(issue.offset)) if cmap else node_at(run)
        proposed = issue.proposed_fix
        if issue.kind == "pipe" and issue.edit is None and fix is not None:
            proposed = "set shell: bash (GitHub runs bash with -o pipefail)"
        add_candidate(
            info,
            ctx,
            KIND_RULE[issue.kind],
            where,
            issue.message,
            tool=issue.tool,
            fix=fix,
            proposed_fix=proposed,
            status=Status.info if issue.kind == "opaque" else None,
        )
