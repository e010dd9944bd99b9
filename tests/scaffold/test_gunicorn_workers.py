"""The generated service under gunicorn with 4 workers, as its image runs it (HOME=/nonexistent).

/metrics adds up every worker's samples (prometheus_client multiprocess mode), whichever worker
answers; a killed worker's counts survive it; gunicorn's own log lines are JSON like the app's and
no control socket is attempted; /ready logs in to a real Redis and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cdbctl.scaffold.plan import Sources
from tests.scaffold.service_helpers import gunicorn_service, sample, scaffold_repo
from tests.servers import PostgresServer, RedisServer

pytestmark = pytest.mark.integration
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
REQUESTS = 60


def _get(url: str) -> tuple[int, str]:
    try:
        with OPENER.open(url, timeout=10) as resp:  # a new connection per request: any worker may take it
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _log_lines(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _wait_for(what: str, predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def service_dir(tmp_path_factory: pytest.TempPathFactory, sources: Sources) -> Path:
    return scaffold_repo(tmp_path_factory.mktemp("workers") / "cdb", sources) / "backoffice/services/cdb_core"


@pytest.fixture(scope="module")
def four_workers(
    service_dir: Path, redis_server_auth: RedisServer, postgres_server: PostgresServer
) -> Iterator[tuple[str, Path]]:
    env = {
        "WEB_CONCURRENCY": "4",
        "HOME": "/nonexistent",  # the image's user has no home directory
        "REDIS_URL": redis_server_auth.url,
        "DATABASE_URL": postgres_server.url,
    }
    with gunicorn_service(service_dir, env) as (base, log):
        _wait_for("4 workers", lambda: sample(_get(base + "/metrics")[1], "cdb_worker_processes") == 4)
        yield base, log


def test_metrics_are_summed_across_four_workers(four_workers: tuple[str, Path]) -> None:
    base, log = four_workers
    # Which worker accepts a connection is the kernel's choice; one idle worker can take a whole series of
    # sequential requests. Concurrent bursts until at least two workers answered (bounded), all counted.
    sent = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(REQUESTS // 4):
            statuses = list(pool.map(lambda _: _get(base + "/health")[0], range(4 * 4)))
            assert statuses == [200] * len(statuses)
            sent += len(statuses)
            pids = {line["pid"] for line in _log_lines(log) if line.get("path") == "/health"}
            if sent >= REQUESTS and len(pids) >= 2:
                break
    assert len(pids) >= 2, "the requests should have been spread over several workers"
    text = _get(base + "/metrics")[1]
    assert sample(text, "cdb_http_requests_total", endpoint="/health", status="200") == sent
    assert sample(text, "cdb_http_request_duration_seconds_count", endpoint="/health") == sent
    assert sample(text, "cdb_service_info", service="cdb_core") == 1  # one series, not one per worker
    # Process metrics describe the master and its 4 workers together.
    assert sample(text, "cdb_worker_processes") == 4
    assert sample(text, "process_resident_memory_bytes") > 5 * 10_000_000
    assert sample(text, "process_open_fds") > 0 and sample(text, "process_cpu_seconds_total") > 0

    # A worker killed outright is replaced; what it counted still counts.
    victim = int(next(iter(pids)))  # type: ignore[call-overload]
    os.kill(victim, signal.SIGKILL)
    _wait_for("a replacement worker", lambda: "Booting worker" in log.read_text().rsplit(str(victim), 1)[-1])
    _wait_for("4 workers again", lambda: sample(_get(base + "/metrics")[1], "cdb_worker_processes") == 4)
    text = _get(base + "/metrics")[1]
    assert sample(text, "cdb_http_requests_total", endpoint="/health", status="200") == sent


def test_ready_logs_in_to_redis_and_postgres_from_every_worker(four_workers: tuple[str, Path]) -> None:
    base, _ = four_workers
    for _ in range(8):
        status, body = _get(base + "/ready")
        assert (status, json.loads(body)["checks"]) == (200, {"redis": "ok", "postgres": "ok"})


def test_gunicorn_logs_json_lines_and_opens_no_control_socket(four_workers: tuple[str, Path]) -> None:
    _, log = four_workers
    lines = _log_lines(log)  # every line of stdout and stderr parses as JSON
    messages = [str(line.get("message", "")) for line in lines if line.get("event") == "gunicorn"]
    assert any(m.startswith("Booting worker") for m in messages)
    assert any(m.startswith("Listening at: http://127.0.0.1:") for m in messages)
    assert all(line["service"] == "cdb_core" and "ts" in line and "pid" in line for line in lines)
    assert not [m for m in messages if "ontrol" in m], messages  # "Control server error", "control socket"
    assert not Path("/nonexistent").exists()


def test_a_given_metrics_directory_is_emptied_at_start(service_dir: Path, tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    env = {"WEB_CONCURRENCY": "2", "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    with gunicorn_service(service_dir, env) as (base, _):
        for _ in range(5):
            _get(base + "/health")
        assert sample(_get(base + "/metrics")[1], "cdb_http_requests_total", endpoint="/health") == 5
    assert list(directory.glob("*.db")), "the samples of the first run are files in the directory"
    with gunicorn_service(service_dir, env) as (base, _):
        assert sample(_get(base + "/metrics")[1], "cdb_http_requests_total", endpoint="/health") == 0
    assert directory.is_dir()  # a directory it was given is never removed


def test_the_default_metrics_directory_is_removed_at_exit(service_dir: Path) -> None:
    before = set(Path("/dev/shm").glob("cdb_core-metrics-*")) if Path("/dev/shm").is_dir() else set()
    with gunicorn_service(service_dir, {"WEB_CONCURRENCY": "1"}) as (base, _):
        assert _get(base + "/health")[0] == 200
    after = set(Path("/dev/shm").glob("cdb_core-metrics-*")) if Path("/dev/shm").is_dir() else set()
    assert after <= before


def test_gunicorn_access_log_is_json_when_turned_on(service_dir: Path) -> None:
    with gunicorn_service(service_dir, {"WEB_CONCURRENCY": "1", "GUNICORN_ACCESS_LOG": "1"}) as (base, log):
        request = urllib.request.Request(base + "/health?probe=1", headers={"X-Request-ID": "req-42"})
        with OPENER.open(request, timeout=10) as resp:
            assert resp.status == 200
        _wait_for("the access line", lambda: '"event": "access"' in log.read_text())
        (access,) = [line for line in _log_lines(log) if line.get("event") == "access"]
    assert access["method"] == "GET" and access["path"] == "/health" and access["query"] == "probe=1"
    assert access["status"] == 200 and access["request_id"] == "req-42"
    assert isinstance(access["duration_ms"], float) and access["level"] == "info"
