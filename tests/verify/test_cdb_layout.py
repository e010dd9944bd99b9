"""`cdbctl verify` on the CDB layout: layered compose files, secrets files, monitoring, exporters.

Every port the fixture publishes (tests/data/verify/cdb_stack, ports chosen through its variables)
gets a stand-in on 127.0.0.1: a real redis-server whose password is the secrets file's, the real
PostgreSQL test cluster with its password in a secrets file, and HTTP servers that answer 200 only on
the path the real service serves its health on (404 anywhere else). Run as a subprocess of this
worktree's code, both as `COMPOSE_FILE=base.yml:dev.yml` and as repeated `--compose`.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers import HOST, PostgresServer, RedisServer

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "tests" / "data" / "verify" / "cdb_stack"
COMPOSE = STACK / "infrastructure" / "compose"
# service -> (port variable of dev.yml, the one path its stand-in answers)
HTTP_STANDINS = {
    "cdb_prometheus": ("CDB_PROMETHEUS_PORT", "/-/healthy"),
    "cdb_grafana": ("CDB_GRAFANA_PORT", "/api/health"),
    "cdb_postgres_exporter": ("CDB_PG_EXPORTER_PORT", "/metrics"),
    "cdb_redis_exporter": ("CDB_REDIS_EXPORTER_PORT", "/health"),
    "cdb_ws": ("CDB_WS_PORT", "/health"),
    "cdb_signal": ("CDB_SIGNAL_PORT", "/health"),
    "cdb_risk": ("CDB_RISK_PORT", "/health"),
    "cdb_execution": ("CDB_EXECUTION_PORT", "/health"),
}


class _OnePath(http.server.BaseHTTPRequestHandler):
    server: _PathServer

    def do_GET(self) -> None:
        ok = self.path == self.server.health_path
        self.send_response(200 if ok else 404)
        body = b"ok" if ok else b"not found"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _PathServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    health_path: str


@contextlib.contextmanager
def one_path_server(path: str) -> Iterator[_PathServer]:
    """An HTTP server on 127.0.0.1 (free port) answering 200 on `path` only."""
    server = _PathServer((HOST, 0), _OnePath)
    server.health_path = path
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Stack:
    """The stand-ins and the environment that points the fixture's ports at them."""

    env: dict[str, str]
    secrets_dir: Path
    redis: RedisServer
    http: dict[str, _PathServer]
    passwords: tuple[str, ...]


@pytest.fixture
def stack(tmp_path: Path, postgres_server: PostgresServer) -> Iterator[Stack]:
    redis_password = "redis-" + secrets.token_hex(8)
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "redis_password").write_text(redis_password + "\n")
    (secrets_dir / "postgres_password").write_text(postgres_server.password + "\n")
    (secrets_dir / "grafana_password").write_text("grafana-admin-" + secrets.token_hex(4))
    redis = RedisServer.start(password=redis_password)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "HOME": str(tmp_path),
        "DOCKER_HOST": "unix:///nonexistent/cdbctl-test/docker.sock",
        "SECRETS_PATH": str(secrets_dir),
        "POSTGRES_USER": postgres_server.user,
        "POSTGRES_DB": postgres_server.dbname,
        "CDB_REDIS_PORT": str(redis.port),
        "CDB_POSTGRES_PORT": str(postgres_server.port),
    }
    try:
        with contextlib.ExitStack() as servers:
            http = {
                name: servers.enter_context(one_path_server(path))
                for name, (_, path) in HTTP_STANDINS.items()
            }
            for name, (variable, _) in HTTP_STANDINS.items():
                env[variable] = str(http[name].server_port)
            yield Stack(env, secrets_dir, redis, http, (redis_password, postgres_server.password))
    finally:
        redis.stop()


def verify(stack: Stack, *args: str, cwd: Path = COMPOSE, **extra: str) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "cdbctl", "verify", "--no-docker", "--format", "json", *args],
        cwd=cwd,
        env={**stack.env, **extra},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in proc.stderr
    for password in stack.passwords:  # neither in the report nor in any message
        assert password not in proc.stdout
        assert password not in proc.stderr
    return proc.returncode, json.loads(proc.stdout) if proc.stdout else {}, proc.stderr


def statuses(data: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["name"]: (c["status"], c["detail"]) for c in data["checks"]}


EXPECTED = {
    "cdb_redis": ("healthy", "PONG"),
    "cdb_prometheus": ("healthy", "HTTP 200"),
    "cdb_grafana": ("healthy", "HTTP 200"),
    "cdb_postgres_exporter": ("healthy", "HTTP 200"),
    "cdb_redis_exporter": ("healthy", "HTTP 200"),
    "cdb_ws": ("healthy", "HTTP 200"),
    "cdb_signal": ("healthy", "HTTP 200"),
    "cdb_risk": ("healthy", "HTTP 200"),
    "cdb_execution": ("healthy", "HTTP 200"),
}


@pytest.mark.parametrize("model", ["auto", "builtin"])
def test_the_whole_stack_is_healthy_through_compose_file(stack: Stack, model: str) -> None:
    code, data, err = verify(stack, "--compose-model", model, COMPOSE_FILE="base.yml:dev.yml")
    got = statuses(data)
    assert got.pop("cdb_postgres")[0] == "healthy"
    assert got == EXPECTED
    assert code == 0, err
    assert "verify: 10 healthy" in err


def test_repeated_compose_options_from_the_repository_root(stack: Stack) -> None:
    base, dev = "infrastructure/compose/base.yml", "infrastructure/compose/dev.yml"
    code, data, _ = verify(stack, "--compose", base, "--compose", dev, cwd=STACK)
    assert code == 0
    assert {c["status"] for c in data["checks"]} == {"healthy"}
    targets = {c["name"]: c["target"] for c in data["checks"]}
    assert (
        targets["cdb_prometheus"] == f"http://127.0.0.1:{stack.http['cdb_prometheus'].server_port}/-/healthy"
    )
    assert targets["cdb_redis"] == f"redis://:***@127.0.0.1:{stack.redis.port}"


def test_a_stopped_service_fails_the_run_and_is_named(stack: Stack) -> None:
    grafana = stack.http.pop("cdb_grafana")
    grafana.shutdown()
    grafana.server_close()
    code, data, err = verify(stack, COMPOSE_FILE="base.yml:dev.yml")
    assert code == 1
    bad = {n: s for n, s in statuses(data).items() if s[0] != "healthy"}
    assert bad == {"cdb_grafana": ("unhealthy", "connection refused")}
    assert "1 unhealthy" in err


def test_a_stopped_redis_fails_the_run(stack: Stack) -> None:
    stack.redis.stop()
    code, data, _ = verify(stack, COMPOSE_FILE="base.yml:dev.yml")
    assert code == 1
    assert statuses(data)["cdb_redis"] == ("unhealthy", "connection refused")


def test_secret_file_problems_are_reported_by_the_probe_without_the_password(stack: Stack) -> None:
    (stack.secrets_dir / "redis_password").write_text("wrong-" + stack.passwords[0] + "\n")
    (stack.secrets_dir / "postgres_password").unlink()
    code, data, _ = verify(stack, COMPOSE_FILE="base.yml:dev.yml")
    assert code == 1
    got = statuses(data)
    assert got["cdb_redis"][0] == "unhealthy"
    assert got["cdb_redis"][1].startswith(("WRONGPASS", "AUTH failed"))
    missing = stack.secrets_dir / "postgres_password"
    assert got["cdb_postgres"] == (
        "unhealthy",
        f"cannot read secret file {missing} (/run/secrets/postgres_password in POSTGRES_PASSWORD_FILE): "
        "No such file or directory",
    )
    # the rest of the stack is unaffected
    assert {n: s for n, s in got.items() if n not in ("cdb_redis", "cdb_postgres")} == {
        n: s for n, s in EXPECTED.items() if n != "cdb_redis"
    }


def test_http_stand_ins_answer_only_their_health_path(stack: Stack) -> None:
    # guards the test itself: a probe on the wrong path would fail, not pass by accident
    code, data, _ = verify(
        stack, "--endpoint", f"cdb_grafana=http://{HOST}:{stack.http['cdb_grafana'].server_port}/health"
    )
    assert code == 1
    assert statuses(data)["cdb_grafana"] == ("unhealthy", "HTTP 404")
