"""Decisions after detection: gated soft-fails, waiver comments, and result uploads that need ``if:``."""

from __future__ import annotations

import bisect
import posixpath
import re

from yaml.nodes import Node, ScalarNode

from cdbctl.ciharden.locate import Text, insert_pair, mget, mstr, mval, sval
from cdbctl.ciharden.model import BLOCKING_RULES, Candidate, Fix, Mutation, Rule, Status
from cdbctl.ciharden.registry import action_ref
from cdbctl.ciharden.shell import script_fails
from cdbctl.ciharden.steps import Context, StepInfo, posix_shell

_FAILS = re.compile(
    r"\bexit\s+[1-9]|\bexit\s+\"?\$|(^|[;&|(\s])false\s*($|[;&|)])|core\.setFailed|sys\.exit\(\s*[1-9]"
    r"|process\.exit\(\s*[1-9]|\bthrow\b",
    re.MULTILINE,
)
_UPLOAD_SARIF = "github/codeql-action/upload-sarif"
_CONSTANT_TRUE = re.compile(r"\$\{\{\s*true\s*\}\}")


def truthy(node: Node | None) -> bool:
    """``true`` in any YAML spelling, or the constant expression ``${{ true }}`` (just as soft)."""
    if not isinstance(node, ScalarNode):
        return False
    value = node.value.strip()
    return value.lower() == "true" or _CONSTANT_TRUE.fullmatch(value) is not None


# ``steps.<id>.outcome`` / ``steps['<id>'].conclusion``: which step's result a later step reads
# (``conclusion`` of a continue-on-error step is always success, so only ``outcome`` can gate it)
_OUTCOME_READ = re.compile(
    r"steps\s*(?:\.\s*([A-Za-z_][\w-]*)|\[\s*['\"]([^'\"]+)['\"]\s*\])\s*\.\s*(outcome|conclusion)"
)
# words of a script, for "does it name a report file" (a path's basename is compared)
_WORD = re.compile(r"[^\s'\"`=<>|;&(){},:]+")


class GateIndex:
    """Which later steps read which step outcome or report, built once per job (linear in its size).

    For each key (``outcome:<id>`` or ``report:<name>``) the positions of reading steps, ascending, and
    for each of them the position in that list of the next reader that fails the job."""

    def __init__(self, infos: list[StepInfo], ctx: Context) -> None:
        self.pos = {info.index: k for k, info in enumerate(infos)}
        readers: dict[str, list[int]] = {}
        fails: list[bool] = []
        soft: list[bool] = []  # fails, but has continue-on-error: true itself, so the job goes on
        for k, info in enumerate(infos):
            failing = _fails_job(info, ctx)
            soft.append(failing and truthy(mval(info.node, "continue-on-error")))
            fails.append(failing and not soft[-1])
            keys = {f"{what}:{a or b}" for a, b, what in _OUTCOME_READ.findall(info.text)}
            # A step that writes the same report (another scan) does not read this one's.
            keys |= {
                "report:" + name
                for name in {posixpath.basename(w) for w in _WORD.findall(info.run_text)}
                if name not in info.reports
            }
            for key in keys:
                readers.setdefault(key, []).append(k)
        self.readers = readers
        self.next_fail = {key: _next(positions, fails) for key, positions in readers.items()}
        self.next_soft = {key: _next(positions, soft) for key, positions in readers.items()}

    def first_after(self, key: str, pos: int) -> tuple[int | None, int | None, int | None]:
        """(first reader, first reader that fails the job, first that fails but continues on error)
        after position ``pos``, for one key."""
        positions = self.readers.get(key)
        if not positions:
            return None, None, None
        j = bisect.bisect_right(positions, pos)
        if j == len(positions):
            return None, None, None
        fail, soft = self.next_fail[key][j], self.next_soft[key][j]
        n = len(positions)
        return positions[j], positions[fail] if fail < n else None, positions[soft] if soft < n else None


def _next(positions: list[int], flag: list[bool]) -> list[int]:
    """For each j, the index in ``positions`` of the first one at or after j whose flag is set."""
    nxt = [len(positions)] * (len(positions) + 1)
    for j in range(len(positions) - 1, -1, -1):
        nxt[j] = j if flag[positions[j]] else nxt[j + 1]
    return nxt


def _fails_job(info: StepInfo, ctx: Context) -> bool:
    """Does the step fail the job: a POSIX ``run:`` with exit N / false (lexed, so not in strings or
    comments), or an ``exit``/``setFailed``/``sys.exit``/``throw`` in github-script or another shell."""
    script = mstr(mval(info.node, "with"), "script")
    if script and _FAILS.search(script):
        return True
    run = mstr(info.node, "run")
    if run is None:
        return False
    return script_fails(run) if posix_shell(info.node, ctx) else _FAILS.search(run) is not None


def gate(cand: Candidate, infos: list[StepInfo], index: GateIndex) -> None:
    """Mark a soft-fail as gated when a later step reads its outcome or report and fails the job."""
    pos = index.pos[cand.step_index] if cand.step_index is not None else -1
    step = infos[pos]
    keys = ["report:" + r for r in step.reports]
    if step.step_id and step.has_coe:
        keys += ["outcome:" + step.step_id, "conclusion:" + step.step_id]
    reader: int | None = None
    failer: int | None = None
    softer: int | None = None
    for key in keys:
        first, first_fail, first_soft = index.first_after(key, pos)
        if first is not None and (reader is None or first < reader):
            reader = first
        if key.startswith("conclusion:"):
            continue  # read, but it never sees the failure
        if first_fail is not None and (failer is None or first_fail < failer):
            failer = first_fail
        if first_soft is not None and (softer is None or first_soft < softer):
            softer = first_soft
    if failer is not None:
        cand.status = Status.gated
        cand.message += f"; gated by later step '{infos[failer].label}', which fails the job"
    elif softer is not None:
        label = infos[softer].label
        cand.message += (
            f" (step '{label}' would fail the job but has continue-on-error: true itself, so it is no gate)"
        )
    elif reader is not None:
        label = infos[reader].label
        cand.message += f" (step '{label}' reads the result but never fails the job, so it is no gate)"


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
