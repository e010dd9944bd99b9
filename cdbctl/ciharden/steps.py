"""Per-step analysis: which scanner a step runs and every soft-fail on it, as fix candidates (the
``uses:`` inputs in action_inputs, the ``run:`` script in run_scripts)."""

from __future__ import annotations

from yaml.nodes import MappingNode, ScalarNode

from cdbctl.ciharden.action_inputs import action_candidates, makes_sbom
from cdbctl.ciharden.locate import Text, content_end, mget, mstr, mval, sval
from cdbctl.ciharden.registry import ARGS_INPUTS, OUTPUT_INPUTS, is_publisher, tool_for_action, tool_for_image
from cdbctl.ciharden.report_files import arg_reports, report_name
from cdbctl.ciharden.run_scripts import run_candidates
from cdbctl.ciharden.step_context import Context, Path, StepInfo, label_of


def analyse_step(t: Text, ctx: Context, node: MappingNode, index: int, path: Path) -> StepInfo:
    """Collect the step's scanners, report files and soft-fail candidates."""
    uses = mstr(node, "uses")
    tool = tool_for_action(uses) if uses else None
    if tool is not None and makes_sbom(tool, mval(node, "with")):
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
        action_candidates(t, ctx, info, tool, uses)
    if run_pair is not None and isinstance(run_pair[1], ScalarNode):
        info.run_text += run_pair[1].value
        run_candidates(t, ctx, info, run_pair[1])
    return info
