"""Engine API container payloads -> container checks (payloads recorded from a real engine)."""

from __future__ import annotations

import copy
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from cdbctl.verify.containers import (
    EngineUnreachable,
    container_check,
    container_checks,
    fetch_containers,
    project_candidates,
    project_notes,
    unreachable_checks,
)
from cdbctl.verify.model import Kind, Status

DATA = Path(__file__).parent.parent / "data" / "verify" / "containers"


def payload(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())


def changed(name: str, **state: Any) -> dict[str, Any]:
    """A recorded payload with some State fields (or RestartCount) changed."""
    p = copy.deepcopy(payload(name))
    if "RestartCount" in state:
        p["RestartCount"] = state.pop("RestartCount")
    p["State"].update(state)
    return p


@pytest.mark.parametrize(
    ("source", "status", "detail", "terminal"),
    [
        (payload("v2_running_no_healthcheck"), Status.healthy, "running (no healthcheck)", False),
        (payload("v2_running_healthy"), Status.healthy, "running, health: healthy", False),
        (payload("v2_running_health_starting"), Status.starting, "running, health: starting", False),
        (
            payload("v2_running_unhealthy"),
            Status.unhealthy,
            "health: unhealthy (9 failed in a row): Could not connect to Redis at 127.0.0.1:6379: "
            "Connection refused",
            False,
        ),
        (payload("v2_exited_code_3"), Status.missing, "exited with exit code 3", True),
        (payload("v1_redis"), Status.missing, "exited with exit code 137", True),
        (
            payload("v2_restart_loop"),
            Status.unhealthy,
            "restarting after exit code 1, restarted 7 times (crash loop)",
            True,
        ),
        (payload("v2_created"), Status.starting, "created, not started yet", False),
        (payload("v1_cdb_core"), Status.healthy, "running, health: healthy", False),
        # Variants of recorded payloads for states that are hard to produce on demand:
        (
            changed("v2_restart_loop", RestartCount=1),
            Status.unhealthy,
            "restarting after exit code 1, restarted 1 time",
            False,
        ),
        (
            changed("v2_exited_code_3", ExitCode=137, OOMKilled=True),
            Status.missing,
            "exited with exit code 137 (OOM killed)",
            True,
        ),
        (changed("v2_exited_code_3", Status="dead"), Status.missing, "dead with exit code 3", True),
        (
            changed("v2_running_no_healthcheck", Status="paused", Paused=True),
            Status.unhealthy,
            "paused",
            True,
        ),
        (changed("v2_running_no_healthcheck", Status="removing"), Status.missing, "being removed", True),
        (
            changed("v2_running_healthy", RestartCount=2),
            Status.healthy,
            "running, health: healthy, restarted 2 times",
            False,
        ),
        (
            changed("v2_running_health_starting", RestartCount=4),
            Status.starting,
            "running, health: starting, restarted 4 times (crash loop)",
            True,
        ),
    ],
)
@pytest.mark.unit
def test_container_state_maps_to_check(
    source: dict[str, Any], status: Status, detail: str, terminal: bool
) -> None:
    check = container_check(source)
    assert (check.status, check.detail, check.terminal) == (status, detail, terminal)
    assert check.kind is Kind.container
    assert check.name == source["Name"].lstrip("/")
    assert check.service == source["Config"]["Labels"]["com.docker.compose.service"]
    assert check.target == source["Config"]["Image"]


def all_payloads() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(DATA.glob("*.json"))]


@pytest.mark.unit
def test_v2_project_with_missing_service_one_off_and_replicas() -> None:
    services = ["redis", "postgres", "cdb_core", "cdb_risk", "cdb_execution", "cdb_absent"]
    checks = container_checks(all_payloads(), "cdbrec", services)
    got = [(c.name, c.service, c.status) for c in checks]
    assert got == [
        ("cdbrec-redis-1", "redis", Status.unhealthy),
        ("cdbrec-postgres-1", "postgres", Status.missing),
        # two replicas, ordered by container number; the one-off `compose run` container is ignored
        ("cdbrec-cdb_core-1", "cdb_core", Status.healthy),
        ("cdbrec-cdb_core-2", "cdb_core", Status.healthy),
        ("cdbrec-cdb_risk-1", "cdb_risk", Status.starting),
        ("cdbrec-cdb_execution-1", "cdb_execution", Status.healthy),
        ("cdb_absent", "cdb_absent", Status.missing),
    ]
    absent = checks[-1]
    assert absent.detail == "no container for service 'cdb_absent' in compose project 'cdbrec'"
    assert not absent.terminal  # it may still be created while --wait polls


@pytest.mark.unit
def test_without_compose_services_every_service_of_the_project_is_checked() -> None:
    checks = container_checks(all_payloads(), "cdbrec", None)
    assert sorted({c.service for c in checks}) == [
        "cdb_core", "cdb_execution", "cdb_gateway", "cdb_risk", "cdb_worker", "postgres", "redis",
    ]  # fmt: skip
    # containers of other projects (the v1 project) never leak in
    assert all(c.name.startswith("cdbrec-") for c in checks)


@pytest.mark.unit
def test_compose_v1_containers_are_found_by_their_labels() -> None:
    checks = container_checks(all_payloads(), "cdbrec_v1", ["cdb_core", "redis"])
    assert [(c.name, c.status, c.detail) for c in checks] == [
        ("cdbrec_v1_cdb_core_1", Status.healthy, "running, health: healthy"),
        ("cdbrec_v1_redis_1", Status.missing, "exited with exit code 137"),
    ]


@pytest.mark.unit
def test_legacy_compose_v1_project_names_without_separators_match() -> None:
    # Compose < 1.21 dropped '-' and '_' from project names: "cdb_rec" was labelled "cdbrec".
    assert project_candidates("cdb_rec") == {"cdb_rec", "cdbrec"}
    checks = container_checks(all_payloads(), "cdb_rec", ["cdb_execution"])
    assert [c.status for c in checks] == [Status.healthy]


@pytest.mark.unit
def test_other_project_reports_every_service_missing() -> None:
    checks = container_checks(all_payloads(), "someone-else", ["cdb_core"])
    assert [(c.name, c.status) for c in checks] == [("cdb_core", Status.missing)]


@pytest.mark.unit
def test_unreachable_engine_makes_unknown_terminal_checks() -> None:
    checks = unreachable_checks(["redis", "cdb_core"], "Docker engine unreachable: no socket at unix:///x")
    assert [(c.name, c.status, c.terminal) for c in checks] == [
        ("redis", Status.unknown, True),
        ("cdb_core", Status.unknown, True),
    ]
    assert [c.name for c in unreachable_checks([], "x")] == ["docker"]


@pytest.mark.unit
def test_hint_when_no_container_of_the_project_exists() -> None:
    assert project_notes(container_checks(all_payloads(), "nothere", ["a", "b"]), "nothere") == [
        "no container of compose project 'nothere' exists: start the stack (docker compose up -d) "
        "or name the project with --project"
    ]
    assert project_notes(container_checks(all_payloads(), "cdbrec", ["cdb_core", "absent"]), "cdbrec") == []


@pytest.mark.unit
def test_hint_names_the_project_the_services_run_in() -> None:
    # CDB names its project ${STACK_NAME:-cdb}: a shell with another STACK_NAME looked at an empty project
    checks = container_checks(all_payloads(), "cdb", ["cdb_redis", "cdb_core"])
    elsewhere = {"cdb_paper": ["cdb_redis", "cdb_core"], "old": ["cdb_core"]}
    assert project_notes(checks, "cdb", elsewhere) == [
        "no container of compose project 'cdb' exists, but these services run in compose project "
        "'cdb_paper' (cdb_redis, cdb_core); 'old' (cdb_core): pass --project cdb_paper"
    ]
    assert project_notes(checks, "cdb", {}) == project_notes(checks, "cdb")


@pytest.mark.unit
def test_project_without_any_container_and_no_compose_file_is_one_missing_check() -> None:
    # `cdbctl verify --project typo` with nothing running: a reason and a hint, not an empty report.
    checks = container_checks(all_payloads(), "typo", None)
    assert [(c.name, c.kind, c.status, c.detail) for c in checks] == [
        ("typo", Kind.container, Status.missing, "no container in compose project 'typo'")
    ]
    assert project_notes(checks, "typo")[0].startswith("no container of compose project 'typo' exists")


@pytest.mark.integration
def test_engine_socket_problems_are_diagnosed(tmp_path: Path) -> None:
    missing = f"unix://{tmp_path}/missing.sock"
    with pytest.raises(EngineUnreachable) as info:
        fetch_containers({"DOCKER_HOST": missing}, 1.0)
    assert info.value.detail == f"Docker engine unreachable: no socket at {missing}"
    assert "--no-docker" in info.value.hint
    # a socket file nobody listens on
    dead = tmp_path / "dead.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(dead))
    with pytest.raises(EngineUnreachable) as info:
        fetch_containers({"DOCKER_HOST": f"unix://{dead}"}, 1.0)
    assert info.value.detail == f"Docker engine unreachable: connection refused at unix://{dead}"
