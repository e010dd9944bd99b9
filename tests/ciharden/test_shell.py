"""The run: script analyser, table-driven: what is a scan, what swallows its failure, what fixes it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdbctl.ciharden.shell import scan_script
from cdbctl.ciharden.shell_lex import commands, lex

pytestmark = pytest.mark.unit


def _apply(src: str, edit: tuple[int, int, str] | None) -> str | None:
    return None if edit is None else src[: edit[0]] + edit[2] + src[edit[1] :]


@pytest.mark.parametrize(
    ("script", "tools"),
    [
        ("bandit -r src", ["bandit"]),
        ("pip install bandit", []),
        ("pipx install semgrep && pip install safety pip-audit", []),
        ("# bandit -r . || true", []),
        ("echo 'bandit -r . || true'", []),
        ("cat <<EOF\nbandit -r .\nEOF\n", []),
        ("cat <<-'END'\n\tbandit -r .\n\tEND\necho ok", []),
        ("pyre check", []),
        ("pyre analyze --no-verify", ["pysa"]),
        ("python -m bandit -r .", ["bandit"]),
        ("python3 -m pip_audit", ["pip-audit"]),
        ("python script.py bandit", []),
        ("uvx bandit -r .", ["bandit"]),
        ("poetry run bandit -r .", ["bandit"]),
        ("sudo -E trivy fs .", ["trivy"]),
        ("FOO=1 BAR=2 gitleaks detect", ["gitleaks"]),
        ("gitleaks version", []),
        ("bandit --version", []),
        ("trivy image --download-db-only", []),
        ("snyk auth $TOKEN", []),
        ("snyk test --all-projects", ["snyk"]),
        ("snyk container test img", ["snyk"]),
        ("semgrep login", []),
        ("semgrep --config auto .", ["semgrep"]),
        ("semgrep ci", ["semgrep"]),
        ("npm ci && npm test", []),
        ("npm audit --production", ["npm-audit"]),
        ("yarn npm audit", ["npm-audit"]),
        ("go run golang.org/x/vuln/cmd/govulncheck@latest ./...", ["govulncheck"]),
        ("go vet ./...", []),
        ("cargo audit", ["cargo-audit"]),
        ("cargo build", []),
        ("~/go/bin/gosec ./...", ["gosec"]),
        ("bundle exec brakeman -q", ["brakeman"]),
        ("if bandit -r .; then echo clean; fi", ["bandit"]),
        ("x=$(bandit -r . || true)", ["bandit"]),  # runs in the substitution (its swallow is reported)
        ("docker run --rm -v $PWD:/src -w /src aquasec/trivy:0.50.0 fs .", ["trivy"]),
        ("docker run --rm returntocorp/semgrep semgrep ci", ["semgrep"]),
        ('docker run -v "${PWD}:/path" zricethezav/gitleaks:latest detect --source=/path', ["gitleaks"]),
        ("docker run --rm -it alpine:3 echo bandit", []),
        ("docker build -t trivy .", []),
        ("podman run --rm docker.io/anchore/grype:latest alpine:3", ["grype"]),
    ],
)
def test_scanner_detection(script: str, tools: list[str]) -> None:
    assert list(scan_script(script).tools) == tools


@pytest.mark.parametrize(
    ("script", "fixed"),
    [
        ("bandit -r . || true", "bandit -r ."),
        ("bandit -r . || :", "bandit -r ."),
        ("bandit -r . || /bin/true", "bandit -r ."),
        ("bandit -r . || exit 0", "bandit -r ."),
        ("bandit -r . || echo 'found issues'", "bandit -r ."),
        ("bandit -r . || printf 'x\\n'; echo done", "bandit -r .; echo done"),
        ("bandit -r . || true && echo next", "bandit -r . && echo next"),
        ("bandit -r . > out.txt 2>&1 || true", "bandit -r . > out.txt 2>&1"),
        ("bandit -r . \\\n  -ll \\\n  || true\necho x\n", "bandit -r . \\\n  -ll\necho x\n"),
        ("bandit -r . || { echo 'soft'; }", "bandit -r ."),
        ("cd src && bandit -r . || true", "cd src && bandit -r ."),
    ],
)
def test_swallow_removed(script: str, fixed: str) -> None:
    issues = [i for i in scan_script(script).issues if i.kind == "swallow"]
    assert len(issues) == 1
    assert _apply(script, issues[0].edit) == fixed


@pytest.mark.parametrize(
    "script",
    [
        "bandit -r . || exit 1",
        "bandit -r . || { echo failed; exit 1; }",
        "bandit -r . || rc=$?; exit $rc",
        "bandit -r . || echo failed && exit 1",
        "bandit -r . || false",
        "bandit -r . || exit",
        "flake8 . || true",
        "mypy . || true",
    ],
)
def test_not_a_swallow(script: str) -> None:
    assert not [i for i in scan_script(script).issues if i.kind == "swallow"]


@pytest.mark.parametrize(
    ("script", "fixed"),
    [
        ("bandit --exit-zero -r .", "bandit -r ."),
        ("bandit -r . --exit-zero", "bandit -r ."),
        ("checkov -d . --soft-fail", "checkov -d ."),
        ("tfsec . --soft-fail", "tfsec ."),
        ("gosec -no-fail ./...", "gosec ./..."),
        ("safety check --continue-on-error", "safety check"),
        ("trivy fs --exit-code 0 .", "trivy fs --exit-code 1 ."),
        ("trivy fs --exit-code=0 .", "trivy fs --exit-code=1 ."),
        ("trivy image alpine", "trivy image --exit-code 1 alpine"),
        ("gitleaks detect --exit-code 0", "gitleaks detect --exit-code 1"),
        (
            "docker run --rm aquasec/trivy image alpine",
            "docker run --rm aquasec/trivy image --exit-code 1 alpine",
        ),
        ("kics scan -p . --ignore-on-exit results", "kics scan -p . --ignore-on-exit none"),
    ],
)
def test_flags(script: str, fixed: str) -> None:
    issues = [i for i in scan_script(script).issues if i.kind in ("flag", "default")]
    assert len(issues) == 1
    assert _apply(script, issues[0].edit) == fixed


@pytest.mark.parametrize(
    "script",
    [
        "flake8 --exit-zero .",
        "trivy fs --exit-code 1 .",
        "gitleaks detect --exit-code 2",
        "pylint --exit-zero src",
    ],
)
def test_flags_that_are_fine(script: str) -> None:
    assert not [i for i in scan_script(script).issues if i.kind in ("flag", "default")]


def test_pipe_without_pipefail() -> None:
    scan = scan_script("bandit -r . | tee out.txt")
    assert [i.kind for i in scan.issues] == ["pipe"]
    assert scan.reports == {"out.txt"}
    assert not scan.other_pipes
    assert not scan_script("bandit -r . | tee out.txt", pipefail=True).issues
    assert not scan_script("set -euo pipefail\nbandit -r . | tee out.txt").issues
    assert not scan_script("set -o pipefail\nbandit -r . | tee out.txt").issues
    assert [i.kind for i in scan_script("set -o pipefail\nset +o pipefail\nbandit . | tee o").issues] == [
        "pipe"
    ]
    assert scan_script("git ls-files | head\nbandit . | tee o").other_pipes


@pytest.mark.parametrize(
    ("script", "kinds", "fixed"),
    [
        ("set +e\nbandit -r .\nset -e\necho done\n", ["errexit"], "bandit -r .\nset -e\necho done\n"),
        # errexit would also turn on for `echo done`: not provably safe, so no automatic fix
        ("set +e\nbandit -r .\necho done\n", ["errexit"], None),
        ("set +e\necho x\nbandit -r .\necho done\n", ["errexit"], None),
        ("set +e\nbandit -r .\n", [], None),  # the scanner's status is the script's status
        ("set +e\nbandit -r .\nrc=$?\nexit $rc\n", [], None),
        ('set +e\nbandit -r .\nrc=$?\n[ "$rc" -eq 0 ]\n', [], None),
        # the status is kept, but only handed to a later step: this step stays green (a later step
        # that fails on it is a gate, decided per job)
        ('set +e\nbandit -r .\necho "rc=$?" >> "$GITHUB_ENV"\n', ["errexit"], None),
        ("set +e\nbandit -r .\nset -e\n", ["errexit"], "bandit -r .\nset -e\n"),
        ("bandit -r .\necho done\n", [], None),
    ],
)
def test_errexit(script: str, kinds: list[str], fixed: str | None) -> None:
    issues = scan_script(script).issues
    assert [i.kind for i in issues] == kinds
    if kinds:
        assert _apply(script, issues[0].edit) == fixed


def test_errexit_off_from_the_shell() -> None:
    issues = scan_script("bandit -r .\necho done\n", errexit=False).issues
    assert [i.kind for i in issues] == ["errexit"]
    assert issues[0].edit is None


def test_reports() -> None:
    scan = scan_script(
        "bandit -r . -f json -o out/bandit.json\nsemgrep ci --sarif > semgrep.sarif\n"
        "gitleaks detect --report-path=leaks.json"
    )
    assert scan.reports == {"bandit.json", "semgrep.sarif", "leaks.json"}


def test_lexer_offsets_and_operators() -> None:
    src = "a 'b c' \"d $(e f)\" || g; h | i && j\n# c\nk <<EOF\nbody\nEOF\nl 2>&1 >out"
    cmds = commands(lex(src))
    assert [[w.value for w in c.words] for c in cmds] == [
        ["a", "b c", "d $(e f)"],
        ["g"],
        ["h"],
        ["i"],
        ["j"],
        ["k"],
        ["l"],
    ]
    assert [c.sep_after for c in cmds] == ["||", ";", "|", "&&", "\n", "\n", ""]
    for c in cmds:
        for w in c.words:
            assert src[w.start : w.end] == w.text


def test_lexer_survives_garbage() -> None:
    for src in [
        "'unterminated",
        '"unterminated',
        "$(unterminated",
        "`x",
        "a \\",
        "<<",
        "|| true",
        ";;;",
        "${",
    ]:
        scan_script(src)


SHELLISH = st.lists(
    st.sampled_from(
        [*"ab 'x\"\\$(){}|&;<>#\n\t`", "||", "&&", "<<EOF\n", "EOF\n", "bandit", "true", " -o f"]
    ),
    max_size=60,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(SHELLISH)
def test_lexer_tokens_are_exact_slices(src: str) -> None:
    tokens = lex(src)
    last = 0
    for tok in tokens:
        assert src[tok.start : tok.end] == tok.text
        assert tok.start >= last
        last = tok.end
    scan = scan_script(src)
    for issue in scan.issues:
        if issue.edit is not None:
            a, b, _ = issue.edit
            assert 0 <= a <= b <= len(src)
