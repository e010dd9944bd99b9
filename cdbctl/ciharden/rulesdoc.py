"""The rule reference of docs/ci-harden.md, generated from the rule registry (``RULE_HELP``) and one
example per rule; ``python -m cdbctl.reference`` rewrites it and a test fails when it is stale. Each
example is a job's steps that, hardened, produces its rule (tests run them)."""

from __future__ import annotations

from dataclasses import dataclass

from cdbctl.ciharden.model import RULE_HELP, Rule


@dataclass(frozen=True)
class Example:
    """Steps of a job that trigger the rule, and what ci-harden does about it."""

    steps: str
    action: str
    job: str = ""  # job-level keys (indented like ``runs-on``)


EXAMPLES: dict[Rule, Example] = {
    Rule.step_continue_on_error: Example(
        "- run: bandit -r src\n  continue-on-error: true\n",
        "The `continue-on-error` line is removed (set to `false` where the line holds more).",
    ),
    Rule.job_continue_on_error: Example(
        "- run: pip-audit\n",
        "The job's `continue-on-error` line is removed.",
        job="continue-on-error: true\n",
    ),
    Rule.failure_swallowed: Example(
        "- run: pip-audit --strict || true\n",
        "Only the handler is cut (`pip-audit --strict`); a cut that would leave a script that does not "
        "parse is reported instead.",
    ),
    Rule.success_flag: Example(
        "- run: bandit -r src --exit-zero\n",
        "The flag is removed, or its value set to the blocking one (`--exit-code 0` -> `1`).",
    ),
    Rule.success_input: Example(
        "- uses: bridgecrewio/checkov-action@v12\n  with:\n    soft_fail: true\n",
        "The input is set to its blocking value (`soft_fail: false`).",
    ),
    Rule.nonblocking_default: Example(
        "- run: trivy fs .\n",
        "The blocking value is written in (`trivy fs --exit-code 1 .`); a threshold that is the "
        "user's choice (dependency-check `--failOnCVSS`) is reported.",
    ),
    Rule.pipe_without_pipefail: Example(
        "- run: semgrep ci | tee semgrep.txt\n",
        "`shell: bash` is added (GitHub runs it with `-o pipefail`) where that is safe, else reported.",
    ),
    Rule.errexit_off: Example(
        "- run: |\n    set +e\n    bandit -r src\n    echo done\n",
        "A lone `set +e` before scanners only is removed; otherwise reported.",
    ),
    Rule.status_discarded: Example(
        "- run: echo $(bandit -r src)\n",
        "Reported (fix by hand or waive): `! scanner`, an `if` that never fails, `&& ... ||`, "
        "`|| true` inside `$(...)`, a background `&` nobody waits for, `bash -c` pipes. A lone "
        "`! scanner` line loses its `!`.",
    ),
    Rule.publish_if: Example(
        "- run: bandit -r src -f sarif -o bandit.sarif || true\n"
        "- uses: github/codeql-action/upload-sarif@v3\n  with:\n    sarif_file: bandit.sarif\n",
        "`if: ${{ !cancelled() }}` is added, so the results are still uploaded when the scan fails; a job "
        "that `needs:` the scan job and downloads its artifacts gets it too, and so does a report-only "
        "second run of a scanner (trivy `exit-code: 0` writing the SARIF) whose report a later step "
        "uploads.",
    ),
    Rule.non_security_continue: Example(
        "- run: mypy src\n  continue-on-error: true\n",
        "Left alone (info).",
    ),
    Rule.expression_continue: Example(
        "- run: bandit -r src\n  continue-on-error: ${{ matrix.experimental }}\n",
        "Left alone (info): the value is only known at run time.",
    ),
    Rule.waiver_without_reason: Example(
        "- run: pip-audit || true  # cdbctl: allow-soft-fail\n",
        "The waiver is ignored (info) and the soft-fail is fixed; give a reason after the marker.",
    ),
    Rule.not_analysable: Example(
        "- name: Security scan\n"
        '  run: eval "$SCAN_CMD" || true\n'
        "  env:\n    SCAN_CMD: ${{ vars.SCAN_CMD }}\n",
        'Reported (info), nothing edited. `eval` (likewise `bash -c "$CMD"` and an array run as '
        '`"${CMD[@]}"`) is followed when every value it may run is known: set '
        "earlier in the script (also built up with `+=`, or a `for` list), or a literal `env:` value. A "
        "value from an expression, `$(...)`, `read`, a subshell or only a branch is not guessed; such an "
        "eval is reported when a value it may have names a scanner or the step is named like a scan.",
    ),
}


def workflow(example: Example) -> str:
    """The example as a complete workflow."""
    steps = "".join(f"      {line}\n" for line in example.steps.splitlines())
    job = "".join(f"    {line}\n" for line in example.job.splitlines())
    return f"on: push\njobs:\n  scan:\n    runs-on: ubuntu-latest\n{job}    steps:\n{steps}"


def rules_section() -> str:
    """Markdown: one section per rule id (the anchor SARIF's helpUri points to) with an example."""
    parts: list[str] = []
    for rule in Rule:
        example = EXAMPLES[rule]
        snippet = (example.job + "steps:\n" if example.job else "") + example.steps
        parts.append(
            f"### `{rule.value}`\n\n{RULE_HELP[rule]}\n\n```yaml\n{snippet}```\n\n{example.action}\n"
        )
    return "\n".join(parts).rstrip("\n")
