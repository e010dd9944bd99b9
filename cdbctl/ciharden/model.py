"""Typed records shared by the ci-harden core: findings, edits and per-file results."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """What happened (or would happen) to a finding."""

    fixed = "fixed"
    would_fix = "would-fix"
    gated = "gated"
    waived = "waived"
    info = "info"


class Rule(StrEnum):
    """Rule ids; each names one way a security gate is neutered (or an informational note)."""

    step_continue_on_error = "scanner-continue-on-error"
    job_continue_on_error = "job-continue-on-error"
    failure_swallowed = "scanner-failure-swallowed"
    success_flag = "scanner-success-flag"
    success_input = "scanner-success-input"
    nonblocking_default = "scanner-nonblocking-default"
    pipe_without_pipefail = "scanner-pipe-without-pipefail"
    errexit_off = "scanner-errexit-off"
    status_discarded = "scanner-status-discarded"
    publish_if = "publish-if-not-cancelled"
    non_security_continue = "non-security-continue-on-error"
    expression_continue = "expression-continue-on-error"
    waiver_without_reason = "waiver-without-reason"
    not_analysable = "command-not-analysable"


RULE_HELP: dict[Rule, str] = {
    Rule.step_continue_on_error: "A scanner step has continue-on-error: true, so findings never fail CI.",
    Rule.job_continue_on_error: "A job that runs a security scanner has continue-on-error: true.",
    Rule.failure_swallowed: "A scanner's exit status is swallowed in run: (|| true, || exit 0, || echo ...).",
    Rule.success_flag: "A command-line flag forces the scanner to succeed (e.g. bandit --exit-zero).",
    Rule.success_input: "An action input forces the scanner to succeed (e.g. checkov soft_fail: true).",
    Rule.nonblocking_default: "The scanner does not fail by default; the blocking value is written in.",
    Rule.pipe_without_pipefail: "A scanner is piped into another command without pipefail.",
    Rule.errexit_off: "set +e (errexit off) lets the script continue past a failing scanner.",
    Rule.status_discarded: "A scanner's exit status is discarded: '! scanner', an if/while condition or "
    "'&& ... ||' list that never fails, or '|| true' inside $(...).",
    Rule.publish_if: "A later step or job publishing scan results, or a report-only scanner run writing "
    "what a later step publishes, gets if: ${{ !cancelled() }} to run on failure.",
    Rule.non_security_continue: "continue-on-error on a step or job that runs no scanner (left alone).",
    Rule.expression_continue: "continue-on-error set from an expression (left alone).",
    Rule.waiver_without_reason: "A cdbctl: allow-soft-fail waiver without a reason is ignored.",
    Rule.not_analysable: "A command that may run a scanner cannot be followed: eval, bash -c or an array "
    "run as a command, of a value only known at run time.",
}

# Rules whose fixes make a scanner blocking (they trigger the publish-step rule).
BLOCKING_RULES = frozenset(
    {
        Rule.step_continue_on_error,
        Rule.failure_swallowed,
        Rule.success_flag,
        Rule.success_input,
        Rule.nonblocking_default,
        Rule.pipe_without_pipefail,
        Rule.errexit_off,
        Rule.status_discarded,
    }
)


@dataclass(frozen=True)
class Edit:
    """Replace text[start:end] with ``new`` (character offsets into the decoded file)."""

    start: int
    end: int
    new: str


@dataclass(frozen=True)
class Mutation:
    """The data-level effect of an edit, used to verify the spliced text (path into the YAML data)."""

    path: tuple[str | int, ...]
    op: str  # "delete" | "set"
    value: Any = None


@dataclass(frozen=True)
class Fix:
    """Text edits plus the data change they must produce."""

    edits: tuple[Edit, ...]
    mutations: tuple[Mutation, ...]


@dataclass(frozen=True)
class Finding:
    """One finding: where, which rule, and what happens to it."""

    rule: Rule
    file: str
    line: int
    job: str | None
    step: str | None
    message: str
    status: Status
    tool: str | None = None
    reason: str | None = None
    fixable: bool = True
    col: int = 1
    # the fix as (start line, start column, end line, end column, new text), 1-based, end exclusive
    replacements: tuple[tuple[int, int, int, int, str], ...] = ()
    # the change that makes the scanner block, in words ("set --exit-code to 1"); kept apart from
    # ``message`` so a report shows it only where it applies (not for gated, waived or info findings)
    proposed_fix: str | None = None


@dataclass
class Candidate:
    """A finding under construction inside the analyser (status decided later)."""

    rule: Rule
    line: int
    job: str | None
    step: str | None
    message: str
    tool: str | None = None
    fix: Fix | None = None
    status: Status | None = None  # preset for gated/info
    reason: str | None = None
    step_index: int | None = None
    col: int = 1  # 1-based column of the finding on its line
    proposed_fix: str | None = None  # the change in words (see Finding.proposed_fix)


@dataclass(frozen=True)
class FileResult:
    """The outcome for one file: findings and the hardened text (equal to the input when unchanged)."""

    path: str
    findings: tuple[Finding, ...]
    original: str
    hardened: str
    edits: tuple[Edit, ...] = ()  # the edits that turn original into hardened (for the diff)

    @property
    def changed(self) -> bool:
        """True when hardening changes the file."""
        return self.original != self.hardened


@dataclass(frozen=True)
class FileProblem:
    """A file that could not be processed (invalid YAML, too large, alias bomb, unreadable)."""

    file: str
    line: int | None
    message: str
    col: int | None = None


def located(path: str, line: int | None, col: int | None) -> str:
    """``path:line:col`` (as linters print it), as far as it is known."""
    if not line:
        return path
    return f"{path}:{line}:{col}" if col else f"{path}:{line}"


# ---- the scanner registry's record types (entries live in scanners.py) ----


@dataclass(frozen=True)
class Command:
    """How a scanner is started in ``run:``: executable name and the subcommands that scan."""

    name: str
    subcommands: tuple[str, ...] | None = None  # space-separated word sequences
    bare_flags: tuple[str, ...] = ()  # without a subcommand, still a scan when one of these is given
    # a switch the scanner needs to fail on findings (semgrep scan --error, trufflehog --fail): written
    # in after the command words when absent
    blocking_switch: str | None = None
    # flags, or leading words (space-separated), that make the command something else: ``grype db
    # update``, ``npm audit fix`` (remediation, not a gate), ``checkov --list``
    non_scans: tuple[str, ...] = ()
    # a regular expression on the positional words: a build tool's goal or task that scans
    # (``mvn org.owasp:dependency-check-maven:check``, ``gradle dependencyCheckAnalyze``)
    goals: str | None = None


@dataclass(frozen=True)
class FlagRule:
    """A command-line flag that forces success: removed, or its value replaced by ``good``."""

    names: tuple[str, ...]
    bad_values: tuple[str, ...] = ()  # empty: the flag itself is the problem (a switch)
    good: str = ""


@dataclass(frozen=True)
class InputRule:
    """An action input that forces success when its value is in ``bad`` (or a huge number)."""

    names: tuple[str, ...]
    bad: str  # "true" | "false" | "zero" | "huge" | "nonempty"
    good: str


@dataclass(frozen=True)
class Tool:
    """One security scanner."""

    id: str
    actions: tuple[str, ...] = ()  # fnmatch patterns on lower-case owner/repo[/path], no @ref
    commands: tuple[Command, ...] = ()
    flags: tuple[FlagRule, ...] = ()
    default_flag: str | None = None  # inserted after the subcommand when no flag rule name is present
    default_aliases: tuple[str, ...] = ()  # other spellings of default_flag's name (grype -f)
    # flags one of which the tool needs to fail at all (dependency-check --failOnCVSS): reported
    # (not written in: the threshold is the user's choice) when none is given
    threshold_flags: tuple[str, ...] = ()
    inputs: tuple[InputRule, ...] = ()
    default_input: tuple[str, str] | None = None  # (name, value) written in when the input is missing
    args_inputs: tuple[str, ...] = ()  # action inputs holding CLI arguments checked with ``flags``
    report_flags: tuple[str, ...] = ()  # the tool's own flags naming a report file (zap -J r.json)
    # report files the action writes when no output input names one (checkov-action: results.sarif),
    # so a later step that reads them is seen as a gate
    action_reports: tuple[str, ...] = ()
    # (input, values) that make the action write an SBOM instead of scanning (trivy format: spdx)
    sbom_inputs: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class ShellIssue:
    """One soft-fail in a script; ``edit`` is (start, end, new) in script offsets, None = no safe fix;
    ``proposed_fix`` says in words what makes the scanner block (also when there is no safe edit)."""

    kind: str  # "swallow" | "flag" | "default" | "pipe" | "errexit"
    tool: str
    offset: int
    message: str
    edit: tuple[int, int, str] | None
    proposed_fix: str | None = None
