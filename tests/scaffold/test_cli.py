"""`cdbctl scaffold` end to end through the CLI: every option and exit code, stdout vs stderr."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cdbctl import __version__
from cdbctl.cli import main
from tests.scaffold.conftest import tree

pytestmark = pytest.mark.unit

Cap = pytest.CaptureFixture[str]


def table(out: str) -> dict[str, str]:
    """The status table on stdout as {path: status} (columns are two or more spaces apart)."""
    lines = out.splitlines()
    if not lines:
        return {}
    assert lines[0].split() == ["STATUS", "FILE", "DETAIL"]
    rows = [re.split(r"\s{2,}", line) for line in lines[1:]]
    return {row[1]: row[0] for row in rows}


def run(capsys: Cap, *args: str) -> tuple[int, str, str]:
    # The table is what these tests read; piped stdout would default to JSON.
    fmt = [] if {"--format", "-f"} & set(args) else ["--format", "table"]
    code = main(["scaffold", *args, *fmt])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_by_default_when_stdout_is_not_a_terminal(repo: Path, capsys: Cap) -> None:
    code = main(["scaffold", "--repo", str(repo), "--check"])
    out = capsys.readouterr().out
    assert code == 1 and json.loads(out)["mode"] == "check"
    code = main(["scaffold", "--repo", str(repo), "--dry-run"])
    assert code == 0 and capsys.readouterr().out.startswith("--- ")  # the diff is the data: patch reads it


def test_default_run_then_idempotent(repo: Path, capsys: Cap) -> None:
    code, out, err = run(capsys, "--repo", str(repo))
    assert code == 0, err
    assert table(out)["backoffice/services/cdb_risk/app/main.py"] == "created"
    assert table(out)["docker-compose.yml"] == "updated"
    assert err.strip().startswith("scaffold:")
    code, out, err = run(capsys, "--repo", str(repo), "--check")
    assert code == 0
    assert "would change" not in err and "up to date" in err
    before = tree(repo)
    assert run(capsys, "--repo", str(repo))[0] == 0
    assert tree(repo) == before


def test_repo_defaults_to_cwd(repo: Path, capsys: Cap, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    assert run(capsys, "--service", "cdb_risk")[0] == 0
    assert (repo / "backoffice/services/cdb_risk/Dockerfile").is_file()
    assert not (repo / "backoffice/services/cdb_core").exists()


def test_json_format(repo: Path, capsys: Cap) -> None:
    code, out, _ = run(capsys, "--repo", str(repo), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["schema_version"] == 1
    assert data["mode"] == "apply" and data["written"] is True
    statuses = {f["path"]: f["status"] for f in data["files"]}
    assert statuses["docker-compose.yml"] == "updated"
    assert statuses[f"backoffice/services/cdb_risk/cdbctl_risk-{__version__}-py3-none-any.whl"] == "created"
    assert not any("/vendor/" in path for path in statuses)
    assert data["problems"] == []


def test_json_written_is_false_on_a_run_that_writes_nothing(repo: Path, capsys: Cap) -> None:
    # A second run changes nothing: its JSON must not claim it wrote (it said "written": true).
    assert json.loads(run(capsys, "--repo", str(repo), "--format", "json")[1])["written"] is True
    before = tree(repo)
    code, out, _ = run(capsys, "--repo", str(repo), "--format", "json")
    data = json.loads(out)
    assert code == 0 and tree(repo) == before
    assert data["mode"] == "apply" and data["written"] is False and data["would_change"] is False
    # an edit the template did not change is kept: still nothing written
    health = repo / "backoffice/services/cdb_core/healthcheck.py"
    health.write_text(health.read_text() + "# ours\n")
    data = json.loads(run(capsys, "--repo", str(repo), "--format", "json")[1])
    assert data["written"] is False and health.read_text().endswith("# ours\n")


def test_dry_run_prints_a_diff_and_writes_nothing(repo: Path, capsys: Cap) -> None:
    before = tree(repo)
    code, out, err = run(capsys, "--repo", str(repo), "--dry-run")
    assert code == 0
    assert tree(repo) == before
    assert out.startswith("--- ") or out.startswith("---")
    assert "+++ b/backoffice/services/cdb_core/Dockerfile" in out
    assert "\n-      context: ./backoffice/services/signal_engine\n" in out
    assert "\n+      context: .\n" in out
    assert "STATUS" in err  # the table is a summary on stderr
    code, out, _ = run(capsys, "--repo", str(repo), "--dry-run", "--format", "json")
    assert code == 0 and "+++ b/docker-compose.yml" in json.loads(out)["diff"]


def test_check_exits_1_on_drift_and_writes_nothing(repo: Path, capsys: Cap) -> None:
    before = tree(repo)
    code, _, err = run(capsys, "--repo", str(repo), "--check")
    assert code == 1
    assert "would change" in err
    assert tree(repo) == before
    run(capsys, "--repo", str(repo))
    compose = repo / "docker-compose.yml"
    compose.write_text(compose.read_text().replace("context: .\n", "context: ./backoffice\n", 1))
    assert run(capsys, "--repo", str(repo), "--check")[0] == 1


def test_check_with_dry_run_shows_the_drift(repo: Path, capsys: Cap) -> None:
    code, out, _ = run(capsys, "--repo", str(repo), "--check", "--dry-run")
    assert code == 1 and "+++ b/docker-compose.yml" in out


def test_conflict_exits_1_and_force_overwrites(repo: Path, capsys: Cap) -> None:
    main_py = repo / "backoffice/services/cdb_core/app/main.py"
    main_py.parent.mkdir(parents=True)
    main_py.write_text("print('mine')\n")
    before = tree(repo)
    code, out, err = run(capsys, "--repo", str(repo))
    assert code == 1
    assert table(out)["backoffice/services/cdb_core/app/main.py"] == "conflict"
    assert "nothing written" in err and "--force" in err
    assert tree(repo) == before
    assert run(capsys, "--repo", str(repo), "--force")[0] == 0
    assert "create_app" in main_py.read_text()


def test_custom_services_and_ports(repo: Path, capsys: Cap) -> None:
    code, _, err = run(capsys, "--repo", str(repo), "-s", "cdb_risk:9002", "--service", "cdb_signal")
    assert code == 0, err
    assert "EXPOSE 9002" in (repo / "backoffice/services/cdb_risk/Dockerfile").read_text()
    assert "EXPOSE 8001" in (repo / "backoffice/services/cdb_signal/Dockerfile").read_text()
    assert "cdb_signal:" in (repo / "docker-compose.yml").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--service", "Bad-Name"], "invalid service name 'Bad-Name'"),
        (["--service", "1abc"], "invalid service name"),
        (["--service", "cdb_x:0"], "invalid port 0"),
        (["--service", "cdb_x:65536"], "invalid port 65536"),
        (["--service", "cdb_x:abc"], "invalid port 'abc'"),
        (["--service", "cdb_x:8001", "--service", "cdb_y:8001"], "port 8001 used by both"),
        (["--service", "cdb_x", "--service", "cdb_x"], "given twice"),
        (["--compose", "nope.yml"], "compose file does not exist, nope.yml"),
    ],
)
def test_input_errors_exit_2_and_write_nothing(
    repo: Path, capsys: Cap, args: list[str], message: str
) -> None:
    before = tree(repo)
    code, out, err = run(capsys, "--repo", str(repo), *args)
    assert code == 2
    assert out == ""
    assert message in err and err.startswith("cdbctl: error: ")
    assert "Traceback" not in err
    assert tree(repo) == before


@pytest.mark.parametrize("args", [["--no-such-flag"], ["--format", "sarif"], ["--service"]])
def test_bad_flag_exit_2(repo: Path, capsys: Cap, args: list[str]) -> None:
    before = tree(repo)
    code, out, err = run(capsys, "--repo", str(repo), *args)
    assert code == 2 and out == "" and "cdbctl: error: " in err and "Traceback" not in err
    assert tree(repo) == before


def test_missing_repo_exit_2(tmp_path: Path, capsys: Cap) -> None:
    code, _, err = run(capsys, "--repo", str(tmp_path / "nope"))
    assert code == 2 and "repository directory does not exist" in err


def test_malformed_compose_exit_2_with_location(repo: Path, capsys: Cap) -> None:
    (repo / "docker-compose.yml").write_text("services:\n  cdb_core:\n    build: [\n")
    before = tree(repo)
    code, _, err = run(capsys, "--repo", str(repo))
    assert code == 2
    assert "malformed YAML" in err and "docker-compose.yml:4:1" in err
    assert tree(repo) == before


def test_malformed_state_exit_2(repo: Path, capsys: Cap) -> None:
    (repo / ".cdbctl").mkdir()
    (repo / ".cdbctl/scaffold.json").write_text("{not json")
    code, _, err = run(capsys, "--repo", str(repo))
    assert code == 2 and ".cdbctl/scaffold.json" in err and "hint:" in err


def test_compose_in_subfolder(repo: Path, capsys: Cap, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "deploy").mkdir()
    (repo / "docker-compose.yml").rename(repo / "deploy/compose.yaml")
    monkeypatch.chdir(repo / "deploy")
    code, out, err = run(capsys, "--repo", "..", "--compose", "compose.yaml")
    assert code == 0, err
    assert table(out)["deploy/compose.yaml"] == "updated"
    text = (repo / "deploy/compose.yaml").read_text()
    assert "context: ..\n" in text and "dockerfile: backoffice/services/cdb_core/Dockerfile" in text


def test_compose_yaml_found_by_default(repo: Path, capsys: Cap) -> None:
    (repo / "docker-compose.yml").rename(repo / "compose.yaml")
    assert run(capsys, "--repo", str(repo))[0] == 0
    assert "context: .\n" in (repo / "compose.yaml").read_text()
    assert not (repo / "docker-compose.yml").exists()


def test_no_compose_file_creates_the_reference_stack(tmp_path: Path, capsys: Cap) -> None:
    code, out, _ = run(capsys, "--repo", str(tmp_path))
    assert code == 0
    assert table(out)["docker-compose.yml"] == "created"
    text = (tmp_path / "docker-compose.yml").read_text()
    assert "postgres:" in text and "redis:" in text
    # the services/ dir is absent: the Dockerfile must not copy it
    assert "COPY services/" not in (tmp_path / "backoffice/services/cdb_core/Dockerfile").read_text()


def test_other_services_with_missing_context_are_reported(repo: Path, capsys: Cap) -> None:
    compose = repo / "docker-compose.yml"
    compose.write_text(compose.read_text() + "  web:\n    build: ./web\n")
    code, _, err = run(capsys, "--repo", str(repo))
    assert code == 0
    assert "warning: service 'web': build context './web' does not exist" in err
    code, out, _ = run(capsys, "--repo", str(repo), "--format", "json")
    assert json.loads(out)["problems"] == ["service 'web': build context './web' does not exist"]


def test_symlink_out_of_the_repo_is_refused(repo: Path, tmp_path: Path, capsys: Cap) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "backoffice").symlink_to(outside)
    code, _, err = run(capsys, "--repo", str(repo))
    assert code == 3
    assert "symlink out of the repository" in err
    assert list(outside.iterdir()) == []


def test_symlinked_compose_outside_is_refused(repo: Path, tmp_path: Path, capsys: Cap) -> None:
    real = tmp_path / "elsewhere.yml"
    real.write_text((repo / "docker-compose.yml").read_text())
    (repo / "docker-compose.yml").unlink()
    (repo / "docker-compose.yml").symlink_to(real)
    before = real.read_bytes()
    code, _, _ = run(capsys, "--repo", str(repo))
    assert code == 3
    assert real.read_bytes() == before


def test_compose_outside_repo_is_refused(repo: Path, tmp_path: Path, capsys: Cap) -> None:
    other = tmp_path / "other.yml"
    other.write_text("services: {}\n")
    code, _, err = run(capsys, "--repo", str(repo), "--compose", str(other))
    assert code == 3 and "outside the repository" in err


def test_unwritable_path_is_environment_error(repo: Path, capsys: Cap) -> None:
    (repo / "backoffice").write_text("a file where a directory must go\n")
    code, _, err = run(capsys, "--repo", str(repo))
    assert code == 3
    assert "Not a directory" in err and "backoffice/services/" in err


def test_help_documents_options_and_exit_codes() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cdbctl", "scaffold", "--help"], capture_output=True, text=True, check=False,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert proc.returncode == 0
    for word in (
        "--repo",
        "--service",
        "--compose",
        "--dry-run",
        "--check",
        "--force",
        "--format",
        "Exit codes",
    ):
        assert word in proc.stdout


def test_rerun_without_service_uses_the_recorded_services(repo: Path, capsys: Cap) -> None:
    assert run(capsys, "--repo", str(repo), "--service", "cdb_risk:9002", "--service", "cdb_x:9100")[0] == 0
    code, out, err = run(capsys, "--repo", str(repo), "--check", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["services"] == [{"name": "cdb_risk", "port": 9002}, {"name": "cdb_x", "port": 9100}]
    assert not data["would_change"]


def test_invalid_service_in_state_is_exit_2(repo: Path, capsys: Cap) -> None:
    assert run(capsys, "--repo", str(repo))[0] == 0
    state = repo / ".cdbctl/scaffold.json"
    data = json.loads(state.read_text())
    data["services"]["Bad"] = 1
    state.write_text(json.dumps(data))
    code, _, err = run(capsys, "--repo", str(repo), "--check")
    assert code == 2 and "state file lists an invalid service" in err and ".cdbctl/scaffold.json" in err


def test_dockerignore_that_drops_copied_files_is_reported(repo: Path, capsys: Cap) -> None:
    (repo / ".dockerignore").write_text("services\n**/*.py\n")
    code, out, err = run(capsys, "--repo", str(repo), "--format", "json")
    assert code == 0
    problems = json.loads(out)["problems"]
    assert (
        "'.dockerignore' excludes backoffice/services/cdb_core/app/__init__.py (and 10 more), which the cdb_core image"
        " copies"
    ) in problems
    assert len(problems) == 3
    assert "warning: '.dockerignore' excludes" in err


def test_validation_checks_contexts_outside_and_dockerfiles(repo: Path, capsys: Cap) -> None:
    (repo.parent / "sibling").mkdir()
    (repo / "web").mkdir()
    compose = repo / "docker-compose.yml"
    compose.write_text(
        compose.read_text()
        + "  sib:\n    build: ../sibling\n"  # exists outside the repo, no Dockerfile there
        + "  web:\n    build: {context: web, dockerfile: Dockerfile.web}\n"
        + "  remote:\n    build: https://github.com/example/repo.git\n"
        + "  env:\n    build: ${CONTEXT_DIR}\n"
    )
    code, out, _ = run(capsys, "--repo", str(repo), "--format", "json")
    assert code == 0
    assert json.loads(out)["problems"] == [
        "service 'sib': Dockerfile 'Dockerfile' does not exist",
        "service 'web': Dockerfile 'Dockerfile.web' does not exist",
    ]
    (repo.parent / "sibling/Dockerfile").write_text("FROM scratch\n")
    (repo / "web/Dockerfile.web").write_text("FROM scratch\n")
    code, out, _ = run(capsys, "--repo", str(repo), "--format", "json")
    assert json.loads(out)["problems"] == []


def test_service_port_taken_by_an_earlier_run_is_refused(repo: Path, capsys: Cap) -> None:
    assert run(capsys, "--repo", str(repo))[0] == 0
    before = tree(repo)
    code, out, err = run(capsys, "--repo", str(repo), "--service", "foo:8002")
    assert code == 2
    assert out == ""
    assert "port 8002 is already used by 'cdb_risk'" in err and "Traceback" not in err
    assert tree(repo) == before  # nothing written
    # A new service without a port gets one no earlier service holds, and plain reruns keep working.
    code, out, err = run(capsys, "--repo", str(repo), "--service", "foo", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["services"] == [{"name": "foo", "port": 8004}]
    code, _, err = run(capsys, "--repo", str(repo), "--check")
    assert code == 0, err


def test_rerun_without_compose_uses_the_recorded_compose_file(repo: Path, capsys: Cap) -> None:
    (repo / "deploy").mkdir()
    (repo / "docker-compose.yml").rename(repo / "deploy/compose.yaml")
    assert run(capsys, "--repo", str(repo), "--compose", str(repo / "deploy/compose.yaml"))[0] == 0
    before = tree(repo)
    # CI runs `--check` without repeating --compose: the recorded file is the one checked, no drift.
    code, out, err = run(capsys, "--repo", str(repo), "--check", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["compose"] == "deploy/compose.yaml" and not data["would_change"]
    assert run(capsys, "--repo", str(repo))[0] == 0
    assert tree(repo) == before  # no reference docker-compose.yml created next to it


def test_relative_compose_path_is_also_looked_up_in_the_repo(
    repo: Path, capsys: Cap, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (repo / "deploy").mkdir()
    (repo / "docker-compose.yml").rename(repo / "deploy/compose.yaml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, out, err = run(capsys, "--repo", str(repo), "--compose", "deploy/compose.yaml", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["compose"] == "deploy/compose.yaml"


@pytest.mark.parametrize(
    ("extra", "warned"),
    [
        (
            '    ports:\n      - "9001:9001"\n',
            "publishes container port 9001, but the generated service listens on 8001",
        ),
        ("    ports:\n      - target: 9001\n        published: 9001\n", "publishes container port 9001"),
        ('    ports: ["127.0.0.1:8001:8001/tcp"]\n', None),
        (
            '    ports: ["9001:9001"]\n    environment:\n      PORT: "9001"\n',
            None,
        ),  # the service listens on PORT
        ('    ports: ["9001:9001"]\n    environment: ["PORT=9001"]\n', None),
        ('    ports: ["${P:-8001}:${T:-9001}"]\n', None),  # interpolated: cannot tell
        ('    ports: ["8000-8010:8000-8010"]\n', None),
    ],
)
def test_existing_service_publishing_another_port_is_warned(
    repo: Path, capsys: Cap, extra: str, warned: str | None
) -> None:
    # The generated app listens on its port; a compose entry that publishes another container port
    # leaves the service unreachable, so the user hears about it (the ports themselves are theirs).
    (repo / "docker-compose.yml").write_text("services:\n  cdb_core:\n    build: ./x\n" + extra)
    code, out, err = run(capsys, "--repo", str(repo), "--service", "cdb_core", "--format", "json")
    assert code == 0, err
    problems = [p for p in json.loads(out)["problems"] if "listens on" in p or "publishes" in p]
    if warned is None:
        assert problems == []
    else:
        assert len(problems) == 1 and warned in problems[0] and "cdb_core" in problems[0]
        assert "cdbctl: warning:" in err


def test_repo_reached_through_a_symlink_accepts_its_compose_path(
    repo: Path, tmp_path: Path, capsys: Cap
) -> None:
    # e.g. macOS /tmp -> /private/tmp, or a symlinked workspace: the same file, not one outside the repo.
    link = tmp_path / "link"
    link.symlink_to(repo)
    code, out, err = run(
        capsys, "--repo", str(link), "--compose", str(link / "docker-compose.yml"), "-f", "json"
    )
    assert code == 0, err
    assert json.loads(out)["compose"] == "docker-compose.yml"


def test_run_from_a_subdirectory_works_on_the_checkout(
    repo: Path, capsys: Cap, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It generated a second stack inside the subdirectory.
    (repo / ".git").mkdir()
    (repo / "docs" / "notes").mkdir(parents=True)
    monkeypatch.chdir(repo / "docs" / "notes")
    code, _, err = run(capsys)
    assert code == 0, err
    assert (repo / "backoffice/services/cdb_core/Dockerfile").is_file()
    assert list((repo / "docs" / "notes").iterdir()) == []
