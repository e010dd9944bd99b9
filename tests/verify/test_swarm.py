"""Swarm services and tasks -> service states and checks, from recordings of a real swarm.

The recordings in tests/data/verify/swarm/ were taken with capture.py there, on a single-node swarm
on loopback (Engine 20.10, API 1.41): a crash-looping service, a restart policy that gave up, a
rolling update that paused, rolled back or waited for a host-mode port, a service scaled to 0.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from cdbctl.cli import main
from cdbctl.errors import UsageError
from cdbctl.verify.model import Kind, Status
from cdbctl.verify.swarm import PublishedPort, check_stack_name, read_service
from cdbctl.verify.swarm_checks import stack_checks, stack_notes, swarm_source

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent.parent / "data" / "verify" / "swarm"
NO_SOCKET = "unix:///nonexistent/cdbctl-test/docker.sock"


def recording(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    return data


def checks_of(name: str, wanted: list[str] | None = None) -> dict[str, Any]:
    rec = recording(name)
    return {c.service: c for c in stack_checks(rec["services"], rec["tasks"], rec["stack"], wanted)}


def service_payload(rec: dict[str, Any], service: str) -> dict[str, Any]:
    payload: dict[str, Any] = next(s for s in rec["services"] if s["Spec"]["Name"] == f"swx_{service}")
    return payload


@pytest.mark.parametrize(
    ("name", "service", "status", "terminal", "detail"),
    [
        ("healthy", "web", Status.healthy, False, "replicated, 1/1 running"),
        ("healthy", "agent", Status.healthy, False, "global, 1/1 running"),
        (
            "crash_looping",
            "crash",
            Status.unhealthy,
            True,
            "replicated, 0/1 running; failed task: task: non-zero exit (3) (exit code 3), "
            "restarted 5 times (crash loop)",
        ),
        (
            "gave_up",
            "web",
            Status.unhealthy,
            True,
            "replicated, 0/1 running; the restart policy stopped retrying; "
            "failed task: task: non-zero exit (3) (exit code 3), restarted 4 times",
        ),
        ("scaled_to_zero", "web", Status.unhealthy, True, "replicated, 0/0 running; scaled to 0 replicas"),
        ("starting", "web", Status.starting, False, "replicated, 0/1 running; update in progress"),
        (
            "update_blocked_by_host_port",
            "web",
            Status.starting,
            False,
            "replicated, 1/1 running; update in progress; "
            "task pending: no suitable node (host-mode port already in use on 1 node)",
        ),
        (
            "paused",
            "web",
            Status.unhealthy,
            True,
            "replicated, 0/1 running; update paused: update paused due to failure or early termination "
            "of task 6z49zc109218gri9a6zgm6kmt; failed task: task: non-zero exit (3) (exit code 3)",
        ),
        (
            "rollback_started",
            "web",
            Status.unhealthy,
            True,
            "replicated, 0/1 running; update failed, rolling back: update rolled back due to failure or "
            "early termination of task h21pop4581hj5xqyz5azc40ld; "
            # The task the message names, not the newer one waiting for the port.
            "failed task [swx-app:broken]: task: non-zero exit (3) (exit code 3)",
        ),
        (
            "rolled_back",
            "web",
            Status.unhealthy,
            True,
            # Back on the old image and running, but the deploy did not go through: it says which image failed.
            "replicated, 1/1 running; update rolled back: rollback completed; "
            "failed task [swx-app:broken]: task: non-zero exit (3) (exit code 3)",
        ),
    ],
)
def test_recorded_states(name: str, service: str, status: Status, terminal: bool, detail: str) -> None:
    check = checks_of(name)[service]
    assert (check.status, check.terminal, check.detail) == (status, terminal, detail)
    assert check.kind is Kind.service
    assert check.name == f"swx_{service}"


def test_json_carries_the_swarm_facts() -> None:
    crash = checks_of("crash_looping")["crash"].to_json()
    assert crash["swarm"] == {
        "mode": "replicated",
        "replicas": "0/1",
        "running": 0,
        "desired": 1,
        "image": "swx-app:broken",
        "update": None,
        "update_message": None,
        "last_failure": {
            "error": "task: non-zero exit (3)",
            "state": "failed",
            "exit_code": 3,
            "image": "swx-app:broken",
        },
        "restarts": 5,
        "ports": [],
    }
    rolled = checks_of("rolled_back")["web"].to_json()["swarm"]
    assert (rolled["update"], rolled["image"], rolled["last_failure"]["image"]) == (
        "rollback_completed",
        "swx-app:1",
        "swx-app:broken",
    )


def test_published_ports_in_host_and_ingress_mode() -> None:
    rec = recording("ingress")
    web = read_service(service_payload(rec, "web"), rec["tasks"], "swx")
    ingress = read_service(service_payload(rec, "ingress"), rec["tasks"], "swx")
    agent = read_service(service_payload(rec, "agent"), rec["tasks"], "swx")
    assert web.ports == (PublishedPort(18501, 18501, "host"),)
    assert ingress.ports == (PublishedPort(18503, 18503, "ingress"),)
    assert agent.ports == ()


def test_pending_task_error_has_no_exit_code() -> None:
    rec = recording("update_blocked_by_host_port")
    web = read_service(service_payload(rec, "web"), rec["tasks"], "swx")
    assert web.failure is not None
    assert (web.failure.state, web.failure.exit_code) == ("pending", None)
    assert web.update_state == "updating"


def test_a_recovered_service_is_healthy_and_counts_only_its_own_images_failures() -> None:
    # healthy.json's web had failed tasks of the broken image before; they are not restarts of swx-app:1.
    rec = recording("rolled_back")
    web = read_service(service_payload(rec, "web"), rec["tasks"], "swx")
    assert (web.restarts, web.running, web.desired) == (0, 1, 1)


def test_counts_from_tasks_without_service_status() -> None:
    """Engines before API 1.41 do not send ServiceStatus: running tasks are counted from the task list."""
    rec = copy.deepcopy(recording("crash_looping"))
    for s in rec["services"]:
        s.pop("ServiceStatus")
    checks = {c.service: c for c in stack_checks(rec["services"], rec["tasks"], "swx", None)}
    assert checks["web"].detail == "replicated, 1/1 running"
    assert checks["crash"].detail.startswith("replicated, 0/1 running; failed task")


def test_jobs_are_healthy_once_completed() -> None:
    rec = copy.deepcopy(recording("healthy"))
    web = service_payload(rec, "web")
    web["Spec"]["Mode"] = {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}}
    web["ServiceStatus"] = {"RunningTasks": 0, "DesiredTasks": 1, "CompletedTasks": 1}
    check = {c.service: c for c in stack_checks(rec["services"], rec["tasks"], "swx", None)}["web"]
    assert (check.status, check.detail) == (Status.healthy, "replicated-job, 0/1 running, 1 completed")


def test_wanted_services_missing_and_others_ignored() -> None:
    checks = checks_of("healthy", ["web", "cdb_core"])
    assert list(checks) == ["web", "cdb_core"]
    missing = checks["cdb_core"]
    assert (missing.status, missing.name, missing.detail) == (
        Status.missing,
        "swx_cdb_core",
        "no service swx_cdb_core in stack 'swx'",
    )


def test_an_empty_stack_is_missing_with_a_hint() -> None:
    checks = stack_checks([], [], "cdb", None)
    assert [(c.name, c.status) for c in checks] == [("cdb", Status.missing)]
    assert stack_notes(checks, "cdb") == [
        "no service of stack 'cdb' exists: deploy it (docker stack deploy -c FILE cdb)"
    ]
    assert stack_notes(list(checks_of("healthy").values()), "swx") == []


def test_unreachable_engine_gives_unknown_checks_and_a_hint() -> None:
    source = swarm_source({"DOCKER_HOST": NO_SOCKET}, "cdb", ["cdb_core", "redis"])
    checks, notes = source(2.0)
    assert [(c.service, c.status, c.terminal) for c in checks] == [
        ("cdb_core", Status.unknown, True),
        ("redis", Status.unknown, True),
    ]
    assert "no socket at " + NO_SOCKET in checks[0].detail
    assert notes and "DOCKER_HOST" in notes[0]


@pytest.mark.parametrize("name", ["", "-x", "a b", "cdb/prod", "ä"])
def test_bad_stack_names(name: str) -> None:
    with pytest.raises(UsageError, match="bad stack name"):
        check_stack_name(name)


@pytest.mark.parametrize("name", ["cdb", "cdb-prod", "cdb_1.2"])
def test_good_stack_names(name: str) -> None:
    check_stack_name(name)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stack", "cdb", "--project", "x"], "--stack cannot be combined with --project or --no-docker"),
        (["--stack", "cdb", "--no-docker"], "--stack cannot be combined with --project or --no-docker"),
        (["--stack", "a b"], "bad stack name 'a b'"),
    ],
)
def test_cli_usage_errors_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", NO_SOCKET)
    assert main(["verify", *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err and "Traceback" not in err


def test_cli_stack_with_engine_unreachable_is_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCKER_HOST", NO_SOCKET)
    for var in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME"):
        monkeypatch.delenv(var, raising=False)
    assert main(["verify", "--stack", "cdb"]) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert "Docker engine unreachable: no socket at" in err
