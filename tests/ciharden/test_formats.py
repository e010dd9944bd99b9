"""Findings in the formats tools read (issue 13): text lines, GitHub annotations, SARIF with columns,
fixes and a helpUri per rule; the rule reference generated from the registry, each example real."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cdbctl.ciharden.harden import harden
from cdbctl.ciharden.model import Rule, Status
from cdbctl.ciharden.report import (
    Report,
    describe,
    finding_dict,
    github_annotations,
    help_uri,
    text_lines,
    to_sarif,
)
from cdbctl.ciharden.rulesdoc import EXAMPLES, workflow
from cdbctl.cli import main
from tests.ciharden.conftest import make_repo

pytestmark = pytest.mark.unit

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ci-harden.md"
WF = ".github/workflows"
DIRTY = (
    "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
    "      - run: pip-audit || true\n"
    "      - uses: aquasecurity/trivy-action@0.28.0\n"
    "        with:\n          format: sarif\n          output: t.sarif\n"
    "        continue-on-error: true\n"
    "      - run: mypy src\n        continue-on-error: true\n"
)


def report_of(text: str, name: str = f"{WF}/t.yml") -> Report:
    result = harden(text, name, write=False)
    return Report("check", (name,), (), result.findings, (), ())


@pytest.mark.parametrize("rule", list(Rule), ids=[r.value for r in Rule])
def test_every_rule_has_an_example_that_produces_it(rule: Rule) -> None:
    findings = harden(workflow(EXAMPLES[rule]), "t.yml", write=True).findings
    assert rule in {f.rule for f in findings}


@pytest.mark.parametrize("rule", list(Rule), ids=[r.value for r in Rule])
def test_every_rule_has_a_section_its_help_uri_points_to(rule: Rule) -> None:
    assert f"\n### `{rule.value}`\n" in DOCS.read_text(encoding="utf-8")
    assert help_uri(rule).endswith(f"docs/ci-harden.md#{rule.value}")


def test_text_lines_are_path_line_col_rule_message() -> None:
    lines = text_lines(report_of(DIRTY)).splitlines()
    assert lines[0] == (
        f"{WF}/t.yml:6:27: scanner-failure-swallowed pip-audit's failure is swallowed by '|| true'; "
        "fix: remove '|| true' [would-fix]"
    )
    assert all(re.match(r"^\S+:\d+:\d+: [a-z-]+ .+ \[[a-z-]+\]$", line) for line in lines)


def test_github_annotations_are_workflow_commands_with_escaping() -> None:
    out = github_annotations(report_of(DIRTY))
    first = out.splitlines()[0]
    assert first.startswith(f"::error file={WF}/t.yml,line=6,col=27,title=scanner-failure-swallowed::")
    assert "::notice " in out  # info findings are notices
    tricky = report_of(DIRTY.replace("pip-audit || true", "pip-audit || echo '50%, a:b'"))
    assert "50%25, a:b" in github_annotations(tricky).splitlines()[0]


def _apply_sarif_fixes(text: str, results: list[dict[str, object]]) -> str:
    """Apply every SARIF replacement (1-based line/column regions, end exclusive) to the text."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    edits = []
    for result in results:
        for fix in result.get("fixes", []):  # type: ignore[attr-defined]
            for change in fix["artifactChanges"]:
                for rep in change["replacements"]:
                    region = rep["deletedRegion"]
                    a = starts[region["startLine"] - 1] + region["startColumn"] - 1
                    b = starts[region["endLine"] - 1] + region["endColumn"] - 1
                    edits.append((a, b, rep["insertedContent"]["text"]))
    for a, b, new in sorted(edits, reverse=True):
        text = text[:a] + new + text[b:]
    return text


def test_sarif_has_columns_fixes_that_reproduce_the_fix_and_no_info_unless_asked() -> None:
    sarif = to_sarif(report_of(DIRTY))
    run = sarif["runs"][0]
    results = run["results"]
    assert all("startColumn" in r["locations"][0]["physicalLocation"]["region"] for r in results)
    assert {r["properties"]["status"] for r in results} == {"would-fix"}
    assert _apply_sarif_fixes(DIRTY, results) == harden(DIRTY, "t.yml", write=True).hardened
    rules = run["tool"]["driver"]["rules"]
    assert all(r["helpUri"] == help_uri(Rule(r["id"])) for r in rules)
    with_info = to_sarif(report_of(DIRTY), include_info=True)["runs"][0]["results"]
    assert "info" in {r["properties"]["status"] for r in with_info}


@pytest.mark.parametrize("fmt", ["text", "github"])
def test_cli_text_formats(tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path, {f"{WF}/t.yml": DIRTY})
    code = main(["ci-harden", "--repo", str(repo), "--check", "--format", fmt])
    out = capsys.readouterr().out
    assert code == 1
    assert out.count("\n") == len(harden(DIRTY, "t.yml", write=False).findings)


def test_cli_sarif_info_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path, {f"{WF}/t.yml": DIRTY})
    main(["ci-harden", "--repo", str(repo), "--check", "--format", "sarif"])
    plain = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    main(["ci-harden", "--repo", str(repo), "--check", "--format", "sarif", "--sarif-info"])
    full = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    assert len(full) == len(plain) + 1
    assert Status.info.value not in {r["properties"]["status"] for r in plain}


_MIXED = (
    "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
    "      - run: pip-audit || true\n"
    "      - run: bandit -r src --exit-zero  # cdbctl: allow-soft-fail tracked in SEC-9\n"
    "      - id: scan\n        run: trivy fs --exit-code 0 --format json -o t.json .\n"
    "      - run: jq -e '.Results | length == 0' t.json\n"
    "      - run: mypy src\n        continue-on-error: true\n"
    "      - run: echo $(safety check)\n"
)


def test_json_gives_the_proposed_fix_apart_from_the_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fix is data: ``proposed_fix`` where ci-harden proposes one, null where it leaves a finding
    alone (gated, waived, info) or knows none; ``message`` says what is wrong, without the fix."""
    repo = make_repo(tmp_path, {f"{WF}/t.yml": _MIXED})
    assert main(["ci-harden", "--repo", str(repo), "--check", "--format", "json"]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    keys = {"rule", "file", "line", "job", "step", "message", "status", "tool", "fixable", "waiver_reason"}
    assert all(set(f) == keys | {"proposed_fix"} for f in findings)
    got = {(f["line"], f["status"]): (f["message"], f["proposed_fix"], f["fixable"]) for f in findings}
    assert got == {
        (6, "would-fix"): ("pip-audit's failure is swallowed by '|| true'", "remove '|| true'", True),
        (7, "waived"): (
            "--exit-zero makes bandit succeed on findings; waived: tracked in SEC-9",
            None,
            False,
        ),
        (9, "gated"): (
            "--exit-code 0 makes trivy succeed on findings; left as it is: gated by later step "
            "'run: jq -e '.Results | length == 0' t.json', which fails the job",
            None,
            False,  # never edited: gated, waived and info findings are not fixable
        ),
        (12, "info"): ("step runs no security scanner; continue-on-error left alone", None, False),
        (13, "would-fix"): (
            "safety runs inside a command substitution of 'echo', whose own status the step sees, so "
            "safety's failure is lost",
            None,
            False,
        ),
    }


def test_the_text_line_composes_the_fix_only_where_it_applies(tmp_path: Path) -> None:
    """Fixed and planned fixes read ``<what is wrong>; fix: <change>``; one to do by hand says so;
    a finding left alone promises nothing."""
    lines = text_lines(report_of(_MIXED)).splitlines()
    assert lines == [
        f"{WF}/t.yml:6:27: scanner-failure-swallowed pip-audit's failure is swallowed by '|| true'; "
        "fix: remove '|| true' [would-fix]",
        f"{WF}/t.yml:7:28: scanner-success-flag --exit-zero makes bandit succeed on findings; "
        "waived: tracked in SEC-9 [waived]",
        f"{WF}/t.yml:9:35: scanner-success-flag --exit-code 0 makes trivy succeed on findings; left as it "
        "is: gated by later step 'run: jq -e '.Results | length == 0' t.json', which fails the job [gated]",
        f"{WF}/t.yml:12:9: non-security-continue-on-error step runs no security scanner; "
        "continue-on-error left alone [info]",
        f"{WF}/t.yml:13:14: scanner-status-discarded safety runs inside a command substitution of 'echo', "
        "whose own status the step sees, so safety's failure is lost (no safe automatic fix: fix by hand "
        "or add a '# cdbctl: allow-soft-fail <reason>' waiver) [would-fix]",
    ]
    unparsable = report_of(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: |\n          bandit -r . || true\n          if x; then\n"
    )
    (line,) = text_lines(unparsable).splitlines()
    assert line.endswith(
        "so it is not edited; fix by hand: remove '|| true' (no safe automatic fix), or add a "
        "'# cdbctl: allow-soft-fail <reason>' waiver [would-fix]"
    )


def test_every_corpus_fix_says_what_it_changes_and_no_message_holds_a_fix() -> None:
    """Each automatic fix of the corpus names its change; the change is never inside ``message`` (it
    used to be, and a gated finding had it cut out again by a regular expression)."""
    from tests.ciharden.conftest import CORPUS

    findings = [
        f
        for path in sorted(CORPUS.rglob("*.y*ml"))
        for f in harden(path.read_text(encoding="utf-8"), path.name, write=True).findings
    ]
    fixed = [f for f in findings if f.status is Status.fixed]
    assert len(fixed) >= 100
    for f in fixed:
        assert f.proposed_fix, f
        assert describe(f) == f"{f.message}; fix: {f.proposed_fix}"
    for f in findings:
        assert "; fix" not in f.message and "no safe automatic fix" not in f.message, f.message
        if f.status in (Status.gated, Status.waived, Status.info):
            assert describe(f) == f.message
            assert finding_dict(f)["proposed_fix"] is None
