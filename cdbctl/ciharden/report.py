"""Report formats for ci-harden: plain data for JSON, SARIF 2.1.0 for code scanning, table rows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from cdbctl import __version__
from cdbctl.ciharden.model import RULE_HELP, FileProblem, Finding, Rule, Status
from cdbctl.sanitize import strip_controls

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://github.com/claire-de-binare/cdbctl#cdbctl-ci-harden"
DOCS_URI = "https://github.com/claire-de-binare/cdbctl/blob/main/docs/ci-harden.md"


def help_uri(rule: Rule) -> str:
    """The rule's section of docs/ci-harden.md (its heading is the rule id)."""
    return f"{DOCS_URI}#{rule.value}"


_LEVEL = {
    Status.would_fix: "error",
    Status.fixed: "warning",
    Status.gated: "note",
    Status.waived: "note",
    Status.info: "note",
}


@dataclass(frozen=True)
class Report:
    """Everything one run found."""

    mode: str  # "fix" | "check" | "dry-run"
    files: tuple[str, ...]  # the files checked (a file in ``problems`` is not)
    changed: tuple[str, ...]
    findings: tuple[Finding, ...]
    problems: tuple[FileProblem, ...]  # the files not checked, each with why and where
    skipped: tuple[FileProblem, ...]


_WAIVE = "add a '# cdbctl: allow-soft-fail <reason>' waiver"


def proposed_fix(f: Finding) -> str | None:
    """The change a finding proposes, where ci-harden proposes one: a gated, waived or info finding is
    left as it is, so it proposes nothing (its message says why)."""
    return f.proposed_fix if f.status in (Status.fixed, Status.would_fix) else None


def describe(f: Finding) -> str:
    """The human text of a finding: what is wrong, then the fix (applied, planned or to do by hand)."""
    fix = proposed_fix(f)
    if f.status is Status.would_fix and not f.fixable:
        if fix is None:
            return f"{f.message} (no safe automatic fix: fix by hand or {_WAIVE})"
        return f"{f.message}; fix by hand: {fix} (no safe automatic fix), or {_WAIVE}"
    return f"{f.message}; fix: {fix}" if fix else f.message


def finding_dict(f: Finding) -> dict[str, Any]:
    """One finding as plain data (``message`` without the fix, which is ``proposed_fix``)."""
    return {
        "rule": f.rule.value,
        "file": f.file,
        "line": f.line,
        "job": f.job,
        "step": f.step,
        "message": f.message,
        "status": f.status.value,
        "tool": f.tool,
        "fixable": f.fixable,
        "waiver_reason": f.reason,
        "proposed_fix": proposed_fix(f),
    }


def summary(report: Report) -> dict[str, int]:
    """Counts by status (every status present, zero included)."""
    counts = Counter(f.status.value for f in report.findings)
    return {s.value: counts.get(s.value, 0) for s in Status}


def to_json(report: Report) -> dict[str, Any]:
    """The ``--format json`` object."""
    from cdbctl.output import SCHEMA_VERSION

    return {
        "schema_version": SCHEMA_VERSION,
        "mode": report.mode,
        "files_scanned": len(report.files),
        "files_changed": list(report.changed),
        "summary": summary(report),
        "findings": [finding_dict(f) for f in report.findings],
        "errors": [
            {"file": p.file, "line": p.line, "col": p.col, "message": p.message} for p in report.problems
        ],
        "skipped": [{"file": p.file, "message": p.message} for p in report.skipped],
    }


def _suppressions(f: Finding) -> list[dict[str, Any]]:
    if f.status is Status.waived:
        return [{"kind": "inSource", "justification": f.reason or ""}]
    if f.status is Status.gated:
        return [{"kind": "inSource", "justification": f.message}]
    return []


def _fixes(f: Finding) -> list[dict[str, Any]]:
    """A SARIF ``fixes`` entry with the replacement ci-harden writes (or would write)."""
    if not f.replacements:
        return []
    replacements = [
        {
            "deletedRegion": {"startLine": a, "startColumn": b, "endLine": c, "endColumn": d},
            "insertedContent": {"text": new},
        }
        for a, b, c, d, new in f.replacements
    ]
    return [
        {
            "description": {"text": f"cdbctl ci-harden: {f.rule.value}"},
            "artifactChanges": [{"artifactLocation": {"uri": f.file}, "replacements": replacements}],
        }
    ]


def _region(p: FileProblem) -> dict[str, int]:
    region = {"startLine": p.line or 1}
    if p.col:
        region["startColumn"] = p.col
    return region


def to_sarif(report: Report, *, include_info: bool = False) -> dict[str, Any]:
    """SARIF 2.1.0 for GitHub code scanning (one run, one result per finding; info-level notes
    only when ``include_info``)."""
    rules = [
        {
            "id": r.value,
            "name": r.value,
            "shortDescription": {"text": RULE_HELP[r]},
            "fullDescription": {"text": RULE_HELP[r]},
            "helpUri": help_uri(r),
            "properties": {"tags": ["security", "ci"]},
        }
        for r in Rule
    ]
    index = {r.value: i for i, r in enumerate(Rule)}
    results: list[dict[str, Any]] = []
    for f in report.findings:
        if f.status is Status.info and not include_info:
            continue
        region = {"startLine": f.line, "startColumn": f.col}
        result: dict[str, Any] = {
            "ruleId": f.rule.value,
            "ruleIndex": index[f.rule.value],
            "level": _LEVEL[f.status],
            "message": {"text": describe(f)},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": f.file}, "region": region}}],
            "properties": {"status": f.status.value, "job": f.job, "step": f.step, "tool": f.tool},
        }
        if _suppressions(f):
            result["suppressions"] = _suppressions(f)
        if _fixes(f):
            result["fixes"] = _fixes(f)
        results.append(result)
    notifications = [
        {
            "level": "error",
            "message": {"text": p.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": p.file},
                        **({"region": _region(p)} if p.line else {}),
                    }
                }
            ],
        }
        for p in report.problems
    ]
    invocation: dict[str, Any] = {"executionSuccessful": not report.problems}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "cdbctl ci-harden",
                        "version": __version__,
                        "informationUri": INFO_URI,
                        "rules": rules,
                    }
                },
                "invocations": [invocation],
                "results": results,
            }
        ],
    }


# Step names and scripts are user text: a tab or line break in them would split a line.
_CONTROL = str.maketrans({"\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _shown(text: str) -> str:
    """User text for a terminal line: tabs and breaks visible (\\t, \\n), other controls (ESC,
    BEL: a step name can retitle or recolour the terminal) and bidi overrides replaced."""
    return strip_controls(text.translate(_CONTROL))


def text_lines(report: Report, *, steps: bool = False) -> str:
    """One ``path:line:col: rule-id message [status]`` line per finding, as ruff and actionlint print;
    with steps, the job and step it is in follow in parentheses (people read those, tools do not)."""
    out = []
    for f in report.findings:
        where = " / ".join(x for x in (f.job, f.step) if x)
        tail = f" ({where})" if steps and where else ""
        out.append(
            _shown(f"{f.file}:{f.line}:{f.col}: {f.rule.value} {describe(f)} [{f.status.value}]{tail}")
        )
    return "".join(line + "\n" for line in out)


_GITHUB_LEVEL = {
    Status.would_fix: "error",
    Status.fixed: "warning",
    Status.gated: "notice",
    Status.waived: "notice",
    Status.info: "notice",
}


def _escape_data(text: str) -> str:
    return strip_controls(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(report: Report) -> str:
    """GitHub Actions workflow commands (``::error file=...,line=...,col=...,title=...::message``)."""
    lines = []
    for f in report.findings:
        props = ",".join(
            f"{k}={_escape_property(str(v))}"
            for k, v in (("file", f.file), ("line", f.line), ("col", f.col), ("title", f.rule.value))
        )
        message = _escape_data(f"{describe(f)} [{f.status.value}]")
        lines.append(f"::{_GITHUB_LEVEL[f.status]} {props}::{message}\n")
    for p in report.problems:
        where = f"file={_escape_property(p.file)}" + (f",line={p.line}" if p.line else "")
        where += f",col={p.col}" if p.line and p.col else ""
        lines.append(f"::error {where},title=ci-harden::{_escape_data(p.message)}\n")
    return "".join(lines)
