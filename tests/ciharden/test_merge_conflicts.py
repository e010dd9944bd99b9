"""A workflow left broken by a merge: named as merge-conflict markers, located, never fixed, and it
neither passes the run nor hides what the other workflows have (real files on disk, cdbctl's CLI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdbctl.ciharden.composer import WorkflowError, compose
from cdbctl.ciharden.merge_conflicts import conflict_in
from cdbctl.cli import main
from tests.ciharden.conftest import make_repo

pytestmark = pytest.mark.unit

WF = ".github/workflows"
HEAD = "on: push\njobs:\n  scan:\n    runs-on: ubuntu-latest\n    steps:\n"
# what git leaves when two branches changed the same step
CONFLICTED = (
    HEAD
    + "<<<<<<< HEAD\n"
    + "      - run: bandit -r src\n"
    + "=======\n"
    + "      - run: bandit -r src -ll\n"
    + ">>>>>>> feature/lower-severity\n"
)
# with diff3 (merge.conflictStyle=diff3) there is a base section too
DIFF3 = (
    HEAD
    + "<<<<<<< ours\n      - run: trivy fs .\n"
    + "||||||| base\n      - run: trivy fs --quiet .\n"
    + "=======\n      - run: trivy fs --exit-code 1 .\n"
    + ">>>>>>> theirs\n"
)
# a half-resolved conflict: the marker characters deleted, the branch label and both sides left
HALF_RESOLVED = (
    "name: compat\non: workflow_dispatch\njobs:\n  compat:\n    name: Compatibility (informational)\n"
    " chore/123-compat-matrix\n    name: Compatibility\n    runs-on: ubuntu-latest\n"
    "    steps:\n      - run: pytest -q\n"
)
DIRTY = HEAD + "      - name: Audit\n        run: pip-audit\n        continue-on-error: true\n"
CLEAN = HEAD + "      - run: bandit -r src\n"


def _error(text: str) -> WorkflowError:
    with pytest.raises(WorkflowError) as info:
        compose(text, "w.yml")
    return info.value


def test_markers_are_named_and_located_at_the_first_one() -> None:
    err = _error(CONFLICTED)
    assert (err.line, err.col) == (6, 1)
    assert err.message.startswith(
        "invalid YAML: merge-conflict markers (<<<<<<< at line 6, ======= at line 8, >>>>>>> at line 10): "
        "resolve the conflict (parser, at 7:"
    )
    assert str(err).endswith(", w.yml:6:1")


def test_diff3_markers_are_counted_past_the_first_three() -> None:
    err = _error(DIFF3)
    assert "(<<<<<<< at line 6, ||||||| at line 8, ======= at line 10 and 1 more)" in err.message
    assert (err.line, err.col) == (6, 1)


def test_a_marker_line_whose_marker_was_deleted_is_named_too() -> None:
    err = _error(HALF_RESOLVED)
    assert (err.line, err.col) == (6, 2)
    assert err.message == (
        "invalid YAML: merge-conflict markers, partly deleted: 'chore/123-compat-matrix' is the label "
        "of a '<<<<<<<' or '>>>>>>>' line whose marker is gone; finish resolving the conflict "
        "(parser: did not find expected key while parsing a block mapping)"
    )


@pytest.mark.parametrize(
    "text",
    [
        "on: push\njobs:\n  a:\n    steps: [\n      - run: x\n",  # invalid, no conflict
        HEAD + " main\n      - run: x\n",  # one word, not a ref: the parser's message stays
        HEAD + "      - run: echo '=======' && echo '<<<<<<< not a marker'\n  bad\n",
    ],
)
def test_other_invalid_yaml_keeps_the_parser_message(text: str) -> None:
    err = _error(text)
    assert "merge-conflict" not in err.message
    assert err.message.startswith("invalid YAML: ")
    assert err.line is not None and err.col is not None


def test_markers_inside_a_block_scalar_are_data() -> None:
    text = HEAD + "      - run: |\n          echo '<<<<<<< HEAD'\n          echo =======\n"
    assert compose(text, "w.yml") is not None
    assert conflict_in(text, None) is None  # indented: git writes markers at column 0


def test_check_reports_the_others_and_fails_closed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(
        tmp_path, {f"{WF}/a-dirty.yml": DIRTY, f"{WF}/b-merge.yml": CONFLICTED, f"{WF}/c-clean.yml": CLEAN}
    )
    assert main(["ci-harden", "--repo", str(repo), "--check", "--format", "table"]) == 1
    out, err = capsys.readouterr()
    assert out.startswith(f"{WF}/a-dirty.yml:8:9: scanner-continue-on-error pip-audit step ")
    assert err.splitlines()[0].startswith(
        "cdbctl: error: invalid YAML: merge-conflict markers (<<<<<<< at line 6"
    )
    assert err.splitlines()[0].endswith(f", {WF}/b-merge.yml:6:1")
    assert err.splitlines()[-1].startswith(
        f"ci-harden: 2 file(s) checked, 1 not checked ({WF}/b-merge.yml; error above), 1 to change;"
    )
    assert main(["ci-harden", "--repo", str(repo), "--check", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["files_scanned"] == 2
    assert [f["file"] for f in data["findings"]] == [f"{WF}/a-dirty.yml"]
    (error,) = data["errors"]
    assert (error["file"], error["line"], error["col"]) == (f"{WF}/b-merge.yml", 6, 1)
    assert error["message"].startswith("invalid YAML: merge-conflict markers")


def test_a_run_with_only_an_unchecked_file_does_not_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path, {f"{WF}/clean.yml": CLEAN, f"{WF}/merge.yml": CONFLICTED})
    for mode in ([], ["--check"], ["--dry-run"]):
        assert main(["ci-harden", "--repo", str(repo), *mode, "--format", "json"]) == 1
        assert json.loads(capsys.readouterr().out)["summary"]["would-fix"] == 0
    assert main(["ci-harden", "--repo", str(repo), "--check", "--format", "sarif"]) == 1
    invocation = json.loads(capsys.readouterr().out)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["locations"][0]["physicalLocation"]["region"] == {"startLine": 6, "startColumn": 1}
    assert main(["ci-harden", "--repo", str(repo), "--check", "--format", "github"]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"::error file={WF}/merge.yml,line=6,col=1,title=ci-harden::invalid YAML: merge-")


def test_fix_mode_fixes_the_others_and_leaves_the_conflict_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(
        tmp_path, {f"{WF}/dirty.yml": DIRTY, f"{WF}/merge.yml": CONFLICTED.replace("\n", "\r\n")}
    )
    merge = repo / WF / "merge.yml"
    before = merge.read_bytes()
    assert main(["ci-harden", "--repo", str(repo), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["files_changed"] == [f"{WF}/dirty.yml"]
    assert "continue-on-error" not in (repo / WF / "dirty.yml").read_text()
    assert merge.read_bytes() == before
    fixed = (repo / WF / "dirty.yml").read_bytes()
    assert main(["ci-harden", "--repo", str(repo), "--format", "json"]) == 1  # still: one file unchecked
    data = json.loads(capsys.readouterr().out)
    assert data["files_changed"] == []
    assert (repo / WF / "dirty.yml").read_bytes() == fixed
    assert merge.read_bytes() == before


def test_the_summary_names_a_few_unchecked_files_and_counts_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path, {f"{WF}/m{i}.yml": CONFLICTED for i in range(7)})
    assert main(["ci-harden", "--repo", str(repo), "--check", "--format", "json"]) == 1
    summary = capsys.readouterr().err.splitlines()[-1]
    named = ", ".join(f"{WF}/m{i}.yml" for i in range(5))
    assert f"0 file(s) checked, 7 not checked ({named} and 2 more; errors above)" in summary


def test_the_process_exit_code_and_streams(tmp_path: Path) -> None:
    """Through ``python -m cdbctl`` as a CI job runs it: exit 1, data on stdout, the error on stderr."""
    repo = make_repo(tmp_path, {f"{WF}/dirty.yml": DIRTY, f"{WF}/compat.yml": HALF_RESOLVED})
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run(
        [sys.executable, "-m", "cdbctl", "ci-harden", "--repo", str(repo), "--check", "--format", "text"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith(f"{WF}/dirty.yml:8:9: scanner-continue-on-error ")
    assert "merge-conflict markers, partly deleted: 'chore/123-compat-matrix'" in proc.stderr
    assert f", {WF}/compat.yml:6:2\n" in proc.stderr
    assert "Traceback" not in proc.stderr
