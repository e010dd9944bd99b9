"""`cdbctl verify` against the running stack: healthy, a crash Docker restarts, a stopped service.

Issue 6, steps 4 (verify --wait) and 6. These tests change the stack (kill, stop), so they run after
test_stack.py (pytest collects modules in name order) and each leaves the stack healthy again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

import pytest

from tests.e2e.harness import DATA_STORES, REPORTS, SERVICES, Stack

pytestmark = pytest.mark.e2e

WAIT_TIMEOUT = "180"


def verify(stack: Stack, *args: str, fmt: str = "json") -> tuple[subprocess.CompletedProcess[str], Any]:
    """`cdbctl verify` on the repository copy's compose file and this project; (process, parsed JSON)."""
    proc = stack.cdbctl(
        "verify", "--compose", str(stack.compose_file), "--project", stack.project, "--format", fmt, *args
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, (json.loads(proc.stdout) if fmt == "json" else None)


def checks_of(report: dict[str, Any], service: str) -> dict[str, dict[str, Any]]:
    """The checks of one service, by kind (container, http, redis, postgres)."""
    return {c["kind"]: c for c in report["checks"] if c["service"] == service}


def show(title: str, proc: subprocess.CompletedProcess[str]) -> None:
    """Show a report at the end of the run (see conftest.pytest_terminal_summary) and on failure."""
    REPORTS.append((f"{title} (exit {proc.returncode})", proc.stdout + proc.stderr))
    print(f"\n--- {title} (exit {proc.returncode}) ---\n{proc.stdout}{proc.stderr}", file=sys.stderr)


def test_verify_wait_reports_every_container_and_endpoint_healthy(running: Stack) -> None:
    proc, report = verify(running, "--wait", "--wait-timeout", WAIT_TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report["healthy"] is True and report["schema_version"] == 1
    for service in [*DATA_STORES, *SERVICES]:
        checks = checks_of(report, service)
        container = checks["container"]
        assert container["status"] == "healthy", container
        assert "health: healthy" in container["detail"]  # Docker's own HEALTHCHECK, not just "running"
    for service, port in SERVICES.items():
        http = checks_of(report, service)["http"]
        assert (http["target"], http["status"]) == (f"http://127.0.0.1:{port}/health", "healthy"), http
    assert checks_of(report, "redis")["redis"]["status"] == "healthy"
    assert checks_of(report, "postgres")["postgres"]["status"] == "healthy"
    # Every probe went to loopback.
    for check in report["checks"]:
        if check["kind"] != "container":
            assert "127.0.0.1" in check["target"], check
    table, _ = verify(running, fmt="table")
    show("cdbctl verify on the running stack", table)
    assert table.returncode == 0
    for service in [*DATA_STORES, *SERVICES]:
        assert service in table.stdout


def test_a_killed_process_is_reported_while_docker_restarts_it(running: Stack) -> None:
    service = "cdb_execution"
    _, before = verify(running, "--wait", "--wait-timeout", WAIT_TIMEOUT)
    assert before["healthy"] is True
    state = running.container(service)["State"]
    restarts = running.container(service)["RestartCount"]

    # The service's main process (gunicorn's master, the container's PID 1) dies as in a crash. It is
    # killed from the host: `docker kill` would count as a manual stop, which the restart policy honours.
    try:
        os.kill(int(state["Pid"]), signal.SIGKILL)
    except PermissionError:
        pytest.fail(f"e2e: no permission to kill {service}'s process {state['Pid']}: run the suite as root")
    running.wait_for(
        f"Docker to restart {service}",
        lambda: running.container(service)["RestartCount"] > restarts,
        60,
        interval=0.1,
    )

    proc, report = verify(running)
    show(f"cdbctl verify while Docker restarts {service}", verify(running, fmt="table")[0])
    assert proc.returncode == 1, proc.stdout
    assert report["healthy"] is False
    container = checks_of(report, service)["container"]
    assert container["status"] in {"starting", "unhealthy", "missing"}, container
    assert "restart" in container["detail"], container  # the report says the container restarted
    for other in SERVICES.keys() - {service}:
        assert checks_of(report, other)["container"]["status"] == "healthy"

    # The restart policy brings it back: verify --wait ends healthy, with the restart counted.
    proc, report = verify(running, "--wait", "--wait-timeout", WAIT_TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert running.container(service)["RestartCount"] == restarts + 1


def test_a_stopped_service_makes_verify_exit_1_and_name_it(running: Stack) -> None:
    service = "cdb_core"
    running.compose("stop", "-t", "10", service, files=[running.run_file])
    try:
        proc, report = verify(running)
        assert proc.returncode == 1, proc.stdout
        assert report["healthy"] is False
        checks = checks_of(report, service)
        assert checks["container"]["status"] in {"missing", "unhealthy"}, checks
        assert checks["http"]["status"] == "unhealthy", checks
        assert "refused" in checks["http"]["detail"], checks
        bad = {c["service"] for c in report["checks"] if c["status"] != "healthy"}
        assert bad == {service}
        table, _ = verify(running, fmt="table")
        show(f"cdbctl verify with {service} stopped", table)
        assert table.returncode == 1
        assert any(service in line and "unhealthy" in line for line in table.stdout.splitlines())
    finally:
        running.compose("start", service, files=[running.run_file])
    proc, _ = verify(running, "--wait", "--wait-timeout", WAIT_TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
