"""Commands held in a value besides eval: ``bash -c "$CMD"`` and an array run as ``"${CMD[@]}"``.
Followed when every value is known, reported (info) when not, and look-alikes are no scans."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cdbctl.ciharden.harden import harden
from cdbctl.ciharden.model import Rule, Status
from cdbctl.ciharden.shell import scan_script
from cdbctl.ciharden.shell_lex import commands, lex
from cdbctl.ciharden.syntax import parses
from cdbctl.cli import main
from tests.ciharden.conftest import make_repo

pytestmark = pytest.mark.unit

ENV = {"SCAN": "trivy fs .", "BUILD": "npm ci", "FROM_INPUT": "${{ inputs.cmd }}"}


@pytest.mark.parametrize(
    ("script", "tools", "kinds"),
    [
        # bash -c / sh -c with a string held in a variable of this script or env:
        ('CMD="bandit -r ."\nbash -c "$CMD" || true\n', ["bandit"], ["swallow"]),
        ('CMD="bandit -r . || true"\nsh -c "$CMD"\n', ["bandit"], ["swallow"]),
        ('CMD="trivy fs --exit-code 0 ."\nbash -c "${CMD}"\n', ["trivy"], ["flag"]),
        ('bash -c "$SCAN" || true\n', ["trivy"], ["default", "swallow"]),
        ('bash -c "$SCAN --exit-code 1"\n', ["trivy"], []),
        ('/bin/bash -ec "$SCAN --exit-code 1" || :\n', ["trivy"], ["swallow"]),
        # a shell of its own: without -o pipefail a pipe there loses the status
        ('CMD="grype dir:. --fail-on high | tee g.txt"\nbash -c "$CMD"\n', ["grype"], ["pipe"]),
        ('CMD="grype dir:. --fail-on high | tee g.txt"\nbash -o pipefail -c "$CMD"\n', ["grype"], []),
        ('C="pip-audit"\n[ -n "$X" ] && C="echo skip"\nbash -c "$C" || true\n', ["pip-audit"], ["swallow"]),
        ("CMD=bandit\nbash -c $CMD || true\n", ["bandit"], ["swallow"]),  # one word: known
        # arrays run as a command
        ('CMD=(trivy fs --exit-code 0 .)\n"${CMD[@]}"\n', ["trivy"], ["flag"]),
        ('CMD=(bandit -r src)\n"${CMD[@]}" || true\n', ["bandit"], ["swallow"]),
        ("CMD=(bandit -r src)\n${CMD[@]} || true\n", ["bandit"], ["swallow"]),
        ("CMD=(bandit -r src)\n${CMD[*]} || true\n", ["bandit"], ["swallow"]),
        ('CMD=(trivy fs .)\nCMD+=(--exit-code 0)\n"${CMD[@]}"\n', ["trivy"], ["flag"]),
        ('declare -a CMD=(\n  trivy fs  # the scan\n  --exit-code 1\n  .\n)\n"${CMD[@]}"\n', ["trivy"], []),
        ('CMD=(trivy fs "--exit-code" 0 .)\nFOO=1 "${CMD[@]}" --quiet\n', ["trivy"], ["flag"]),
        ('f() {\n  local -a a=(bandit -r .)\n  "${a[@]}" || true\n}\n', ["bandit"], ["swallow"]),
        ('CMD=(trivy fs .)\nbash -c "${CMD[*]} --exit-code 1 || true"\n', ["trivy"], ["swallow"]),
        # eval of an array: its elements joined; ``$CMD`` of an array is its first element
        ('CMD=(bandit -r .)\neval "${CMD[@]}" || true\n', ["bandit"], ["swallow"]),
        ('CMD=("bandit -r ." --quiet)\neval "$CMD" || true\n', ["bandit"], ["swallow"]),
        ('CMD=(echo bandit)\neval "$CMD" || true\n', [], []),  # runs 'echo' alone
        ('CMD=()\neval "$CMD" || true\n', [], []),
        # an array assignment keeps its substitution's status, as a plain one does: no discard
        ("x=( $(bandit -f json -r .) )\n", ["bandit"], []),
        # not known: reported, never guessed
        ('bash -c "$PRE && trivy fs --exit-code 1 ." || true\n', ["trivy"], ["opaque", "swallow"]),
        ('bash -c "$FROM_INPUT" || true\n', [], []),  # names nothing, the step is not named for a scan
        ('if x; then CMD="bandit -r ."; fi\nbash -c "$CMD" || true\n', [], ["opaque"]),
        ('CMD="bandit -r ."\nbash -c $CMD || true\n', [], ["opaque"]),  # split: the script is 'bandit'
        ('CMD=(bandit -r .)\nCMD[0]=safety\n"${CMD[@]}" || true\n', [], ["opaque"]),
        ('mapfile -t CMD < tools.txt\nCMD+=(trivy)\n"${CMD[@]}"\n', [], ["opaque"]),
        ('if x; then CMD=(bandit -r .); fi\n"${CMD[@]}" || true\n', [], ["opaque"]),
        # look-alikes: no scan
        ("CMD=(trivy fs --exit-code 0 .)\n", [], []),  # defined, never run
        ('CMD=(trivy fs .)\necho "${CMD[@]}" || true\n', [], []),
        ('CMD=(trivy fs .)\nprintf "%s\\n" "${CMD[@]}"\n', [], []),
        ('CMD=(trivy fs .)\n"${CMD[*]}" || true\n', [], []),  # one word: the command 'trivy fs .'
        ('CMD=(echo trivy fs .)\n"${CMD[@]}" || true\n', [], []),
        ('CMD=(pip install bandit)\n"${CMD[@]}" || true\n', [], []),
        ('CMD="echo bandit -r ."\nbash -c "$CMD" || true\n', [], []),
        ('bash -c "$BUILD" || true\n', [], []),
        ("bash -c 'echo \"$SCAN\"' || true\n", [], []),
        ('echo bash -c "$SCAN" || true\n', [], []),
        ('CMD="trivy fs ."\necho "$CMD" | bash -c cat\n', [], []),
        ('# bash -c "$SCAN" || true\n', [], []),
    ],
)
def test_what_a_held_command_runs(script: str, tools: list[str], kinds: list[str]) -> None:
    scan = scan_script(script, env=ENV)
    assert list(scan.tools) == tools
    assert [i.kind for i in scan.issues] == kinds


def test_messages_name_what_runs_the_value() -> None:
    (flag,) = scan_script('CMD=(trivy fs --exit-code 0 .)\n"${CMD[@]}"\n').issues
    assert flag.message == (
        "in what the array ${CMD[@]} runs (${CMD[@]}, set in this script): --exit-code 0 makes trivy "
        "succeed on findings"
    )
    assert flag.edit is None  # the fix belongs in the value, as for eval
    assert flag.proposed_fix == "set --exit-code to 1 in the value the array ${CMD[@]} runs"
    inner, outer = scan_script('sh -c "$SCAN" || true\n', env={"SCAN": "bandit -r . || true"}).issues
    assert (
        inner.message == "in what sh -c runs ($SCAN, set in env:): bandit's failure is swallowed by '|| true'"
    )
    assert (inner.edit, outer.edit) == (None, (13, 21, ""))  # the handler on the line is cut
    (opaque,) = scan_script('bash -c "$FROM_INPUT"\n', env=ENV, runners=True).issues
    assert opaque.kind == "opaque"
    assert opaque.message.startswith(
        "bash -c runs a value ci-harden cannot follow ($FROM_INPUT, set in env:)"
    )


def test_an_array_is_one_word_as_in_bash() -> None:
    script = 'CMD=(trivy fs # c\n  "a )" .)\n"${CMD[@]}" || true\n'
    (assign, run, _) = commands(lex(script))
    assert [w.text for w in assign.words] == ['CMD=(trivy fs # c\n  "a )" .)']
    assert [w.value for w in run.words] == ["${CMD[@]}"]
    assert parses(script)
    # not an array: an operator inside, or no closing parenthesis (lexed as before)
    assert [w.text for w in commands(lex("X=(a; b)"))[0].words] == ["X="]
    assert [w.text for w in commands(lex("X=(a b"))[0].words] == ["X="]
    assert not parses("X=(a b")


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(
    "script",
    ['CMD=(trivy fs # c\n  "a )" .)\n"${CMD[@]}"\n', "a=()\n", "X=(a b\n", "CMD+=(x)\n", "A=(x)\nB=(\n)\n"],
)
def test_the_parse_guard_agrees_with_bash_on_arrays(script: str) -> None:
    real = subprocess.run(["bash", "-n", "-c", script], capture_output=True, check=False).returncode == 0
    assert parses(script) == real


HEAD = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"


def test_the_handler_on_a_held_command_is_fixed_and_the_value_is_reported() -> None:
    text = HEAD + (
        "      - name: Trivy\n"
        "        run: |\n"
        "          CMD=(trivy fs --exit-code 0 .)\n"
        '          "${CMD[@]}" || true\n'
        '      - run: bash -c "$AUDIT"\n'
        "        continue-on-error: true\n"
        "        env:\n          AUDIT: pip-audit --strict\n"
    )
    result = harden(text, "t.yml", write=True)
    got = [(f.line, f.rule, f.status, f.tool) for f in result.findings]
    assert got == [
        (9, Rule.failure_swallowed, Status.fixed, "trivy"),
        (9, Rule.success_flag, Status.would_fix, "trivy"),
        (11, Rule.step_continue_on_error, Status.fixed, "pip-audit"),
    ]
    assert '"${CMD[@]}"\n' in result.hardened and "|| true" not in result.hardened
    assert "CMD=(trivy fs --exit-code 0 .)" in result.hardened  # the value is reported, not edited
    assert "continue-on-error" not in result.hardened
    again = harden(result.hardened, "t.yml", write=True)
    assert again.hardened == result.hardened


def test_a_held_command_not_known_is_info_and_the_file_is_still_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Neither file names a scanner: the prefilters know ``-c "$`` and ``[@]``."""
    text = HEAD + (
        "      - name: Security scan\n"
        '        run: bash -c "$SCAN_CMD" || true\n'
        "        env:\n          SCAN_CMD: ${{ vars.SCAN_CMD }}\n"
        "      - name: Dependency audit\n"
        "        run: |\n"
        "          mapfile -t TOOL < tools.txt\n"
        '          "${TOOL[@]}"\n'
    )
    repo = make_repo(tmp_path, {".github/workflows/t.yml": text})
    assert main(["ci-harden", "--repo", str(repo), "--check", "--format", "json"]) == 0
    findings = json.loads(capsys.readouterr().out)["findings"]
    got = [(f["rule"], f["status"], f["line"]) for f in findings]
    assert got == [("command-not-analysable", "info", 7), ("command-not-analysable", "info", 13)]
    assert "${TOOL[@]}, set in this script" in findings[1]["message"]
