"""The verify command's own text: the --wait progress line."""

from __future__ import annotations

import pytest

from cdbctl.commands.verify import waiting_for
from cdbctl.verify.model import Check, Kind, Report, Status

pytestmark = pytest.mark.unit


def pair(service: str, status: Status) -> tuple[Check, Check]:
    """A service's container check and its HTTP probe, both in one state."""
    return (
        Check(service, service, Kind.container, "img", status, "running, health: starting"),
        Check(service, service, Kind.http, "http://127.0.0.1:1/health", status, "HTTP 503", 1.0),
    )


def test_waiting_names_each_service_once() -> None:
    # Four services with a container and a probe each: the line said "a, a, b, b…" (checks, not services).
    services = ["cdb_redis", "cdb_postgres", "cdb_risk", "cdb_execution"]
    report = Report(tuple(c for s in services for c in pair(s, Status.starting)))
    assert waiting_for(report) == "; waiting for cdb_redis, cdb_postgres, cdb_risk, cdb_execution"
    more = Report(report.checks + pair("cdb_signal", Status.unhealthy) + pair("cdb_ws", Status.healthy))
    assert waiting_for(more) == "; waiting for cdb_redis, cdb_postgres, cdb_risk, cdb_execution…"
    assert waiting_for(Report(pair("cdb_ws", Status.healthy))) == ""
