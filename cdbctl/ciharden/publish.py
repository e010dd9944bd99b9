"""Steps and jobs that publish scan results: once a scan of the job can fail, they must still run
(``if: ${{ !cancelled() }}``), or the results are lost exactly when there are findings."""

from __future__ import annotations

import re

from yaml.nodes import Node, ScalarNode

from cdbctl.ciharden.locate import Text, mget, mstr, mval, sval
from cdbctl.ciharden.model import BLOCKING_RULES, Candidate, Edit, Fix, Mutation, Rule
from cdbctl.ciharden.node_edits import insert_pair
from cdbctl.ciharden.registry import action_ref
from cdbctl.ciharden.step_context import Context, StepInfo

# publishers that handle scan results whatever their path says: the SARIF upload, and converters
# that turn a scanner's report into SARIF for it (they must run on failure too)
ALWAYS_PUBLISH = frozenset(
    {"github/codeql-action/upload-sarif", "veracode/veracode-pipeline-scan-results-to-sarif"}
)
# a status check function in an if: condition (without one, GitHub adds success() &&)
_STATUS_FUNCTION = re.compile(r"\b(?:always|cancelled|failure|success)\s*\(")
_EXPRESSION = re.compile(r"^\s*\$\{\{(.*)\}\}\s*$", re.DOTALL)


def publishers(t: Text, ctx: Context, cands: list[Candidate], infos: list[StepInfo]) -> list[Candidate]:
    """``if: ${{ !cancelled() }}`` for later result uploads once a scanner of the job blocks."""
    blocking = [
        c.step_index
        for c in cands
        if c.status is None and c.fix is not None and c.rule in BLOCKING_RULES and c.step_index is not None
    ]
    if not blocking:
        return []
    first = min(blocking)
    # a scanner step with a soft-fail still to fix (by this run or by hand) is a scan of its own,
    # not a report-only run: it is left as it is
    open_soft_fails = {c.step_index for c in cands if c.status is None and c.rule in BLOCKING_RULES}
    reports = {r for i in infos for r in i.reports if r}
    tools = {tool for i in infos for tool in i.tools}
    out: list[Candidate] = []
    for info in infos:
        if info.index <= first:
            continue
        condition = mget(info.node, "if")
        if condition is not None and has_status_function(condition[1]):
            continue  # always(), !cancelled(), failure(), success(): the author decided when it runs
        if not info.publisher:
            if info.index not in open_soft_fails and _feeds_a_publisher(info, infos):
                out.append(_run_on_failure(t, ctx, info, condition, _PRODUCER_MESSAGE))
            continue
        uses_pair = mget(info.node, "uses")
        if uses_pair is None:
            continue
        uses_key, uses = uses_pair
        if action_ref(str(sval(uses))) not in ALWAYS_PUBLISH:
            text = (mstr(mval(info.node, "with"), "path") or "").lower()
            if not (
                any(r.lower() in text for r in reports)
                or any(x in text for x in tools)
                or "sarif" in text
                or _names_scan_output(text, [i for i in infos if i.index in set(blocking)])
            ):
                continue
        out.append(_run_on_failure(t, ctx, info, condition, _PUBLISHER_MESSAGE, key=uses_key))
    return out


_PUBLISHER_MESSAGE = (
    "publishes scan results after a scanner that now fails the job, so it would be skipped exactly when "
    "there are findings"
)
_PRODUCER_MESSAGE = (
    "writes the scan results a later step publishes, after a scanner that now fails the job, so it "
    "would be skipped exactly when there are findings"
)


def _feeds_a_publisher(info: StepInfo, infos: list[StepInfo]) -> bool:
    """Does a scanner run (a report-only one: trivy's second run for SARIF, say) write a report that a
    later publishing step reads? Skipped after the gate fails, it would leave that step nothing to upload."""
    return bool(info.tools) and any(
        later.publisher and info.reports & later.reports for later in infos if later.index > info.index
    )


def _run_on_failure(
    t: Text,
    ctx: Context,
    info: StepInfo,
    condition: tuple[ScalarNode, Node] | None,
    message: str,
    *,
    key: Node | None = None,
) -> Candidate:
    """``if: ${{ !cancelled() }}`` (or ``!cancelled() && (<cond>)``) for one step, reported at ``key``."""
    value = "${{ !cancelled() }}"
    if condition is None:
        edit = insert_pair(t, info.node, "if", value, f"'{value}'")
    else:
        value, edit = condition_edit(t, condition[1])
    fix = Fix((edit,), (Mutation((*info.path, "if"), "set", value),)) if edit else None
    mark = (key if key is not None else info.node).start_mark
    return Candidate(
        Rule.publish_if,
        mark.line + 1,
        ctx.job,
        info.label,
        message,
        None,
        fix,
        step_index=info.index,
        col=mark.column + 1,
        proposed_fix=f"{'add' if condition is None else 'set'} if: {value}",
    )


_PATH_PART = re.compile(r"[^/\s'\"]+")
_SET_BY_STEP = re.compile(r"\b(?:env|steps\.[\w-]+\.outputs)\.([A-Za-z_][\w-]*)")


def _names_scan_output(path: str, scanners: list[StepInfo]) -> bool:
    """Does an upload's ``path:`` name what a hardened scanner step writes: a directory it names
    (``-o ${{ github.workspace }}/report/$PROJECT/`` -> ``.../report/``), or a variable it sets
    (``echo "OUTPUT_FILE=..." >> $GITHUB_ENV`` -> ``${{ env.OUTPUT_FILE }}``)?"""
    texts = [info.text.lower() for info in scanners]
    for name in _SET_BY_STEP.findall(path):
        if any(re.search(rf"(?<![\w-]){re.escape(name.lower())}=", t) for t in texts):
            return True
    literal = re.sub(r"\$\{\{.*?\}\}", " ", path)
    for part in _PATH_PART.findall(literal):
        if len(part) < 3 or part.startswith(".") or "*" in part:
            continue
        pattern = rf"/{re.escape(part)}(?:/|\s|$)"
        if any(re.search(pattern, t, re.MULTILINE) for t in texts):
            return True
    return False


def has_status_function(condition: Node) -> bool:
    """Does an ``if:`` name always(), cancelled(), failure() or success() (then GitHub adds no
    implicit ``success() &&``, and the author decided when the step or job runs)?"""
    return _STATUS_FUNCTION.search(str(sval(condition) or "x()")) is not None


def condition_edit(t: Text, condition: Node) -> tuple[str, Edit | None]:
    """``if: <cond>`` (which runs only on success) -> ``${{ !cancelled() && (<cond>) }}``."""
    inner = _EXPRESSION.sub(r"\1", str(sval(condition))).strip()
    value = f"${{{{ !cancelled() && ({inner}) }}}}"
    return value, _replace_condition(t, condition, value)


def _replace_condition(t: Text, node: Node, value: str) -> Edit | None:
    """Rewrite a one-line ``if:`` scalar as a single-quoted YAML string holding ``value``."""
    if not isinstance(node, ScalarNode) or node.start_mark.line != node.end_mark.line:
        return None
    quoted = "'" + value.replace("'", "''") + "'"
    return Edit(t.mark(node.start_mark), t.mark(node.end_mark), quoted)
