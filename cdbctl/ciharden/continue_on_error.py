"""continue-on-error on a scanner step or job: a soft-fail to remove, an expression left alone (unless
a reusable workflow's input default makes it true), or a non-security step left alone (info)."""

from __future__ import annotations

from yaml.nodes import MappingNode, Node, ScalarNode

from cdbctl.ciharden.defaults import resolve
from cdbctl.ciharden.locate import Text, mget
from cdbctl.ciharden.model import Candidate, Fix, Rule, Status
from cdbctl.ciharden.node_edits import bool_fix
from cdbctl.ciharden.policy import truthy
from cdbctl.ciharden.step_context import Context, Path, StepInfo

_DEFAULT = "make the input's default false"


def _fix_words(fix: Fix | None) -> str:
    """What ``bool_fix`` does, in words: it deletes the line, or writes false where the line holds more."""
    if fix is not None and all(m.op == "set" for m in fix.mutations):
        return "set continue-on-error to false"
    return "remove continue-on-error: true"


def _expression(node: Node) -> bool:
    """An expression whose value is only known at run time (left alone)."""
    return isinstance(node, ScalarNode) and "${{" in node.value and not truthy(node)


def _at(
    key: ScalarNode,
    ctx: Context,
    step: StepInfo | None,
    rule: Rule,
    message: str,
    *,
    tool: str | None = None,
    fix: Fix | None = None,
    status: Status | None = None,
    proposed_fix: str | None = None,
) -> Candidate:
    """A finding on the ``continue-on-error`` key of a job (``step`` None) or of a step."""
    return Candidate(
        rule,
        key.start_mark.line + 1,
        ctx.job,
        step.label if step else None,
        message,
        tool,
        fix,
        status=status,
        step_index=step.index if step else None,
        col=key.start_mark.column + 1,
        proposed_fix=proposed_fix,
    )


def job_candidates(
    t: Text, ctx: Context, job: tuple[MappingNode | None, Path], scanning: list[StepInfo]
) -> list[Candidate]:
    """The job-level ``continue-on-error`` of a job (``scanning``: its steps that run a scanner)."""
    job_node, job_path = job
    coe = mget(job_node, "continue-on-error")
    if coe is None:
        return []
    key, value = coe
    tools = sorted({tool for i in scanning for tool in i.tools})
    soft = _soft_by_default(ctx, value) if scanning else None
    if soft is not None:
        message = (
            f"job '{ctx.job}' runs {', '.join(tools)} with continue-on-error: {value.value.strip()}, "
            f"true unless callers say otherwise ({soft})"
        )
        return [
            _at(key, ctx, None, Rule.job_continue_on_error, message, tool=tools[0], proposed_fix=_DEFAULT)
        ]
    if _expression(value):
        message = f"job continue-on-error is an expression ({value.value.strip()}); left alone"
        return [_at(key, ctx, None, Rule.expression_continue, message, status=Status.info)]
    if not truthy(value):
        return []
    if not scanning:
        message = f"job '{ctx.job}' runs no security scanner; continue-on-error left alone"
        return [_at(key, ctx, None, Rule.non_security_continue, message, status=Status.info)]
    message = f"job '{ctx.job}' runs {', '.join(tools)} but has continue-on-error: true"
    fix = bool_fix(t, key, value, (*job_path, "continue-on-error"))
    return [
        _at(
            key,
            ctx,
            None,
            Rule.job_continue_on_error,
            message,
            tool=tools[0],
            fix=fix,
            proposed_fix=_fix_words(fix),
        )
    ]


def _soft_by_default(ctx: Context, value: Node) -> str | None:
    """For ``continue-on-error: ${{ inputs.x }}`` whose input defaults to true: why (else None)."""
    resolved = resolve(value.value, dict(ctx.input_defaults)) if isinstance(value, ScalarNode) else None
    if resolved is None or resolved[0] != "true":
        return None
    return f"input '{resolved[1]}' defaults to {ctx.input_defaults[resolved[1]]}"


def step_candidates(t: Text, ctx: Context, info: StepInfo, key: ScalarNode, value: Node) -> list[Candidate]:
    """The ``continue-on-error`` of one step."""
    soft = _soft_by_default(ctx, value) if info.tools else None
    if soft is not None:
        message = (
            f"{', '.join(info.tools)} step has continue-on-error: {value.value.strip()}, true unless "
            f"callers say otherwise ({soft})"
        )
        return [
            _at(
                key,
                ctx,
                info,
                Rule.step_continue_on_error,
                message,
                tool=info.tools[0],
                proposed_fix=_DEFAULT,
            )
        ]
    if _expression(value):
        message = f"continue-on-error is an expression ({value.value.strip()}); left alone"
        return [_at(key, ctx, info, Rule.expression_continue, message, status=Status.info)]
    if not truthy(value):
        return []
    if not info.tools:
        message = "step runs no security scanner; continue-on-error left alone"
        return [_at(key, ctx, info, Rule.non_security_continue, message, status=Status.info)]
    message = f"{', '.join(info.tools)} step has continue-on-error: true, so findings never fail the job"
    fix = bool_fix(t, key, value, (*info.path, "continue-on-error"))
    return [
        _at(
            key,
            ctx,
            info,
            Rule.step_continue_on_error,
            message,
            tool=info.tools[0],
            fix=fix,
            proposed_fix=_fix_words(fix),
        )
    ]
