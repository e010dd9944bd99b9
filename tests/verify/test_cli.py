"""`cdbctl verify` end to end through the CLI: exit codes, stdout/stderr, JSON shape, Docker unreachable."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cdbctl.cli import main
from tests.servers import (
    HOST,
    HangingServer,
    PostgresServer,
    RedisServer,
    ServerUnavailable,
    free_port,
    http_server,
    start_tls_redis,
)

pytestmark = pytest.mark.integration

NO_SOCKET = "unix:///nonexistent/cdbctl-test/docker.sock"
CHECK_KEYS = ["name", "service", "kind", "target", "status", "detail", "latency_ms"]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty directory with Docker pointed at a socket that does not exist."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCKER_HOST", NO_SOCKET)
    monkeypatch.delenv("COMPOSE_PROJECT_NAME", raising=False)
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    monkeypatch.delenv("COMPOSE_PATH_SEPARATOR", raising=False)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["verify", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run(capsys, *args, "--format", "json")
    return code, json.loads(out), err


def test_json_output_shape_and_healthy_exit(capsys: pytest.CaptureFixture[str]) -> None:
    with http_server(200) as server:
        code, data, err = run_json(
            capsys, "--no-docker", "--endpoint", f"api=http://{HOST}:{server.server_port}/health"
        )
    assert code == 0
    assert list(data) == ["healthy", "checks", "schema_version"]
    assert data["healthy"] is True
    assert data["schema_version"] == 1
    (check,) = data["checks"]
    assert list(check) == CHECK_KEYS
    assert check["name"] == "api"
    assert check["kind"] == "http"
    assert check["status"] == "healthy"
    assert check["detail"] == "HTTP 200"
    assert isinstance(check["latency_ms"], float)
    assert err == "verify: 1 healthy\n"


def test_table_on_stdout_summary_on_stderr_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with http_server(500) as server:
        code, out, err = run(
            capsys,
            "--no-docker", "--format", "table",
            "-e", f"api=http://{HOST}:{server.server_port}/health",
            "-e", f"gone=tcp://{HOST}:{free_port()}",
        )  # fmt: skip
    assert code == 1
    lines = out.splitlines()
    assert lines[0].split() == ["SERVICE", "STATUS", "PROBE", "LATENCY", "DETAIL"]  # no containers: no column
    rows = {line.split()[0]: line for line in lines[2:]}
    assert "unhealthy" in rows["api"] and rows["api"].rstrip().endswith("HTTP 500")
    assert rows["gone"].rstrip().endswith("connection refused")
    assert err == "verify: 2 unhealthy\n"


def compose(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "docker-compose.yml"
    path.write_text(text)
    return path


def test_summary_counts_services_as_the_table_shows_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each service has a container check and maybe a probe; the summary counted both, so the real CDB
    # stack (not running) showed 16 rows and 'verify: 14 unhealthy, 16 missing'.
    compose(
        tmp_path,
        f"services:\n  cdb_core:\n    image: x\n    ports: ['127.0.0.1:{free_port()}:8001']\n"
        "  cdb_worker:\n    image: x\n",
    )
    code, out, err = run(capsys, "--format", "table")
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[2:] if line.strip()}
    assert rows == {"cdb_core": "unhealthy", "cdb_worker": "unknown"}
    assert err.splitlines()[-1] == "verify: 1 unhealthy, 1 unknown"
    assert code == 1


def test_compose_discovery_with_real_redis_and_postgres_and_docker_unreachable(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    redis_server_auth: RedisServer,
    postgres_server: PostgresServer,
) -> None:
    with http_server(200) as api:
        compose(
            tmp_path,
            f"""\
services:
  redis:
    image: redis:7.4-alpine
    command: ["redis-server", "--requirepass", "${{REDIS_PASSWORD}}"]
    ports: ["127.0.0.1:{redis_server_auth.port}:6379"]
  postgres:
    image: postgres:16-alpine
    environment:
      POSTGRES_USER: {postgres_server.user}
      POSTGRES_PASSWORD: {postgres_server.password}
      POSTGRES_DB: {postgres_server.dbname}
    ports: ["{postgres_server.port}:5432"]
  cdb_core:
    image: cdb/cdb_core:local
    ports: ["{api.server_port}:8001"]
""",
        )
        os.environ["REDIS_PASSWORD"] = str(redis_server_auth.password)
        try:
            code, data, err = run_json(capsys)
            code_nd, data_nd, err_nd = run_json(capsys, "--no-docker")
        finally:
            del os.environ["REDIS_PASSWORD"]
    checks = {(c["name"], c["kind"]): c for c in data["checks"]}
    # Docker is unreachable: each service gets an `unknown` container check, with a hint on stderr ...
    for service in ("redis", "postgres", "cdb_core"):
        assert checks[service, "container"]["status"] == "unknown"
        assert (
            checks[service, "container"]["detail"] == f"Docker engine unreachable: no socket at {NO_SOCKET}"
        )
    assert f"hint: start the Docker daemon or point DOCKER_HOST at it (now {NO_SOCKET})" in err
    assert "--no-docker" in err
    # ... and the endpoint probes still ran against the real servers.
    assert checks["redis", "redis"]["status"] == "healthy"
    assert checks["postgres", "postgres"]["status"] == "healthy"
    assert checks["cdb_core", "http"]["target"] == f"http://127.0.0.1:{api.server_port}/health"
    assert checks["cdb_core", "http"]["status"] == "healthy"
    assert str(redis_server_auth.password) not in json.dumps(data)
    assert code == 1
    # --no-docker skips the engine entirely: only endpoints, all healthy.
    assert code_nd == 0
    assert [c["kind"] for c in data_nd["checks"]] == ["redis", "postgres", "http"]
    assert "hint:" not in err_nd


def test_engine_warning_comes_before_its_hint_in_the_table_format(capsys: pytest.CaptureFixture[str]) -> None:
    with http_server(200) as api:
        compose(
            Path.cwd(),
            f"services:\n  cdb_core:\n    image: cdb/core\n    ports: ['{api.server_port}:8001']\n",
        )
        code, _, err = run(capsys, "--format", "table")
    assert err.splitlines() == [
        f"cdbctl: warning: Docker engine unreachable: no socket at {NO_SOCKET}",
        f"hint: start the Docker daemon or point DOCKER_HOST at it (now {NO_SOCKET}); "
        "--no-docker skips the container checks",
        "verify: 1 unknown",
    ]
    assert code == 1


def test_redis_and_postgres_from_images_verify_does_not_know_are_probed_as_what_they_run(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    redis_server_auth: RedisServer,
    postgres_server: PostgresServer,
) -> None:
    # CDB's base.yml services with the images replaced (a private registry, a hardened build): the
    # command and healthcheck still name redis-server and pg_isready. They were probed as HTTP /health,
    # so a healthy stack stayed unhealthy until --wait-timeout.
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "REDIS_PASSWORD").write_text(f"{redis_server_auth.password}\n")
    (tmp_path / "secrets" / "POSTGRES_PASSWORD").write_text(f"{postgres_server.password}\n")
    compose(
        tmp_path,
        f"""\
services:
  cdb_redis:
    image: registry.example/cdb/redis-hardened:7.4
    secrets: [redis_password]
    command: ["sh", "-c", "redis-server --appendonly yes --requirepass $$(cat /run/secrets/redis_password)"]
    healthcheck:
      test: ["CMD", "sh", "-c", "redis-cli -a $$(cat /run/secrets/redis_password) ping"]
    ports: ["127.0.0.1:{redis_server_auth.port}:6379"]
  cdb_postgres:
    image: registry.example/cdb/postgres:15
    environment:
      POSTGRES_DB: {postgres_server.dbname}
      POSTGRES_USER: {postgres_server.user}
      POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password
    secrets: [postgres_password]
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U {postgres_server.user} -d {postgres_server.dbname}"]
    ports: ["127.0.0.1:{postgres_server.port}:5432"]
secrets:
  redis_password:
    file: ./secrets/REDIS_PASSWORD
  postgres_password:
    file: ./secrets/POSTGRES_PASSWORD
""",
    )
    code, data, err = run_json(capsys, "--no-docker")
    assert [(c["name"], c["kind"], c["status"]) for c in data["checks"]] == [
        ("cdb_redis", "redis", "healthy"),
        ("cdb_postgres", "postgres", "healthy"),
    ], data
    assert code == 0, err


def test_a_tls_only_redis_as_cdbs_tls_layer_runs_it_is_probed_over_tls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # infrastructure/compose/tls.yml's server: --tls-port 6379 --port 0, the CA mounted from the host at
    # /tls (through sh -c here, so that ${REDIS_PASSWORD} is expanded in the container)
    try:
        server, tls_port = start_tls_redis(tmp_path, "tls-pw")
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    try:
        compose(
            tmp_path,
            f"""\
services:
  cdb_redis:
    image: redis:7.4-alpine
    environment:
      REDIS_PASSWORD: tls-pw
    command: >
      sh -c "redis-server --appendonly yes --requirepass $${{REDIS_PASSWORD}}
      --tls-port 6379 --port 0 --tls-cert-file /tls/redis.crt --tls-key-file /tls/redis.key
      --tls-ca-cert-file /tls/ca.crt --tls-auth-clients optional"
    volumes:
      - ./:/tls:ro
    ports: ["127.0.0.1:{tls_port}:6379"]
""",
        )
        code, data, err = run_json(capsys, "--no-docker")
        (tmp_path / "ca.crt").unlink()
        code_gone, data_gone, _ = run_json(capsys, "--no-docker")
    finally:
        server.stop()
    (check,) = data["checks"]
    assert (check["target"], check["status"], check["detail"]) == (
        f"rediss://:***@127.0.0.1:{tls_port}",
        "healthy",
        "PONG",
    ), err
    assert code == 0
    (gone,) = data_gone["checks"]
    assert gone["status"] == "unhealthy" and code_gone == 1
    assert gone["detail"] == (
        f"cannot read the CA file: {tmp_path / 'ca.crt'} (/tls/ca.crt in --tls-ca-cert-file) is not a readable file"
    )


def test_an_exec_form_requirepass_is_the_text_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # CDB's tls.yml writes `--requirepass $${REDIS_PASSWORD}` without a shell: Docker passes `${REDIS_PASSWORD}`
    # as it is, so that is the server's password. verify expanded it and reported WRONGPASS on a running Redis.
    server = RedisServer.start(password="${REDIS_PASSWORD}")
    try:
        compose(
            tmp_path,
            f"""\
services:
  cdb_redis:
    image: redis:7.4-alpine
    environment:
      REDIS_PASSWORD: what-the-author-meant
    command: >
      redis-server --appendonly yes --requirepass $${{REDIS_PASSWORD}}
    ports: ["127.0.0.1:{server.port}:6379"]
""",
        )
        code, data, err = run_json(capsys, "--no-docker")
    finally:
        server.stop()
    assert [(c["kind"], c["status"], c["detail"]) for c in data["checks"]] == [
        ("redis", "healthy", "PONG")
    ], err
    assert code == 0


def test_wrong_postgres_password_and_database_via_endpoint(
    capsys: pytest.CaptureFixture[str], postgres_server: PostgresServer
) -> None:
    code, data, _ = run_json(
        capsys,
        "--no-docker",
        "-e", f"pw={postgres_server.dsn(password='nope')}",
        "-e", f"db={postgres_server.dsn(dbname='nope')}",
        "-e", f"ok={postgres_server.url}",
    )  # fmt: skip
    assert code == 1
    details = {c["name"]: (c["status"], c["detail"]) for c in data["checks"]}
    assert details["pw"] == ("unhealthy", f'password authentication failed for user "{postgres_server.user}"')
    assert details["db"] == ("unhealthy", 'database "nope" does not exist')
    assert details["ok"][0] == "healthy"


def test_service_filter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], redis_server: RedisServer
) -> None:
    compose(
        tmp_path,
        f"services:\n  redis:\n    image: redis\n    ports: ['{redis_server.port}:6379']\n"
        f"  cdb_core:\n    ports: ['{free_port()}:8001']\n",
    )
    code, data, _ = run_json(capsys, "--no-docker", "--service", "redis")
    assert code == 0
    assert [(c["name"], c["detail"]) for c in data["checks"]] == [("redis", "PONG")]
    code, _, err = run(capsys, "--no-docker", "--service", "nope")
    assert code == 2
    assert "unknown service 'nope'" in err and "hint: services in the compose file: redis, cdb_core" in err


def test_docker_unreachable_with_nothing_else_to_check_is_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    compose(tmp_path, "services:\n  worker:\n    image: busybox\n")
    code, out, err = run(capsys)
    assert code == 3
    assert out == ""
    assert err.startswith(f"cdbctl: error: Docker engine unreachable: no socket at {NO_SOCKET}\nhint: ")
    # the same with --no-docker leaves nothing to check at all: a usage error
    code, _, err = run(capsys, "--no-docker")
    assert code == 2
    assert "nothing to check" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-e", "api=ftp://127.0.0.1/"], "unsupported URL scheme 'ftp'"),
        (["-e", "api=http://127.0.0.1:notaport/"], "bad port"),
        (["-e", "api"], "expected NAME=URL"),
        (["-e", "x=tcp://127.0.0.1:1", "--timeout", "0"], "--timeout must be above 0 and at most"),
        (["-e", "x=tcp://127.0.0.1:1", "--wait-timeout", "-1"], "--wait-timeout must be"),
        (["-e", "x=tcp://127.0.0.1:1", "--wait", "--watch"], "--wait and --watch cannot be combined"),
        (["-e", "x=tcp://127.0.0.1:1", "--format", "xml"], "Invalid value for '--format'"),
        (["-e", "x=tcp://127.0.0.1:1", "--timeout", "soon"], "Invalid value for '--timeout'"),
        (["--compose", "missing.yml"], "compose file not found: missing.yml"),
        ([], "no compose file (compose.yaml, docker-compose.yml)"),
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    assert message in err


@pytest.mark.parametrize(
    ("where", "hint"),
    [
        (".", "hint: CDB's compose files are layered: cdbctl verify -c infrastructure/compose/base.yml "
         "-c infrastructure/compose/dev.yml"),
        ("infrastructure/compose", "hint: CDB's compose files are layered: cdbctl verify -c base.yml -c dev.yml"),
        ("infrastructure", "hint: pass --compose FILE, --project NAME or --endpoint NAME=URL"),
    ],
)  # fmt: skip
def test_no_compose_file_in_a_cdb_checkout_names_its_layered_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, hint: str
) -> None:
    # The real CDB has no compose file at its root: `cdbctl verify` there said only "pass --compose FILE".
    layers = tmp_path / "infrastructure" / "compose"
    layers.mkdir(parents=True)
    for name in ("base.yml", "dev.yml"):
        (layers / name).write_text("services: {}\n")
    monkeypatch.chdir(tmp_path / where)
    code, out, err = run(capsys)
    assert (code, out) == (2, "")
    assert err.splitlines()[1] == hint


@pytest.mark.parametrize(
    ("where", "hint"),
    [
        ("infrastructure", "hint: CDB's compose files are layered: cdbctl verify -c compose/base.yml "
         "-c compose/dev.yml"),
        ("services/risk", "hint: CDB's compose files are layered: cdbctl verify "
         "-c ../../infrastructure/compose/base.yml -c ../../infrastructure/compose/dev.yml"),
    ],
)  # fmt: skip
def test_from_a_subdirectory_of_a_cdb_checkout_the_hint_names_its_layered_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, hint: str
) -> None:
    # From services/risk of a checkout the hint said only "pass --compose FILE".
    (tmp_path / ".git").mkdir()
    layers = tmp_path / "infrastructure" / "compose"
    layers.mkdir(parents=True)
    for name in ("base.yml", "dev.yml"):
        (layers / name).write_text("services: {}\n")
    (tmp_path / where).mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(tmp_path / where)
    code, out, err = run(capsys)
    assert (code, out) == (2, "")
    assert err.splitlines()[1] == hint


def test_malformed_compose_file_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    compose(tmp_path, "services:\n  redis:\n    image: redis\n    ports:\n      - '80:80:80:80'\n")
    code, _, err = run(capsys, "--no-docker")
    assert code == 2
    assert err.startswith("cdbctl: error: malformed port '80:80:80:80'")
    assert "docker-compose.yml:5" in err


def test_hanging_endpoints_all_reported(capsys: pytest.CaptureFixture[str]) -> None:
    with HangingServer() as server:
        args = [a for i in range(12) for a in ("-e", f"h{i}=http://{HOST}:{server.port}/health")]
        code, data, _ = run_json(capsys, "--no-docker", "--timeout", "0.5", *args)
        assert server.max_open == 12
    assert code == 1
    assert {c["detail"] for c in data["checks"]} == {"timed out after 0.5 s"}


def cdbctl(*args: str) -> list[str]:
    return [sys.executable, "-m", "cdbctl", "verify", *args]


def subprocess_env() -> dict[str, str]:
    return {**os.environ, "DOCKER_HOST": NO_SOCKET, "NO_COLOR": "1"}


def test_wait_for_a_server_that_appears(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        cdbctl("--no-docker", "-e", f"api=http://{HOST}:{port}/health", "--wait", "--interval", "0.1",
               "--wait-timeout", "120", "--format", "json"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env(), cwd=tmp_path,
    )  # fmt: skip
    try:
        time.sleep(1.0)  # let it poll a refused port for a while; correctness does not depend on this
        assert proc.poll() is None, "verify --wait gave up on a refused endpoint instead of waiting"
        with http_server(200, port=port):
            out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert json.loads(out)["checks"][0]["detail"] == "HTTP 200"


def test_wait_timeout_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, data, err = run_json(
        capsys, "--no-docker", "-e", f"api=http://{HOST}:{free_port()}/", "--wait", "--wait-timeout", "0.3",
        "--interval", "0.05",
    )  # fmt: skip
    assert code == 1
    assert data["checks"][0]["detail"] == "connection refused"
    assert "still not healthy after 0.3 s (--wait-timeout)" in err


def test_progress_goes_to_stderr_only_on_a_terminal(tmp_path: Path) -> None:
    with http_server(200) as server:
        args = cdbctl(
            "--no-docker", "-e", f"api=http://{HOST}:{server.server_port}/health", "--wait", "-f", "table"
        )
        # stderr is a pipe: no progress, only the summary
        piped = subprocess.run(
            args, capture_output=True, text=True, env=subprocess_env(), cwd=tmp_path, check=False
        )
        # stderr is a terminal: progress lines appear there, stdout still carries only the table
        leader, follower = pty.openpty()
        try:
            proc = subprocess.Popen(
                args, stdout=subprocess.PIPE, stderr=follower, env=subprocess_env(), cwd=tmp_path
            )
            os.close(follower)
            tty_err = b""
            while True:
                ready, _, _ = select.select([leader], [], [], 30)
                if not ready:
                    break
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                tty_err += chunk
            out, _ = proc.communicate(timeout=30)
        finally:
            os.close(leader)
    assert piped.returncode == 0
    assert piped.stderr == "verify: 1 healthy\n"
    assert proc.returncode == 0
    assert b"round 1: 1 healthy" in re.sub(rb"\x1b\[[0-9;]*m", b"", tty_err)
    assert b"round" not in out
    assert out.decode().splitlines()[0].split()[0] == "SERVICE"


def test_watch_streams_rounds_until_interrupted(tmp_path: Path) -> None:
    with http_server(200) as server:
        proc = subprocess.Popen(
            cdbctl("--no-docker", "-e", f"api=http://{HOST}:{server.server_port}/health", "--watch",
                   "--interval", "0.05", "--format", "json"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env(), cwd=tmp_path,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline() for _ in range(3)]
            proc.send_signal(signal.SIGINT)
            rest, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    rounds = [json.loads(line) for line in lines + rest.splitlines()]
    assert len(rounds) >= 3
    assert all(r["healthy"] and r["schema_version"] == 1 for r in rounds)
    assert proc.returncode == 0  # the exit code of the last round
    assert "Traceback" not in err


def test_project_without_compose_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # --project alone: only the engine could be asked, and it is unreachable -> exit 3
    code, out, err = run(capsys, "--project", "cdb")
    assert (code, out) == (3, "")
    assert "Docker engine unreachable" in err
    # with an endpoint too, the endpoint is still probed and the engine reported as one unknown check
    with http_server(200) as server:
        monkeypatch.setenv("COMPOSE_PROJECT_NAME", "cdb")
        code, data, _ = run_json(capsys, "-e", f"api=http://{HOST}:{server.server_port}/")
    assert code == 1
    assert [(c["name"], c["kind"], c["status"]) for c in data["checks"]] == [
        ("docker", "container", "unknown"),
        ("api", "http", "healthy"),
    ]


def test_compose_file_variable_is_honoured_like_docker_compose(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A CI job with COMPOSE_FILE=base.yml:ci.yml runs `docker compose up` and then `cdbctl verify`:
    # both must look at the same files (and --compose still wins).
    Path("docker-compose.yml").write_text("services:\n  other:\n    ports: ['1:1']\n")
    Path("deploy").mkdir()
    Path("deploy/base.yml").write_text("services:\n  web:\n    image: x\n")
    Path("deploy/ci.yml").write_text(f"services:\n  web:\n    ports: ['{free_port()}:80']\n")
    monkeypatch.setenv("COMPOSE_FILE", "deploy/base.yml:deploy/ci.yml")
    code, data, _ = run_json(capsys, "--no-docker", "--timeout", "0.5")
    assert code == 1
    assert [(c["name"], c["kind"]) for c in data["checks"]] == [("web", "tcp")]
    monkeypatch.setenv("COMPOSE_PATH_SEPARATOR", ",")
    monkeypatch.setenv("COMPOSE_FILE", "deploy/base.yml,deploy/ci.yml")
    assert [c["name"] for c in run_json(capsys, "--no-docker", "--timeout", "0.5")[1]["checks"]] == ["web"]
    code, data, _ = run_json(capsys, "--no-docker", "--timeout", "0.5", "--compose", "docker-compose.yml")
    assert [c["name"] for c in data["checks"]] == ["other"]
    monkeypatch.setenv("COMPOSE_FILE", "deploy/missing.yml")
    code, _, err = run(capsys, "--no-docker")
    assert code == 2 and "deploy/missing.yml" in err and "COMPOSE_FILE" in err


def test_invalid_project_name_from_the_environment_is_refused_without_compose_files_too(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only --endpoint and COMPOSE_PROJECT_NAME: the name was normalised here but refused with compose files.
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", "My Stack")
    code, _, err = run(capsys, "-e", f"api=http://{HOST}:1/")
    assert code == 2
    assert "invalid project name 'My Stack' from COMPOSE_PROJECT_NAME" in err
