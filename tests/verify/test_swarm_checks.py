"""Swarm service states -> checks, from recordings of a real swarm (see tests/data/verify/swarm/)."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest

from cdbctl.verify.model import Kind, Status
from cdbctl.verify.runner import Plan, run_round
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
    assert {c.kind for c in checks} == {Kind.service}
    assert notes and "DOCKER_HOST" in notes[0]


def test_a_swarm_query_past_the_timeout_gives_unknown_service_checks() -> None:
    def slow(timeout: float) -> tuple[list[Any], list[str]]:
        time.sleep(timeout + 1)
        return [], []

    plan = Plan(containers=slow, container_services=("cdb_core",), source_kind=Kind.service)
    (check,) = run_round(plan, 0.2).checks
    assert (check.kind, check.status, check.detail) == (
        Kind.service,
        Status.unknown,
        "Docker engine did not answer within 0.2 s",
    )
