"""Issue 13 classes 4 and 5: an upload with its own if: still runs after a failed scan, and soft-fails
that come from a reusable workflow's input defaults are reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdbctl.ciharden.harden import harden
from cdbctl.ciharden.model import Rule, Status
from cdbctl.ciharden.splice import load_data
from tests.ciharden.conftest import Lint

pytestmark = pytest.mark.unit

SCAN = "      - run: bandit -r . -f sarif -o b.sarif || true\n"


def workflow(steps: str, on: str = "push") -> str:
    return f"on: {on}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n" + steps


def upload(condition: str) -> str:
    return (
        "      - uses: github/codeql-action/upload-sarif@v3\n"
        f"        if: {condition}\n        with:\n          sarif_file: b.sarif\n"
    )


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("github.event_name == 'push'", "${{ !cancelled() && (github.event_name == 'push') }}"),
        (
            "${{ github.ref == 'refs/heads/main' }}",
            "${{ !cancelled() && (github.ref == 'refs/heads/main') }}",
        ),
        ("\"matrix.os != 'windows'\"", "${{ !cancelled() && (matrix.os != 'windows') }}"),
    ],
)
def test_an_upload_with_its_own_condition_gets_not_cancelled_in_front(condition: str, expected: str) -> None:
    result = harden(workflow(SCAN + upload(condition)), "t.yml", write=True)
    assert [f.rule for f in result.findings] == [Rule.failure_swallowed, Rule.publish_if]
    assert load_data(result.hardened)["jobs"]["a"]["steps"][1]["if"] == expected


@pytest.mark.parametrize("condition", ["always()", "${{ !cancelled() }}", "failure()", "success() && x"])
def test_an_upload_whose_condition_names_a_status_function_is_left_alone(condition: str) -> None:
    result = harden(workflow(SCAN + upload(condition)), "t.yml", write=True)
    assert [f.rule for f in result.findings] == [Rule.failure_swallowed]


REUSABLE = """
  workflow_call:
    inputs:
      soft:
        type: string
        default: 'true'
      hard:
        type: boolean
        default: false"""


@pytest.mark.parametrize(
    ("step", "flagged"),
    [
        ("      - run: bandit -r .\n        continue-on-error: ${{ inputs.soft == 'true' }}\n", True),
        ("      - run: bandit -r .\n        continue-on-error: ${{ fromJSON(inputs.soft) }}\n", True),
        ("      - run: bandit -r .\n        continue-on-error: ${{ !inputs.hard }}\n", True),
        ("      - run: bandit -r .\n        continue-on-error: ${{ inputs.hard }}\n", False),
        ("      - run: bandit -r .\n        continue-on-error: ${{ inputs.unknown }}\n", False),
        ("      - run: make docs\n        continue-on-error: ${{ inputs.soft == 'true' }}\n", False),
        (
            "      - uses: bridgecrewio/checkov-action@v12\n        with:\n"
            "          soft_fail: ${{ inputs.soft == 'true' }}\n",
            True,
        ),
        (
            "      - uses: bridgecrewio/checkov-action@v12\n        with:\n"
            "          soft_fail: ${{ inputs.soft == 'false' }}\n",
            False,
        ),
    ],
)
def test_soft_fail_from_an_input_default_is_reported(step: str, flagged: bool) -> None:
    text = workflow(step, on=REUSABLE)
    result = harden(text, "t.yml", write=True)
    open_findings = [f for f in result.findings if f.status is Status.would_fix]
    assert bool(open_findings) is flagged
    assert all(not f.fixable and "defaults to" in f.message for f in open_findings)
    assert result.hardened == text  # reported, never edited: the default is the caller's contract


def artifact(path: str) -> str:
    return f"      - uses: actions/upload-artifact@v4\n        with:\n          name: r\n          path: {path}\n"


@pytest.mark.parametrize(
    ("scan", "path", "guarded"),
    [
        # the path is a variable the scan step sets
        (
            '      - run: |\n          grype dir:. -o json > "$F"\n          echo "F=$F" >> "$GITHUB_ENV"\n',
            "${{ env.F }}",
            True,
        ),
        # the path is a directory the scan writes into
        (
            '      - run: prowler aws -o "${{ github.workspace }}/report/$ACCOUNT/" -z\n',
            "${{ github.workspace }}/report/",
            True,
        ),
        # a build artifact the scan has nothing to do with
        ("      - run: prowler aws -o out/ -z\n", "build/dist/", False),
        ("      - run: prowler aws -o out/ -z\n", "${{ env.DIST }}", False),
    ],
)
def test_an_upload_of_what_the_scan_wrote_is_guarded(scan: str, path: str, guarded: bool) -> None:
    result = harden(workflow(scan + artifact(path)), "t.yml", write=True)
    assert (Rule.publish_if in [f.rule for f in result.findings]) is guarded


def test_the_veracode_sarif_converter_runs_after_a_failed_scan_too() -> None:
    steps = (
        "      - run: java -jar pipeline-scan.jar -f app.zip\n        continue-on-error: true\n"
        "      - uses: veracode/veracode-pipeline-scan-results-to-sarif@v2\n"
        "        with:\n          pipeline-results-json: results.json\n"
    )
    result = harden(workflow(steps), "t.yml", write=True)
    assert [(f.rule, f.status) for f in result.findings] == [
        (Rule.step_continue_on_error, Status.fixed),
        (Rule.publish_if, Status.fixed),
    ]
    assert load_data(result.hardened)["jobs"]["a"]["steps"][1]["if"] == "${{ !cancelled() }}"


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        ("    needs: scan\n    steps:\n      - uses: actions/download-artifact@v4\n", "${{ !cancelled() }}"),
        (
            "    needs: [scan]\n    if: github.ref == 'refs/heads/main'\n"
            "    steps:\n      - uses: actions/download-artifact@v4\n",
            "${{ !cancelled() && (github.ref == 'refs/heads/main') }}",
        ),
        ("    needs: scan\n    if: always()\n    steps:\n      - uses: actions/download-artifact@v4\n", None),
        ("    needs: scan\n    steps:\n      - run: ./deploy.sh\n", None),  # no results: skipped on findings
    ],
)
def test_a_job_that_downloads_a_hardened_scan_jobs_results_still_runs(job: str, expected: str | None) -> None:
    text = (
        "on: push\njobs:\n  scan:\n    runs-on: ubuntu-latest\n    steps:\n" + SCAN + "  publish:\n"
        "    runs-on: ubuntu-latest\n" + job
    )
    result = harden(text, "t.yml", write=True)
    assert load_data(result.hardened)["jobs"]["publish"].get("if") == (
        expected or load_data(text)["jobs"]["publish"].get("if")
    )
    assert (Rule.publish_if in [f.rule for f in result.findings]) is (expected is not None)
    assert harden(result.hardened, "t.yml", write=True).hardened == result.hardened


_IF = "    if: ${{ !cancelled() }}\n"
_STEPS = "    steps:\n      - uses: actions/download-artifact@v4\n"


@pytest.mark.parametrize(
    ("needs", "eol"),
    [
        ("    needs: scan\n", "\n"),
        ("    needs:\n      - scan\n      - lint\n", "\n"),
        ("    needs:\n    - scan\n    - lint\n", "\n"),  # the list at the key's column
        ("    needs:\n      - scan  # the results\n      - 'lint'\n", "\n"),
        # a commented-out need belongs to the list: uncommenting it must not land under if:
        ("    needs:\n      - scan\n      # - lint\n", "\n"),
        ("    needs: [\n      scan,\n      lint,\n    ]\n", "\n"),
        ("    needs:\n      - scan\n      - lint\n", "\r\n"),
    ],
    ids=["one-line", "block", "block-at-key-column", "quoted-and-comment", "commented-out", "flow", "crlf"],
)
def test_the_if_of_a_downloading_job_goes_right_below_its_needs(
    needs: str, eol: str, actionlint: Lint, tmp_path: Path
) -> None:
    """A multi-line ``needs:`` list used to get its ``if:`` appended at the end of the job."""
    head = "on: push\njobs:\n  scan:\n    runs-on: ubuntu-latest\n    steps:\n" + SCAN
    lint = "  lint:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ruff check .\n"
    publish = "  publish:\n    runs-on: ubuntu-latest\n"
    text = (head + lint + publish + needs + _STEPS).replace("\n", eol)
    result = harden(text, "t.yml", write=True)
    expected = head.replace("-o b.sarif || true", "-o b.sarif") + lint + publish + needs + _IF + _STEPS
    assert result.hardened == expected.replace("\n", eol)
    assert harden(result.hardened, "t.yml", write=True).hardened == result.hardened
    before, after = tmp_path / "before.yml", tmp_path / "after.yml"
    before.write_text(text, encoding="utf-8", newline="")
    after.write_text(result.hardened, encoding="utf-8", newline="")
    found = actionlint([before, after])
    assert found[str(before)] == [] and found[str(after)] == [], found
