"""Per-step analysis: which scanner a step runs and every soft-fail on it, as fix candidates."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from yaml.nodes import MappingNode, Node, ScalarNode

from cdbctl.ciharden.defaults import resolve
from cdbctl.ciharden.locate import Text, content_end, content_map, mget, mstr, mval, sval
from cdbctl.ciharden.model import Candidate, Edit, Fix, InputRule, Mutation, Rule, ShellIssue, Tool
from cdbctl.ciharden.nested import pwsh_swallows
from cdbctl.ciharden.node_edits import delete_pair_lines, insert_pair, replace_scalar
from cdbctl.ciharden.readers import FileReader
from cdbctl.ciharden.registry import (
    ARGS_INPUTS,
    OUTPUT_INPUTS,
    is_publisher,
    may_run_scanner,
    tool_for_action,
    tool_for_image,
)
from cdbctl.ciharden.report_files import arg_reports, report_name
from cdbctl.ciharden.scanners import HUGE_BUDGET
from cdbctl.ciharden.shell import ShellScan, args_issues, scan_script
from cdbctl.ciharden.syntax import breaking_edits

Path = tuple[str | int, ...]
_KIND_RULE = {
    "swallow": Rule.failure_swallowed,
    "flag": Rule.success_flag,
    "default": Rule.nonblocking_default,
    "pipe": Rule.pipe_without_pipefail,
    "errexit": Rule.errexit_off,
    "discard": Rule.status_discarded,
}
_NON_POSIX_SHELLS = ("pwsh", "powershell", "python", "cmd", "node")
# a step named like a scan: its ``make lint-trivy`` counts as the scanner the target is named for
_SCAN_NAMED = re.compile(r"scan|secur|audit|vuln|sast|dast|sca\b|cve|lint", re.IGNORECASE)
_RUNNER = re.compile(r"\b(?:make|just|task|mage)\s")


@dataclass
class StepInfo:
    """What one step runs and what is wrong with it."""

    index: int
    node: MappingNode
    path: Path
    label: str
    step_id: str | None
    tools: list[str]
    reports: set[str]
    publisher: bool
    has_if: bool
    has_coe: bool
    text: str  # the step's source text, for gate detection
    run_text: str  # run: script and github-script script:, for "does it fail the job"
    candidates: list[Candidate] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    """Job-level facts a step analysis needs."""

    job: str | None
    default_shell: str | None
    windows: bool
    container: bool = False  # a job container may have no bash, so ``shell: bash`` is not a safe fix
    indent: int = 2  # the file's indentation step, for a ``with:`` block written in
    local_actions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # see harden.Options
    read_file: FileReader | None = None  # see harden.Options
    input_defaults: Mapping[str, str] = field(default_factory=dict)  # of a reusable workflow


def label_of(node: MappingNode, index: int) -> str:
    """A human label for a step: its name, id, uses or first line of run."""
    for key in ("name", "id", "uses"):
        value = mstr(node, key)
        if value:
            return value if key == "name" else f"{key}: {value}"
    run = mstr(node, "run")
    if run:
        first = run.strip().splitlines()[0] if run.strip() else ""
        return "run: " + (first[:50] + "..." if len(first) > 50 else first)
    return f"step {index + 1}"


def bool_fix(t: Text, key: ScalarNode, value: Node, path: Path) -> Fix | None:
    """Remove a ``key: true`` line, or flip it to false where the line holds more (``- `` line, flow)."""
    edit = delete_pair_lines(t, key, value)
    if edit is not None:
        return Fix((edit,), (Mutation(path, "delete"),))
    if isinstance(value, ScalarNode) and value.style in ("'", '"'):
        # a quoted "false" is a string, which actionlint rejects: write the plain boolean
        if replace_scalar(t, value, "false") is not None:
            flip = Edit(t.mark(value.start_mark), t.mark(value.end_mark), "false")
            return Fix((flip,), (Mutation(path, "set", False),))
    elif isinstance(value, ScalarNode):
        plain = replace_scalar(t, value, "false")
        if plain is not None:
            return Fix((plain,), (Mutation(path, "set", _constructed(value, "false")),))
    return None


def plain_value(text: str) -> object:
    """What a plain or quoted scalar we write loads as (only the forms ci-harden writes)."""
    if text[:1] in ("'", '"') and text[-1:] == text[:1]:
        return text[1:-1]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return int(text) if text.isdigit() else text


def _constructed(node: ScalarNode, new: str) -> object:
    return plain_value(new) if node.style in (None, "") else new


def _is_bad(rule: InputRule, value: str) -> bool:
    v = value.strip().lower()
    if "${{" in v:
        return False
    if rule.bad == "huge":
        return v.isdigit() and int(v) >= 1000
    if rule.bad == "zero":
        return v == "0"
    if rule.bad == "nonempty":
        return v not in ("", "none", "false")
    return v == rule.bad


def _makes_sbom(tool: Tool, inputs: Node | None) -> bool:
    """Does an action input switch the scanner to SBOM generation (``format: cyclonedx``)?"""
    return any(
        (mstr(inputs, name) or "").strip().strip("'\"").lower() in values for name, values in tool.sbom_inputs
    )


def analyse_step(t: Text, ctx: Context, node: MappingNode, index: int, path: Path) -> StepInfo:
    """Collect the step's scanners, report files and soft-fail candidates."""
    uses = mstr(node, "uses")
    tool = tool_for_action(uses) if uses else None
    if tool is not None and _makes_sbom(tool, mval(node, "with")):
        tool = None  # trivy-action format: spdx / cyclonedx writes an SBOM: no scan to harden
    local = ctx.local_actions.get(uses[2:].strip().rstrip("/"), ()) if uses and uses.startswith("./") else ()
    image = tool_for_image(uses) if uses and tool is None else None  # its inputs are args/env: not checked
    if image is not None:
        local = (image.id,)
    run_pair = mget(node, "run")
    with_pair = mget(node, "with")
    step_id = mstr(node, "id")
    info = StepInfo(
        index,
        node,
        path,
        label_of(node, index),
        step_id,
        [tool.id] if tool else list(local),
        set(),
        bool(uses and is_publisher(uses)),
        mget(node, "if") is not None,
        mget(node, "continue-on-error") is not None,
        t.text[t.mark(node.start_mark) : content_end(t, node)],
        "",
    )
    if isinstance(with_pair and with_pair[1], MappingNode):
        for k, v in with_pair[1].value:  # type: ignore[index]
            name, value = sval(k), sval(v)
            if not value:
                continue
            if name in OUTPUT_INPUTS:
                info.reports.add(report_name(value))
            elif name in ARGS_INPUTS:
                info.reports |= arg_reports(value)
                if not tool:  # a reporter's arguments name the report it reads (--new=results.json)
                    info.run_text += "\n" + value
            if name == "script":
                info.run_text += value
    if tool is not None and uses is not None:
        if not info.reports:
            info.reports.update(tool.action_reports)
        _action_candidates(t, ctx, info, tool, uses)
    if run_pair is not None and isinstance(run_pair[1], ScalarNode):
        info.run_text += run_pair[1].value
        _run_candidates(t, ctx, info, run_pair[1])
    return info


def _add(
    info: StepInfo,
    ctx: Context,
    rule: Rule,
    where: tuple[int, int],
    message: str,
    *,
    tool: str | None,
    fix: Fix | None,
) -> None:
    """A candidate at ``where`` (1-based line, column)."""
    line, col = where
    info.candidates.append(
        Candidate(rule, line, ctx.job, info.label, message, tool, fix, step_index=info.index, col=col)
    )


def _at(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _action_candidates(t: Text, ctx: Context, info: StepInfo, tool: Tool, uses: str) -> None:
    inputs = mval(info.node, "with")
    uses_pair = mget(info.node, "uses")
    uses_key = uses_pair[0] if uses_pair else None
    for rule in (*tool.inputs, HUGE_BUDGET):
        for name in rule.names:
            pair = mget(inputs, name)
            if pair is None or not isinstance(pair[1], ScalarNode):
                continue
            value = pair[1]
            if "${{" in value.value:
                _input_default(info, ctx, (name, value), rule, tool)
                continue
            if not _is_bad(rule, value.value):
                continue
            edit = replace_scalar(t, value, rule.good)
            fix = (
                Fix((edit,), (Mutation((*info.path, "with", name), "set", _constructed(value, rule.good)),))
                if edit
                else None
            )
            _add(
                info,
                ctx,
                Rule.success_input,
                _at(value),
                f"{name}: {value.value} makes {tool.id} succeed on findings; set to {rule.good}",
                tool=tool.id,
                fix=fix,
            )
    for name in tool.args_inputs:
        pair = mget(inputs, name)
        if pair is None or not isinstance(pair[1], ScalarNode):
            continue
        info.reports |= arg_reports(pair[1].value, tool.report_flags)
        cmap = content_map(t, pair[1])
        for issue in guarded(pair[1].value, args_issues(tool, pair[1].value)):
            fix = None
            if cmap is not None and issue.edit is not None:
                a, b, new = issue.edit
                fix = Fix(
                    (Edit(cmap(a), cmap(b), new),),
                    (Mutation((*info.path, "with", name), "splice", (a, b, new)),),
                )
            where = t.position(cmap(issue.offset)) if cmap else _at(pair[1])
            _add(info, ctx, _KIND_RULE[issue.kind], where, f"{name}: {issue.message}", tool=tool.id, fix=fix)
    if tool.threshold_flags:
        given = " ".join(mstr(inputs, name) or "" for name in tool.args_inputs)
        # ``args: > #--failOnCVSS 9`` (a "commented-out" flag in a folded scalar) is no threshold
        if not any(re.search(rf"(?<![#\w-]){re.escape(flag)}", given) for flag in tool.threshold_flags):
            where = _at(uses_key if uses_key else info.node)
            message = (
                f"{tool.id} ({uses}) never fails on findings without {tool.threshold_flags[0]} in "
                f"{tool.args_inputs[0]}: (a CVSS threshold below 11, e.g. {tool.threshold_flags[0]} 7)"
            )
            _add(info, ctx, Rule.nonblocking_default, where, message, tool=tool.id, fix=None)
    if tool.default_input is not None:
        name, value_text = tool.default_input
        if mget(inputs, name) is None:
            loaded = plain_value(value_text)
            if isinstance(inputs, MappingNode):
                edit = insert_pair(t, inputs, name, value_text)
                mutation = Mutation((*info.path, "with", name), "set", loaded)
            else:
                edit = (
                    None if inputs is not None else _insert_with(t, info.node, name, value_text, ctx.indent)
                )
                mutation = Mutation((*info.path, "with"), "set", {name: loaded})
            fix = Fix((edit,), (mutation,)) if edit else None
            _add(
                info,
                ctx,
                Rule.nonblocking_default,
                _at(info.node if uses_key is None else uses_key),
                f"{tool.id} ({uses}) does not fail on findings without {name}; setting {name}: {value_text}",
                tool=tool.id,
                fix=fix,
            )


def _input_default(
    info: StepInfo, ctx: Context, pair: tuple[str, ScalarNode], rule: InputRule, tool: Tool
) -> None:
    """``soft_fail: ${{ inputs.x == 'true' }}`` whose input defaults to the soft value: reported."""
    name, value = pair
    resolved = resolve(value.value, dict(ctx.input_defaults))
    if resolved is None or not _is_bad(rule, resolved[0]):
        return
    message = (
        f"{name}: {value.value.strip()} makes {tool.id} succeed on findings by default (input "
        f"'{resolved[1]}' defaults to {ctx.input_defaults[resolved[1]]}); make the default blocking"
    )
    _add(info, ctx, Rule.success_input, _at(value), message, tool=tool.id, fix=None)


def _insert_with(t: Text, step: MappingNode, name: str, value_text: str, indent: int) -> Edit | None:
    if step.flow_style:
        return insert_pair(t, step, "with", "", f"{{{name}: {value_text}}}")
    column = step.value[0][0].start_mark.column
    edit = insert_pair(t, step, "with", "")
    if edit is None:
        return None
    nested = t.eol + " " * (column + indent) + f"{name}: {value_text}"
    if edit.new.endswith(t.eol):
        return Edit(edit.start, edit.end, edit.new[: -len(t.eol)].rstrip(" ") + nested + t.eol)
    return Edit(edit.start, edit.end, edit.new.rstrip(" ") + nested)


def shell_of(node: MappingNode, ctx: Context) -> str | None:
    """The step's effective ``shell:`` (step, then job/workflow defaults)."""
    pair = mget(node, "shell")
    return sval(pair[1]) if pair else ctx.default_shell


def posix_shell(node: MappingNode, ctx: Context) -> bool:
    """Does the step's ``run:`` go to sh/bash (not pwsh, cmd, python, node, or a Windows default)?"""
    shell = shell_of(node, ctx)
    return not (
        (shell and any(s in shell.lower() for s in _NON_POSIX_SHELLS)) or (shell is None and ctx.windows)
    )


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
        out[k] = ShellIssue(issue.kind, issue.tool, issue.offset, issue.message + note, None)
    return out


def _run_candidates(t: Text, ctx: Context, info: StepInfo, run: ScalarNode) -> None:
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
                    where = t.position(cmap(issue.offset)) if cmap else _at(run)
                    _add(info, ctx, Rule.failure_swallowed, where, issue.message, tool=issue.tool, fix=None)
                # ``grype dir:x`` without --fail-on: the same command line in pwsh, reported only (a
                # pwsh step fails on the last native command's exit code, so an edit may not block)
                for issue in found.issues:
                    if issue.kind == "default":
                        where = t.position(cmap(issue.offset)) if cmap else _at(run)
                        message = (
                            issue.message.replace("; adding ", "; add ") + " (PowerShell: reported only)"
                        )
                        _add(info, ctx, Rule.nonblocking_default, where, message, tool=issue.tool, fix=None)
        return
    if shell in (None, "bash", "sh"):
        errexit, pipefail = True, shell == "bash"
    else:
        flags = shell.split()
        errexit = any(f.startswith("-") and "e" in f for f in flags) or "errexit" in flags
        pipefail = "pipefail" in flags
    if not may_run_scanner(run.value) and not _RUNNER.search(run.value):
        return
    runners = _SCAN_NAMED.search(" ".join(filter(None, (mstr(info.node, "name"), info.step_id)))) is not None
    scan: ShellScan = scan_script(run.value, errexit=errexit, pipefail=pipefail, runners=runners)
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
        where = t.position(cmap(issue.offset)) if cmap else _at(run)
        message = issue.message
        if issue.kind == "pipe" and fix is not None:
            message += "; setting shell: bash (which adds -o pipefail)"
        _add(info, ctx, _KIND_RULE[issue.kind], where, message, tool=issue.tool, fix=fix)
