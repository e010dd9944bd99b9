"""A ``uses:`` step of a scanner action: inputs that make it succeed on findings, inputs whose
expression defaults to a soft value, a missing threshold or blocking default, and soft-fails in its
CLI-argument inputs."""

from __future__ import annotations

import re

from yaml.nodes import MappingNode, Node, ScalarNode

from cdbctl.ciharden.defaults import resolve
from cdbctl.ciharden.locate import Text, content_map, mget, mstr, mval
from cdbctl.ciharden.model import Edit, Fix, InputRule, Mutation, Rule, ShellIssue, Tool
from cdbctl.ciharden.node_edits import constructed, insert_pair, plain_value, replace_scalar
from cdbctl.ciharden.report_files import arg_reports
from cdbctl.ciharden.run_scripts import KIND_RULE, guarded
from cdbctl.ciharden.scanners import HUGE_BUDGET
from cdbctl.ciharden.shell import scan_script
from cdbctl.ciharden.step_context import Context, StepInfo, add_candidate, node_at


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


def makes_sbom(tool: Tool, inputs: Node | None) -> bool:
    """Does an action input switch the scanner to SBOM generation (``format: cyclonedx``)?"""
    return any(
        (mstr(inputs, name) or "").strip().strip("'\"").lower() in values for name, values in tool.sbom_inputs
    )


def action_candidates(t: Text, ctx: Context, info: StepInfo, tool: Tool, uses: str) -> None:
    """Candidates for a scanner action's inputs (also records the reports its argument inputs name)."""
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
                Fix((edit,), (Mutation((*info.path, "with", name), "set", constructed(value, rule.good)),))
                if edit
                else None
            )
            add_candidate(
                info,
                ctx,
                Rule.success_input,
                node_at(value),
                f"{name}: {value.value} makes {tool.id} succeed on findings",
                tool=tool.id,
                fix=fix,
                proposed_fix=f"set {name}: {rule.good}",
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
            where = t.position(cmap(issue.offset)) if cmap else node_at(pair[1])
            add_candidate(
                info,
                ctx,
                KIND_RULE[issue.kind],
                where,
                f"{name}: {issue.message}",
                tool=tool.id,
                fix=fix,
                proposed_fix=issue.proposed_fix,
            )
    if tool.threshold_flags:
        given = " ".join(mstr(inputs, name) or "" for name in tool.args_inputs)
        # ``args: > #--failOnCVSS 9`` (a "commented-out" flag in a folded scalar) is no threshold
        if not any(re.search(rf"(?<![#\w-]){re.escape(flag)}", given) for flag in tool.threshold_flags):
            where = node_at(uses_key if uses_key else info.node)
            first = tool.threshold_flags[0]
            message = (
                f"{tool.id} ({uses}) never fails on findings without {first} in {tool.args_inputs[0]}:, "
                "a CVSS threshold below 11"
            )
            proposed = f"add one to {tool.args_inputs[0]}:, e.g. {first} 7"
            add_candidate(
                info,
                ctx,
                Rule.nonblocking_default,
                where,
                message,
                tool=tool.id,
                fix=None,
                proposed_fix=proposed,
            )
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
            add_candidate(
                info,
                ctx,
                Rule.nonblocking_default,
                node_at(info.node if uses_key is None else uses_key),
                f"{tool.id} ({uses}) does not fail on findings without {name}",
                tool=tool.id,
                fix=fix,
                proposed_fix=f"set {name}: {value_text}",
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
        f"'{resolved[1]}' defaults to {ctx.input_defaults[resolved[1]]})"
    )
    add_candidate(
        info,
        ctx,
        Rule.success_input,
        node_at(value),
        message,
        tool=tool.id,
        fix=None,
        proposed_fix=f"make input '{resolved[1]}' default to a blocking value",
    )


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


def args_issues(tool: Tool, args: str) -> list[ShellIssue]:
    """Soft-fails inside an action input that holds the scanner's arguments: gosec ``args: -no-fail``,
    or mobsfscan/njsscan ``args: '. --sarif --output results.sarif || true'`` (their actions run the
    tool through ``sh -c``). Offsets are into ``args``."""
    prefix = (tool.commands[0].name if tool.commands else tool.id) + " "
    out: list[ShellIssue] = []
    for issue in scan_script(prefix + args).issues:
        if issue.kind not in ("flag", "swallow") or issue.edit is None:
            continue
        a, b, new = issue.edit
        shift = len(prefix)
        a, b = a - shift, b - shift
        if a < 0:  # the first argument: take the blank after it instead of the one before
            a = 0
            while b < len(args) and args[b] in " \t":
                b += 1
        out.append(
            ShellIssue(
                issue.kind,
                issue.tool,
                max(issue.offset - shift, 0),
                issue.message,
                (a, b, new),
                issue.proposed_fix,
            )
        )
    return out
