"""The manual's examples are true: every documented command line parses, and the output samples
that can be reproduced cheaply are reproduced byte for byte (or key for key where timings vary)."""

from __future__ import annotations

import json
import re
import shlex
import socket
from pathlib import Path

import pytest

from cdbctl.cli import main

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
SHELL_BLOCKS = {"bash", "console", "sh", "shell"}
# where a shell line stops being cdbctl's argv
ENDS = {"|", "||", "&&", ";", "&"}


def _blocks(text: str, langs: set[str]) -> list[str]:
    return [m.group(2) for m in FENCE.finditer(text) if m.group(1) in langs]


def _cdbctl_argvs(block: str) -> list[list[str]]:
    """The argv of every `cdbctl ...` command in a shell block (prompts, env prefixes, pipes dropped)."""
    argvs = []
    for line in block.replace("\\\n", " ").splitlines():
        line = line.removeprefix("$ ")
        if "cdbctl " not in line or line.startswith("cdbctl:"):
            continue  # output lines of a console block
        words = shlex.split(line, comments=True)
        for start in [i for i, w in enumerate(words) if w == "cdbctl"]:
            argv = []
            for word in words[start + 1 :]:
                if word in ENDS or word.startswith((">", "<", "2>")):
                    break
                argv.append(word)
            argvs.append(argv)
    return argvs


def _documented_commands() -> list[tuple[str, list[str]]]:
    found = []
    for page in PAGES:
        for block in _blocks(page.read_text(encoding="utf-8"), SHELL_BLOCKS):
            found += [(page.name, argv) for argv in _cdbctl_argvs(block)]
    return found


COMMANDS = _documented_commands()


@pytest.mark.unit
def test_the_manual_shows_commands_of_every_subcommand() -> None:
    shown = {tuple(argv[:2]) if argv[0] == "risk" else argv[0] for _, argv in COMMANDS}
    assert {
        ("risk", "evaluate"),
        ("risk", "explain"),
        ("risk", "config"),
        "scaffold",
        "ci-harden",
        "verify",
    } <= shown


@pytest.mark.unit
@pytest.mark.parametrize(("page", "argv"), COMMANDS, ids=[f"{p}: {' '.join(a)}" for p, a in COMMANDS])
def test_documented_command_line_parses(
    page: str, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # --help is eager, but an option the command does not have fails while parsing, before it: exit 2
    assert main([*argv, "--help"]) == 0, capsys.readouterr().err


@pytest.mark.unit
def test_readme_first_command_prints_five_decisions_three_rejected(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    argv = next(a for p, a in COMMANDS if p == "README.md" and a[:2] == ["risk", "evaluate"])
    assert "five decisions" in readme and "exits 1: three of the example" in readme
    monkeypatch.chdir(ROOT)
    assert main(argv) == 1
    decisions = json.loads(capsys.readouterr().out)
    assert len(decisions) == 5
    reasons = [d["reason"] for d in decisions if not d["approved"]]
    # "liquidation too close, stale data, panic regime"
    assert reasons == ["liquidation_risk_too_high", "stale_data", "market_regime_panic"]


def _section(page: str, after: str) -> str:
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    return text[text.index(after) :]


@pytest.mark.unit
def test_ci_harden_text_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    section = _section("ci-harden.md", "For this workflow")
    workflow, expected = _blocks(section, {"yaml"})[0], _blocks(section, {"text"})[0]
    target = tmp_path / ".github" / "workflows" / "ci.yml"
    target.parent.mkdir(parents=True)
    target.write_text(workflow, encoding="utf-8")
    assert main(["ci-harden", "--repo", str(tmp_path), "--check", "--format", "text"]) == 1
    assert capsys.readouterr().out == expected


@pytest.mark.unit
def test_ci_harden_json_finding_keys_are_the_documented_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    section = _section("ci-harden.md", "For this workflow")
    target = tmp_path / ".github" / "workflows" / "ci.yml"
    target.parent.mkdir(parents=True)
    target.write_text(_blocks(section, {"yaml"})[0], encoding="utf-8")
    assert main(["ci-harden", "--repo", str(tmp_path), "--check", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    table = _section("ci-harden.md", "Each finding:").split("\n\n")[1]
    documented = {key for row in table.splitlines()[2:] for key in re.findall(r"`(\w+)`", row.split("|")[1])}
    assert {key for finding in report["findings"] for key in finding} == documented
    head = _section("ci-harden.md", "`--format json` is one object:").split("Each finding:")[0]
    for key in report:
        assert f"`{key}`" in head


@pytest.mark.unit
def test_ci_harden_merge_conflict_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    section = _section("ci-harden.md", "## Files that cannot be checked")
    workflow, expected = _blocks(section, {"yaml"})[0], _blocks(section, {"text"})[0]
    target = tmp_path / ".github" / "workflows" / "scan.yml"
    target.parent.mkdir(parents=True)
    target.write_text(workflow, encoding="utf-8")
    assert main(["ci-harden", "--repo", str(tmp_path), "--check", "--format", "text"]) == 1
    assert capsys.readouterr().err == expected
    assert target.read_text(encoding="utf-8") == workflow


@pytest.mark.unit
def test_scaffold_verbose_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "services" / "risk").mkdir(parents=True)
    (tmp_path / "services" / "risk" / "Dockerfile").write_text("FROM scratch\n")
    compose = tmp_path / "infrastructure" / "compose" / "dev.yml"
    compose.parent.mkdir(parents=True)
    compose.write_text(
        "services:\n  cdb_risk:\n    build:\n      context: ../..\n      dockerfile: services/risk/Dockerfile\n"
    )
    sample = next(b for b in _blocks(_section("scaffold.md", "An `ok` row"), {"console"}))
    command, expected = sample.split("\n", 1)
    monkeypatch.chdir(tmp_path)
    assert main([*shlex.split(command.removeprefix("$ cdbctl ")), "--format", "table"]) == 0
    assert capsys.readouterr().out == expected


@pytest.mark.integration
def test_verify_json_sample_has_the_real_keys(capsys: pytest.CaptureFixture[str]) -> None:
    sample = json.loads(_blocks(_section("verify.md", "**Output.**"), {"json"})[0])
    with socket.socket() as sock:  # a port nobody listens on: connection refused, no wait
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/health"
    assert main(["verify", "--no-docker", "--endpoint", f"cdb_core={url}", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert list(report) == list(sample)
    assert list(report["checks"][0]) == list(sample["checks"][0])
    assert report["checks"][0]["kind"] == sample["checks"][0]["kind"] == "http"


@pytest.mark.unit
def test_every_decision_field_is_documented(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    paragraph = _section("risk.md", "**Decision**").split("\n\n")[0]
    monkeypatch.chdir(ROOT)
    assert (
        main(
            ["risk", "evaluate", "examples/signal.json", "--now", "2026-01-01T12:00:05Z", "--format", "json"]
        )
        == 0
    )
    decision = json.loads(capsys.readouterr().out)
    failed = {"name": "x", "passed": False, "value": 1, "limit": 0, "detail": "", "reason": "x"}
    for key in [*decision, *decision["checks"][0], *failed]:
        assert f"`{key}`" in paragraph, key


@pytest.mark.unit
def test_every_scaffold_json_key_is_documented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    paragraph = _section("scaffold.md", "`--format json` carries").split("\n\n")[0]
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["scaffold", "--dry-run", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in [*report, *report["files"][0], *report["services"][0]]:
        assert f"`{key}`" in paragraph, key
    assert f"`{report['mode']}`" in paragraph


@pytest.mark.unit
def test_every_explain_field_is_documented(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    paragraph = _section("risk.md", "In JSON each explanation has").split("\n\n")[0]
    monkeypatch.chdir(ROOT)
    assert (
        main(["risk", "explain", "examples/signals.jsonl", "--now", "2026-01-01T12:00:05Z", "-f", "json"])
        == 1
    )
    explanations = json.loads(capsys.readouterr().out)
    for key in {k for x in explanations for k in [*x, *x["checks"][0]]}:
        assert f"`{key}`" in paragraph, key
    assert any(f"`{s}`" in paragraph for x in explanations for s in x["suggestions"])


# paths the manual names that are not in this repository on purpose: CDB's own, and a design on paper
ELSEWHERE = {
    "tests/test_risk_engine_",
    "tests/unit/verlosung",
    "tests/integration/verlosung",
    "cdbctl/verify/kubernetes.py",
}
REPO_PATH = re.compile(
    r"(?<![\w/.-])((?:cdbctl|tests|bench|templates|compose|examples|\.ci|docs)/[\w./-]*\w)"
)


@pytest.mark.unit
def test_every_repository_path_the_manual_names_exists() -> None:
    missing = [
        f"{page.name}: {path}"
        for page in PAGES
        for path in REPO_PATH.findall(page.read_text(encoding="utf-8"))
        # a prefix counts too: `compose/history/service-<version>.yaml.j2`
        if path not in ELSEWHERE and not any((ROOT / path).parent.glob((ROOT / path).name + "*"))
    ]
    assert missing == []


def _imports(block: str) -> list[str]:
    """The import statements of a python block (the rest may be signatures, not code)."""
    found, lines = [], iter(block.splitlines())
    for line in lines:
        if line.startswith(("from ", "import ")):
            statement = line
            while statement.count("(") > statement.count(")"):
                statement += "\n" + next(lines)
            found.append(statement)
    return found


@pytest.mark.unit
def test_python_examples_import_what_they_name() -> None:
    statements = [
        s
        for page in PAGES
        for b in _blocks(page.read_text(encoding="utf-8"), {"python"})
        for s in _imports(b)
    ]
    assert len(statements) >= 3
    for statement in statements:
        exec(compile(statement, "<docs>", "exec"), {})  # an ImportError names what the manual promises


@pytest.mark.unit
def test_library_api_names_exist() -> None:
    import cdbctl.risk

    block = _blocks(_section("risk.md", "### Library API"), {"python"})[0]
    names = re.findall(r"^(\w+)\(", block, re.M)
    assert "validate_liquidation_safety" in names
    assert [n for n in names if not callable(getattr(cdbctl.risk, n, None))] == []


@pytest.mark.unit
def test_swarm_json_sample_has_the_real_keys() -> None:
    from cdbctl.verify.swarm import read_service

    sample = json.loads(_blocks(_section("scale.md", "a `swarm` object on each service check"), {"json"})[0])
    recorded = json.loads((ROOT / "tests/data/verify/swarm/crash_looping.json").read_text(encoding="utf-8"))
    payload = next(s for s in recorded["services"] if s["Spec"]["Name"] == "swx_crash")
    swarm = read_service(payload, recorded["tasks"], "swx").to_json()
    assert list(swarm) == list(sample["swarm"])
    assert list(swarm["last_failure"]) == list(sample["swarm"]["last_failure"])
    assert (
        swarm["last_failure"]["error"]
        == sample["swarm"]["last_failure"]["error"]
        == "task: non-zero exit (3)"
    )
    assert swarm["restarts"] == sample["swarm"]["restarts"] == 5


@pytest.mark.unit
def test_pre_commit_table_shows_what_each_hook_runs() -> None:
    import yaml

    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    page = (ROOT / "docs" / "pre-commit.md").read_text(encoding="utf-8")
    for hook in hooks:
        assert f"| `{hook['id']}` | `{hook['entry']}` |" in page
