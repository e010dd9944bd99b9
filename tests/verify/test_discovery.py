"""Probe selection: the first rule that applies to a service decides its probe (docs/verify.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdbctl.verify.discovery import RULES, plan_probes
from cdbctl.verify.model import Endpoint, ProbeSpec, Status
from cdbctl.verify.probes import Deadline
from cdbctl.verify.project import load_project
from cdbctl.verify.runner import run_probe

pytestmark = pytest.mark.unit


def plan(tmp_path: Path, services: str, env: dict[str, str] | None = None) -> list[tuple[str, str, str]]:
    f = tmp_path / "compose.yaml"
    f.write_text("services:\n" + services)
    project = load_project([f], env or {})
    return [(p.name, p.rule, p.endpoint.display) for p in plan_probes(project, project.active, [])]


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        # the service's own HTTP healthcheck, mapped to the published port
        ("  mon:\n    image: prom/prometheus\n    ports: ['19090:9090']\n    healthcheck:\n"
         "      test: [CMD, wget, -qO-, 'http://localhost:9090/-/ready']\n",
         ("mon", "healthcheck", "http://127.0.0.1:19090/-/ready")),
        # healthcheck on a port that is not published: the image table is next
        ("  mon:\n    image: prom/prometheus\n    ports: ['19090:9090']\n    healthcheck:\n"
         "      test: [CMD, wget, 'http://localhost:9999/x']\n",
         ("mon", "image", "http://127.0.0.1:19090/-/healthy")),
        ("  graf:\n    image: grafana/grafana:11.4.0\n    ports: ['3001:3000']\n",
         ("graf", "image", "http://127.0.0.1:3001/api/health")),
        # exporters are HTTP, whatever their names say
        ("  cdb_redis_exporter:\n    image: oliver006/redis_exporter\n    ports: ['9121:9121']\n",
         ("cdb_redis_exporter", "image", "http://127.0.0.1:9121/health")),
        ("  cdb_postgres_exporter:\n    image: prometheuscommunity/postgres-exporter\n    ports: ['9187:9187']\n",
         ("cdb_postgres_exporter", "image", "http://127.0.0.1:9187/metrics")),
        # Redis and PostgreSQL by image, not by name
        ("  cache:\n    image: valkey/valkey:8\n    ports: ['6390:6379']\n",
         ("cache", "redis", "redis://127.0.0.1:6390")),
        ("  redis:\n    image: nginx\n    ports: ['6379:80']\n", ("redis", "tcp", "tcp://127.0.0.1:6379")),
        ("  store:\n    image: timescale/timescaledb:latest-pg16\n    ports: ['5440:5432']\n",
         ("store", "postgres", "postgresql://postgres@127.0.0.1:5440/postgres")),
        ("  postgres:\n    image: busybox\n    ports: ['5432:5432']\n",
         ("postgres", "tcp", "tcp://127.0.0.1:5432")),
        # a locally built server on the Redis port
        ("  kv:\n    build: ./kv\n    ports: ['6381:6379']\n", ("kv", "port", "redis://127.0.0.1:6381")),
        # an image the tables do not know (a private mirror, a hardened build) that says what it runs
        ("  cdb_redis:\n    image: registry.example/cdb/redis-hardened:7\n    ports: ['6379:6379']\n"
         "    command: [sh, -c, 'redis-server --appendonly yes']\n",
         ("cdb_redis", "port", "redis://127.0.0.1:6379")),
        ("  cdb_postgres:\n    image: registry.example/cdb/pg:15\n    ports: ['5433:5432']\n"
         "    healthcheck: {test: [CMD-SHELL, 'pg_isready -U claire_user -d claire_de_binare']}\n",
         ("cdb_postgres", "port", "postgresql://postgres@127.0.0.1:5433/postgres")),
        # ... but a client in the healthcheck of a service on another port is not that server
        ("  cdb_db_writer:\n    image: registry.example/cdb/db_writer:1\n    ports: ['8010:8010']\n"
         "    healthcheck: {test: [CMD-SHELL, 'pg_isready -h cdb_postgres']}\n",
         ("cdb_db_writer", "cdb", "http://127.0.0.1:8010/health")),
        # ... nor is a secret named after it
        ("  cdb_kv:\n    image: registry.example/kv:1\n    ports: ['6382:6379']\n"
         "    entrypoint: [sh, -c, 'export P=$$(cat /run/secrets/redis_password) && exec kv']\n",
         ("cdb_kv", "cdb", "http://127.0.0.1:6382/health")),
        # cdb services without an HTTP healthcheck: /health
        ("  cdb_risk:\n    build: {context: ../.., dockerfile: services/risk/Dockerfile}\n    ports: ['8002:8002']\n"
         "    healthcheck: {test: [CMD, python, /app/healthcheck.py]}\n",
         ("cdb_risk", "cdb", "http://127.0.0.1:8002/health")),
        ("  worker:\n    image: busybox\n    ports: ['7000:7000']\n", ("worker", "tcp", "tcp://127.0.0.1:7000")),
    ],
)  # fmt: skip
def test_first_matching_rule_decides(tmp_path: Path, service: str, expected: tuple[str, str, str]) -> None:
    assert plan(tmp_path, service)[0] == expected


def test_rule_order() -> None:
    # docs/verify.md shows them in this order (a generated table, see tests/test_reference.py)
    assert [name for name, _ in RULES] == ["healthcheck", "image", "redis", "postgres", "port", "cdb", "tcp"]
    assert all(select.__doc__ for _, select in RULES)


def test_an_unreadable_secret_makes_the_probe_say_so_without_connecting(tmp_path: Path) -> None:
    f = tmp_path / "compose.yaml"
    f.write_text(
        "services:\n  r:\n    image: redis\n    ports: ['1:6379']\n"
        "    command: [sh, -c, 'redis-server --requirepass $$(cat /run/secrets/pw)']\n    secrets: [pw]\n"
        "secrets:\n  pw:\n    file: ./missing\n"
    )
    project = load_project([f], {})
    (spec,) = plan_probes(project, ["r"], [])
    assert spec.endpoint.password is None
    assert spec.problem == (
        f"cannot read secret file {tmp_path / 'missing'} (/run/secrets/pw in the command): No such file or directory"
    )
    # port 1 would refuse the connection: the problem, not "connection refused", is the detail
    check = run_probe(spec, Deadline(1.0))
    assert (check.status, check.detail) == (Status.unhealthy, spec.problem)


def test_endpoint_option_replaces_the_rule(tmp_path: Path) -> None:
    f = tmp_path / "compose.yaml"
    f.write_text("services:\n  graf:\n    image: grafana/grafana\n    ports: ['3000:3000']\n")
    project = load_project([f], {})
    override = ProbeSpec("graf", "graf", Endpoint("http", "127.0.0.1", 3000, "/login"))
    (spec,) = plan_probes(project, ["graf"], [override])
    assert (spec.rule, spec.endpoint.display) == ("", "http://127.0.0.1:3000/login")
