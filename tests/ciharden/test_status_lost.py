"""Second review round: constructs that lose a scanner's exit status, and gates that cannot fail."""

from __future__ import annotations

import pytest

from cdbctl.ciharden.harden import harden
from cdbctl.ciharden.model import Rule, Status

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
    assert "fix by hand" in found[0].message
    assert len(result.findings) == 1
