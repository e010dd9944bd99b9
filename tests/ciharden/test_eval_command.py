"""``eval "$CMD"``: followed when what it runs is known (same script, env:), reported when not, and an
eval of something that is no scanner stays silent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdbctl.ciharden.harden import harden
from cdbctl.ciharden.model import Rule, Status
from cdbctl.ciharden.report import describe
from cdbctl.ciharden.shell import scan_script
from cdbctl.cli import main
from tests.ciharden.conftest import make_repo

pytestmark = pytest.mark.unit

ENV = {"SCAN": "bandit -r src", "BUILD": "npm ci", "FROM_INPUT": "${{ inputs.cmd }}"}


@pytest.mark.parametrize(
    ("script", "tools", "kinds"),
    [
        # the value, set earlier in the same script
        ('CMD="bandit -r . || true"\neval "$CMD"\n', ["bandit"], ["swallow"]),
        ('CMD="bandit -r ."\neval $CMD || true\n', ["bandit"], ["swallow"]),
        ("CMD='trivy fs .'\neval \"${CMD}\"\n", ["trivy"], ["default"]),
        ('export CMD="gitleaks detect --exit-code 0"\neval "$CMD"\n', ["gitleaks"], ["flag"]),
        ('BASE=trivy\nCMD="$BASE fs --exit-code 0 ."\neval "$CMD"\n', ["trivy"], ["flag"]),
        ('CMD="trivy fs --exit-code 1 $TARGET"\neval "$CMD"\n', ["trivy"], []),  # an argument not known
        ('CMD="grype dir:. --fail-on high | tee g.txt"\neval "$CMD"\n', ["grype"], ["pipe"]),
        ('CMD="bandit -r ."\neval "$CMD"\necho done\n', ["bandit"], []),  # errexit stops at eval
        ('CMD="echo hi"\nCMD="bandit -r ."\neval "$CMD" || true\n', ["bandit"], ["swallow"]),
        # built up with +=, also in a branch and a loop (the common shape in public scan scripts)
        (
            'T="trivy fs --format json -o t.json"\nif [ -n "$X" ]; then\n  T+=" --skip-dirs $X"\nfi\n'
            'T+=" ."\neval $T || :\n',
            ["trivy"],
            ["default", "swallow"],
        ),
        ('T="trivy config ."\nT="$T --exit-code 0"\neval $T --format json -o r.json\n', ["trivy"], ["flag"]),
        (
            'C="osv-scanner scan source"\nfor l in a b; do\n  C="$C -L $l"\ndone\neval "$C" || true\n',
            ["osv-scanner"],
            ["swallow"],
        ),
        ('C="npm ci"\nC+=" && bandit -r ."\neval "$C"\n', ["bandit"], []),
        # set in the same block (a loop body, a group, a case arm, a subshell) before the eval there
        (
            'for a in $ACCOUNTS; do\n{\n  P="prowler aws \\\n    --ignore-exit-code-3"\n'
            '  if [ "$H" = true ]; then\n    P="$P --security-hub"\n  fi\n  eval $P\n}\ndone\n',
            ["prowler"],
            ["flag"],
        ),
        ('case $x in\n a) C="bandit -r ."\n    eval "$C" || true ;;\nesac\n', ["bandit"], ["swallow"]),
        ('(\n  C="bandit -r . || true"\n  eval "$C"\n)\n', ["bandit"], ["swallow"]),
        ('f() {\n  C="bandit -r . || true"\n  eval "$C"\n}\nf\n', ["bandit"], ["swallow"]),
        # set where it may not have run before the eval: not guessed
        (
            'case $x in\n a) C="bandit -r ." ;;\n b) C="safety check" ;;\nesac\neval "$C" || true\n',
            [],
            ["opaque"],
        ),
        ('if c; then C="bandit -r ."; else C="npm ci"; fi\neval "$C" || true\n', [], ["opaque"]),
        ('f() { C="bandit -r ."; }\neval "$C" || true\n', [], ["opaque"]),
        ('function f {\n  C="bandit -r ."\n}\neval "$C" || true\n', [], ["opaque"]),
        ('while read l; do\n  eval "$C" || true\n  C="bandit -r $l"\ndone\n', [], ["opaque"]),
        # several possible values: each one followed
        ('CMD="bandit -r ."\n[ -n "$X" ] && CMD="echo skip"\neval "$CMD" || true\n', ["bandit"], ["swallow"]),
        (
            'for s in "bandit -r ." "safety check"; do eval "$s" || true; done\n',
            ["bandit", "safety"],
            ["swallow"],
        ),
        ('for s in "bandit -r ." "npm ci"; do\n  eval "$s"\ndone\necho ok\n', ["bandit"], []),
        # inside a command substitution: it sees the variables set before it
        ('CMD="bandit -r . -f json"\nout=$(eval "$CMD") || true\n', ["bandit"], ["discard"]),
        ('CMD="bandit -r . || true"\nout=$(eval "$CMD")\necho "$out"\n', ["bandit"], ["discard"]),
        ('CMD="npm ci"\nout=$(eval "$CMD") || true\n', [], []),
        # literal arguments
        ('eval "bandit -r . || true"\n', ["bandit"], ["swallow"]),
        ("eval bandit -r .\n", ["bandit"], []),
        # from env:
        ('eval "$SCAN" || true\n', ["bandit"], ["swallow"]),
        ('eval "$SCAN"\n', ["bandit"], []),
        # not known, but a value it may have names a scanner: reported, never guessed
        ('if [ -n "$X" ]; then CMD="bandit -r ."; fi\neval "$CMD" || true\n', [], ["opaque"]),
        ('( CMD="bandit -r ." )\neval "$CMD" || true\n', [], ["opaque"]),  # set in a subshell only
        ('CMD="bandit -r ." | cat\neval "$CMD"\n', [], ["opaque"]),
        ('CMD=$(find-tool bandit)\neval "$CMD"\n', [], ["opaque"]),
        ('read CMD\nCMD2="bandit $CMD"\neval "$CMD"\n', [], []),  # CMD itself names nothing
        ('select s in "bandit -r ." "npm ci"; do eval "$s"; break; done\n', [], ["opaque"]),
        ('CMD="$TOOL fs . && bandit -r ."\neval "$CMD"\n', [], ["opaque"]),
        # look-alikes: an eval that runs no scanner
        ('CMD="npm ci"\neval "$CMD" || true\n', [], []),
        ('eval "$BUILD" || true\n', [], []),
        ('eval "$(ssh-agent -s)"\n', [], []),
        ('eval "$(pyenv init -)"\n', [], []),
        ('eval "$UNSET_ANYWHERE" || true\n', [], []),
        ('eval "$FROM_INPUT" || true\n', [], []),
        ('CMD="pip install bandit"\neval "$CMD" || true\n', [], []),
        ('CMD="bandit --version"\neval "$CMD" || true\n', [], []),
        ("echo 'eval \"$SCAN\" || true'\n", [], []),
        ('# eval "$SCAN" || true\n', [], []),
        ('evaluate "$SCAN" || true\n', [], []),
    ],
)
def test_what_an_eval_runs(script: str, tools: list[str], kinds: list[str]) -> None:
    scan = scan_script(script, env=ENV)
    assert list(scan.tools) == tools
    assert [i.kind for i in scan.issues] == kinds


def test_an_eval_of_a_value_not_known_is_reported_in_a_step_named_like_a_scan() -> None:
    """Nothing names a scanner, but the step is named for one: reported rather than passed as clean."""
    script = 'eval "$FROM_INPUT" || true\n'
    assert scan_script(script, env=ENV).issues == ()
    (issue,) = scan_script(script, env=ENV, runners=True).issues
    assert issue.kind == "opaque" and issue.edit is None
    assert "$FROM_INPUT, set in env:" in issue.message
    # the setup idiom: what runs is what a tool prints, and the tool is no scanner
    assert (
        scan_script('eval "$(brew shellenv)"\ndependency-check -s . --failOnCVSS 7\n', runners=True).issues
        == ()
    )


_HEAD = "on: push\nenv:\n  WF_SCAN: trivy fs .\njobs:\n  a:\n    runs-on: ubuntu-latest\n"


def test_a_swallowed_eval_of_a_known_scanner_is_fixed_where_the_edit_is_sound() -> None:
    """``eval "$CMD" || true``: the handler on the eval is cut, as for the scanner itself; a soft-fail
    inside the value is reported with the fix it needs (the value may be used elsewhere too)."""
    text = _HEAD + (
        "    env:\n      JOB_SCAN: pip-audit --strict\n"
        "    steps:\n"
        '      - run: eval "$JOB_SCAN" || true\n'
        '      - run: eval "$STEP_SCAN"\n'
        "        env:\n          STEP_SCAN: bandit -r src --exit-zero\n"
        '      - run: eval "$WF_SCAN"\n'
        "      - run: |\n"
        '          CMD="npm ci"\n'
        '          eval "$CMD" || true\n'
    )
    result = harden(text, "t.yml", write=True)
    got = [(f.line, f.rule, f.status, f.tool, f.proposed_fix) for f in result.findings]
    assert got == [
        (10, Rule.failure_swallowed, Status.fixed, "pip-audit", "remove '|| true'"),
        (11, Rule.success_flag, Status.would_fix, "bandit", "remove --exit-zero in the value eval runs"),
        (14, Rule.nonblocking_default, Status.would_fix, "trivy", "add --exit-code 1 in the value eval runs"),
    ]
    assert result.hardened == text.replace('eval "$JOB_SCAN" || true', 'eval "$JOB_SCAN"')
    assert "in what eval runs ($STEP_SCAN, set in env:)" in result.findings[1].message
    assert describe(result.findings[1]).endswith(
        "fix by hand: remove --exit-zero in the value eval runs (no safe automatic fix), or add a "
        "'# cdbctl: allow-soft-fail <reason>' waiver"
    )
    again = harden(result.hardened, "t.yml", write=True)
    assert again.hardened == result.hardened
    assert [f.rule for f in again.findings] == [Rule.success_flag, Rule.nonblocking_default]


def test_continue_on_error_on_an_eval_of_a_scanner_counts() -> None:
    text = _HEAD + (
        "    steps:\n"
        '      - run: eval "$WF_SCAN --exit-code 1"\n'
        "        continue-on-error: true\n"
        '      - run: eval "$(direnv export bash)"\n'
        "        continue-on-error: true\n"
    )
    result = harden(text, "t.yml", write=True)
    assert [(f.line, f.rule, f.status) for f in result.findings] == [
        (9, Rule.step_continue_on_error, Status.fixed),
        (11, Rule.non_security_continue, Status.info),
    ]


def test_not_analysable_is_info_and_does_not_fail_the_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file with nothing but such an eval is still read (the prefilter knows ``eval``)."""
    text = (
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - name: Security scan\n"
        '        run: eval "$SCAN_CMD" || true\n'
        "        env:\n          SCAN_CMD: ${{ vars.SCAN_CMD }}\n"
    )
    repo = make_repo(tmp_path, {".github/workflows/t.yml": text})
    assert main(["ci-harden", "--repo", str(repo), "--check", "--format", "json"]) == 0
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert (finding["rule"], finding["status"], finding["line"]) == ("command-not-analysable", "info", 7)
    assert finding["proposed_fix"] is None
    assert "$SCAN_CMD, set in env:" in finding["message"]
