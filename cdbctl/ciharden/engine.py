"""Run ci-harden over a repository: discover, read, harden each file; plan (not perform) the writes."""

from __future__ import annotations

import gc
import posixpath
from dataclasses import dataclass, replace
from pathlib import Path

from cdbctl.ciharden.composer import WorkflowError
from cdbctl.ciharden.harden import Options, harden, scanners_in
from cdbctl.ciharden.hunks import unified
from cdbctl.ciharden.model import FileProblem, Finding, Status
from cdbctl.ciharden.repo import Skipped, Source, discover, file_reader, read_source
from cdbctl.ciharden.report import Report
from cdbctl.errors import ExitCode


@dataclass(frozen=True)
class Outcome:
    """The report, the files to write (source, new text) and the unified diff of all changes."""

    report: Report
    writes: tuple[tuple[Source, str], ...]
    diff: str


def run(repo: Path, *, mode: str, options: Options) -> Outcome:
    """Harden every workflow and composite action in ``repo``; ``mode`` is fix, check or dry-run."""
    # The pass allocates hundreds of thousands of short-lived objects (nodes, tokens) next to a large
    # long-lived node graph; the default gen-0 threshold (700) rescans that graph in gen-2 collections
    # over and over (30-40% of a run on a 5,000-step workflow). Collect less often, then restore.
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], 50_000), *threshold[1:])
    try:
        return _run(repo, mode=mode, options=options)
    finally:
        gc.set_threshold(*threshold)


def _run(repo: Path, *, mode: str, options: Options) -> Outcome:
    files, skipped = discover(repo)
    options = replace(options, local_actions=_local_actions(files), read_file=file_reader(repo))
    findings: list[Finding] = []
    problems: list[FileProblem] = []
    writes: list[tuple[Source, str]] = []
    diffs: list[str] = []
    names: list[str] = []
    for name, real in files:
        source = read_source(name, real)
        if isinstance(source, Skipped):
            problems.append(FileProblem(name, None, source.message))
            continue
        try:
            result = harden(source.text, name, write=mode == "fix", options=options, verify=mode != "check")
        except WorkflowError as exc:  # not checked: counted with the problems, not with the files
            problems.append(FileProblem(name, exc.line, exc.message, exc.col))
            continue
        names.append(name)
        findings.extend(result.findings)
        if result.changed:
            writes.append((source, result.hardened))
            if mode == "dry-run":
                diffs.append(unified(name, result.original, result.edits))
    report = Report(
        mode,
        tuple(names),
        tuple(s.name for s, _ in writes),
        tuple(findings),
        tuple(problems) + tuple(FileProblem(s.name, None, s.message) for s in skipped if s.error),
        tuple(FileProblem(s.name, None, s.message) for s in skipped if not s.error),
    )
    return Outcome(report, tuple(writes), "".join(diffs))


def _local_actions(files: list[tuple[str, Path]]) -> dict[str, tuple[str, ...]]:
    """Scanners run by each composite action, keyed by its directory (``uses: ./<dir>``); a file that
    cannot be read or parsed is reported by the main pass, so it just counts as no scanner here."""
    out: dict[str, tuple[str, ...]] = {}
    for name, real in files:
        if posixpath.basename(name) not in ("action.yml", "action.yaml"):
            continue
        source = read_source(name, real)
        if isinstance(source, Skipped):
            continue
        try:
            tools = scanners_in(source.text, name)
        except WorkflowError:
            continue
        if tools:
            out[posixpath.dirname(name)] = tools
    return out


def exit_code(report: Report) -> ExitCode:
    """1 when something is (still) to fix or a file could not be checked, else 0.

    A file that could not be checked (not valid YAML, merge-conflict markers, too large, unreadable)
    is a result of the run like a finding, not a usage error: its exit 1 does not hide the findings
    of the files that were checked, and a run that left a file unchecked never passes (fail closed).
    """
    if report.problems or any(f.status is Status.would_fix for f in report.findings):
        return ExitCode.NEGATIVE
    return ExitCode.OK
