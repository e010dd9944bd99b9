"""Gates ci-harden must see (issue 13, class 3): a later step that reads the scanner's report and can
fail the job, however the report path is spelled or wherever the gate lives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdbctl.ciharden.harden import Options, harden
from cdbctl.ciharden.model import Rule, Status
from tests.ciharden.conftest import make_repo

HEAD = "on: push\njobs:\n  scan:\n    runs-on: ubuntu-latest\n    steps:\n"
OSV = (
    "      - name: OSV\n"
    "        run: osv-scanner -r . --format json --output osv-results.json || true\n"
    "      - name: Severity gate\n"
    "        run: bash scripts/ci/osv-severity-gate.sh\n"
)
GATE_SCRIPT = (
    "#!/usr/bin/env bash\nset -euo pipefail\n"
    "high=$(jq '[.results[].packages[].vulnerabilities[]] | length' osv-results.json)\n"
    'if [ "$high" -gt 0 ]; then echo "vulnerable"; exit 1; fi\n'
)
MIRROR = Path("/work/.mirror/jannekbuengener+Claire_de_Binare/repo")


def statuses(text: str, options: Options | None = None) -> list[tuple[int, Rule, Status]]:
    return [(f.line, f.rule, f.status) for f in harden(text, "t.yml", write=True, options=options).findings]


@pytest.mark.unit
def test_a_gate_script_file_in_the_repository_is_read() -> None:
    files = {"scripts/ci/osv-severity-gate.sh": GATE_SCRIPT}
    assert statuses(HEAD + OSV, Options(read_file=files.get)) == [(7, Rule.failure_swallowed, Status.gated)]


@pytest.mark.parametrize(
    "script",
    [
        "#!/bin/sh\necho checking osv-results.json\n",  # reads, never fails
        "#!/bin/sh\n[ -s osv-results.json ] || exit 1\n",  # only checks that the report exists
        "#!/bin/sh\nexit 1\n",  # fails, but never reads the report
    ],
)
@pytest.mark.unit
def test_a_script_that_does_not_gate_on_the_report_is_no_gate(script: str) -> None:
    files = {"scripts/ci/osv-severity-gate.sh": script}
    assert statuses(HEAD + OSV, Options(read_file=files.get)) == [(7, Rule.failure_swallowed, Status.fixed)]


@pytest.mark.unit
def test_a_missing_gate_script_is_no_gate() -> None:
    assert statuses(HEAD + OSV, Options(read_file={}.get)) == [(7, Rule.failure_swallowed, Status.fixed)]


@pytest.mark.integration
def test_the_cli_reads_gate_scripts_from_the_repository_only(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        {".github/workflows/t.yml": HEAD + OSV, "scripts/ci/osv-severity-gate.sh": GATE_SCRIPT},
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    argv = [sys.executable, "-m", "cdbctl", "ci-harden", "--repo", str(repo), "--check", "--format", "text"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith("[gated]")
    # a gate script outside the repository (through a symlink) is not read
    outside = tmp_path / "outside.sh"
    outside.write_text(GATE_SCRIPT)
    (repo / "scripts/ci/osv-severity-gate.sh").unlink()
    (repo / "scripts/ci/osv-severity-gate.sh").symlink_to(outside)
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=60)
    assert proc.returncode == 1 and proc.stdout.rstrip().endswith("[would-fix]"), proc.stdout


@pytest.mark.unit
def test_existence_check_through_a_variable_is_no_gate() -> None:
    text = HEAD + (
        "      - run: bandit -r . -f json -o bandit.json || true\n"
        "      - run: |\n"
        "          r=bandit.json\n"
        '          test -f "$r" || exit 1\n'
    )
    assert statuses(text) == [(6, Rule.failure_swallowed, Status.fixed)]


@pytest.mark.unit
def test_a_sarif_run_beside_a_run_that_stays_soft_is_still_fixed() -> None:
    """The second-run rule needs the other run to block: here it is waived, so neither decides."""
    text = HEAD + (
        "      - run: bandit -r src -f json -o b.json || true  # cdbctl: allow-soft-fail triage\n"
        "      - run: bandit -r src -f sarif -o b.sarif || true\n"
    )
    assert statuses(text) == [
        (6, Rule.failure_swallowed, Status.waived),
        (7, Rule.failure_swallowed, Status.fixed),
    ]


@pytest.mark.unit
def test_a_sarif_run_of_another_target_is_not_a_second_run() -> None:
    text = HEAD + (
        "      - run: trivy fs --exit-code 1 --format json -o fs.json .\n"
        "      - run: trivy image --exit-code 0 --format sarif -o img.sarif app:ci\n"
    )
    assert statuses(text) == [(7, Rule.success_flag, Status.fixed)]


@pytest.mark.unit
def test_a_sarif_run_of_the_same_target_beside_a_blocking_run_is_left_alone() -> None:
    text = HEAD + (
        "      - run: trivy image --exit-code 1 --format json -o img.json app:ci\n"
        "      - run: trivy image --exit-code 0 --format sarif -o img.sarif app:ci\n"
    )
    assert statuses(text) == [(7, Rule.success_flag, Status.gated)]


def _cdb_workflow(name: str) -> str | None:
    if not (MIRROR / "HEAD").exists():
        return None
    proc = subprocess.run(
        ["git", "-C", str(MIRROR), "show", f"HEAD:.github/workflows/{name}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout if proc.returncode == 0 else None


@pytest.mark.unit
def test_the_cdb_security_scan_keeps_its_allowlist_gated_custom_image_scans() -> None:
    """The real CDB file (read from the local mirror, not copied): the custom-image scans are gated
    by the trivy_gate allowlist step and their SARIF twin is a second, report-only run."""
    text = _cdb_workflow("security-scan.yml")
    if text is None:
        pytest.skip("the CDB mirror is not on this machine")
    result = harden(text, "security-scan.yml", write=True)
    custom = [f for f in result.findings if f.job == "trivy-scan-custom" and f.rule is Rule.success_input]
    assert [f.status for f in custom] == [Status.gated, Status.gated]
    assert "gated by later step 'Summarize Trivy Results'" in custom[0].message
    assert "second, report-only (SARIF) run" in custom[1].message

    def custom_job(t: str) -> str:
        return t[t.index("  trivy-scan-custom:") : t.index("  scan-base-images:")]

    assert custom_job(result.hardened) == custom_job(text)


VERDICT = (
    "      - name: Scan\n"
    "        run: |\n"
    "          set +e\n"
    "          bandit -r src -f json -o bandit.json\n"
    "          rc=$?\n"
    '          echo "bandit_rc=$rc" >> "$GITHUB_ENV"\n'
    '          exit "$rc"\n'
    "        continue-on-error: true\n"
    "      - name: Classify\n"
    "        if: always()\n"
    '        run: if [ "${{ env.bandit_rc }}" != 0 ]; then echo "should_fail=true" >> "$GITHUB_ENV"; fi\n'
)


@pytest.mark.parametrize(
    ("verdict_step", "status"),
    [
        ("      - if: env.should_fail == 'true'\n        run: exit 1\n", Status.gated),
        ("      - run: '[ \"$should_fail\" != true ]'\n", Status.gated),
        ("      - if: env.should_fail == 'true'\n        run: echo 'would fail'\n", Status.fixed),
        ("", Status.fixed),
    ],
)
@pytest.mark.unit
def test_a_gate_that_hands_its_verdict_on_through_github_env(verdict_step: str, status: Status) -> None:
    assert statuses(HEAD + VERDICT + verdict_step) == [(13, Rule.step_continue_on_error, status)]


@pytest.mark.unit
def test_a_gate_reading_the_report_through_a_variable_the_scan_sets() -> None:
    text = HEAD + (
        "      - run: |\n"
        '          OUT="grype-${{ github.run_id }}.json"\n'
        '          grype dir:pkg -o json > "$OUT"\n'
        '          echo "OUT=$OUT" >> "$GITHUB_ENV"\n'
        '      - run: test "$(jq \'.matches | length\' "${{ env.OUT }}")" -eq 0\n'
    )
    assert statuses(text) == [(8, Rule.nonblocking_default, Status.gated)]


@pytest.mark.parametrize(
    ("check", "status"),
    [
        ("'[[ \"${{ steps.scan.outcome }}\" == success ]]'", Status.gated),
        ('test "${{ steps.scan.outcome }}" = success', Status.gated),
        ("'[[ \"${{ steps.scan.outcome }}\" == success ]] || echo failed'", Status.fixed),
        ("'[[ \"${{ steps.scan.outcome }}\" == success ]]; echo checked'", Status.fixed),
    ],
)
@pytest.mark.unit
def test_a_trailing_test_of_the_outcome_is_a_gate(check: str, status: Status) -> None:
    text = HEAD + (
        "      - id: scan\n        uses: checkmarx/kics-github-action@v2\n        continue-on-error: true\n"
        f"      - run: {check}\n"
    )
    assert statuses(text) == [(8, Rule.step_continue_on_error, status)]


@pytest.mark.unit
def test_checkov_action_writes_results_sarif_so_a_jq_count_on_it_gates() -> None:
    text = HEAD + (
        "      - uses: bridgecrewio/checkov-action@v12\n        continue-on-error: true\n"
        "        with:\n          output_format: sarif\n"
        "      - run: test \"$(jq '.runs[0].results | length' results.sarif)\" -eq 0\n"
    )
    assert statuses(text) == [(7, Rule.step_continue_on_error, Status.gated)]


@pytest.mark.unit
def test_zap_cmd_options_name_the_report_a_later_jq_gate_reads() -> None:
    text = HEAD + (
        "      - uses: zaproxy/action-baseline@v0.12.0\n        with:\n          target: http://x\n"
        "          cmd_options: -a -J zap.json\n          fail_action: false\n"
        "      - run: test \"$(jq '[.site[].alerts[]] | length' zap.json)\" -eq 0\n"
    )
    assert statuses(text) == [(10, Rule.success_input, Status.gated)]


@pytest.mark.parametrize(
    ("blocking_run", "status"),
    [
        # a run of the same scan that blocks as written (also under an if:) decides the job
        ("          exit-code: 1\n", Status.gated),
        ("          exit-code: 0\n", Status.fixed),
    ],
)
@pytest.mark.unit
def test_a_report_run_beside_a_blocking_run_of_the_same_scan(blocking_run: str, status: Status) -> None:
    report = (
        "      - uses: aquasecurity/trivy-action@0.28.0\n        with:\n          scan-ref: .\n"
        "          format: json\n          output: fs.json\n          exit-code: 0\n"
    )
    blocking = (
        "      - if: inputs.enforce\n        uses: aquasecurity/trivy-action@0.28.0\n        with:\n"
        "          scan-ref: .\n" + blocking_run
    )
    found = statuses(HEAD + report + blocking)
    assert found[0] == (11, Rule.success_input, status)


@pytest.mark.unit
def test_a_powershell_scan_is_reported_and_gated_through_env() -> None:
    scan = (
        "on: push\njobs:\n  w:\n    runs-on: windows-latest\n    steps:\n"
        "      - run: |\n"
        "          grype dir:C:\\b -o json | Out-File -FilePath g.json\n"
        '          echo "G=g.json" | Out-File -FilePath $env:GITHUB_ENV -Append\n'
    )
    gate_step = "      - run: if ((Get-Content $env:G | ConvertFrom-Json).matches.Count) { exit 1 }\n"
    assert statuses(scan) == [(7, Rule.nonblocking_default, Status.would_fix)]
    assert statuses(scan + gate_step) == [(7, Rule.nonblocking_default, Status.gated)]
    assert harden(scan, "t.yml", write=True).hardened == scan  # pwsh is never edited


@pytest.mark.unit
def test_a_gated_finding_does_not_promise_the_edit_it_leaves_out() -> None:
    # "exit-code: 0 makes trivy succeed on findings; set to 1; gated by ..." read as a change to come.
    from tests.ciharden.conftest import CORPUS

    gated = [
        f.message
        for path in sorted(CORPUS.glob("*.y*ml"))
        for f in harden(path.read_text(encoding="utf-8"), path.name, write=True).findings
        if f.status is Status.gated
    ]
    assert len(gated) >= 10
    for message in gated:
        assert "; left as it is: " in message, message
        assert not any(f"; {verb} " in message for verb in ("set to", "setting", "adding", "removing")), (
            message
        )
