"""Attacks on ci-harden (issue 17) and the guards that make each class impossible, each reproduced.

Scripts are checked with the real ``bash -n``; the CLI runs as a subprocess where the attack is on
the process itself (a closed or full stdout)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdbctl.ciharden.composer import WorkflowError
from cdbctl.ciharden.harden import harden
from cdbctl.ciharden.model import Rule, ShellIssue, Status
from cdbctl.ciharden.run_scripts import guarded
from cdbctl.ciharden.splice import load_data
from cdbctl.ciharden.syntax import parses
from tests.ciharden.conftest import CORPUS, corpus_files, make_repo

BASH = shutil.which("bash")
HEAD = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
WF = ".github/workflows"


def bash_parses(script: str) -> bool:
    """The real ``bash -n`` (parse only, never run)."""
    assert BASH is not None, "bash is required"
    return subprocess.run([BASH, "-n", "-c", script], capture_output=True, check=False).returncode == 0


def step(run: str, extra: str = "") -> str:
    """A workflow with one step running ``run`` as a literal block."""
    body = "".join(f"          {line}\n" for line in run.splitlines())
    return HEAD + "      - run: |\n" + body + extra


def scripts_of(text: str) -> list[str]:
    """Every run: script of a workflow, in order."""
    data = load_data(text)
    return [s["run"] for job in data["jobs"].values() for s in job.get("steps", []) if "run" in s]


def rules(text: str) -> list[tuple[Rule, Status, bool]]:
    return [(f.rule, f.status, f.fixable) for f in harden(text, "t.yml", write=True).findings]


# ---- 1: an edit never leaves a script that does not parse ----


@pytest.mark.parametrize(
    ("script", "fixed"),
    [
        ("(cd src && bandit -r .) || true", "(cd src && bandit -r .)"),
        ("(pip-audit) || echo x", "(pip-audit)"),
        ("( (bandit -r .) ) || true\necho next", "( (bandit -r .) )\necho next"),
        ("bandit -r . || (echo failed; true)", "bandit -r ."),
        ("(cd a && bandit -r . \\\n  ) || true", "(cd a && bandit -r . \\\n  )"),
    ],
)
@pytest.mark.unit
def test_a_subshell_around_the_scanner_keeps_its_parenthesis(script: str, fixed: str) -> None:
    result = harden(step(script), "t.yml", write=True)
    assert [(f.rule, f.status) for f in result.findings] == [(Rule.failure_swallowed, Status.fixed)]
    assert scripts_of(result.hardened) == [fixed + "\n"]
    assert bash_parses(fixed)


@pytest.mark.unit
def test_a_script_that_does_not_parse_is_never_edited() -> None:
    """extglob patterns are a syntax error unless enabled: the guard cannot vouch for the script."""
    script = "bandit -r . || true\necho @(a|b)"
    assert not bash_parses(script)
    result = harden(step(script), "t.yml", write=True)
    assert not result.changed
    (finding,) = result.findings
    assert (finding.rule, finding.status, finding.fixable) == (
        Rule.failure_swallowed,
        Status.would_fix,
        False,
    )
    assert "cannot follow this script's syntax" in finding.message


@pytest.mark.unit
def test_an_edit_that_would_break_the_script_becomes_report_only() -> None:
    """The guard itself: an edit leaving '(bandit' is taken away, a harmless one in the same script kept."""
    script = "(bandit -r .) || true\nbandit --exit-zero -r ."
    issues = [
        ShellIssue("swallow", "bandit", 14, "cut", (12, 21, "")),  # would leave '(bandit -r .'
        ShellIssue("flag", "bandit", 29, "flag", (28, 40, "")),
    ]
    out = guarded(script, issues)
    assert out[0].edit is None and "would no longer parse" in out[0].message
    assert out[1].edit == (28, 40, "")


@pytest.mark.unit
def test_every_edited_corpus_script_passes_bash_n() -> None:
    checked = 0
    for path in corpus_files():
        text = path.read_bytes().decode("utf-8")
        if path.name.startswith("action."):
            continue
        result = harden(text, path.name, write=True)
        before, after = scripts_of(text), scripts_of(result.hardened)
        for old, new in zip(before, after, strict=True):
            if old != new:
                checked += 1
                assert bash_parses(new), (path.relative_to(CORPUS), new)
    assert checked >= 20


# Fragments that combine into scripts the guard and bash both have opinions on.
_FRAGMENTS = st.sampled_from(
    [
        "bandit -r .",
        "pip-audit",
        "|| true",
        "|| echo x",
        "&&",
        ";",
        "\n",
        "&",
        "(",
        ")",
        "{",
        "}",
        "if",
        "then",
        "fi",
        "else",
        "do",
        "done",
        "while true",
        "x=$(trivy fs .)",
        "'",
        '"',
        "> out.json",
        "|",
        "! ",
        "case $x in a)",
        ";;",
        "esac",
        "for f in a b",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_FRAGMENTS, min_size=1, max_size=9))
@pytest.mark.unit
def test_the_guard_never_accepts_what_bash_rejects(parts: list[str]) -> None:
    script = " ".join(parts)
    if parses(script):
        assert bash_parses(script), script


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_FRAGMENTS, min_size=1, max_size=9))
@pytest.mark.unit
def test_every_edit_ci_harden_makes_leaves_a_script_bash_parses(parts: list[str]) -> None:
    script = " ".join(parts)
    text = step(script)
    try:
        result = harden(text, "t.yml", write=True)
    except WorkflowError:
        return  # the fragments made the YAML itself invalid
    (before,) = scripts_of(text)
    (after,) = scripts_of(result.hardened)
    if after != before:
        assert bash_parses(after), (script, after)


# ---- 11: a waiver is a comment, never the text of a string ----


@pytest.mark.unit
def test_a_waiver_inside_a_quoted_run_string_takes_no_quote_as_reason() -> None:
    text = HEAD + '      - run: "pip-audit || true # cdbctl: allow-soft-fail"\n'
    result = harden(text, "t.yml", write=True)
    assert [(f.rule, f.status) for f in result.findings] == [
        (Rule.failure_swallowed, Status.fixed),
        (Rule.waiver_without_reason, Status.info),
    ]
    assert scripts_of(result.hardened) == ["pip-audit # cdbctl: allow-soft-fail"]


@pytest.mark.unit
def test_a_quoted_waiver_with_a_reason_is_the_reason_without_the_quote() -> None:
    text = HEAD + "      - run: 'pip-audit || true # cdbctl: allow-soft-fail SEC-1 vendored'\n"
    (finding,) = harden(text, "t.yml", write=True).findings
    assert (finding.status, finding.reason) == (Status.waived, "SEC-1 vendored")


@pytest.mark.parametrize(
    "text",
    [
        step('pip-audit || true\necho "# cdbctl: allow-soft-fail not a comment"'),
        HEAD + "      - name: 'x # cdbctl: allow-soft-fail in a name'\n        run: pip-audit || true\n",
    ],
    ids=["inside-echo", "inside-a-name"],
)
@pytest.mark.unit
def test_waiver_words_in_a_string_are_no_waiver(text: str) -> None:
    assert [f.status for f in harden(text, "t.yml", write=True).findings] == [Status.fixed]


@pytest.mark.unit
def test_a_shell_comment_waiver_in_a_block_script_still_counts() -> None:
    text = step("# cdbctl: allow-soft-fail flaky feed, SEC-9\npip-audit || true")
    (finding,) = harden(text, "t.yml", write=True).findings
    assert (finding.status, finding.reason) == (Status.waived, "flaky feed, SEC-9")


# ---- 14: statuses lost in the background, in strings, in substitutions, in tests of $? ----


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("bandit -r . || true &", (Rule.status_discarded, Status.would_fix, False)),
        ("(bandit -r . || true) &\necho started", (Rule.status_discarded, Status.would_fix, False)),
        ("echo $(bandit -r .)", (Rule.status_discarded, Status.would_fix, False)),
        ("local_report=1; export R=$(pip-audit)", (Rule.status_discarded, Status.would_fix, False)),
        ('bash -c "bandit -r . || true"', (Rule.failure_swallowed, Status.fixed, True)),
        ("sh -ec 'pip-audit || echo ignored'", (Rule.failure_swallowed, Status.fixed, True)),
        ('bash -c "bandit -r . | tee out.txt"', (Rule.status_discarded, Status.would_fix, False)),
        ("bandit -r . || [ $? -eq 1 ]", (Rule.failure_swallowed, Status.fixed, True)),
        ("bandit -r . || test $? -le 1", (Rule.failure_swallowed, Status.fixed, True)),
    ],
)
@pytest.mark.unit
def test_lost_statuses_are_found(script: str, expected: tuple[Rule, Status, bool]) -> None:
    assert rules(step(script)) == [expected]


@pytest.mark.parametrize(
    "script",
    [
        "bandit -r . &\npid=$!\nwait $pid",
        "x=$(bandit -r .)",
        '[ -z "$(gitleaks detect --no-git)" ] || exit 1',
        'if [ -n "$(trivy fs --exit-code 0 .)" ]; then exit 1; fi',
        "bandit -r . || [ $? -ne 1 ]",
        "bash -c 'bandit -r .'",
    ],
)
@pytest.mark.unit
def test_status_kept_or_handled_is_left_alone(script: str) -> None:
    assert [f for f in rules(step(script)) if f[1] is not Status.info] == []


@pytest.mark.unit
def test_background_with_a_wait_is_fixed_and_still_waits() -> None:
    result = harden(step("bandit -r . || true &\nwait $!"), "t.yml", write=True)
    assert scripts_of(result.hardened) == ["bandit -r . &\nwait $!\n"]


@pytest.mark.unit
def test_bash_c_string_is_edited_inside_its_quotes() -> None:
    result = harden(step('bash -c "bandit -r . || true"'), "t.yml", write=True)
    assert scripts_of(result.hardened) == ['bash -c "bandit -r ."\n']


@pytest.mark.parametrize("shell", ["        shell: pwsh\n", "        shell: powershell\n"])
@pytest.mark.unit
def test_powershell_true_handler_is_reported(shell: str) -> None:
    text = HEAD + "      - run: pip-audit || $true\n" + shell
    result = harden(text, "t.yml", write=True)
    assert [(f.rule, f.status, f.fixable) for f in result.findings] == [
        (Rule.failure_swallowed, Status.would_fix, False)
    ]
    assert "$true" in result.findings[0].message
    assert not result.changed


# ---- the YAML itself: tags the safe loader cannot construct ----


@pytest.mark.parametrize(
    ("value", "tag"),
    [("!!python/object:os.system x", "!!python/object:os.system"), ("!custom {a: 1}", "!custom")],
)
@pytest.mark.unit
def test_an_unsupported_tag_is_named_with_its_line(value: str, tag: str) -> None:
    text = HEAD + "      - run: bandit -r . || true\n" + f"        env: {value}\n"
    with pytest.raises(WorkflowError) as err:
        harden(text, "t.yml", write=True)
    assert err.value.line == 7
    assert f"unsupported YAML tag '{tag}'" in str(err.value)


# ---- 16 and 5: the file system and the process (through the real CLI) ----


def cli(repo: Path, *args: str, shell_redirect: str = "") -> subprocess.CompletedProcess[str]:
    """``python -m cdbctl ci-harden`` of this worktree, stdout redirected by the shell if asked."""
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    argv = [sys.executable, "-m", "cdbctl", "ci-harden", "--repo", str(repo), *args]
    if shell_redirect:
        command = " ".join(f"'{a}'" for a in argv) + " " + shell_redirect
        assert BASH is not None
        return subprocess.run(
            [BASH, "-c", command], capture_output=True, text=True, env=env, check=False, timeout=120
        )
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=120)


DIRTY = HEAD + "      - run: bandit -r . || true\n"


@pytest.mark.integration
def test_a_symlink_loop_is_not_checked_and_the_rest_is(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {f"{WF}/ok.yml": DIRTY})
    (repo / WF / "w.yml").symlink_to("w.yml")
    (repo / WF / "x.yml").symlink_to("y.yml")
    (repo / WF / "y.yml").symlink_to("x.yml")
    proc = cli(repo, "--check", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    assert "internal error" not in proc.stderr
    assert "1 file(s) checked, 3 not checked (" in proc.stderr
    for name in ("w.yml", "x.yml", "y.yml"):
        assert f"{WF}/{name}" in proc.stderr
    assert '"files_scanned": 1' in proc.stdout


@pytest.mark.integration
@pytest.mark.parametrize(
    "mode", [(), ("--check",), ("--dry-run",), ("--format", "json"), ("--format", "sarif")]
)
def test_stdout_on_a_full_disk_is_an_environment_error(tmp_path: Path, mode: tuple[str, ...]) -> None:
    repo = make_repo(tmp_path, {f"{WF}/a.yml": DIRTY})
    proc = cli(repo, *mode, shell_redirect=">/dev/full")
    assert proc.returncode == 3, proc.stderr
    assert "No space left on device" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


@pytest.mark.integration
def test_closed_stdout_is_an_environment_error_and_nothing_is_written(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {f"{WF}/a.yml": DIRTY})
    proc = cli(repo, shell_redirect=">&-")
    assert proc.returncode == 3, proc.stderr
    assert "stdout is closed" in proc.stderr
    assert (repo / WF / "a.yml").read_text() == DIRTY


@pytest.mark.integration
def test_a_read_only_workflow_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {f"{WF}/a.yml": DIRTY, f"{WF}/b.yml": DIRTY})
    locked = repo / WF / "b.yml"
    locked.chmod(0o444)
    proc = cli(repo)
    assert proc.returncode == 3, proc.stderr
    assert f"{WF}/b.yml is read-only (mode 0444)" in proc.stderr
    assert (repo / WF / "a.yml").read_text() == DIRTY  # checked before the first write
    assert locked.read_text() == DIRTY
    assert oct(locked.stat().st_mode & 0o777) == "0o444"


# ---- 7: text from the workflow never drives the terminal ----


@pytest.mark.unit
@pytest.mark.parametrize("fmt", ["table", "text", "github"])
def test_escape_sequences_in_a_step_name_never_reach_the_terminal(
    tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from cdbctl.cli import main

    name = '"\\e]0;PWNED\\a\\e[31mred\\u202e"'  # YAML escapes: ESC, BEL, a bidi override
    text = HEAD + f"      - name: {name}\n        run: bandit -r . || true\n"
    repo = make_repo(tmp_path, {f"{WF}/t.yml": text})
    assert main(["ci-harden", "--repo", str(repo), "--check", "--format", fmt]) == 1
    out = capsys.readouterr().out
    if fmt == "table":  # the one format that shows the step's name
        assert "PWNED" in out and "red" in out
    assert not any(ch in out for ch in "\x1b\x07\u202e")


@pytest.mark.unit
def test_a_repeated_set_plus_e_is_reported_not_half_removed() -> None:
    """Found by the fuzzer: removing one of two 'set +e' lines left errexit off (no fixed point)."""
    text = step("set +e\nset +e\nbandit -r .; bandit -r .")
    result = harden(text, "t.yml", write=True)
    assert not result.changed
    assert {(f.rule, f.status) for f in result.findings} == {(Rule.errexit_off, Status.would_fix)}
