"""Jobs that publish what a hardened scan job left behind: once the scan job can fail, a job that
``needs:`` it and downloads its artifacts (a dashboard, DefectDojo, an issue) would be skipped exactly
when there are findings; it gets ``if: ${{ !cancelled() }}`` like an upload step does."""

from __future__ import annotations

from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from cdbctl.ciharden.locate import Text, mget, mstr, mval, sval
from cdbctl.ciharden.model import BLOCKING_RULES, Candidate, Edit, Fix, Mutation, Rule
from cdbctl.ciharden.node_edits import below_deeper_comments, insert_pair
from cdbctl.ciharden.publish import condition_edit, has_status_function
from cdbctl.ciharden.registry import action_ref

_DOWNLOAD = "actions/download-artifact"


def _needs(job: MappingNode) -> set[str]:
    node = mval(job, "needs")
    if isinstance(node, ScalarNode):
        return {node.value}
    if isinstance(node, SequenceNode):
        return {n.value for n in node.value if isinstance(n, ScalarNode)}
    return set()


def _downloads(job: MappingNode) -> bool:
    steps = mval(job, "steps")
    if not isinstance(steps, SequenceNode):
        return False
    return any(
        isinstance(s, MappingNode) and action_ref(mstr(s, "uses") or "").startswith(_DOWNLOAD)
        for s in steps.value
    )


def _after_needs(t: Text, job: MappingNode, value: str) -> Edit | None:
    """``if:`` on the line below ``needs:`` (where a reader looks for it): below a one-line value, a
    flow list over several lines, or the last item of a block list, and below comment lines indented
    deeper than the job's keys (a commented-out need: uncommenting it must not land under ``if:``)."""
    pair = mget(job, "needs")
    if job.flow_style or pair is None:
        return None
    key, node = pair
    last = node.value[-1] if isinstance(node, SequenceNode) and not node.flow_style and node.value else node
    if isinstance(last, MappingNode | SequenceNode) and not last.flow_style:
        return None  # not a needs list GitHub accepts; leave it to the generic insert
    end = t.mark(last.end_mark)
    line = t.line_of(max(end - 1, t.mark(last.start_mark)))
    _, stop, _ = t.line_span(line)
    rest = t.text[end:stop].strip(" \t")
    if end <= stop and rest and not rest.startswith("#"):
        return None  # something else shares the line
    column = key.start_mark.column
    line = below_deeper_comments(t, line, column)
    _, stop, full = t.line_span(line)
    if full == stop:  # the last line of a file without a final newline
        return None
    return Edit(full, full, " " * column + f"if: {value}" + t.eol)


def downstream_jobs(t: Text, root: MappingNode, cands: list[Candidate]) -> list[Candidate]:
    """``if: ${{ !cancelled() }}`` for jobs that need a scan job made blocking and download its results."""
    hardened = {
        c.job
        for c in cands
        if c.job is not None and c.status is None and c.fix is not None and c.rule in BLOCKING_RULES
    }
    jobs = mval(root, "jobs")
    if not hardened or not isinstance(jobs, MappingNode):
        return []
    out: list[Candidate] = []
    for key, job in jobs.value:
        job_id = sval(key)
        if job_id is None or not isinstance(job, MappingNode):
            continue
        scans = sorted(_needs(job) & hardened)
        if not scans or not _downloads(job):
            continue
        condition = mget(job, "if")
        if condition is not None and has_status_function(condition[1]):
            continue  # always(), !cancelled(), failure(): the author decided when it runs
        if condition is None:
            value = "${{ !cancelled() }}"
            edit = _after_needs(t, job, value) or insert_pair(t, job, "if", value, f"'{value}'")
        else:
            value, edit = condition_edit(t, condition[1])
        fix = Fix((edit,), (Mutation(("jobs", job_id, "if"), "set", value),)) if edit else None
        names = ", ".join(f"'{s}'" for s in scans)
        verb = "fails" if len(scans) == 1 else "fail"
        out.append(
            Candidate(
                Rule.publish_if,
                (condition[0] if condition is not None else key).start_mark.line + 1,  # where it changes
                job_id,
                None,
                f"job needs {names}, which now {verb} on findings, and downloads the results, so it "
                "would be skipped exactly when there are findings",
                None,
                fix,
                col=(condition[0] if condition is not None else key).start_mark.column + 1,
                proposed_fix=f"{'add' if condition is None else 'set'} if: {value}",
            )
        )
    return out
