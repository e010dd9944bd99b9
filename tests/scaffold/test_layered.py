"""scaffold on the current CDB layout: layered compose files, builds from services/<name>/Dockerfile.

A build that works is never replaced (issue 10, item 3): it is reported `ok` and left byte-identical;
only missing or broken builds are generated and fixed; `--service NAME --force` re-points one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from cdbctl.cli import main
from tests.scaffold.cdb_layout import BASE, DEV, LAYERS, make_cdb
from tests.scaffold.conftest import tree

pytestmark = pytest.mark.unit

Cap = pytest.CaptureFixture[str]


@pytest.fixture
def cdb(tmp_path: Path) -> Path:
    return make_cdb(tmp_path / "cdb")


def scaffold(capsys: Cap, repo: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(["scaffold", "--repo", str(repo), "--format", "json", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out else {}), err


def layers(*names: str) -> list[str]:
    out: list[str] = []
    for name in names:
        out += ["--compose", f"infrastructure/compose/{name}"]
    return out


def statuses(data: dict[str, Any]) -> dict[str, str]:
    return {f["path"]: f["status"] for f in data["files"]}


def test_working_builds_are_left_alone_and_reported_ok(cdb: Path, capsys: Cap) -> None:
    code, data, err = scaffold(capsys, cdb, *layers("base.yml", "dev.yml"))
    assert code == 0, err
    ok = {f["service"]: f for f in data["files"] if f["status"] == "ok"}
    assert set(ok) == {"cdb_risk", "cdb_execution"}
    assert ok["cdb_risk"]["path"] == "services/risk/Dockerfile"
    assert ok["cdb_risk"]["detail"] == "cdb_risk: builds from services/risk/Dockerfile; left alone"
    # cdb_execution's build is in base.yml, dev.yml only adds its ports: it still builds.
    assert ok["cdb_execution"]["path"] == "services/execution/Dockerfile"
    assert [s["name"] for s in data["services"]] == ["cdb_core"]
    assert not (cdb / "backoffice/services/cdb_risk").exists()
    assert not (cdb / "backoffice/services/cdb_execution").exists()
    assert (cdb / "backoffice/services/cdb_core/Dockerfile").is_file()
    # base.yml byte-identical; dev.yml only gained the missing service at its end.
    assert (cdb / LAYERS[0]).read_text() == BASE
    dev = (cdb / LAYERS[1]).read_text()
    assert dev.startswith(DEV) and "cdb_core:" in dev[len(DEV) :]
    added = yaml.safe_load(dev)["services"]["cdb_core"]
    assert added["build"] == {"context": "../..", "dockerfile": "backoffice/services/cdb_core/Dockerfile", **(
        {"args": added["build"]["args"]} if "args" in added["build"] else {}
    )}  # fmt: skip
    # Redis and PostgreSQL read their passwords from compose secrets according to base.yml, which
    # dev.yml alone does not say: the added service mounts the same secrets and requires no variable,
    # so `docker compose up` still needs no password in the environment (depends_on in the list form,
    # which `docker stack deploy` accepts too).
    assert "cdb_redis" in added["depends_on"]
    env = added["environment"]
    assert env["REDIS_URL"] == "redis://${CDB_REDIS_HOST:-cdb_redis}:${CDB_REDIS_PORT:-6379}/0"
    assert env["REDIS_PASSWORD_FILE"] == "/run/secrets/redis_password"
    assert env["DATABASE_URL"].startswith("postgresql://${POSTGRES_USER:-claire_user}@")
    assert env["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert added["secrets"] == ["redis_password", "postgres_password"]
    assert "PASSWORD:?" not in dev
    # The layers are recorded: a plain --check rerun reads both and finds nothing to do.
    state = json.loads((cdb / ".cdbctl/scaffold.json").read_text())
    assert state["compose_files"] == list(LAYERS)
    before = tree(cdb)
    code, data, _ = scaffold(capsys, cdb, "--check")
    assert code == 0 and data["compose_files"] == list(LAYERS) and not data["would_change"]
    assert tree(cdb) == before


def test_without_compose_the_cdb_layers_are_used_not_a_second_stack(cdb: Path, capsys: Cap) -> None:
    """The real CDB keeps no compose file at its root: its base.yml + dev.yml are patched, with a note;
    no docker-compose.yml from the reference stack appears beside them."""
    code, data, err = scaffold(capsys, cdb)
    assert code == 0, err
    assert data["compose_files"] == list(LAYERS)
    assert err.startswith(
        "cdbctl: note: compose files: infrastructure/compose/base.yml + infrastructure/compose/dev.yml "
        "(CDB's layered files; --compose chooses others)\n"
    )
    assert not (cdb / "docker-compose.yml").exists()
    assert "cdb_core:" in (cdb / LAYERS[1]).read_text()
    code, data, err = scaffold(capsys, cdb, "--check")  # recorded now: no note, nothing to do
    assert (code, data["would_change"], "note:" in err) == (0, False, False)


def test_a_root_compose_file_wins_over_the_cdb_layers(cdb: Path, capsys: Cap) -> None:
    (cdb / "compose.yaml").write_text("services:\n  cdb_redis:\n    image: redis:7.4-alpine\n")
    code, data, err = scaffold(capsys, cdb)
    assert code == 0, err
    assert data["compose_files"] == ["compose.yaml"] and "note:" not in err


def test_a_repository_that_builds_is_not_touched_at_all(cdb: Path, capsys: Cap) -> None:
    before = tree(cdb)
    args = [*layers("base.yml", "dev.yml"), "--service", "cdb_risk", "--service", "cdb_execution"]
    code, data, err = scaffold(capsys, cdb, *args)
    assert code == 0, err
    assert statuses(data) == {
        "services/risk/Dockerfile": "ok",
        "services/execution/Dockerfile": "ok",
        LAYERS[0]: "identical",
        LAYERS[1]: "identical",
    }
    assert tree(cdb) == before  # no generated service, no state file, compose byte-identical
    assert scaffold(capsys, cdb, *args, "--check")[0] == 0


def test_only_dev_yml_given(cdb: Path, capsys: Cap) -> None:
    """dev.yml alone: cdb_risk builds; cdb_execution's build is in a file not given, so hands off."""
    code, data, err = scaffold(
        capsys, cdb, *layers("dev.yml"), "--service", "cdb_risk", "--service", "cdb_execution"
    )
    assert code == 0, err
    by_service = {f["service"]: f for f in data["files"] if f["kind"] == "build"}
    assert by_service["cdb_risk"]["status"] == "ok"
    assert by_service["cdb_execution"]["status"] == "unchecked"
    assert "pass every layer" in by_service["cdb_execution"]["detail"]
    assert any("cdb_execution: left alone" in p for p in data["problems"])
    assert "warning: cdb_execution: left alone" in err
    assert (cdb / LAYERS[1]).read_text() == DEV
    assert not (cdb / "backoffice").exists()


def test_compose_file_variable_names_the_layers(
    cdb: Path, capsys: Cap, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(cdb)
    monkeypatch.setenv("COMPOSE_FILE", ":".join(LAYERS))
    code, data, err = scaffold(capsys, cdb, "--service", "cdb_execution", "--check")
    assert code == 0, err
    assert data["compose_files"] == list(LAYERS)
    assert statuses(data)["services/execution/Dockerfile"] == "ok"


def test_a_broken_build_is_fixed_in_the_file_that_sets_it(cdb: Path, capsys: Cap) -> None:
    (cdb / "services/execution/Dockerfile").unlink()  # the build in base.yml no longer works
    code, data, err = scaffold(capsys, cdb, *layers("base.yml", "dev.yml"), "--service", "cdb_execution")
    assert code == 0, err
    assert statuses(data)[LAYERS[0]] == "updated" and statuses(data)[LAYERS[1]] == "identical"
    assert (cdb / LAYERS[1]).read_text() == DEV
    assert (cdb / LAYERS[0]).read_text() == BASE.replace(
        "dockerfile: services/execution/Dockerfile",
        "dockerfile: backoffice/services/cdb_execution/Dockerfile",
    )
    assert (cdb / "backoffice/services/cdb_execution/Dockerfile").is_file()


@pytest.mark.parametrize(
    ("build", "shown"),
    [
        ("{context: ../../services/risk, dockerfile: Dockerfile}", "services/risk/Dockerfile"),
        ("{context: ../../services/execution, dockerfile: ../risk/Dockerfile}", "services/risk/Dockerfile"),
        ("../../services/risk", "services/risk/Dockerfile"),
    ],
)
def test_dockerfile_is_relative_to_the_context(cdb: Path, capsys: Cap, build: str, shown: str) -> None:
    dev = cdb / LAYERS[1]
    dev.write_text(DEV.replace("    build:\n      context: ../..\n      dockerfile: services/risk/Dockerfile\n",
                               f"    build: {build}\n"))  # fmt: skip
    before = dev.read_bytes()
    code, data, err = scaffold(capsys, cdb, *layers("base.yml", "dev.yml"), "--service", "cdb_risk")
    assert code == 0, err
    assert [(f["path"], f["status"]) for f in data["files"] if f["kind"] == "build"] == [(shown, "ok")]
    assert dev.read_bytes() == before


def test_force_with_service_repoints_on_purpose(cdb: Path, capsys: Cap) -> None:
    args = [*layers("base.yml", "dev.yml"), "--service", "cdb_risk"]
    code, data, _ = scaffold(capsys, cdb, *args, "--force")
    assert code == 0
    dev = yaml.safe_load((cdb / LAYERS[1]).read_text())
    assert dev["services"]["cdb_risk"]["build"]["dockerfile"] == "backoffice/services/cdb_risk/Dockerfile"
    assert (cdb / "backoffice/services/cdb_risk/Dockerfile").is_file()
    assert (cdb / LAYERS[1]).read_text() == DEV.replace(
        "dockerfile: services/risk/Dockerfile", "dockerfile: backoffice/services/cdb_risk/Dockerfile"
    )
    # Now it is scaffold's own service: later runs keep it up to date rather than leaving it alone.
    code, data, _ = scaffold(capsys, cdb, "--check")
    assert code == 0 and not data["would_change"]


def test_force_repointing_a_service_whose_entrypoint_starts_the_old_code_warns(
    cdb: Path, capsys: Cap
) -> None:
    # CDB's dev.yml starts cdb_risk with `sh -c '... exec python -m services.risk'`: kept, the generated
    # image would run the old module and crash-loop; scaffold names the line to remove.
    code, data, err = scaffold(
        capsys, cdb, *layers("base.yml", "dev.yml"), "--service", "cdb_risk", "--force"
    )
    problem = (
        "scaffolded service 'cdb_risk': `entrypoint` in infrastructure/compose/dev.yml replaces the generated "
        "image's start (gunicorn), so its app never runs; remove it"
    )
    assert code == 0 and data["problems"] == [problem]
    assert f"cdbctl: warning: {problem}\n" in err
    dev = cdb / LAYERS[1]
    dev.write_text(dev.read_text().replace(
        '    entrypoint: ["sh", "-c", "export REDIS_PASSWORD=$(cat /run/secrets/redis_password) && exec python '
        '-m services.risk"]\n', ""))  # fmt: skip
    code, data, _ = scaffold(capsys, cdb)
    assert code == 0 and data["problems"] == []


LOGGING = """\
# Logging overlay: given after dev.yml when the stack runs with logs shipped.
services:
  cdb_loki:
    image: grafana/loki:3.0.0
    ports:
      - "127.0.0.1:3100:3100"
"""
STRICT = "services:\n  cdb_risk:\n    depends_on:\n      cdb_redis:\n        condition: service_healthy\n"


def test_a_missing_service_joins_the_application_services_not_a_later_overlay(cdb: Path, capsys: Cap) -> None:
    # `-c base.yml -c dev.yml -c healthchecks-strict.yml -c logging.yml`, as CDB's stack_up -StrictHealth
    # -Logging layers them, put cdb_core into logging.yml: gone whenever the stack ran without logging.
    compose = cdb / "infrastructure/compose"
    (compose / "logging.yml").write_text(LOGGING)
    (compose / "healthchecks-strict.yml").write_text(STRICT)
    args = layers("base.yml", "dev.yml", "healthchecks-strict.yml", "logging.yml")
    code, data, err = scaffold(capsys, cdb, *args, "--service", "cdb_core")
    assert code == 0, err
    assert (compose / "logging.yml").read_text() == LOGGING
    assert (compose / "healthchecks-strict.yml").read_text() == STRICT
    dev = yaml.safe_load((compose / "dev.yml").read_text())
    assert dev["services"]["cdb_core"]["build"]["dockerfile"] == "backoffice/services/cdb_core/Dockerfile"
    code, data, _ = scaffold(capsys, cdb, "--check")
    assert code == 0 and data["compose_files"] == [f"infrastructure/compose/{n}" for n in
        ("base.yml", "dev.yml", "healthchecks-strict.yml", "logging.yml")]  # fmt: skip


def test_with_an_override_that_builds_nothing_a_missing_service_goes_to_the_main_file(
    tmp_path: Path, capsys: Cap
) -> None:
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app/Dockerfile").write_text("FROM python:3.12-slim\n")
    main_file = "services:\n  app:\n    build: ./app\n"
    override = 'services:\n  app:\n    ports:\n      - "127.0.0.1:8000:8000"\n'
    (repo / "docker-compose.yml").write_text(main_file)
    (repo / "docker-compose.override.yml").write_text(override)
    code, data, err = scaffold(capsys, repo, "--service", "cdb_core")
    assert code == 0, err
    assert data["compose_files"] == ["docker-compose.yml", "docker-compose.override.yml"]
    assert (repo / "docker-compose.override.yml").read_text() == override  # often a local, untracked file
    assert "cdb_core" in yaml.safe_load((repo / "docker-compose.yml").read_text())["services"]


def test_force_without_service_does_not_repoint(cdb: Path, capsys: Cap) -> None:
    code, data, _ = scaffold(capsys, cdb, *layers("base.yml", "dev.yml"), "--force")
    assert code == 0
    assert {f["service"] for f in data["files"] if f["status"] == "ok"} == {"cdb_risk", "cdb_execution"}
    assert "services/risk/Dockerfile" in (cdb / LAYERS[1]).read_text()


def test_missing_context_is_broken_and_fixed(cdb: Path, capsys: Cap) -> None:
    dev = cdb / LAYERS[1]
    dev.write_text(
        DEV.replace(
            "context: ../..\n      dockerfile: services/risk", "context: ../../gone\n      dockerfile: x"
        )
    )
    code, data, _ = scaffold(capsys, cdb, *layers("base.yml", "dev.yml"), "--service", "cdb_risk")
    assert code == 0
    assert statuses(data)[LAYERS[1]] == "updated"
    risk = yaml.safe_load(dev.read_text())["services"]["cdb_risk"]["build"]
    assert risk == {"context": "../..", "dockerfile": "backoffice/services/cdb_risk/Dockerfile"}


def test_interpolated_build_is_left_alone(cdb: Path, capsys: Cap) -> None:
    dev = cdb / LAYERS[1]
    dev.write_text(DEV.replace("dockerfile: services/risk/Dockerfile", "dockerfile: ${RISK_DOCKERFILE}"))
    before = dev.read_bytes()
    code, data, err = scaffold(capsys, cdb, *layers("base.yml", "dev.yml"), "--service", "cdb_risk")
    assert code == 0, err
    assert [f["status"] for f in data["files"] if f["kind"] == "build"] == ["unchecked"]
    assert dev.read_bytes() == before and not (cdb / "backoffice").exists()


def test_fifo_dockerfile_in_a_users_build_is_not_read(cdb: Path, capsys: Cap) -> None:
    import os

    df = cdb / "services/risk/Dockerfile"
    df.unlink()
    os.mkfifo(df)
    code, data, _ = scaffold(
        capsys, cdb, *layers("base.yml", "dev.yml"), "--service", "cdb_risk", "--dry-run"
    )
    assert code == 0
    assert statuses(data)[LAYERS[1]] == "would update"  # not a file it can build from: generated instead


def test_services_from_an_included_file_are_judged_with_its_own_paths(cdb: Path, capsys: Cap) -> None:
    """`include:` (Compose v2): the included file's services exist, its paths are relative to itself."""
    (cdb / "infrastructure/apps").mkdir()
    (cdb / "infrastructure/apps/risk.yml").write_text(
        "services:\n  cdb_risk:\n    build:\n      context: ../..\n      dockerfile: services/risk/Dockerfile\n"
    )
    dev = cdb / LAYERS[1]
    dev.write_text(
        "include:\n  - ../apps/risk.yml\n"
        + DEV.replace("  cdb_risk:\n    build:\n", "  cdb_x:\n    build:\n")
    )
    before = tree(cdb)
    code, data, err = scaffold(capsys, cdb, *layers("dev.yml"), "--service", "cdb_risk")
    assert code == 0, err
    assert [(f["path"], f["status"]) for f in data["files"] if f["kind"] == "build"] == [
        ("services/risk/Dockerfile", "ok")
    ]
    assert tree(cdb) == before  # not added to dev.yml again (compose would reject the duplicate)
    # Broken there: fixed there, with a context relative to the included file.
    (cdb / "services/risk/Dockerfile").unlink()
    code, data, err = scaffold(capsys, cdb, *layers("dev.yml"), "--service", "cdb_risk")
    assert code == 0, err
    assert statuses(data)["infrastructure/apps/risk.yml"] == "updated"
    assert dev.read_bytes() == before[LAYERS[1]]
    risk = yaml.safe_load((cdb / "infrastructure/apps/risk.yml").read_text())["services"]["cdb_risk"]["build"]
    assert risk == {"context": "../..", "dockerfile": "backoffice/services/cdb_risk/Dockerfile"}


def test_an_include_scaffold_cannot_read_leaves_absent_services_alone(cdb: Path, capsys: Cap) -> None:
    dev = cdb / LAYERS[1]
    dev.write_text("include:\n  - ${APPS_FILE}\n" + DEV)
    before = tree(cdb)
    code, data, err = scaffold(capsys, cdb, *layers("dev.yml"), "--service", "cdb_core")
    assert code == 0, err
    assert [f["status"] for f in data["files"] if f["kind"] == "build"] == ["unchecked"]
    assert "include" in err and tree(cdb) == before


def test_a_build_inherited_through_extends_is_judged_like_its_own(cdb: Path, capsys: Cap) -> None:
    dev = cdb / LAYERS[1]
    dev.write_text(
        DEV + "  cdb_core:\n    extends: cdb_risk\n  cdb_other:\n    extends: {file: other.yml, service: x}\n"
    )
    before = tree(cdb)
    code, data, err = scaffold(
        capsys, cdb, *layers("dev.yml"), "--service", "cdb_core", "--service", "cdb_other"
    )
    assert code == 0, err
    rows = {f["service"]: (f["status"], f["path"]) for f in data["files"] if f["kind"] == "build"}
    assert rows["cdb_core"] == ("ok", "services/risk/Dockerfile")
    assert rows["cdb_other"][0] == "unchecked"  # extends another file: not read here
    assert tree(cdb) == before
