"""Findings in the formats tools read (issue 13): text lines, GitHub annotations, SARIF with columns,
fixes and a helpUri per rule; the rule reference generated from the registry, each example real."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cdbctl.ciharden.harden import harden
from cdbctl.ciharden.model import Rule, Status
from cdbctl.ciharden.report import Report, github_annotations, help_uri, text_lines, to_sarif
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
        f"{WF}/t.yml:6:27: scanner-failure-swallowed pip-audit's failure is swallowed by '|| true' [would-fix]"
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
