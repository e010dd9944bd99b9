"""Swarm services and tasks -> typed service states, from recordings of a real swarm.

The recordings in tests/data/verify/swarm/ were taken with capture.py there, on a single-node swarm
on loopback (Engine 20.10, API 1.41): a crash-looping service, a restart policy that gave up, a
rolling update that paused, rolled back or waited for a host-mode port, a service scaled to 0.
"""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
from pathlib import Path
from typing import Any

import pytest

from cdbctl.cli import main
from cdbctl.errors import UsageError
from cdbctl.verify.containers import EngineUnreachable
from cdbctl.verify.swarm import PublishedPort, check_stack_name, fetch_stack, read_service

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent.parent / "data" / "verify" / "swarm"
NO_SOCKET = "unix:///nonexistent/cdbctl-test/docker.sock"


def recording(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    return data


def service_payload(rec: dict[str, Any], service: str) -> dict[str, Any]:
    payload: dict[str, Any] = next(s for s in rec["services"] if s["Spec"]["Name"] == f"swx_{service}")
    return payload


@pytest.mark.parametrize(
    ("name", "service", "expected"),
    [
        # (mode, running, desired, restarts, failing now, gave up, update state)
        ("healthy", "web", ("replicated", 1, 1, 0, False, False, None)),
        ("healthy", "agent", ("global", 1, 1, 0, False, False, None)),
        ("crash_looping", "crash", ("replicated", 0, 1, 5, False, False, None)),
        ("gave_up", "web", ("replicated", 0, 1, 4, True, True, None)),
        # Its last tasks failed (the broken image) before it was scaled down: that is no give-up.
        ("scaled_to_zero", "web", ("replicated", 0, 0, 0, True, False, None)),
        ("starting", "web", ("replicated", 0, 1, 0, False, False, "updating")),
        ("update_blocked_by_host_port", "web", ("replicated", 1, 1, 0, True, False, "updating")),
        # A paused update keeps the new spec: the broken image's failures are its restarts.
        ("paused", "web", ("replicated", 0, 1, 3, False, False, "paused")),
        ("rollback_started", "web", ("replicated", 0, 1, 0, True, False, "rollback_started")),
        ("rolled_back", "web", ("replicated", 1, 1, 0, False, False, "rollback_completed")),
    ],
)
def test_recorded_service_states(name: str, service: str, expected: tuple[Any, ...]) -> None:
    rec = recording(name)
    s = read_service(service_payload(rec, service), rec["tasks"], "swx")
    assert (s.name, s.service) == (f"swx_{service}", service)
    assert (s.mode, s.running, s.desired, s.restarts, s.failing_now, s.gave_up, s.update_state) == expected


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


class _WorkerEngine(http.server.BaseHTTPRequestHandler):
    """An Engine API that answers like a node outside any swarm (or a worker): 503 on /services."""

    def do_GET(self) -> None:
        if self.path.endswith("/version"):
            self._send(200, {"ApiVersion": "1.41", "Version": "20.10.24", "MinAPIVersion": "1.12"})
        else:  # the engine's own words (moby daemon/cluster errors.go)
            message = (
                'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" '
                "to connect this node to swarm and try again."
            )
            self._send(503, {"message": message})

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def test_an_engine_that_is_no_swarm_manager(tmp_path: Path) -> None:
    path = tmp_path / "docker.sock"
    server = socketserver.ThreadingUnixStreamServer(str(path), _WorkerEngine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(EngineUnreachable) as caught:
            fetch_stack({"DOCKER_HOST": f"unix://{path}"}, 3.0, "cdb")
    finally:
        server.shutdown()
        server.server_close()
    assert caught.value.detail.startswith(f"the Docker engine at unix://{path} is not a swarm manager (")
    assert "docker swarm init" in caught.value.hint
