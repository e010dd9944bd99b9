"""`cdbctl ci-harden` end to end through cli.main: every option and exit code, real files on disk."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cdbctl.cli import main
from tests.ciharden.conftest import CORPUS, GOLDEN, make_repo

pytestmark = pytest.mark.unit

DIRTY = """name: ci
on: push
jobs:
  security:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: Bandit
        run: bandit -r src -f sarif -o bandit.sarif
        continue-on-error: true
      - uses: github/codeql-action/upload-sarif@v3
        with:
          sarif_file: bandit.sarif
  deps:
    runs-on: ubuntu-latest
    steps:
      - run: pip-audit || true
"""
CLEAN = (
    "name: ok\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: bandit -r src\n"
)
WF = ".github/workflows"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    # The line format is what these tests read; piped stdout would default to JSON.
    fmt = [] if {"--format", "-f"} & set(args) else ["--format", "table"]
    code = main(["ci-harden", *args, *fmt])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {f"{WF}/ci.yml": DIRTY, f"{WF}/clean.yaml": CLEAN})


def test_fix_writes_and_second_run_is_clean(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--repo", str(repo), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["schema_version"] == 1
    assert data["mode"] == "fix"
    assert data["files_changed"] == [f"{WF}/ci.yml"]
    assert {(f["rule"], f["status"]) for f in data["findings"]} == {
        ("scanner-continue-on-error", "fixed"),
        ("publish-if-not-cancelled", "fixed"),
        ("scanner-failure-swallowed", "fixed"),
    }
    assert "1 changed" in err
    text = (repo / WF / "ci.yml").read_text()
    assert "continue-on-error" not in text
    assert "|| true" not in text
    assert "if: ${{ !cancelled() }}" in text
    assert (repo / WF / "clean.yaml").read_text() == CLEAN
    code, out, err = run(capsys, "--repo", str(repo), "--format", "json")
    assert code == 0
    assert json.loads(out)["findings"] == []
    assert json.loads(out)["files_changed"] == []


def test_check_exit_1_and_writes_nothing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (repo / WF / "ci.yml").read_bytes()
    code, out, err = run(capsys, "--repo", str(repo), "--check")
    assert code == 1
    assert (repo / WF / "ci.yml").read_bytes() == before
    lines = out.splitlines()
    assert {line.split("] (")[0].rsplit(" [", 1)[1] for line in lines} == {"would-fix"}
    assert any(line.startswith(f"{WF}/ci.yml:10:") for line in lines)
    assert "3 would-fix" in err


def test_check_exit_0_when_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path, {f"{WF}/clean.yaml": CLEAN})
    code, out, err = run(capsys, "--repo", str(repo), "--check")
    assert (code, out) == (0, "")
    assert "0 would-fix" in err


def test_dry_run_prints_diff_and_writes_nothing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (repo / WF / "ci.yml").read_bytes()
    code, out, err = run(capsys, "--repo", str(repo), "--dry-run")
    assert code == 1
    assert (repo / WF / "ci.yml").read_bytes() == before
    assert out.startswith(f"--- a/{WF}/ci.yml\n+++ b/{WF}/ci.yml\n")
    assert "-        continue-on-error: true\n" in out
    assert "-      - run: pip-audit || true\n+      - run: pip-audit\n" in out
    assert "would-fix" in err  # the findings go to stderr when stdout carries the diff
    # the diff applies with patch(1) and gives exactly what a fix run writes
    target = repo.parent / "patched"
    shutil.copytree(repo, target)
    subprocess.run(["patch", "-s", "-p1", "-d", str(target)], input=out, text=True, check=True)
    assert run(capsys, "--repo", str(repo))[0] == 0
    assert (target / WF / "ci.yml").read_bytes() == (repo / WF / "ci.yml").read_bytes()


def test_dry_run_json_carries_diff(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--repo", str(repo), "--dry-run", "--format", "json")
    data = json.loads(out)
    assert code == 1
    assert data["mode"] == "dry-run"
    assert data["diff"].startswith(f"--- a/{WF}/ci.yml")
    assert {f["status"] for f in data["findings"]} == {"would-fix"}


def test_sarif(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--repo", str(repo), "--check", "--format", "sarif")
    assert code == 1
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    run0 = sarif["runs"][0]
    rule_ids = [r["id"] for r in run0["tool"]["driver"]["rules"]]
    for result in run0["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        loc = result["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] == f"{WF}/ci.yml"
        assert loc["region"]["startLine"] >= 1
        assert result["level"] == "error"
    assert len(run0["results"]) == 3


def test_sarif_lists_waived_as_suppressed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wf = CLEAN.replace("bandit -r src", "bandit -r src || true  # cdbctl: allow-soft-fail SEC-1 legacy code")
    repo = make_repo(tmp_path, {f"{WF}/w.yml": wf})
    code, out, _ = run(capsys, "--repo", str(repo), "--check", "--format", "sarif")
    assert code == 0
    (result,) = json.loads(out)["runs"][0]["results"]
    assert result["suppressions"] == [{"kind": "inSource", "justification": "SEC-1 legacy code"}]
    code, out, _ = run(capsys, "--repo", str(repo), "--check")
    assert code == 0
    assert "[waived]" in out
    assert "SEC-1 legacy code" in out


def test_invalid_yaml_reported_others_processed(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = "on: push\njobs:\n  a:\n    steps: [\n      - run: x\n"
    (repo / WF / "broken.yml").write_text(broken)
    code, out, err = run(capsys, "--repo", str(repo), "--format", "json")
    assert code == 1  # not checked: a result like a finding, never a pass
    data = json.loads(out)
    (problem,) = data["errors"]
    assert problem["file"] == f"{WF}/broken.yml"
    assert (problem["line"], problem["col"]) == (5, 7)
    assert data["files_scanned"] == 2  # the two files checked; the broken one is not among them
    assert "cdbctl: error: invalid YAML: " in err
    assert f"{WF}/broken.yml:5:7\n" in err
    assert (repo / WF / "broken.yml").read_text() == broken
    assert "continue-on-error" not in (repo / WF / "ci.yml").read_text()  # the others were still fixed
    assert "Traceback" not in err
    assert f"2 file(s) checked, 1 not checked ({WF}/broken.yml; error above), 1 changed;" in err


def test_invalid_yaml_without_scanner_keywords_is_still_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path, {f"{WF}/x.yml": "a: [1, 2\n"})
    code, _, err = run(capsys, "--repo", str(repo), "--check")
    assert code == 1
    assert f"{WF}/x.yml" in err


def test_alias_bomb_and_huge_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = ['a0: &a0 ["bandit", "continue-on-error"]']
    for i in range(1, 12):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    bomb = "\n".join(lines) + "\n"
    huge = "on: push\njobs:\n" + "".join(
        f"  j{i}:\n    runs-on: x\n    steps:\n      - run: bandit\n" for i in range(60000)
    )
    repo = make_repo(tmp_path, {f"{WF}/bomb.yml": bomb, f"{WF}/huge.yml": huge, f"{WF}/ok.yml": DIRTY})
    code, out, _err = run(capsys, "--repo", str(repo), "--format", "json")
    assert code == 1
    errors = {e["file"]: e for e in json.loads(out)["errors"]}
    assert "aliases expand" in errors[f"{WF}/bomb.yml"]["message"]
    assert "larger than" in errors[f"{WF}/huge.yml"]["message"]
    assert (repo / WF / "bomb.yml").read_text() == bomb
    assert "continue-on-error" not in (repo / WF / "ok.yml").read_text()


def test_symlink_out_of_repo_not_followed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "outside.yml"
    outside.write_text(DIRTY)
    repo = make_repo(tmp_path / "repo", {f"{WF}/real.yml": CLEAN})
    (repo / WF / "link.yml").symlink_to(outside)
    code, out, err = run(capsys, "--repo", str(repo), "--format", "json")
    assert code == 0
    assert outside.read_text() == DIRTY
    data = json.loads(out)
    assert data["skipped"][0]["file"] == f"{WF}/link.yml"
    assert "outside the repository" in err


def test_symlink_inside_repo_edits_target_keeps_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path, {"shared/ci.yml": DIRTY, f"{WF}/.keep": ""})
    (repo / WF / "ci.yml").symlink_to(repo / "shared" / "ci.yml")
    code, _, _ = run(capsys, "--repo", str(repo))
    assert code == 0
    assert (repo / WF / "ci.yml").is_symlink()
    assert "continue-on-error" not in (repo / "shared" / "ci.yml").read_text()


def test_bytes_mode_crlf_bom_preserved(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = b"\xef\xbb\xbf" + DIRTY.replace("\n", "\r\n").encode()
    repo = make_repo(tmp_path, {f"{WF}/ci.yml": raw})
    path = repo / WF / "ci.yml"
    path.chmod(0o640)
    assert run(capsys, "--repo", str(repo))[0] == 0
    new = path.read_bytes()
    assert new.startswith(b"\xef\xbb\xbf")
    assert b"\n" not in new.replace(b"\r\n", b"")
    assert b"continue-on-error" not in new
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in path.parent.iterdir()] == ["ci.yml"]  # no temp files left


def test_utf16_preserved(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path, {f"{WF}/ci.yml": DIRTY.encode("utf-16")})
    assert run(capsys, "--repo", str(repo))[0] == 0
    new = (repo / WF / "ci.yml").read_bytes()
    assert new.startswith(b"\xff\xfe")
    assert "continue-on-error" not in new.decode("utf-16")


def test_include_and_exclude_job(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--repo", str(repo), "--check", "--format", "json", "--include-job", "sec*")
    assert code == 1
    assert {f["job"] for f in json.loads(out)["findings"]} == {"security"}
    code, out, _ = run(capsys, "--repo", str(repo), "--check", "--format", "json", "--exclude-job", "sec*")
    assert {f["job"] for f in json.loads(out)["findings"]} == {"deps"}
    code, out, _ = run(
        capsys,
        "--repo",
        str(repo),
        "--check",
        "--format",
        "json",
        "--exclude-job",
        "security",
        "--exclude-job",
        "deps",
    )
    assert (code, json.loads(out)["findings"]) == (0, [])
    code, out, _ = run(capsys, "--repo", str(repo), "--check", "--format", "json", "--include-job", "nomatch")
    assert (code, json.loads(out)["findings"]) == (0, [])


def test_composite_actions_are_scanned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    action = (CORPUS / "composite" / "action.yml").read_bytes()
    repo = make_repo(tmp_path, {".github/actions/scan/action.yml": action})
    code, out, _ = run(capsys, "--repo", str(repo), "--format", "json")
    assert code == 0
    assert json.loads(out)["files_changed"] == [".github/actions/scan/action.yml"]
    assert (repo / ".github/actions/scan/action.yml").read_bytes() == (
        GOLDEN / "composite" / "action.yml"
    ).read_bytes()


def test_unfixable_finding_exits_1_in_fix_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a scanner piped into tee in a script that has other pipes: adding pipefail is not provably safe
    wf = CLEAN.replace(
        "run: bandit -r src", "run: |\n          git ls-files | head\n          bandit -r src | tee b.txt"
    )
    repo = make_repo(tmp_path, {f"{WF}/f.yml": wf})
    code, out, _ = run(capsys, "--repo", str(repo), "--format", "json")
    assert code == 1
    (finding,) = json.loads(out)["findings"]
    assert (finding["status"], finding["fixable"]) == ("would-fix", False)
    assert (repo / WF / "f.yml").read_text() == wf


@pytest.mark.parametrize(
    "args",
    [["--format", "xml"], ["--bogus"], ["--include-job"], ["--repo"]],
)
def test_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err


def test_missing_repo_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--repo", str(tmp_path / "nope"))
    assert (code, out) == (2, "")
    assert err.startswith("cdbctl: error: repository directory not found")
    assert "hint: " in err


def test_repo_without_workflows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, "--repo", str(tmp_path), "--format", "json")
    assert code == 0
    assert json.loads(out)["files_scanned"] == 0


def test_help_documents_options_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for word in (
        "--repo",
        "--check",
        "--dry-run",
        "--format",
        "--include-job",
        "--exclude-job",
        "Exit codes",
        "allow-soft-fail",
    ):
        assert word in out


def test_project_itself_passes_check() -> None:
    root = Path(__file__).resolve().parents[2]
    assert (root / ".github" / "workflows").is_dir()
    proc = subprocess.run(
        [sys.executable, "-m", "cdbctl", "ci-harden", "--check", "--repo", str(root), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["files_scanned"] >= 1


def test_lines_on_a_terminal_never_markup(tmp_path: Path) -> None:
    import pty

    wf = CLEAN.replace("- run: bandit -r src", "- name: '[bold]x[/bold]'\n        run: bandit -r src || true")
    repo = make_repo(tmp_path, {f"{WF}/t.yml": wf})
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "xterm"}
    proc = subprocess.run(
        [sys.executable, "-m", "cdbctl", "ci-harden", "--repo", str(repo), "--check"],
        stdout=slave,
        stderr=subprocess.PIPE,
        env=env,
        check=False,
        timeout=60,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    out = b"".join(chunks).decode()
    assert proc.returncode == 1
    assert out.startswith(f"{WF}/t.yml:")  # path:line:col: rule-id message [status] (job / step)
    assert "[bold]x[/bold]" in out  # the step name is shown literally, not interpreted as Rich markup
    assert "scanner-failure-swallowed" in out


def test_unwritable_directory_exit_3_and_file_untouched(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Root ignores permission bits, so make the directory immutable (ext4 attribute) instead.
    wf_dir = repo / WF
    before = (wf_dir / "ci.yml").read_bytes()
    subprocess.run(["chattr", "+i", str(wf_dir)], check=True)
    try:
        code, _out, err = run(capsys, "--repo", str(repo))
    finally:
        subprocess.run(["chattr", "-i", str(wf_dir)], check=True)
    assert code == 3
    assert err.startswith(f"cdbctl: error: cannot write {WF}/ci.yml")
    assert "hint: " in err
    assert (wf_dir / "ci.yml").read_bytes() == before
    assert sorted(p.name for p in wf_dir.iterdir()) == ["ci.yml", "clean.yaml"]


def test_run_from_a_subdirectory_checks_the_whole_checkout(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # From a subdirectory it found no workflows and passed --check green (exit 0, "nothing checked").
    (repo / ".git").mkdir()
    (repo / "services" / "core").mkdir(parents=True)
    monkeypatch.chdir(repo / "services" / "core")
    code, out, _ = run(capsys, "--check")
    assert code == 1
    assert any(line.startswith(f"{WF}/ci.yml:10:") for line in out.splitlines())
