"""Harden one workflow or composite action: text in, findings and hardened text out (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from yaml.nodes import MappingNode, Node, SequenceNode

from cdbctl.ciharden.composer import compose
from cdbctl.ciharden.continue_on_error import job_candidates, step_candidates
from cdbctl.ciharden.defaults import input_defaults
from cdbctl.ciharden.downstream import downstream_jobs
from cdbctl.ciharden.locate import Text, mget, mstr, mval, sval
from cdbctl.ciharden.model import BLOCKING_RULES, Candidate, FileResult, Finding, Status
from cdbctl.ciharden.policy import GateIndex, after_failure, gate, second_runs
from cdbctl.ciharden.publish import publishers
from cdbctl.ciharden.readers import FileReader
from cdbctl.ciharden.registry import all_keywords_present
from cdbctl.ciharden.splice import choose
from cdbctl.ciharden.step_context import Context, Path, env_of
from cdbctl.ciharden.steps import analyse_step
from cdbctl.ciharden.waivers import Waivers, apply_waivers


@dataclass(frozen=True)
class Options:
    """Which jobs to look at (glob patterns on job ids), and the scanners each local composite action
    runs (``.github/actions/scan`` -> ``("bandit",)``), so a step that uses it counts as a scan."""

    include_jobs: tuple[str, ...] = ()
    exclude_jobs: tuple[str, ...] = ()
    local_actions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # repository-relative path -> text, for gate scripts a step runs (None: not readable)
    read_file: FileReader | None = None

    def wants(self, job: str | None) -> bool:
        """True when a job (None: a composite action) is selected."""
        if job is None:
            return not self.include_jobs
        if self.include_jobs and not any(fnmatchcase(job, p) for p in self.include_jobs):
            return False
        return not any(fnmatchcase(job, p) for p in self.exclude_jobs)


def harden(
    text: str, path: str, *, write: bool, options: Options | None = None, verify: bool = True
) -> FileResult:
    """Findings for one file and its hardened text; raises WorkflowError for unusable YAML.

    ``write`` labels fixes ``fixed`` (else ``would-fix``); ``verify=False`` skips re-parsing the
    result (only for ``--check``, which never writes or shows it).
    """
    options = options or Options()
    if not all_keywords_present(text):
        compose(text, path)  # still report invalid YAML
        return FileResult(path, (), text, text)
    root = compose(text, path)
    t = Text(text)
    cands: list[Candidate] = []
    if isinstance(root, MappingNode):
        waivers = Waivers(t, root)
        for ctx, steps, base, job_node, job_path in _units(t, root, options):
            cands.extend(_analyse_unit(t, ctx, steps, base, (job_node, job_path), waivers=waivers))
        cands.extend(c for c in downstream_jobs(t, root, cands) if options.wants(c.job))
    return _finish(t, path, cands, write=write, verify=verify, root=root)


def scanners_in(text: str, path: str) -> tuple[str, ...]:
    """The scanners a composite action's steps run (empty for anything else); raises WorkflowError."""
    if not all_keywords_present(text):
        return ()
    root = compose(text, path)
    if not isinstance(root, MappingNode):
        return ()
    t = Text(text)
    tools: list[str] = []
    for ctx, steps, base, _, _ in _units(t, root, Options()):
        if ctx.job is not None:
            break  # a workflow, not a composite action
        for i, step in enumerate(steps.value):
            if isinstance(step, MappingNode):
                tools += analyse_step(t, ctx, step, i, (*base, i)).tools
    return tuple(dict.fromkeys(tools))


def _default_shell(node: Node | None) -> str | None:
    return mstr(mval(mval(node, "defaults"), "run"), "shell")


def _units(
    t: Text, root: MappingNode, options: Options
) -> list[tuple[Context, SequenceNode, Path, MappingNode | None, Path]]:
    out: list[tuple[Context, SequenceNode, Path, MappingNode | None, Path]] = []
    runs = mget(root, "runs")
    if runs and isinstance(runs[1], MappingNode) and mstr(runs[1], "using") == "composite":
        steps = mget(runs[1], "steps")
        if steps and isinstance(steps[1], SequenceNode) and options.wants(None):
            ctx = Context(
                None,
                None,
                False,
                indent=_indent_unit(root),
                local_actions=options.local_actions,
                read_file=options.read_file,
            )
            out.append((ctx, steps[1], ("runs", "steps"), None, ()))
        return out
    jobs = mget(root, "jobs")
    if not jobs or not isinstance(jobs[1], MappingNode):
        return out
    wf_shell = _default_shell(root)
    defaults = input_defaults(root)
    indent = _indent_unit(root)
    for key, job in jobs[1].value:
        job_id = sval(key)
        if job_id is None or not isinstance(job, MappingNode) or not options.wants(job_id):
            continue
        runs_on = mval(job, "runs-on")
        where = _source(t, runs_on) if runs_on is not None else ""
        strategy = mval(job, "strategy")
        if "${{" in where and strategy is not None:  # runs-on: ${{ matrix.os }}
            where += _source(t, strategy)
        windows = "windows" in where.lower()
        ctx = Context(
            job_id,
            _default_shell(job) or wf_shell,
            windows,
            mval(job, "container") is not None,
            indent,
            options.local_actions,
            options.read_file,
            defaults,
            {**env_of(root), **env_of(job)},
        )
        steps = mget(job, "steps")
        seq = (
            steps[1]
            if steps and isinstance(steps[1], SequenceNode)
            else SequenceNode("tag:yaml.org,2002:seq", [])
        )
        out.append((ctx, seq, ("jobs", job_id, "steps"), job, ("jobs", job_id)))
    return out


def _indent_unit(root: MappingNode) -> int:
    """The file's indentation step: how far the first nested block mapping is indented (else 2)."""
    for key, value in root.value:
        if isinstance(value, MappingNode) and not value.flow_style and value.value:
            step: int = value.value[0][0].start_mark.column - key.start_mark.column
            if step > 0:
                return step
    return 2


def _source(t: Text, node: Node) -> str:
    return t.text[t.mark(node.start_mark) : t.mark(node.end_mark)]


def _analyse_unit(
    t: Text,
    ctx: Context,
    steps: SequenceNode,
    base: Path,
    job: tuple[MappingNode | None, Path],
    *,
    waivers: Waivers,
) -> list[Candidate]:
    infos = [
        analyse_step(t, ctx, s, i, (*base, i))
        for i, s in enumerate(steps.value)
        if isinstance(s, MappingNode)
    ]
    out: list[Candidate] = []
    for info in infos:
        pair = mget(info.node, "continue-on-error")
        if pair is not None:
            out.extend(step_candidates(t, ctx, info, pair[0], pair[1]))
        out.extend(info.candidates)
    out.extend(job_candidates(t, ctx, job, [i for i in infos if i.tools]))
    out.extend(apply_waivers(waivers, out))
    after_failure(out, infos)
    # The index reads every step of the job (lexes scripts, reads gate script files): built only
    # for a job that has a soft-fail to judge, which most jobs do not.
    index: GateIndex | None = None
    for cand in out:
        if cand.status is None and cand.rule in BLOCKING_RULES and cand.step_index is not None:
            index = index or GateIndex(infos, ctx)
            gate(cand, infos, index)
    second_runs(out, infos)
    out.extend(publishers(t, ctx, out, infos))
    return out


def _finish(
    t: Text, path: str, cands: list[Candidate], *, write: bool, verify: bool, root: Node | None
) -> FileResult:
    todo = [c for c in cands if c.status is None and c.fix is not None]
    fixes = [c.fix for c in todo if c.fix is not None]
    new_text, kept = choose(t.text, fixes, check=verify, base=root)
    done = {id(c) for c, k in zip(todo, kept, strict=True) if k}
    findings: list[Finding] = []
    for c in cands:
        status = c.status
        fixable = status is None  # gated, waived and info findings are never edited
        if status is None:
            status = Status.fixed if write else Status.would_fix
            if id(c) not in done:
                status, fixable = Status.would_fix, False
        replacements = (
            tuple((*t.position(e.start), *t.position(e.end), e.new) for e in c.fix.edits)
            if c.fix is not None and fixable and status in (Status.fixed, Status.would_fix)
            else ()
        )
        findings.append(
            Finding(
                c.rule,
                path,
                c.line,
                c.job,
                c.step,
                c.message,
                status,
                c.tool,
                c.reason,
                fixable,
                c.col,
                replacements,
                c.proposed_fix,
            )
        )
    findings.sort(key=lambda f: (f.line, f.rule))
    applied = tuple(e for c in todo if id(c) in done and c.fix is not None for e in c.fix.edits)
    return FileResult(path, tuple(findings), t.text, new_text, applied)
