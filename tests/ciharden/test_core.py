"""Core pieces, table-driven: locator and edit builders, registry, harden rules, reports, file I/O."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from yaml.nodes import MappingNode, ScalarNode

from cdbctl.ciharden.composer import MAX_EXPANDED_NODES, WorkflowError, compose
from cdbctl.ciharden.harden import Options, harden
from cdbctl.ciharden.locate import Text, content_map, mget, mval
from cdbctl.ciharden.model import Edit, FileProblem, Fix, Mutation, Rule, Status
from cdbctl.ciharden.node_edits import delete_pair_lines, insert_pair
from cdbctl.ciharden.registry import all_keywords_present, is_publisher, tool_for_action
from cdbctl.ciharden.repo import Source, discover, read_source, write_atomic
from cdbctl.ciharden.report import Report, to_json, to_sarif
from cdbctl.ciharden.scanners import TOOLS
from cdbctl.ciharden.splice import apply_edits, choose, unified_diff
from cdbctl.errors import EnvironmentProblem, InputError

pytestmark = pytest.mark.unit


def _step(text: str, job: str = "j", index: int = 0) -> tuple[Text, MappingNode]:
    root = compose(text, "x.yml")
    steps = mval(mval(mval(root, "jobs"), job), "steps")
    assert steps is not None
    step = steps.value[index]
    assert isinstance(step, MappingNode)
    return Text(text), step


# ---- locate ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_content_map_literal_block(eol: str) -> None:
    text = f"jobs:{eol}  j:{eol}    steps:{eol}      - run: |{eol}          a || true{eol}{eol}            b{eol}"
    t, step = _step(text)
    run = mval(step, "run")
    assert isinstance(run, ScalarNode)
    cmap = content_map(t, run)
    assert cmap is not None
    value = run.value
    assert value == "a || true\n\n  b\n"
    for k, ch in enumerate(value):
        if ch != "\n":
            assert text[cmap(k)] == ch
    assert text[cmap(1) : cmap(9)] == " || true"


@pytest.mark.parametrize(
    ("scalar", "mapped"),
    [
        ("a || true", True),
        ("'a || true'", True),
        ('"a || true"', True),
        ("'it''s'", False),
        ('"a\\tb"', False),
    ],
)
def test_content_map_one_line(scalar: str, mapped: bool) -> None:
    t, step = _step(f"jobs:\n  j:\n    steps:\n      - run: {scalar}\n")
    run = mval(step, "run")
    assert isinstance(run, ScalarNode)
    assert (content_map(t, run) is not None) == mapped


@pytest.mark.parametrize(
    ("body", "mapped"),
    [
        (">\n          a\n          || true\n", True),
        (">-\n          a b\n\n          c\n", True),
        (">\n          a\n            more indented\n          b\n", False),
        (">2\n            a\n", False),
    ],
)
def test_content_map_folded(body: str, mapped: bool) -> None:
    text = f"jobs:\n  j:\n    steps:\n      - run: {body}"
    t, step = _step(text)
    run = mval(step, "run")
    assert isinstance(run, ScalarNode)
    cmap = content_map(t, run)
    assert (cmap is not None) == mapped
    if cmap is not None:
        for k, ch in enumerate(run.value.rstrip("\n")):
            if ch not in " \n":
                assert text[cmap(k)] == ch


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "jobs:\n  j:\n    steps:\n      - run: x\n        continue-on-error: true  # c\n        id: y\n",
            "jobs:\n  j:\n    steps:\n      - run: x\n        id: y\n",
        ),
        (
            "jobs:\n  j:\n    steps:\n      - run: x\n        continue-on-error: true",
            "jobs:\n  j:\n    steps:\n      - run: x",
        ),
        (
            "jobs:\n  j:\n    steps:\n      - run: x\r\n        continue-on-error:\r\n          true\r\n        id: y\r\n",
            "jobs:\n  j:\n    steps:\n      - run: x\r\n        id: y\r\n",
        ),
    ],
)
def test_delete_pair_lines(text: str, expected: str) -> None:
    t, step = _step(text)
    pair = mget(step, "continue-on-error")
    assert pair is not None
    edit = delete_pair_lines(t, *pair)
    assert edit is not None
    assert apply_edits(text, [edit]) == expected


def test_delete_pair_lines_refuses_dash_line() -> None:
    text = "jobs:\n  j:\n    steps:\n      - continue-on-error: true\n        run: x\n"
    t, step = _step(text)
    pair = mget(step, "continue-on-error")
    assert pair is not None
    assert delete_pair_lines(t, *pair) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "jobs:\n  j:\n    steps:\n      - uses: a\n        with:\n          p: 1\n      - run: b\n",
            "jobs:\n  j:\n    steps:\n      - uses: a\n        with:\n          p: 1\n        k: v\n      - run: b\n",
        ),
        (
            "jobs:\n  j:\n    steps:\n    - uses: a\n    # next\n\n    - run: b\n",
            "jobs:\n  j:\n    steps:\n    - uses: a\n      k: v\n    # next\n\n    - run: b\n",
        ),
        (
            "jobs:\n  j:\n    steps:\n      - {uses: a}\n",
            "jobs:\n  j:\n    steps:\n      - {uses: a, k: 'v'}\n",
        ),
        (
            "jobs:\n  j:\n    steps:\n      - uses: a",
            "jobs:\n  j:\n    steps:\n      - uses: a\n        k: v",
        ),
        (
            "jobs:\n  j:\n    steps:\n      - run: |\n          x\n\n      - run: b\n",
            "jobs:\n  j:\n    steps:\n      - run: |\n          x\n        k: v\n\n      - run: b\n",
        ),
    ],
)
def test_insert_pair(text: str, expected: str) -> None:
    t, step = _step(text)
    edit = insert_pair(t, step, "k", "v", "'v'")
    assert edit is not None
    assert apply_edits(text, [edit]) == expected


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("on: push\njobs:\n  a: [\n", 4, "invalid YAML"),
        ("a: 1\n b: 2\n", 2, "invalid YAML"),
        ("a: *nope\n", 1, "invalid YAML"),
        ("a: &x [*x]\n", None, ""),
    ],
)
def test_compose_errors_carry_line(text: str, line: int | None, words: str) -> None:
    with pytest.raises(WorkflowError) as info:
        compose(text, "w.yml")
    if line is not None:
        assert info.value.line == line
    assert words in info.value.message
    assert isinstance(info.value, InputError)


def test_alias_bomb_refused_fast() -> None:
    lines = ["a0: &a0 [x, y, z, w, v, u, t, s, r, q]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(WorkflowError, match=str(MAX_EXPANDED_NODES)):
        compose("\n".join(lines), "bomb.yml")
    compose("a: &x [1, 2]\nb: *x\nc: *x\n", "fine.yml")


@pytest.mark.parametrize(
    "text",
    [
        "jobs: " + "[" * 300_000 + "]" * 300_000,
        "jobs:\n  " + "- " * 300_000 + "x\n",
        "jobs:\n  " + "? " * 300_000 + "x\n",
        "a: " + "{a: " * 5_000 + "1" + "}" * 5_000,
    ],
)
def test_deep_nesting_is_an_input_error_not_a_crash(text: str) -> None:
    # without the depth guard PyYAML's C composer overflows the C stack (a segfault) on these
    with pytest.raises(WorkflowError, match="nested more than"):
        compose(text, "deep.yml")


def test_moderate_nesting_is_fine() -> None:
    compose("a: " + "[" * 900 + "]" * 900, "ok.yml")


# ---- registry -------------------------------------------------------------------------------------


def test_registry_ids_unique_and_each_tool_recognisable() -> None:
    ids = [t.id for t in TOOLS]
    assert len(ids) == len(set(ids))
    assert all(t.actions or t.commands for t in TOOLS)


@pytest.mark.parametrize(
    ("uses", "tool"),
    [
        ("github/codeql-action/analyze@v3", "codeql"),
        ("github/codeql-action/init@v3", None),
        ("github/codeql-action/upload-sarif@v3", None),
        ("aquasecurity/trivy-action@0.28.0", "trivy"),
        ("Aquasecurity/Trivy-Action@master", "trivy"),
        ("snyk/actions/node@master", "snyk"),
        ("zaproxy/action-full-scan@v0.10.0", "zap"),
        ("securego/gosec@master", "gosec"),
        ("actions/dependency-review-action@v4", "dependency-review"),
        ("actions/checkout@v4", None),
        ("./.github/actions/scan", None),
        ("docker://alpine:3", None),
    ],
)
def test_tool_for_action(uses: str, tool: str | None) -> None:
    found = tool_for_action(uses)
    assert (found.id if found else None) == tool


def test_publishers_and_prefilter() -> None:
    assert is_publisher("github/codeql-action/upload-sarif@v3")
    assert is_publisher("actions/upload-artifact@v4")
    assert not is_publisher("actions/upload-artifactory@v1")
    assert all_keywords_present("steps:\n  - uses: Gitleaks/gitleaks-action@v2\n")
    assert not all_keywords_present("steps:\n  - run: make test\n")


# ---- harden rules not covered by the corpus -------------------------------------------------------


def _one(text: str, **kwargs: object) -> list[tuple[Rule, Status]]:
    return [(f.rule, f.status) for f in harden(text, "t.yml", write=True, **kwargs).findings]  # type: ignore[arg-type]


def test_include_exclude_options() -> None:
    text = "on: push\njobs:\n  sec:\n    runs-on: x\n    steps:\n      - run: bandit . || true\n"
    assert _one(text) == [(Rule.failure_swallowed, Status.fixed)]
    assert _one(text, options=Options(include_jobs=("s*",))) == [(Rule.failure_swallowed, Status.fixed)]
    assert _one(text, options=Options(include_jobs=("x*",))) == []
    assert _one(text, options=Options(exclude_jobs=("sec",))) == []


def test_job_defaults_shell_and_windows() -> None:
    pipe = "      - run: bandit . | tee o\n"
    base = "on: push\njobs:\n  a:\n    runs-on: {ro}\n{defaults}    steps:\n" + pipe
    plain = base.format(ro="ubuntu-latest", defaults="")
    assert _one(plain) == [(Rule.pipe_without_pipefail, Status.fixed)]
    assert "shell: bash" in harden(plain, "t.yml", write=True).hardened
    bash_default = base.format(
        ro="ubuntu-latest", defaults="    defaults:\n      run:\n        shell: bash\n"
    )
    assert _one(bash_default) == []
    sh_default = base.format(ro="ubuntu-latest", defaults="    defaults:\n      run:\n        shell: sh\n")
    assert _one(sh_default) == [(Rule.pipe_without_pipefail, Status.would_fix)]
    windows = base.format(ro="windows-2022", defaults="")
    assert _one(windows) == []
    matrix = base.format(
        ro="${{ matrix.os }}",
        defaults="    strategy:\n      matrix:\n        os: [ubuntu-latest, windows-latest]\n",
    )
    assert _one(matrix) == []
    container = base.format(ro="ubuntu-latest", defaults="    container: alpine:3.20\n")
    assert _one(container) == [(Rule.pipe_without_pipefail, Status.would_fix)]  # alpine has no bash


def test_gate_by_outcome_and_github_script_setfailed_but_not_by_conclusion() -> None:
    text = """on: push
jobs:
  a:
    runs-on: x
    steps:
      - id: scan
        uses: aquasecurity/trivy-action@v1
        with: {exit-code: '1'}
        continue-on-error: true
      - uses: actions/github-script@v7
        if: steps['scan'].outcome != 'success'
        with:
          script: core.setFailed('trivy found vulnerabilities')
"""
    assert _one(text) == [(Rule.step_continue_on_error, Status.gated)]
    # With continue-on-error the step's conclusion is always 'success' (GitHub docs, steps context):
    # a step that checks the conclusion never runs its exit, so it is no gate.
    by_conclusion = text.replace(".outcome != ", ".conclusion != ")
    assert _one(by_conclusion) == [(Rule.step_continue_on_error, Status.fixed)]
    (finding,) = harden(by_conclusion, "t.yml", write=True).findings
    assert "no gate" in finding.message


def test_waiver_on_comment_line_above_and_reasonless() -> None:
    text = """on: push
jobs:
  a:
    runs-on: x
    # cdbctl: allow-soft-fail nightly only, tracked in SEC-9
    continue-on-error: true
    steps:
      - run: bandit .
"""
    result = harden(text, "t.yml", write=True)
    (finding,) = result.findings
    assert (finding.rule, finding.status, finding.reason) == (
        Rule.job_continue_on_error,
        Status.waived,
        "nightly only, tracked in SEC-9",
    )
    assert not result.changed


def test_non_workflow_yaml_is_ignored() -> None:
    assert _one("- continue-on-error: true\n- bandit\n") == []
    assert _one("jobs: [bandit]\n") == []
    assert _one("") == []


# ---- splice ---------------------------------------------------------------------------------------


def test_choose_drops_fix_that_does_not_verify() -> None:
    text = "a: 1\nb: 2\n"
    good = Fix((Edit(3, 4, "3"),), (Mutation(("a",), "set", 3),))
    lying = Fix((Edit(8, 9, "5"),), (Mutation(("b",), "set", 4),))
    new, kept = choose(text, [good, lying])
    assert (new, kept) == ("a: 3\nb: 2\n", [True, False])
    corrupting = Fix((Edit(0, 0, "- "),), (Mutation(("a",), "set", 1),))
    assert choose(text, [corrupting]) == (text, [False])


def test_unified_diff_marks_missing_final_newline() -> None:
    diff = unified_diff("w.yml", "a: 1\nb: 2", "a: 1\nb: 3")
    assert diff.endswith("+b: 3\n\\ No newline at end of file\n")


# ---- reports --------------------------------------------------------------------------------------


def test_json_and_sarif_shapes() -> None:
    result = harden(
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: bandit . || true\n",
        "w.yml",
        write=False,
    )
    report = Report(
        "check",
        ("w.yml",),
        ("w.yml",),
        result.findings,
        (FileProblem("bad.yml", 3, "invalid YAML: x", 5),),
        (),
    )
    data = json.loads(json.dumps(to_json(report)))
    assert data["summary"] == {"fixed": 0, "would-fix": 1, "gated": 0, "waived": 0, "info": 0}
    assert data["findings"][0]["status"] == "would-fix"
    assert data["errors"] == [{"file": "bad.yml", "line": 3, "col": 5, "message": "invalid YAML: x"}]
    sarif = to_sarif(report)
    assert sarif["runs"][0]["invocations"][0]["executionSuccessful"] is False
    note = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]
    assert note["locations"][0]["physicalLocation"]["region"] == {"startLine": 3, "startColumn": 5}
    assert {r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]} == {r.value for r in Rule}


# ---- repo (file system edge) ----------------------------------------------------------------------


def test_write_atomic_refuses_file_changed_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "w.yml"
    path.write_text("a: 1\n")
    source = read_source("w.yml", path)
    assert isinstance(source, Source)
    path.write_text("a: 2\n")  # the user edited it after we read it
    with pytest.raises(EnvironmentProblem, match="changed while"):
        write_atomic(source, "a: 3\n")
    assert path.read_text() == "a: 2\n"


def test_read_source_rejects_undecodable(tmp_path: Path) -> None:
    path = tmp_path / "w.yml"
    path.write_bytes(b"a: \xff\xfe\xfd\n")
    skipped = read_source("w.yml", path)
    assert not isinstance(skipped, Source)
    assert "utf-8" in skipped.message


def test_discover_finds_workflows_and_actions_only(tmp_path: Path) -> None:
    for name in (
        ".github/workflows/a.yml",
        ".github/workflows/b.yaml",
        ".github/workflows/notes.md",
        ".github/workflows/sub/c.yml",
        ".github/actions/x/action.yml",
        ".github/actions/y/z/action.yaml",
        ".github/actions/x/other.yml",
        ".github/dependabot.yml",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("a: 1\n")
    found, skipped = discover(tmp_path)
    assert [n for n, _ in found] == [
        ".github/actions/x/action.yml",
        ".github/actions/y/z/action.yaml",
        ".github/workflows/a.yml",
        ".github/workflows/b.yaml",
    ]
    assert skipped == []
