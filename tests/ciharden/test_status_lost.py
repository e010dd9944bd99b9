"""Second review round: constructs that lose a scanner's exit status, and gates that cannot fail."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cdbctl.ciharden.harden import harden
from cdbctl.ciharden.model import Rule, Status
from cdbctl.ciharden.report import describe
from tests.ciharden.conftest import make_repo

pytestmark = pytest.mark.unit

_HEAD = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"


def _found(text: str) -> list[tuple[Rule, Status]]:
    return [(f.rule, f.status) for f in harden(text, "t.yml", write=True).findings]


_AUDIT = "      - id: audit\n        run: pip-audit\n        continue-on-error: true\n"
_GATE = "      - if: steps.audit.outcome == 'failure'\n        run: exit 1\n"


def test_a_gate_that_itself_continues_on_error_is_no_gate() -> None:
    """The gate's failure is swallowed too: the soft-fail it 'gates' must be fixed, not left gated."""
    assert _found(_HEAD + _AUDIT + _GATE) == [(Rule.step_continue_on_error, Status.gated)]
    soft_gate = _GATE + "        continue-on-error: true\n"
    result = harden(_HEAD + _AUDIT + soft_gate, "t.yml", write=True)
    assert [(f.rule, f.status) for f in result.findings] == [
        (Rule.step_continue_on_error, Status.fixed),
        (Rule.non_security_continue, Status.info),
    ]
    assert "continue-on-error: true itself" in result.findings[0].message
    assert result.hardened == _HEAD + _AUDIT.replace("        continue-on-error: true\n", "") + soft_gate


def test_a_soft_gate_does_not_hide_a_real_gate_after_it() -> None:
    soft_gate = _GATE + "        continue-on-error: true\n"
    assert _found(_HEAD + _AUDIT + soft_gate + _GATE) == [
        (Rule.step_continue_on_error, Status.gated),
        (Rule.non_security_continue, Status.info),
    ]


@pytest.mark.parametrize(
    ("script", "flagged"),
    [
        ('out=$(bandit -r . -f json || true)\necho "$out"\n', True),
        ('out="$(pip-audit --format json || :)"\necho "$out"\n', True),
        ("out=`safety check || exit 0`\necho $out\n", True),
        ('out=$(bandit -r . -f json)\necho "$out"\n', False),  # bash -e: the substitution's status counts
        ("out=$(bandit -r . || exit 1)\necho $out\n", False),
        ("echo '$(bandit -r . || true)'\n", False),  # single quotes: no substitution
        ("v=$(pip install bandit || true)\n", False),  # not a scan
        ("n=$(( 1 || 0 ))\n", False),  # arithmetic
    ],
)
def test_swallow_inside_a_command_substitution_is_reported(script: str, flagged: bool) -> None:
    run = "      - run: |\n" + "".join("          " + line + "\n" for line in script.splitlines())
    result = harden(_HEAD + run, "t.yml", write=True)
    found = [f for f in result.findings if f.rule is Rule.status_discarded]
    assert not result.changed
    if not flagged:
        assert found == []
        return
    assert [(f.status, f.line, f.fixable) for f in found] == [(Status.would_fix, 7, False)]
    assert "command substitution" in found[0].message
    assert "fix by hand" in describe(found[0])
    assert len(result.findings) == 1


def _run_step(script: str) -> str:
    return _HEAD + "      - run: |\n" + "".join("          " + line + "\n" for line in script.splitlines())


@pytest.mark.parametrize(
    ("script", "fixed"),
    [
        ("! bandit -r .\n", "bandit -r .\n"),
        ("echo start\n! pip-audit --strict\necho done\n", "echo start\npip-audit --strict\necho done\n"),
        ("!  safety check; echo done\n", "safety check; echo done\n"),
    ],
)
def test_negated_scanner_on_its_own_line_loses_the_bang(script: str, fixed: str) -> None:
    """``! bandit -r .`` succeeds when bandit fails (and errexit ignores a negated command)."""
    result = harden(_run_step(script), "t.yml", write=True)
    assert [(f.rule, f.status) for f in result.findings] == [(Rule.status_discarded, Status.fixed)]
    assert "'! " in result.findings[0].message
    assert result.findings[0].proposed_fix == "remove the '!'"
    assert describe(result.findings[0]).endswith("; fix: remove the '!'")
    assert result.hardened == _run_step(fixed)
    assert harden(result.hardened, "t.yml", write=True).findings == ()


@pytest.mark.parametrize(
    ("script", "flagged"),
    [
        ("set -o pipefail\n! bandit -r . | tee out.txt\n", True),  # a negated pipeline: reported, not cut
        ("make lint && ! bandit -r .\necho done\n", True),
        ("if bandit -r .; then echo clean; fi\nmore\n", True),
        ("if make && bandit -r .; then echo clean; fi\n", True),
        ("if bandit -r . && true; then echo ok; fi\nmore\n", True),
        ('bandit -r . && echo ok || echo "bandit failed"\n', True),
        ("pip-audit && echo ok || echo failed\nmore\n", True),
        ("while ! bandit -r .; do sleep 1; done\n", False),  # a retry loop: it ends only on success
        ("if ! command -v bandit; then pip install bandit; fi\nbandit -r .\n", False),
        ("if ! command -v bandit >/dev/null; then exit 1; fi\n", False),
        ('if ! bandit -r .; then echo "found issues"; exit 1; fi\n', False),
        ("if bandit -r .; then echo ok; else\n  echo failed\n  exit 1\nfi\n", False),
        ("if [ -f setup.py ]; then\n  bandit -r .\nfi\n", False),  # the body: errexit applies
        ("bandit -r . && echo ok || exit 1\n", False),
        ("! pip install bandit\n", False),
        ("bandit --version && echo ok || echo missing\n", False),
    ],
)
def test_conditions_negations_and_or_lists_that_discard_the_status(script: str, flagged: bool) -> None:
    result = harden(_run_step(script), "t.yml", write=True)
    found = [f for f in result.findings if f.rule is Rule.status_discarded]
    assert bool(found) is flagged, [f.message for f in result.findings]
    assert not result.changed
    for f in found:
        assert (f.status, f.fixable) == (Status.would_fix, False)
        assert "fix by hand" in describe(f)


def test_many_nested_scanner_conditions_do_not_hang(tmp_path: Path) -> None:
    """20k nested ``if bandit; then`` (valid shell): finding each construct's end and failing branch
    per scanner was quadratic (minutes). The timeout is a hang guard."""
    count = 20_000
    body = "".join(f"          if bandit -r s{n}; then\n" for n in range(count)) + "          fi\n" * count
    text = _HEAD + "      - run: |\n" + body
    make_repo(tmp_path, {".github/workflows/big.yml": text})
    proc = subprocess.run(
        [sys.executable, "-m", "cdbctl", "ci-harden", "--repo", str(tmp_path), "--check", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    rules = [f["rule"] for f in json.loads(proc.stdout)["findings"]]
    assert rules == ["scanner-status-discarded"] * count


def test_deeply_nested_substitutions_neither_recurse_away_nor_crawl() -> None:
    """3000 nested ``$(`` used to hit Python's recursion limit (an internal error)."""
    from cdbctl.ciharden.shell import scan_script

    deep = "x=" + "$(" * 3000 + "bandit -r . || true" + ")" * 3000 + "\n"
    assert scan_script(deep).issues == ()
    shallow = "x=$(echo $(bandit -r . || true))\n"
    issues = scan_script(shallow).issues
    assert [(i.kind, i.edit) for i in issues] == [("discard", None)]
    assert issues[0].message.count("command substitution") == 1
    negated = scan_script("x=$(! bandit -r .)\n").issues
    assert [(i.kind, i.edit) for i in negated] == [("discard", None)]
    assert "removing" not in negated[0].message


def test_a_long_and_or_list_of_scanners_does_not_hang(tmp_path: Path) -> None:
    """``bandit s0 && bandit s1 && ... || echo x``: walking the rest of the list once per scanner was
    quadratic. The timeout is a hang guard."""
    count = 30_000
    run = "'" + " && ".join(f"bandit s{n}" for n in range(count)) + " || echo x'\n"
    make_repo(tmp_path, {".github/workflows/big.yml": _HEAD + "      - run: " + run})
    proc = subprocess.run(
        [sys.executable, "-m", "cdbctl", "ci-harden", "--repo", str(tmp_path), "--check", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    rules = sorted(f["rule"] for f in json.loads(proc.stdout)["findings"])
    assert rules == ["scanner-failure-swallowed"] + ["scanner-status-discarded"] * (count - 1)


@pytest.mark.parametrize(
    "script",
    [
        "pip-audit && echo ok || (echo failed; exit 1)\n",
        "pip-audit && echo ok || { echo failed; exit 1; }\n",
        "bandit -r . || (echo failed; exit 1)\n",
        "bandit -r . || ( echo failed\n  exit 1 )\nmore\n",
    ],
)
def test_a_grouped_handler_that_fails_is_no_swallow(script: str) -> None:
    result = harden(_run_step(script), "t.yml", write=True)
    assert result.findings == ()
    assert not result.changed


def test_a_swallowing_subshell_handler_is_cut_whole_not_in_half() -> None:
    """Cutting only '|| (echo failed' would leave a stray ')': the whole group goes."""
    result = harden(_run_step("bandit -r . || (echo failed)\nmore\n"), "t.yml", write=True)
    assert [(f.rule, f.status, f.fixable) for f in result.findings] == [
        (Rule.failure_swallowed, Status.fixed, True)
    ]
    assert result.hardened == _run_step("bandit -r .\nmore\n")


@pytest.mark.parametrize(
    ("script", "flagged"),
    [
        ('out=$(bandit -r . -f json) || true\necho "$out"\n', True),
        ('out="$(pip-audit -f json)" || echo "audit failed"\n', True),
        ('out=$(bandit -r . -f json) || exit 1\necho "$out"\n', False),
        ("out=$(git rev-parse HEAD) || true\n", False),
    ],
)
def test_swallow_after_an_assignment_from_a_scanner(script: str, flagged: bool) -> None:
    """``x=$(scanner)`` has the scanner's status; ``|| true`` after it swallows that."""
    result = harden(_run_step(script), "t.yml", write=True)
    found = [(f.rule, f.status, f.fixable) for f in result.findings]
    assert found == ([(Rule.status_discarded, Status.would_fix, False)] if flagged else [])
    assert not result.changed


@pytest.mark.parametrize(
    "script",
    [
        'bandit -r . && echo ok || rc=$?\necho done\nexit "$rc"\n',
        'if bandit -r .; then echo ok; else rc=$?; fi\necho done\nexit "$rc"\n',
    ],
)
def test_a_handler_that_keeps_the_status_is_no_discard(script: str) -> None:
    """``|| rc=$?`` / ``else rc=$?``: the script keeps the status and decides later."""
    result = harden(_run_step(script), "t.yml", write=True)
    assert result.findings == ()
