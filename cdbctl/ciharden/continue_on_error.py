"""continue-on-error on a scanner step or job: a soft-fail to remove, an expression left alone (unless
a reusable workflow's input default makes it true), or a non-security step left alone (info)."""

from __future__ import annotations

from yaml.nodes import MappingNode, Node, ScalarNode

from cdbctl.ciharden.defaults import resolve
from cdbctl.ciharden.locate import Text, mget
from cdbctl.ciharden.model import Candidate, Rule, Status
from cdbctl.ciharden.node_edits import bool_fix
from cdbctl.ciharden.policy import truthy
from cdbctl.ciharden.step_context import Context, Path, StepInfo


def _expression(node: Node) -> bool:
    """An expression whose value is only known at run time (left alone)."""
    return isinstance(node, ScalarNode) and "${{" in node.value and not truthy(node)


def job_candidates(
    t: Text, ctx: Context, job: tuple[MappingNode | None, Path], scanning: list[StepInfo]
) -> list[Candidate]:
    """The job-level ``continue-on-error`` of a job (``scanning``: its steps that run a scanner)."""
    job_node, job_path = job
    out: list[Candidate] = []
    coe = mget(job_node, "continue-on-error")
    if coe is None:
        return out
    key, value = coe
    line = key.start_mark.line + 1
    soft = _soft_by_default(ctx, value) if scanning else None
    if soft is not None:
        tools = sorted({tool for i in scanning for tool in i.tools})
        out.append(
            Candidate(
                Rule.job_continue_on_error,
                line,
                ctx.job,
                None,
                f"job '{ctx.job}' runs {', '.join(tools)} with continue-on-error: {value.value.strip()}, "
                f"true unless callers say otherwise ({soft}); change the input's default",
                tools[0],
                col=key.start_mark.column + 1,
            )
        )
    elif _expression(value):
        out.append(
            Candidate(
                Rule.expression_continue,
                line,
                ctx.job,
                None,
                f"job continue-on-error is an expression ({value.value.strip()}); left alone",
                status=Status.info,
                col=key.start_mark.column + 1,
            )
        )
    elif truthy(value) and scanning:
        tools = sorted({tool for i in scanning for tool in i.tools})
        out.append(
            Candidate(
                Rule.job_continue_on_error,
                line,
                ctx.job,
                None,
                f"job '{ctx.job}' runs {', '.join(tools)} but has continue-on-error: true",
                tools[0],
                bool_fix(t, key, value, (*job_path, "continue-on-error")),
                col=key.start_mark.column + 1,
            )
        )
    elif truthy(value):
        out.append(
            Candidate(
                Rule.non_security_continue,
                line,
                ctx.job,
                None,
                f"job '{ctx.job}' runs no security scanner; continue-on-error left alone",
                status=Status.info,
                col=key.start_mark.column + 1,
            )
        )
    return out


def _soft_by_default(ctx: Context, value: Node) -> str | None:
    """For ``continue-on-error: ${{ inputs.x }}`` whose input defaults to true: why (else None)."""
    resolved = resolve(value.value, dict(ctx.input_defaults)) if isinstance(value, ScalarNode) else None
    if resolved is None or resolved[0] != "true":
        return None
    return f"input '{resolved[1]}' defaults to {ctx.input_defaults[resolved[1]]}"


def step_candidates(t: Text, ctx: Context, info: StepInfo, key: ScalarNode, value: Node) -> list[Candidate]:
    line = key.start_mark.line + 1
    soft = _soft_by_default(ctx, value) if info.tools else None
    if soft is not None:
        return [
            Candidate(
                Rule.step_continue_on_error,
                line,
                ctx.job,
                info.label,
                f"{', '.join(info.tools)} step has continue-on-error: {value.value.strip()}, true unless "
                f"callers say otherwise ({soft}); change the input's default",
                info.tools[0],
                step_index=info.index,
                col=key.start_mark.column + 1,
            )
        ]
    if _expression(value):
        return [
            Candidate(
                Rule.expression_continue,
                line,
                ctx.job,
                info.label,
                f"continue-on-error is an expression ({value.value.strip()}); left alone",
                status=Status.info,
                step_index=info.index,
                col=key.start_mark.column + 1,
            )
        ]
    if not truthy(value):
        return []
    if not info.tools:
        return [
            Candidate(
                Rule.non_security_continue,
                line,
                ctx.job,
                info.label,
                "step runs no security scanner; continue-on-error left alone",
                status=Status.info,
                step_index=info.index,
                col=key.start_mark.column + 1,
            )
        ]
    fix = bool_fix(t, key, value, (*info.path, "continue-on-error"))
    return [
        Candidate(
            Rule.step_continue_on_error,
            line,
            ctx.job,
            info.label,
            f"{', '.join(info.tools)} step has continue-on-error: true, so findings never fail the job",
            info.tools[0],
            fix,
            step_index=info.index,
            col=key.start_mark.column + 1,
        )
    ]
