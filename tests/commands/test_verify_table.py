"""The verify table: one row per service, the engine error once, nothing cut at 80 columns."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from cdbctl.commands.verify_table import render_table, service_rows, shared_engine_error
from cdbctl.verify.model import Check, Kind, Report, Status

pytestmark = pytest.mark.unit

ENGINE = "Docker engine unreachable: no socket at unix:///nonexistent.sock"


def check(service: str, kind: Kind, status: Status, detail: str, target: str = "") -> Check:
    return Check(service, service, kind, target or f"{service}-1", status, detail, 3.0)


def stack(runtime: Status = Status.healthy, detail: str = "running (healthy)") -> Report:
    return Report((
        check("cdb_core", Kind.container, runtime, detail),
        check("cdb_core", Kind.http, Status.healthy, "HTTP 200", "http://127.0.0.1:8001/health"),
        check("cdb_redis", Kind.container, runtime, detail),
        check("cdb_redis", Kind.redis, Status.unhealthy, "NOAUTH Authentication required.",
              "redis://:***@127.0.0.1:6379/0"),
        check("cdb_prometheus", Kind.container, runtime, detail),
        check("cdb_prometheus", Kind.http, Status.healthy, "HTTP 200", "http://127.0.0.1:19090/-/healthy"),
    ))  # fmt: skip


def screen(report: Report, width: int) -> list[str]:
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None).print(render_table(report, width))
    return buf.getvalue().splitlines()


def test_one_row_per_service_with_the_worst_status() -> None:
    rows = {r.service: r for r in service_rows(stack())}
    assert list(rows) == ["cdb_core", "cdb_redis", "cdb_prometheus"]
    assert rows["cdb_core"].status is Status.healthy and rows["cdb_core"].detail == "HTTP 200"
    assert rows["cdb_redis"].status is Status.unhealthy
    assert rows["cdb_redis"].detail == "NOAUTH Authentication required."
    assert rows["cdb_redis"].runtime == "healthy" and rows["cdb_redis"].probes == (
        "redis://:***@127.0.0.1:6379/0",
    )


def test_a_stopped_container_keeps_its_reason_an_absent_one_says_no_container() -> None:
    # `docker compose stop cdb_postgres` on the CDB stack: the row said "no container" for a container
    # that exists and exited with 137; the JSON said why.
    exited = Report((
        check("cdb_postgres", Kind.container, Status.missing, "exited with exit code 137 (OOM killed)"),
        check("cdb_postgres", Kind.postgres, Status.unhealthy, "connection refused", "postgresql://127.0.0.1:5432/x"),
        check("cdb_risk", Kind.container, Status.missing, "no container for service 'cdb_risk' in compose project 'cdb'"),
    ))  # fmt: skip
    rows = {r.service: r for r in service_rows(exited)}
    assert rows["cdb_postgres"].detail == "exited with exit code 137 (OOM killed); connection refused"
    assert rows["cdb_risk"].detail == "no container"


def test_engine_error_is_said_once_not_per_row() -> None:
    report = stack(Status.unknown, ENGINE)
    assert shared_engine_error(report) == ENGINE
    lines = screen(report, 80)
    assert not any("Docker engine" in line for line in lines)
    assert "CONTAINER" not in lines[0]  # every container is unknown: the column would only say "?"
    assert shared_engine_error(stack()) is None


@pytest.mark.parametrize("width", [80, 120])
def test_fits_and_never_cuts_names_or_urls(width: int) -> None:
    lines = screen(stack(Status.missing, "no container for service"), width)
    assert all(len(line) <= width for line in lines)
    text = "\n".join(lines)
    for needle in ("cdb_prometheus", "http://127.0.0.1:19090/-/healthy", "redis://:***@127.0.0.1:6379/0"):
        assert needle in text
    assert ("CONTAINER" in lines[0]) is (width == 120)


def test_long_urls_break_between_parts_and_details_lose_no_character() -> None:
    detail = "cannot read secret file /tmp/secrets/REDIS_PASSWORD (/run/secrets/redis_password): No such file"
    report = Report((
        check("cdb_postgres_exporter", Kind.postgres, Status.unhealthy, detail,
              "postgresql://claire_user@127.0.0.1:5432/claire_de_binare"),
        check("cdb_redis", Kind.redis, Status.unhealthy, detail, "redis://127.0.0.1:6379"),
    ))  # fmt: skip
    lines = screen(report, 80)
    assert all(len(line) <= 80 for line in lines)
    assert any(line.rstrip().endswith("127.0.0.1:5432") or "127.0.0.1:5432" in line for line in lines)
    assert "redis://127.0.0.1:6379" in "\n".join(lines)  # it fits: not broken
    at = lines[0].index("DETAIL")
    column = "".join(line[at:].strip() for line in lines[2:])
    assert "".join(column.split()).count("".join(detail.split())) == 2  # folded, never cropped
