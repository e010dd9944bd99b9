"""The runner: concurrency (proved structurally), --wait (appearing servers, early failure), --watch."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from cdbctl.verify.containers import container_checks
from cdbctl.verify.model import Check, Endpoint, Kind, Outcome, ProbeSpec, Report, Status
from cdbctl.verify.probes import REGISTRY, Deadline
from cdbctl.verify.runner import Plan, run_round, summarize, wait_until_healthy, watch
from cdbctl.verify.urls import parse_url
from tests.servers import HOST, HangingServer, free_port, http_server

pytestmark = pytest.mark.integration

CONTAINERS = Path(__file__).parent.parent / "data" / "verify" / "containers"


def spec(name: str, url: str, service: str | None = None) -> ProbeSpec:
    return ProbeSpec(name, service or name, parse_url(url))


def recorded(name: str) -> dict[str, Any]:
    return json.loads((CONTAINERS / f"{name}.json").read_text())


def test_many_hanging_endpoints_are_probed_at_the_same_time() -> None:
    n = 24
    with HangingServer() as server:
        schemes = ["http", "redis", "postgresql"]  # all three protocols, each with a path its scheme accepts
        probes = tuple(spec(f"hang{i}", f"{schemes[i % 3]}://u:p@{HOST}:{server.port}/{i}") for i in range(n))
        report = run_round(Plan(probes), timeout=1.0)
        # Sequential probes would never hold more than one connection open: each one times out and
        # closes before the next connects. All n open together proves they ran concurrently.
        assert server.max_open == n
        assert server.accepted == n
    assert len(report.checks) == n
    assert {c.detail for c in report.checks} == {"timed out after 1.0 s"}
    assert {c.status for c in report.checks} == {Status.unhealthy}
    assert not report.healthy


def test_a_straggling_probe_never_keeps_the_process_alive() -> None:
    # libpq waits at least 2 s to connect whatever --timeout says: the report is printed at the
    # deadline, and the process must be free to exit then, so stragglers run on daemon threads.
    release = threading.Event()
    running: list[threading.Thread] = []

    def stuck(endpoint: Endpoint, deadline: Deadline) -> Outcome:
        running.append(threading.current_thread())
        release.wait(30)
        return Outcome(Status.healthy, "late")

    plan = Plan((spec("db", f"postgresql://{HOST}:5432/x"),))
    try:
        report = run_round(plan, timeout=0.2, registry={"postgres": stuck})
        assert [c.detail for c in report.checks] == ["timed out after 0.2 s"]
        assert running and running[0].is_alive() and running[0].daemon
    finally:
        release.set()


def test_a_thread_that_cannot_start_is_a_local_failure_not_a_crash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # e.g. a container's pids limit reached by a port range of hundreds of probes
    from cdbctl.verify import runner

    def refuse(thread: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(runner, "_start", refuse)
    report = run_round(Plan((spec("api", f"http://{HOST}:1/health"),)), timeout=0.5)
    # The cause is here, not in the service: status unknown, marked local (the command exits 3).
    assert [(c.status, c.detail, c.local) for c in report.checks] == [
        (Status.unknown, "not checked: cdbctl itself can't start new thread", True)
    ]


def test_a_container_query_that_hangs_does_not_hold_up_the_round() -> None:
    release = threading.Event()

    def stuck_engine(timeout: float) -> tuple[list[Check], list[str]]:
        release.wait(30)
        return [], []

    with http_server(200) as server:
        plan = Plan((spec("api", f"http://{HOST}:{server.server_port}/health"),), stuck_engine, ("api",))
        try:
            report = run_round(plan, timeout=0.5)
        finally:
            release.set()
    assert [(c.name, c.kind, c.status, c.detail) for c in report.checks] == [
        ("api", Kind.container, Status.unknown, "Docker engine did not answer within 0.5 s"),
        ("api", Kind.http, Status.healthy, "HTTP 200"),
    ]


def test_checks_are_grouped_by_service_containers_first() -> None:
    def engine(timeout: float) -> tuple[list[Check], list[str]]:
        payloads = [recorded("v2_running_no_healthcheck"), recorded("v2_running_unhealthy")]
        return container_checks(payloads, "cdbrec", ["redis", "cdb_core"]), []

    probes = (
        spec("cdb_core", f"http://{HOST}:{free_port()}/health"),
        spec("redis", f"redis://{HOST}:{free_port()}"),
    )
    report = run_round(Plan(probes, engine, ("redis", "cdb_core")), timeout=1.0)
    assert [(c.service, c.kind) for c in report.checks] == [
        ("redis", Kind.container),
        ("redis", Kind.redis),
        ("cdb_core", Kind.container),
        ("cdb_core", Kind.http),
    ]
    # per service, as the table's rows: redis's probe fails though its container is healthy
    assert summarize(report.checks) == "2 unhealthy"


def test_a_probe_that_raises_becomes_an_unhealthy_check() -> None:
    def broken(endpoint: Endpoint, deadline: Deadline) -> Outcome:
        raise ValueError("boom")

    registry = {**REGISTRY, "tcp": broken}
    report = run_round(Plan((spec("x", "tcp://127.0.0.1:1"),)), 1.0, registry)
    assert [(c.status, c.detail) for c in report.checks] == [
        (Status.unhealthy, "probe failed: ValueError: boom")
    ]


def test_wait_sees_a_server_that_appears() -> None:
    port = free_port()
    seen: list[list[str]] = []
    started: list[Any] = []

    def on_round(report: Report, rounds: int, elapsed: float) -> None:
        seen.append([c.detail for c in report.checks])
        if rounds == 2:  # the server comes up while verify is waiting
            started.append(http_server(200, port=port))
            started[0].__enter__()

    try:
        result = wait_until_healthy(
            Plan((spec("api", f"http://{HOST}:{port}/health"),)), 1.0, 600, interval=0.01, on_round=on_round
        )
    finally:
        for cm in started:
            cm.__exit__(None, None, None)
    assert result.reason == "healthy"
    assert result.rounds == 3
    assert seen == [["connection refused"], ["connection refused"], ["HTTP 200"]]
    assert result.report.healthy


def test_wait_stops_at_once_on_an_exited_container() -> None:
    rounds: list[int] = []

    def engine(timeout: float) -> tuple[list[Check], list[str]]:
        return container_checks([recorded("v2_exited_code_3")], "cdbrec", ["postgres"]), []

    result = wait_until_healthy(
        Plan((), engine, ("postgres",)), 1.0, 600, interval=0.01, on_round=lambda r, n, e: rounds.append(n)
    )
    assert (result.reason, result.rounds, rounds) == ("failed", 1, [1])
    assert [(c.name, c.detail) for c in result.report.terminal] == [
        ("cdbrec-postgres-1", "exited with exit code 3")
    ]


def test_wait_stops_on_a_crash_loop_but_keeps_waiting_for_a_starting_container() -> None:
    answers = iter(
        [
            [recorded("v2_running_health_starting")],  # starting: keep waiting
            [recorded("v2_restart_loop")],  # crash loop: stop
        ]
    )

    def engine(timeout: float) -> tuple[list[Check], list[str]]:
        return container_checks(next(answers), "cdbrec", None), []

    result = wait_until_healthy(Plan((), engine), 1.0, 600, interval=0.01)
    assert (result.reason, result.rounds) == ("failed", 2)
    assert "crash loop" in result.report.terminal[0].detail


def test_wait_until_container_turns_healthy() -> None:
    answers = iter(
        [[recorded("v2_running_health_starting")], [recorded("v2_created")], [recorded("v2_running_healthy")]]
    )

    def engine(timeout: float) -> tuple[list[Check], list[str]]:
        return container_checks(next(answers), "cdbrec", None), []

    result = wait_until_healthy(Plan((), engine), 1.0, 600, interval=0.01)
    assert (result.reason, result.rounds) == ("healthy", 3)


def test_wait_times_out() -> None:
    slept: list[float] = []
    result = wait_until_healthy(
        Plan((spec("api", f"http://{HOST}:{free_port()}/health"),)),
        1.0,
        0.2,
        interval=0.05,
        sleep=slept.append,
    )
    assert result.reason == "timed out"
    assert result.report.checks[0].detail == "connection refused"
    assert all(0 < s <= 0.05 for s in slept)


def test_watch_runs_rounds_until_stopped() -> None:
    reports: list[tuple[int, bool]] = []
    with http_server(200) as server:
        last = watch(
            Plan((spec("api", f"http://{HOST}:{server.server_port}/health"),)),
            1.0,
            interval=0.01,
            on_round=lambda r, n, e: reports.append((n, r.healthy)),
            max_rounds=3,
        )
        assert len(server.requests) == 3
    assert reports == [(1, True), (2, True), (3, True)]
    assert last.healthy


def test_empty_plan_is_not_healthy() -> None:
    assert not run_round(Plan(), 1.0).healthy


def test_a_container_query_that_crashes_becomes_unknown_checks() -> None:
    def broken_engine(timeout: float) -> tuple[list[Check], list[str]]:
        raise KeyError("State")

    report = run_round(Plan((), broken_engine, ("redis",)), 1.0)
    assert [(c.name, c.status, c.detail) for c in report.checks] == [
        ("redis", Status.unknown, "container query failed: KeyError: 'State'")
    ]
