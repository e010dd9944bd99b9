"""Regression tests from the QA review of ci-harden: each pins a bug found by running the command."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdbctl.ciharden.harden import harden
from cdbctl.ciharden.model import Finding, Rule, Status
from cdbctl.ciharden.report import Report, text_lines
from cdbctl.ciharden.splice import load_data
from tests.ciharden.conftest import make_repo
from tests.nobody import as_nobody

pytestmark = pytest.mark.unit


def _rules(text: str) -> list[tuple[Rule, Status]]:
    return [(f.rule, f.status) for f in harden(text, "t.yml", write=True).findings]


@pytest.mark.parametrize("value", ["${{ true }}", "${{true}}", "'${{ true }}'"])
def test_constant_true_expression_is_a_soft_fail(value: str) -> None:
    step = f"on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: bandit -r .\n        continue-on-error: {value}\n"
    result = harden(step, "t.yml", write=True)
    assert [(f.rule, f.status) for f in result.findings] == [(Rule.step_continue_on_error, Status.fixed)]
    assert result.hardened == step.replace(f"        continue-on-error: {value}\n", "")
    job = f"on: push\njobs:\n  a:\n    runs-on: x\n    continue-on-error: {value}\n    steps:\n      - run: bandit -r .\n"
    assert _rules(job) == [(Rule.job_continue_on_error, Status.fixed)]


@pytest.mark.parametrize(
    "value", ["${{ matrix.experimental }}", "${{ false }}", "${{ github.event_name == 'push' }}"]
)
def test_real_expressions_stay_informational(value: str) -> None:
    step = f"on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: bandit -r .\n        continue-on-error: {value}\n"
    result = harden(step, "t.yml", write=True)
    assert [(f.rule, f.status) for f in result.findings] == [(Rule.expression_continue, Status.info)]
    assert not result.changed


def test_inserted_with_block_follows_four_space_indentation() -> None:
    text = (
        "on: push\n"
        "jobs:\n"
        "    scan:\n"
        "        runs-on: ubuntu-latest\n"
        "        steps:\n"
        "            -   uses: aquasecurity/trivy-action@master\n"
        "            -   uses: zaproxy/action-baseline@v0.12.0\n"
        "                with:\n"
        "                    target: http://127.0.0.1\n"
    )
    result = harden(text, "t.yml", write=True)
    assert result.hardened == (
        "on: push\n"
        "jobs:\n"
        "    scan:\n"
        "        runs-on: ubuntu-latest\n"
        "        steps:\n"
        "            -   uses: aquasecurity/trivy-action@master\n"
        "                with:\n"
        "                    exit-code: '1'\n"
        "            -   uses: zaproxy/action-baseline@v0.12.0\n"
        "                with:\n"
        "                    target: http://127.0.0.1\n"
        "                    fail_action: true\n"
    )


def test_inserted_with_block_keeps_two_space_indentation() -> None:
    text = "on: push\njobs:\n  scan:\n    runs-on: x\n    steps:\n      - uses: aquasecurity/trivy-action@master\n"
    assert harden(text, "t.yml", write=True).hardened == text + "        with:\n          exit-code: '1'\n"


@pytest.mark.parametrize(
    ("run", "fixed"),
    [
        ("semgrep scan --config auto .", "semgrep scan --error --config auto ."),
        ("semgrep --config p/ci src", "semgrep --error --config p/ci src"),
        ("trufflehog git file://. --only-verified", "trufflehog --fail git file://. --only-verified"),
        ("trufflehog filesystem .", "trufflehog --fail filesystem ."),
    ],
)
def test_scanners_that_exit_zero_on_findings_get_their_blocking_flag(run: str, fixed: str) -> None:
    text = f"on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: {run}\n"
    result = harden(text, "t.yml", write=True)
    assert [(f.rule, f.status) for f in result.findings] == [(Rule.nonblocking_default, Status.fixed)]
    assert result.hardened == text.replace(run, fixed)
    assert harden(result.hardened, "t.yml", write=True).findings == ()


@pytest.mark.parametrize(
    "run",
    [
        "semgrep ci",
        "semgrep scan --error --config auto .",
        "semgrep --config auto --error .",
        "trufflehog git file://. --fail",
        "trufflehog --version",
    ],
)
def test_blocking_semgrep_and_trufflehog_are_left_alone(run: str) -> None:
    text = f"on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: {run}\n"
    assert _rules(text) == []


def test_text_lines_escape_tabs_and_newlines_from_user_text() -> None:
    text = 'on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - name: "tab\\there\\nnext"\n        run: bandit . || true\n'
    result = harden(text, "t.yml", write=False)
    assert load_data(text)["jobs"]["a"]["steps"][0]["name"] == "tab\there\nnext"
    findings: tuple[Finding, ...] = result.findings
    lines = text_lines(Report("check", ("t.yml",), (), findings, (), ()), steps=True)
    assert lines.count("\n") == len(findings) and "\t" not in lines
    assert "(a / tab\\there\\nnext)" in lines


@pytest.mark.parametrize(
    ("step", "count"),
    [
        ("      - run: bandit -r . || true\n", 60_000),
        ("      - {{id: s{n}, run: bandit -o r{n}.json, continue-on-error: true}}\n", 26_000),
    ],
    ids=["swallow", "id-coe-report"],
)
def test_huge_job_does_not_hang(tmp_path: Path, step: str, count: int) -> None:
    """A ~1.9 MB workflow with tens of thousands of findings in one job: the gate and overlap checks
    were quadratic (hours for 60k steps). The timeout is a hang guard, far above the seconds it takes."""
    text = "on: push\njobs:\n  x:\n    runs-on: x\n    steps:\n"
    text += "".join(step.format(n=n) for n in range(count))
    assert len(text) < 2 * 1024 * 1024
    make_repo(tmp_path, {".github/workflows/big.yml": text})
    proc = subprocess.run(
        [sys.executable, "-m", "cdbctl", "ci-harden", "--repo", str(tmp_path), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["fixed"] == count
    after = (tmp_path / ".github/workflows/big.yml").read_text()
    assert "|| true" not in after
    assert "continue-on-error: true" not in after


def test_one_unverifiable_fix_among_thousands_costs_few_reparses(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the combined edit does not verify, good fixes are kept by halving, not by re-parsing the
    whole file once per fix (hours on a huge workflow). A counting spy on the real loader."""
    from cdbctl.ciharden import splice
    from cdbctl.ciharden.model import Edit, Fix, Mutation

    n = 2000
    lines = [f"k{i}: 1\n" for i in range(n)]
    text = "".join(lines)
    fixes = []
    offset = 0
    for i, line in enumerate(lines):
        at = offset + line.rindex("1")
        claimed = 3 if i == 1234 else 2  # fix 1234 writes 2 but claims 3: it must be dropped
        fixes.append(Fix((Edit(at, at + 1, "2"),), (Mutation((f"k{i}",), "set", claimed),)))
        offset += len(line)
    calls = 0
    real = splice.load_data

    def counting(text: str) -> object:
        nonlocal calls
        calls += 1
        return real(text)

    monkeypatch.setattr(splice, "load_data", counting)
    new, kept = splice.choose(text, fixes)
    assert kept == [i != 1234 for i in range(n)]
    assert new == "".join(f"k{i}: {1 if i == 1234 else 2}\n" for i in range(n))
    assert calls <= 2 * 4 * 12  # two parses per verify, a few verifies per halving level (log2 2000 < 12)


@pytest.mark.parametrize(
    "script",
    [
        'command -v bandit || echo "bandit missing"',
        "command -V pip-audit >/dev/null 2>&1 || true",
        "command -pv trivy || true",
        "grype db update || true",
        "grype db check || true",
        "grype version || true",
        "checkov --list || true",
        "npm audit fix || true",
        "npm audit fix --force || true",
        "pnpm audit --fix || true",
        "cargo audit fix || true",
    ],
)
def test_lookups_and_maintenance_commands_are_not_scans(script: str) -> None:
    from cdbctl.ciharden.shell import scan_script

    scan = scan_script(script)
    assert (scan.tools, scan.issues) == ((), ())


@pytest.mark.parametrize(
    ("script", "tool"),
    [
        ("command bandit -r .", "bandit"),
        ("command bandit -v -r .", "bandit"),
        ("command -p bandit -r .", "bandit"),
        ("grype dir:. --fail-on high", "grype"),
        ("grype db-image:latest", "grype"),
        ("checkov -d . --list-checks-only-for-framework x", "checkov"),
        ("npm audit --audit-level=high", "npm-audit"),
        ("npm audit signatures", "npm-audit"),
        ("pnpm audit --prod", "npm-audit"),
        ("cargo audit --deny warnings", "cargo-audit"),
    ],
)
def test_real_scans_next_to_those_still_found(script: str, tool: str) -> None:
    from cdbctl.ciharden.shell import scan_script

    assert scan_script(script).tools == (tool,)


@pytest.mark.parametrize(
    ("line", "fixed"),
    [
        (
            "      - {run: bandit -r ., continue-on-error: '${{ true }}'}\n",
            "      - {run: bandit -r ., continue-on-error: false}\n",
        ),
        (
            '      - continue-on-error: "${{ true }}"\n        run: bandit\n',
            "      - continue-on-error: false\n        run: bandit\n",
        ),
        (
            '      - {run: bandit, continue-on-error: "true"}\n',
            "      - {run: bandit, continue-on-error: false}\n",
        ),
    ],
)
def test_flipped_quoted_continue_on_error_becomes_a_boolean(line: str, fixed: str) -> None:
    """actionlint accepts ``'${{ true }}'`` but rejects the string ``'false'``: a flip writes a plain false."""
    head = "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n"
    result = harden(head + line, "t.yml", write=True)
    assert result.hardened == head + fixed
    assert load_data(result.hardened)["jobs"]["a"]["steps"][0]["continue-on-error"] is False


@pytest.mark.parametrize(
    ("runs_on", "shell"),
    [
        ("windows-latest", ""),
        ("ubuntu-latest", "        shell: pwsh\n"),
        ("macos-14", "        shell: cmd\n"),
    ],
)
def test_continue_on_error_on_a_scanner_in_a_non_posix_shell_is_still_fixed(runs_on: str, shell: str) -> None:
    """The script is not edited there, but the step still runs bandit; PowerShell's '|| exit 0' is
    reported (report-only), cmd's is not analysed."""
    text = (
        f"on: push\njobs:\n  a:\n    runs-on: {runs_on}\n    steps:\n"
        f"      - run: bandit -r . || exit 0\n{shell}        continue-on-error: true\n"
    )
    result = harden(text, "t.yml", write=True)
    swallow = [] if "cmd" in shell else [(Rule.failure_swallowed, Status.would_fix)]
    assert [(f.rule, f.status) for f in result.findings] == [
        *swallow,
        (Rule.step_continue_on_error, Status.fixed),
    ]
    assert result.hardened == text.replace("        continue-on-error: true\n", "")


def test_check_warns_when_it_finds_no_workflow_at_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CI gate pointed at the wrong directory would pass silently: say that nothing was checked."""
    from cdbctl.cli import main

    code = main(["ci-harden", "--repo", str(tmp_path), "--check"])
    err = capsys.readouterr().err
    assert code == 0
    assert "warning: no workflow files" in err
    assert str(tmp_path) in err
    make_repo(tmp_path, {".github/workflows/ok.yml": "on: push\njobs: {}\n"})
    code = main(["ci-harden", "--repo", str(tmp_path), "--check"])
    assert code == 0
    assert "no workflow files" not in capsys.readouterr().err


def test_if_goes_below_commented_out_inputs_of_the_step() -> None:
    """Starter workflows end with-blocks in commented-out inputs; ``if:`` spliced above them would turn
    an uncommented input into a continuation of the ``if:`` scalar (a YAML error)."""
    head = "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: bandit -f sarif -o b.sarif . || true\n"
    upload = (
        "      - uses: github/codeql-action/upload-sarif@v3\n"
        "        with:\n"
        "          sarif_file: b.sarif\n"
        "          # category: bandit\n"
        "\n"
        "      # a comment about the next step\n"
        "      - run: echo done\n"
    )
    result = harden(head + upload, "t.yml", write=True)
    assert result.hardened == (
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: bandit -f sarif -o b.sarif .\n"
        "      - uses: github/codeql-action/upload-sarif@v3\n"
        "        with:\n"
        "          sarif_file: b.sarif\n"
        "          # category: bandit\n"
        "        if: ${{ !cancelled() }}\n"
        "\n"
        "      # a comment about the next step\n"
        "      - run: echo done\n"
    )
    uncommented = result.hardened.replace("# category: bandit", "category: bandit")
    assert load_data(uncommented)["jobs"]["a"]["steps"][1]["with"]["category"] == "bandit"


_GATE_HEAD = (
    "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
    "      - id: audit\n        run: pip-audit\n        continue-on-error: true\n"
)


@pytest.mark.parametrize(
    ("later", "status"),
    [
        (
            "      - run: 'echo \"audit ${{ steps.audit.outcome }} (exit 1 means vulnerable)\"'\n",
            Status.fixed,
        ),
        (
            "      - run: |\n          # exit 1 when the audit failed\n          echo ${{ steps.audit.outcome }}\n",
            Status.fixed,
        ),
        ("      - run: '[ \"${{ steps.audit.outcome }}\" = success ] || exit 1'\n", Status.gated),
        (
            "      - if: steps.audit.outcome == 'failure'\n        run: |\n          echo failed\n          false\n",
            Status.gated,
        ),
        (
            "      - if: steps.audit.outcome == 'failure'\n        shell: python\n"
            "        run: |\n          import sys\n          sys.exit(1)\n",
            Status.gated,
        ),
    ],
    ids=["echo-text", "shell-comment", "test-or-exit", "false", "python-shell"],
)
def test_a_gate_must_really_fail_the_job(later: str, status: Status) -> None:
    """'exit 1' inside an echo string or a shell comment does not fail anything: no gate."""
    result = harden(_GATE_HEAD + later, "t.yml", write=True)
    assert [(f.rule, f.status) for f in result.findings] == [(Rule.step_continue_on_error, status)]


def test_a_workflow_linked_under_two_names_is_hardened_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """b.yml -> a.yml: the second write used to find the file 'changed meanwhile' and exit 3."""
    from cdbctl.cli import main

    text = "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: bandit -r . || true\n"
    make_repo(tmp_path, {".github/workflows/a.yml": text})
    (tmp_path / ".github/workflows/b.yml").symlink_to("a.yml")
    code = main(["ci-harden", "--repo", str(tmp_path), "--format", "json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    data = json.loads(out.out)
    assert [f["file"] for f in data["findings"]] == [".github/workflows/a.yml"]
    assert data["skipped"] == [
        {"file": ".github/workflows/b.yml", "message": "same file as .github/workflows/a.yml; checked once"}
    ]
    assert (tmp_path / ".github/workflows/b.yml").is_symlink()
    assert (tmp_path / ".github/workflows/a.yml").read_text() == text.replace(" || true", "")


def test_continue_on_error_on_a_local_composite_action_that_scans(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``uses: ./.github/actions/scan`` runs bandit inside the composite action: continue-on-error on
    that step neuters it just the same (a lint action's stays informational)."""
    from cdbctl.cli import main

    scan = "name: scan\nruns:\n  using: composite\n  steps:\n    - run: bandit -r .\n      shell: bash\n"
    lint = "name: lint\nruns:\n  using: composite\n  steps:\n    - run: flake8 .\n      shell: bash\n"
    workflow = (
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - uses: ./.github/actions/scan\n        continue-on-error: true\n"
        "      - uses: ./.github/actions/lint/\n        continue-on-error: true\n"
    )
    make_repo(
        tmp_path,
        {
            ".github/actions/scan/action.yml": scan,
            ".github/actions/lint/action.yaml": lint,
            ".github/workflows/ci.yml": workflow,
        },
    )
    code = main(["ci-harden", "--repo", str(tmp_path), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [(f["rule"], f["line"], f["status"], f["tool"]) for f in data["findings"]] == [
        ("scanner-continue-on-error", 8, "fixed", "bandit"),
        ("non-security-continue-on-error", 10, "info", None),
    ]
    assert (tmp_path / ".github/workflows/ci.yml").read_text() == workflow.replace(
        "      - uses: ./.github/actions/scan\n        continue-on-error: true\n",
        "      - uses: ./.github/actions/scan\n",
    )


@pytest.mark.parametrize(
    ("script", "flagged"),
    [
        ('bandit -r . && echo "bandit clean"\npython report.py\n', True),
        ("pip-audit && touch ok; echo done\n", True),
        ('bandit -r . && echo "bandit clean"\n', False),  # the list is the last command: its status counts
        ("bandit -r . && echo ok || exit 1\nmore\n", False),  # a failing handler
        ("if bandit -r . && true; then echo ok; fi\nmore\n", False),  # a condition, handled by the script
        ("pip install bandit && bandit -r .\nmore\n", False),  # the scanner is the last of its list
    ],
)
def test_scanner_inside_an_and_list_followed_by_more_commands(script: str, flagged: bool) -> None:
    """errexit ignores a failure of any command of an && list but the last: the script goes on."""
    from cdbctl.ciharden.shell import scan_script

    issues = [i for i in scan_script(script).issues if i.kind == "swallow"]
    assert bool(issues) is flagged
    if flagged:
        assert issues[0].edit is None
        assert "&&" in issues[0].message


@pytest.mark.parametrize(
    ("uses", "tool"),
    [
        ("docker://aquasec/trivy:0.50.0", "trivy"),
        ("docker://ghcr.io/google/osv-scanner:v1", "osv-scanner"),
        ("docker://returntocorp/semgrep", "semgrep"),
        ("docker://zricethezav/gitleaks@sha256:0123", "gitleaks"),
        ("docker://alpine:3", None),
    ],
)
def test_docker_action_of_a_scanner_image(uses: str, tool: str | None) -> None:
    """``uses: docker://aquasec/trivy`` runs the scanner image: continue-on-error there is a soft-fail."""
    text = f"on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: {uses}\n        continue-on-error: true\n"
    (finding,) = harden(text, "t.yml", write=True).findings
    if tool is None:
        assert (finding.rule, finding.status) == (Rule.non_security_continue, Status.info)
    else:
        assert (finding.rule, finding.status, finding.tool) == (
            Rule.step_continue_on_error,
            Status.fixed,
            tool,
        )


def test_check_with_dry_run_shows_the_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--check --dry-run: write nothing, exit 1, and still print the diff (it used to drop it)."""
    from cdbctl.cli import main

    text = "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: bandit -r . || true\n"
    make_repo(tmp_path, {".github/workflows/a.yml": text})
    code = main(["ci-harden", "--repo", str(tmp_path), "--check", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 1
    assert "-      - run: bandit -r . || true\n+      - run: bandit -r .\n" in out
    assert (tmp_path / ".github/workflows/a.yml").read_text() == text


@pytest.fixture
def world_repo() -> Iterator[Path]:
    """A repository in a directory 'nobody' can reach (pytest's tmp_path lives under a 0700 dir)."""
    root = Path(tempfile.mkdtemp(prefix="cih-nobody-", dir="/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        for d in root.rglob("*"):
            if d.is_dir() and not d.is_symlink():
                d.chmod(0o755)
        shutil.rmtree(root)


_SWALLOW = "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: bandit -r . || true\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user")
def test_unreadable_workflow_is_not_checked_and_the_others_are(world_repo: Path) -> None:
    """A file the user cannot read: exit 1 naming it, no traceback, the readable file still checked."""
    from cdbctl.ciharden.engine import exit_code, run
    from cdbctl.ciharden.harden import Options

    make_repo(world_repo, {".github/workflows/ok.yml": _SWALLOW, ".github/workflows/secret.yml": _SWALLOW})
    for d in (world_repo / ".github", world_repo / ".github/workflows"):
        d.chmod(0o755)
    (world_repo / ".github/workflows/secret.yml").chmod(0)

    def task() -> object:
        report = run(world_repo, mode="check", options=Options()).report
        return (
            [[p.file, p.message] for p in report.problems],
            [f.file for f in report.findings],
            exit_code(report),
        )

    assert as_nobody(task) == [
        [[".github/workflows/secret.yml", "cannot read: Permission denied"]],
        [".github/workflows/ok.yml"],
        1,
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user")
@pytest.mark.parametrize("locked", [".github/workflows", ".github", ".github/actions/scan"])
def test_unlistable_directory_is_an_environment_error_not_a_crash(world_repo: Path, locked: str) -> None:
    """It was an internal error (exit 4), or silently nothing checked; now exit 3 naming it."""
    from cdbctl.cli import main

    make_repo(
        world_repo,
        {
            ".github/workflows/ok.yml": _SWALLOW,
            ".github/actions/scan/action.yml": "runs:\n  using: composite\n  steps: []\n",
        },
    )
    for d in world_repo.rglob("*"):
        if d.is_dir():
            d.chmod(0o755)
    # a first run as root imports everything the command loads lazily (nobody cannot read root's
    # site-packages); its output is not the point
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        main(["ci-harden", "--repo", str(world_repo), "--check"])
    (world_repo / locked).chmod(0o311 if locked != ".github" else 0)

    def task() -> object:
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["ci-harden", "--repo", str(world_repo), "--check"])
        return code, err.getvalue()

    code, err = as_nobody(task)  # type: ignore[misc]
    assert code == 3, err
    assert "Permission denied" in err and locked in err
    assert "internal error" not in err


@pytest.mark.parametrize("style", ["literal", "one-line"])
def test_huge_run_script_does_not_hang(tmp_path: Path, style: str) -> None:
    """~50k swallowed scanner calls in one run: script (about 1.9 MB): mapping script offsets back to
    the file scanned every line per offset (minutes). The timeout is a hang guard."""
    count = 50_000 if style == "literal" else 60_000
    if style == "literal":
        run = "|\n" + "".join(f"          bandit -r s{n} || true\n" for n in range(count))
    else:
        run = "'" + "; ".join(f"bandit s{n} || true" for n in range(count)) + "'\n"
    text = "on: push\njobs:\n  x:\n    runs-on: x\n    steps:\n      - run: " + run
    assert len(text) < 2 * 1024 * 1024
    make_repo(tmp_path, {".github/workflows/big.yml": text})
    proc = subprocess.run(
        [sys.executable, "-m", "cdbctl", "ci-harden", "--repo", str(tmp_path), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["fixed"] == count
    assert "|| true" not in (tmp_path / ".github/workflows/big.yml").read_text()
