"""Decisions after detection: gated soft-fails, waiver comments, and result uploads that need ``if:``."""

from __future__ import annotations

import re

from cdbctl.ciharden.locate import Text, insert_pair, mget, mstr, mval, sval
from cdbctl.ciharden.model import BLOCKING_RULES, Candidate, Fix, Mutation, Rule, Status
from cdbctl.ciharden.registry import action_ref
from cdbctl.ciharden.steps import Context, StepInfo

_WAIVER = re.compile(r"#\s*cdbctl:\s*allow-soft-fail\b[ \t:]*(.*?)\s*$")
_FAILS = re.compile(
    r"\bexit\s+[1-9]|\bexit\s+\"?\$|(^|[;&|(\s])false\s*($|[;&|)])|core\.setFailed|sys\.exit\(\s*[1-9]"
    r"|process\.exit\(\s*[1-9]|\bthrow\b",
    re.MULTILINE,
)
_UPLOAD_SARIF = "github/codeql-action/upload-sarif"


def gate(cand: Candidate, infos: list[StepInfo]) -> None:
    """Mark a soft-fail as gated when a later step reads its outcome or report and fails the job."""
    pos = next(k for k, i in enumerate(infos) if i.index == cand.step_index)
    step = infos[pos]
    outcome = (
        re.compile(
            rf"steps\s*(\.\s*{re.escape(step.step_id)}|\[\s*['\"]{re.escape(step.step_id)}['\"]\s*\])"
            r"\s*\.\s*(outcome|conclusion)"
        )
        if step.step_id and step.has_coe
        else None
    )
    reader_label = None
    for later in infos[pos + 1 :]:
        # A later step that writes the same report (another scan) does not read this one's.
        reads = (outcome is not None and outcome.search(later.text) is not None) or any(
            r in later.run_text and r not in later.reports for r in step.reports
        )
        if not reads:
            continue
        if _FAILS.search(later.run_text):
            cand.status = Status.gated
            cand.message += f"; gated by later step '{later.label}', which fails the job"
            return
        reader_label = reader_label or later.label
    if reader_label:
        cand.message += f" (step '{reader_label}' reads the result but never fails the job, so it is no gate)"


def _waiver(t: Text, line: int) -> tuple[bool, str] | None:
    """A waiver on the finding's line or on a comment line right above it: (found, reason)."""
    for ln in (line - 1, line - 2):
        if ln < 0 or ln >= len(t.starts):
            continue
        start, end, _ = t.line_span(ln)
        text = t.text[start:end]
        if ln == line - 2 and not text.lstrip().startswith("#"):
            continue
        m = _WAIVER.search(text)
        if m:
            return True, m.group(1)
    return None


def apply_waivers(t: Text, cands: list[Candidate]) -> list[Candidate]:
    """Mark waived candidates; returns info findings for waivers that give no reason."""
    extra: list[Candidate] = []
    for cand in cands:
        if cand.status is not None:
            continue
        waiver = _waiver(t, cand.line)
        if waiver is None:
            continue
        if waiver[1]:
            cand.status, cand.reason = Status.waived, waiver[1]
            cand.message += f"; waived: {waiver[1]}"
        else:
            extra.append(
                Candidate(
                    Rule.waiver_without_reason,
                    cand.line,
                    cand.job,
                    cand.step,
                    "allow-soft-fail waiver has no reason and is ignored",
                    status=Status.info,
                )
            )
    return extra


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
    reports = {r for i in infos for r in i.reports}
    tools = {tool for i in infos for tool in i.tools}
    out: list[Candidate] = []
    for info in infos:
        if info.index <= first or not info.publisher or info.has_if:
            continue
        uses_pair = mget(info.node, "uses")
        if uses_pair is None:
            continue
        uses_key, uses = uses_pair
        if action_ref(str(sval(uses))) != _UPLOAD_SARIF:
            text = (mstr(mval(info.node, "with"), "path") or "").lower()
            if not (
                any(r.lower() in text for r in reports) or any(x in text for x in tools) or "sarif" in text
            ):
                continue
        value = "${{ !cancelled() }}"
        edit = insert_pair(t, info.node, "if", value, f"'{value}'")
        fix = Fix((edit,), (Mutation((*info.path, "if"), "set", value),)) if edit else None
        out.append(
            Candidate(
                Rule.publish_if,
                uses_key.start_mark.line + 1,
                ctx.job,
                info.label,
                f"publishes scan results after a scanner that now fails the job; adding if: {value}",
                None,
                fix,
                step_index=info.index,
            )
        )
    return out
