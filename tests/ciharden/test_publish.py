"""Steps that must still run once a scan of their job can fail: result uploads, and the report-only
scanner run that writes what an upload reads (CDB's security-scan.yml runs trivy twice: a JSON run
that decides, then a SARIF run for the Security tab)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdbctl.ciharden.harden import harden
from cdbctl.ciharden.model import Rule, Status
from cdbctl.cli import main
from tests.ciharden.conftest import Lint, make_repo

pytestmark = pytest.mark.unit

# Modelled on CDB's trivy-scan-base job: the JSON run is the one made blocking; the SARIF run after
# it has no `if:`, so a failing scan would skip it and the upload-sarif step (if: always()) would
# find no file, losing the results exactly when there are findings.
JOB = """name: security
on: push
jobs:
  base:
    runs-on: ubuntu-latest
    steps:
      - name: Scan
        uses: aquasecurity/trivy-action@0.28.0
        with:
          image-ref: redis:7
          format: json
          exit-code: '0'
          output: trivy-${{ env.IMAGE }}.json

      - name: Summarize
        if: always()
        run: jq '.Results | length' "trivy-${{ env.IMAGE }}.json"

      - name: SARIF
        uses: aquasecurity/trivy-action@0.28.0
        with:
          image-ref: redis:7
          format: sarif
          exit-code: '0'
          output: trivy-${{ env.IMAGE }}.sarif

      - name: Upload SARIF
        uses: github/codeql-action/upload-sarif@v3
        if: always()
        with:
          sarif_file: trivy-${{ env.IMAGE }}.sarif
"""
HARDENED = (
    JOB.replace("          exit-code: '0'\n          output: trivy-${{ env.IMAGE }}.json\n",
                "          exit-code: '1'\n          output: trivy-${{ env.IMAGE }}.json\n")
    .replace("          output: trivy-${{ env.IMAGE }}.sarif\n",
             "          output: trivy-${{ env.IMAGE }}.sarif\n        if: ${{ !cancelled() }}\n")
)  # fmt: skip


def test_the_report_only_rerun_an_upload_reads_runs_after_a_failing_scan() -> None:
    result = harden(JOB, "security.yml", write=True)
    assert result.hardened == HARDENED
    sarif = [f for f in result.findings if f.step == "SARIF"]
    assert {(f.rule, f.status) for f in sarif} == {
        (Rule.success_input, Status.gated),  # its exit-code 0 stays: it is report-only
        (Rule.publish_if, Status.fixed),
    }
    (publish,) = [f for f in sarif if f.rule == Rule.publish_if]
    assert publish.line == 19 and "writes the scan results a later step publishes" in publish.message
    again = harden(result.hardened, "security.yml", write=True)
    assert again.hardened == result.hardened
    assert [f for f in again.findings if f.status in (Status.fixed, Status.would_fix)] == []


def test_a_rerun_whose_report_nobody_uploads_is_left_alone() -> None:
    text = JOB.replace(
        "          sarif_file: trivy-${{ env.IMAGE }}.sarif\n", "          sarif_file: other.sarif\n"
    )
    result = harden(text, "security.yml", write=True)
    assert "if: ${{ !cancelled() }}" not in result.hardened
    assert Rule.publish_if not in {f.rule for f in result.findings if f.step == "SARIF"}


def test_a_rerun_with_its_own_condition_keeps_it_behind_not_cancelled() -> None:
    text = JOB.replace(
        "      - name: SARIF\n", "      - name: SARIF\n        if: steps.build.outcome == 'success'\n"
    )
    result = harden(text, "security.yml", write=True)
    assert "        if: '${{ !cancelled() && (steps.build.outcome == ''success'') }}'\n" in result.hardened


def test_a_rerun_the_author_already_runs_on_failure_is_left_alone() -> None:
    text = JOB.replace("      - name: SARIF\n", "      - name: SARIF\n        if: always()\n")
    result = harden(text, "security.yml", write=True)
    assert [f.rule for f in result.findings if f.step == "SARIF"] == [Rule.success_input]


def test_a_second_blocking_scanner_is_not_run_on_failure() -> None:
    # Both scans fail the job now; only the upload of their reports must run after a failure.
    text = (
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: bandit -r src -f json -o bandit.json || true\n"
        "      - run: pip-audit -f json -o audit.json || true\n"
        "      - uses: actions/upload-artifact@v4\n        with:\n          path: |\n"
        "            bandit.json\n            audit.json\n"
    )
    result = harden(text, "t.yml", write=True)
    assert result.hardened.count("if: ${{ !cancelled() }}") == 1
    assert [f.step for f in result.findings if f.rule == Rule.publish_if] == [
        "uses: actions/upload-artifact@v4"
    ]


def test_cli_check_fix_and_second_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], actionlint: Lint
) -> None:
    repo = make_repo(tmp_path / "repo", {".github/workflows/security.yml": JOB})
    assert main(["ci-harden", "--repo", str(repo), "--check", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    rows = [(f["rule"], f["line"], f["status"]) for f in report["findings"] if f["step"] == "SARIF"]
    assert ("publish-if-not-cancelled", 19, "would-fix") in rows
    assert (repo / ".github/workflows/security.yml").read_text(encoding="utf-8") == JOB
    assert main(["ci-harden", "--repo", str(repo), "--format", "json"]) == 0
    capsys.readouterr()
    assert (repo / ".github/workflows/security.yml").read_text(encoding="utf-8") == HARDENED
    assert main(["ci-harden", "--repo", str(repo), "--check", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["files_changed"] == []
    assert list(actionlint([repo / ".github/workflows/security.yml"]).values()) == [[]]
