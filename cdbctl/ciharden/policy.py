"""Decisions after detection: soft-fails a later step gates, report runs beside a blocking run of the
same scan, and scanner steps that only report after a failure."""

from __future__ import annotations

import bisect
import posixpath
import re

from yaml.nodes import MappingNode, Node, ScalarNode

from cdbctl.ciharden.locate import mstr, mval, sval
from cdbctl.ciharden.model import BLOCKING_RULES, Candidate, Rule, Status
from cdbctl.ciharden.readers import (
    existence_only,
    gate_scripts,
    reporter_fails,
    script_file_fails,
)
from cdbctl.ciharden.registry import action_ref
from cdbctl.ciharden.report_files import canonical
from cdbctl.ciharden.script_exits import script_fails
from cdbctl.ciharden.step_context import Context, StepInfo, posix_shell

_FAILS = re.compile(
    r"\bexit\s+[1-9]|\bexit\s+\"?\$|(^|[;&|(\s])false\s*($|[;&|)])|core\.setFailed|sys\.exit\(\s*[1-9]"
    r"|process\.exit\(\s*[1-9]|\bthrow\b",
    re.MULTILINE,
)
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
        all_reports = {r for info in infos for r in info.reports if r}
        # A step that reads a result and hands a verdict on (``echo "should_fail=true" >> $GITHUB_ENV``)
        # to a later step that fails on it (``if: env.should_fail == 'true'`` + ``exit 1``) is a gate too.
        self.sets = [_sets_vars(info.run_text) for info in infos]
        all_vars = set().union(*self.sets) if self.sets else set()
        reads = [_reads_vars(info.text, all_vars - self.sets[k]) for k, info in enumerate(infos)]
        for k, info in enumerate(infos):
            scripts = gate_scripts(mstr(info.node, "run") or "", ctx.read_file)
            keys = {f"{what}:{a or b}" for a, b, what in _OUTCOME_READ.findall(info.text)}
            run = canonical(info.run_text + "".join("\n" + text for _, text in scripts))
            # A step that writes the same report (another scan) does not read this one's, and one
            # that only tests that the report exists does not read it either.
            # a report's name is part of any word it is the basename of: only those are looked for
            named = {r for r in all_reports if r in run}
            if named:
                named &= {posixpath.basename(w) for w in _WORD.findall(run)}
            named -= info.reports | existence_only(run, named - info.reports)
            keys |= {"report:" + name for name in named}
            for key in keys:
                readers.setdefault(key, []).append(k)
            # Whether a step fails the job is only ever asked of a reader (of an outcome, a report
            # or a variable) or of a step that hands a verdict on; most steps are neither, and
            # deciding it lexes their scripts.
            failing = bool(keys or reads[k] or self.sets[k]) and (
                _fails_job(info, ctx) or any(script_file_fails(p, text) for p, text in scripts)
            )
            soft.append(failing and truthy(mval(info.node, "continue-on-error")))
            fails.append(failing and not soft[-1])
        failing_reader: dict[str, int] = {}  # variable -> nearest later step that reads it and fails
        self.via: dict[int, int] = {}  # a step that fails through a later one -> that step
        for k in range(len(infos) - 1, -1, -1):
            handed = sorted(self.sets[k] & failing_reader.keys())
            if not fails[k] and not soft[k] and handed:
                fails[k] = True
                self.via[k] = min(failing_reader[name] for name in handed)
            if fails[k]:
                failing_reader.update(dict.fromkeys(reads[k], k))
        for k, names in enumerate(reads):
            for name in names:
                readers.setdefault("var:" + name, []).append(k)
        for positions in readers.values():
            positions.sort()
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


_SETS_VAR = re.compile(
    r"(?<![\w$-])([A-Za-z_][\w-]*)=[^\n]*?"
    r"(?:>>\s*[\"']?\$\{?GITHUB_(?:ENV|OUTPUT)\b|\|\s*Out-File\b[^\n]*\$env:GITHUB_(?:ENV|OUTPUT)\b)",
    re.MULTILINE | re.IGNORECASE,
)


# what every _SETS_VAR match holds: searched first, as _SETS_VAR tries each ``name=`` to its line's end
_GITHUB_FILE = re.compile(r"GITHUB_(?:ENV|OUTPUT)", re.IGNORECASE)


def _sets_vars(script: str) -> set[str]:
    """Names a script writes to ``$GITHUB_ENV`` / ``$GITHUB_OUTPUT`` (or pwsh's ``$env:GITHUB_ENV``)."""
    return set(_SETS_VAR.findall(script)) if _GITHUB_FILE.search(script) else set()


_VAR_READ = re.compile(r"(?:\benv\.|\.outputs\.)([A-Za-z_][\w-]*)|(?:\$env:|\$\{?)([A-Za-z_]\w*)")


def _reads_vars(text: str, names: set[str]) -> set[str]:
    """Which of ``names`` a step reads: ``env.X``, ``steps.<id>.outputs.X``, ``$X`` / ``${X}``, ``$env:X``
    (one pass over the text, whatever the number of names)."""
    if not names:
        return set()
    return {a or b for a, b in _VAR_READ.findall(text)} & names


def _next(positions: list[int], flag: list[bool]) -> list[int]:
    """For each j, the index in ``positions`` of the first one at or after j whose flag is set."""
    nxt = [len(positions)] * (len(positions) + 1)
    for j in range(len(positions) - 1, -1, -1):
        nxt[j] = j if flag[positions[j]] else nxt[j + 1]
    return nxt


def _fails_job(info: StepInfo, ctx: Context) -> bool:
    """Does the step fail the job: a POSIX ``run:`` with exit N / false (lexed, so not in strings or
    comments), or an ``exit``/``setFailed``/``sys.exit``/``throw`` in github-script or another shell."""
    inputs = mval(info.node, "with")
    script = mstr(inputs, "script")
    if script and _FAILS.search(script):
        return True
    if reporter_fails(action_ref(mstr(info.node, "uses") or ""), mstr(inputs, "scan-args") or ""):
        return True
    run = mstr(info.node, "run")
    if run is None:
        return False
    if posix_shell(info.node, ctx):
        return script_fails(run)
    return _FAILS.search(run) is not None


def gate(cand: Candidate, infos: list[StepInfo], index: GateIndex) -> None:
    """Mark a soft-fail as gated when a later step reads its outcome or report and fails the job."""
    pos = index.pos[cand.step_index] if cand.step_index is not None else -1
    step = infos[pos]
    keys = ["report:" + r for r in step.reports] + ["var:" + v for v in sorted(index.sets[pos])]
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
        verdict = index.via.get(failer)
        cand.message += (
            f"; left as it is: gated by later step '{infos[failer].label}', which fails the job"
            + (
                f" (through step '{infos[verdict].label}', which acts on its verdict)"
                if verdict is not None
                else ""
            )
        )
    elif softer is not None:
        label = infos[softer].label
        cand.message += (
            f" (step '{label}' would fail the job but has continue-on-error: true itself, so it is no gate)"
        )
    elif reader is not None:
        label = infos[reader].label
        cand.message += f" (step '{label}' reads the result but never fails the job, so it is no gate)"


_AFTER_FAILURE = re.compile(r"\bfailure\(\s*\)")


def after_failure(cands: list[Candidate], infos: list[StepInfo]) -> None:
    """A scanner step under ``if: failure()`` runs to report why the job failed, it is no gate:
    removing its ``|| true`` would only cut the report short. Left alone (info)."""
    by_index = {info.index: info for info in infos}
    for cand in cands:
        info = by_index.get(cand.step_index) if cand.step_index is not None else None
        if cand.status is not None or info is None or cand.rule not in BLOCKING_RULES:
            continue
        condition = mstr(info.node, "if") or ""
        if _AFTER_FAILURE.search(condition):
            cand.status = Status.info
            cand.message += (
                f"; the step only runs after a failure (if: {condition.strip()}), so it is a report, "
                "not a gate; left alone"
            )


def _report_only(info: StepInfo) -> bool:
    """A run that writes SARIF for code scanning (its output, or ``format: sarif``)."""
    fmt = (mstr(mval(info.node, "with"), "format") or "").lower()
    return fmt == "sarif" or any(r.lower().endswith(".sarif") for r in info.reports)


_TARGET_WORDS = ("ref", "target", "path", "dir", "image", "input", "scan-type", "url", "project", "lockfile")
_REPORT_FLAGS = re.compile(r"(?:--format|-f|--output|-o|--exit-code|--severity|-s|--sarif-file)(?:=|\s+)\S+")


def _scan_target(info: StepInfo) -> tuple[str, ...]:
    """What a scanner step scans, without how it reports: the action and its target inputs
    (``image-ref``, ``scan-ref``, ...), or the script without format/output/exit-code flags."""
    uses = mstr(info.node, "uses")
    if uses:
        inputs = mval(info.node, "with")
        pairs = inputs.value if isinstance(inputs, MappingNode) else []
        targets = sorted(
            f"{sval(k)}={canonical(sval(v) or '')}"
            for k, v in pairs
            if any(word in (sval(k) or "") for word in _TARGET_WORDS)
        )
        return (action_ref(uses), *targets)
    run = mstr(info.node, "run") or ""
    return (" ".join(_REPORT_FLAGS.sub("", canonical(run)).split()),)


_REPORT_SETTINGS = frozenset({Rule.success_input, Rule.success_flag, Rule.nonblocking_default})


def second_runs(cands: list[Candidate], infos: list[StepInfo]) -> None:
    """A second, report-only (SARIF) run of a scan that another step of the job runs blocking (or
    gated) on the same target is left alone (gated): making it block too would only fail the job
    twice for one finding."""
    by_step: dict[int, list[Candidate]] = {}
    for cand in cands:
        if cand.step_index is not None and cand.rule in BLOCKING_RULES:
            by_step.setdefault(cand.step_index, []).append(cand)

    def blocks(info: StepInfo) -> bool:
        return all(
            c.status is Status.gated or (c.status is None and c.fix is not None)
            for c in by_step.get(info.index, [])
        )

    # scan target -> the first step deciding it; built once, so the job is read in one pass
    deciders: dict[tuple[str, ...], StepInfo] = {}
    written: dict[tuple[str, ...], StepInfo] = {}  # runs that block as written (also under an if:)
    targets: dict[int, tuple[str, ...]] = {}
    for info in infos:
        if not info.tools:
            continue
        target = targets[info.index] = _scan_target(info)
        if not _report_only(info) and blocks(info):
            deciders.setdefault(target, info)
        if info.index not in by_step:
            written.setdefault(target, info)
    for info in infos:
        mine = [c for c in by_step.get(info.index, []) if c.status is None]
        if not mine or info.index not in targets:
            continue
        target = targets[info.index]
        if _report_only(info):
            other = deciders.get(target)
            what = "a second, report-only (SARIF) run"
        elif info.reports and all(c.rule in _REPORT_SETTINGS for c in mine):
            # a run set up to write a report (JSON, table; exit-code 0) beside a run of the same
            # scan that blocks
            other = written.get(target)
            what = "a report run (" + ", ".join(sorted(info.reports)) + ")"
        else:
            other = None
        if other is None or other is info:
            continue
        for cand in mine:
            cand.status = Status.gated
            cand.message += (
                f"; left as it is: {what} of {cand.tool}: step '{other.label}' already decides the job"
            )
