"""A service scaffold adds to a compose file follows that file's own conventions.

The fixtures are written for these tests after the shapes the public CDB repository and common
compose files use (x- blocks with anchors merged into services, `logging: *default-logging`,
a shared network, `${POSTGRES_USER:-claire_user}`); no file is copied.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from cdbctl.scaffold.compose_doc import ComposeDoc, layered_dependencies, services_node
from cdbctl.scaffold.conventions import find_conventions, variable_expressions
from cdbctl.scaffold.plan import Sources
from cdbctl.scaffold.runner import patch_for
from cdbctl.scaffold.spec import build_specs

pytestmark = pytest.mark.unit

ANCHORED = """\
x-logging: &default-logging
  driver: json-file
  options: {max-size: "10m", max-file: "3"}

x-service-env: &service-env
  REDIS_URL: redis://redis:6379/0
  DATABASE_URL: postgresql://trader:${DB_PASSWORD:-local}@postgres:5432/ledger
  LOG_LEVEL: INFO

x-backoffice: &backoffice
  restart: unless-stopped
  logging: *default-logging
  depends_on:
    redis: {condition: service_healthy}

services:
  redis:
    image: redis:7-alpine
    logging: *default-logging
    healthcheck: {test: ["CMD", "redis-cli", "ping"]}
  postgres:
    image: postgres:16
    environment:
      POSTGRES_USER: trader
      POSTGRES_DB: ledger
  cdb_core:
    <<: *backoffice
    build: .
    environment:
      <<: *service-env
      SERVICE_NAME: cdb_core
"""

PLAIN_ALIASES = """\
x-log: &default-logging
  driver: local
services:
  cache:
    image: redis:7
    restart: always
    logging: *default-logging
    networks: [backend]
  db:
    image: postgres:15-alpine
    restart: always
    logging: *default-logging
    environment:
      POSTGRES_USER: ${POSTGRES_USER:-claire_user}
      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set it}
    networks:
      - backend
networks:
  backend: {}
"""


def _add(text: str, sources: Sources, service: str = "cdb_signal:8010", texts: tuple[str, ...] = ()) -> str:
    deps = layered_dependencies([(f"layer{i}.yml", t) for i, t in enumerate(texts)]) if texts else None
    out = patch_for(
        text, build_specs([service]), sources, "docker-compose.yml", deps=deps, layer_texts=texts
    ).text
    # The result is idempotent and the file's other services load exactly as before.
    assert patch_for(out, build_specs([service]), sources, "docker-compose.yml").text == out
    before, after = yaml.safe_load(text), yaml.safe_load(out)
    name = service.split(":", maxsplit=1)[0]
    assert {k: v for k, v in after["services"].items() if k != name} == before["services"]
    return out


def _block(out: str, name: str) -> str:
    start = out.index(f"  {name}:\n")
    end = re.search(r"\n\S", out[start:])
    return out[start : start + end.start() + 1] if end else out[start:]


def test_added_service_merges_the_files_anchors_instead_of_repeating_them(sources: Sources) -> None:
    out = _add(ANCHORED, sources)
    block = _block(out, "cdb_signal")
    assert block.startswith("  cdb_signal:\n    <<: *backoffice\n    build:\n")
    assert "      <<: *service-env\n" in block
    # What the anchors provide is not written again (it would override the file's choice).
    for key in ("restart:", "logging:", "depends_on:", "REDIS_URL:", "DATABASE_URL:", "LOG_LEVEL:"):
        assert key not in block, key
    svc: dict[str, Any] = yaml.safe_load(out)["services"]["cdb_signal"]
    assert svc["restart"] == "unless-stopped"
    assert svc["logging"] == {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}}
    assert svc["environment"]["DATABASE_URL"].startswith("postgresql://trader:")
    assert svc["environment"]["PORT"] == "8010"


def test_added_service_reuses_logging_alias_restart_networks_and_variables(sources: Sources) -> None:
    out = _add(PLAIN_ALIASES, sources)
    block = _block(out, "cdb_signal")
    assert "    restart: always\n    logging: *default-logging\n" in block
    assert "    networks:\n      - backend\n" in block
    assert "postgresql://${POSTGRES_USER:-claire_user}:${POSTGRES_PASSWORD:?set it}@" in block
    assert "${POSTGRES_USER:-cdb}" not in block
    svc = yaml.safe_load(out)["services"]["cdb_signal"]
    assert svc["logging"] == {"driver": "local"} and svc["networks"] == ["backend"]
    assert svc["depends_on"] == ["cache", "db"]


def test_postgres_literals_become_the_defaults(sources: Sources) -> None:
    text = (
        "services:\n  postgres:\n    image: postgres:15\n    environment:\n      POSTGRES_USER: claire_user\n"
    )
    text += "      POSTGRES_DB: claire_de_binare\n"
    block = _block(_add(text, sources), "cdb_signal")
    assert "postgresql://${POSTGRES_USER:-claire_user}:" in block
    assert "/${POSTGRES_DB:-claire_de_binare}\n" in block


def test_variables_of_other_layers_count(sources: Sources) -> None:
    base = "services:\n  db:\n    image: postgres\n    environment:\n      POSTGRES_USER: ${POSTGRES_USER:-claire_user}\n"
    dev = "services:\n  web:\n    image: nginx\n"
    block = _block(_add(dev, sources, texts=(base, dev)), "cdb_signal")
    assert "${POSTGRES_USER:-claire_user}" in block


def test_a_file_without_conventions_gets_the_reference_fragment(sources: Sources) -> None:
    block = _block(_add("services:\n  web:\n    image: nginx\n", sources), "cdb_signal")
    assert "    restart: unless-stopped\n" in block
    assert "logging:" not in block and "networks:" not in block and "<<:" not in block


def test_a_logging_block_after_the_services_is_not_aliased(sources: Sources) -> None:
    # An alias must come after its anchor: a block defined below the services cannot be used there.
    text = "services:\n  web:\n    image: nginx\nx-logging: &late\n  driver: local\n"
    assert "logging:" not in _block(_add(text, sources), "cdb_signal")
    early = "x-logging: &early\n  driver: local\nservices:\n  web:\n    image: nginx\n"
    assert "    logging: *early\n" in _block(_add(early, sources), "cdb_signal")


def test_conventions_follow_the_majority_of_application_services() -> None:
    text = """\
services:
  redis: {image: redis, restart: always}
  a: {build: ., restart: on-failure, networks: [x, y]}
  b: {build: ., restart: on-failure, networks: [x, y]}
  c: {build: ., restart: "no"}
"""
    doc = ComposeDoc(text, "c.yml")
    services = services_node(doc)
    assert services is not None
    conv = find_conventions(doc, services, set())
    assert conv.restart == "on-failure" and conv.networks == ("x", "y")
    assert find_conventions(doc, services, {"a", "b"}).restart == "no"  # the services being added do not vote


def test_variable_expressions_skip_what_would_not_stay_one_plain_scalar() -> None:
    found = variable_expressions(["a: ${A:-x}\nb: ${B:?say: this}\nc: ${C:-${D}}\na2: ${A:-y}\n"])
    assert found == {"A": "${A:-x}"}


def test_a_service_merging_another_service_is_not_followed(sources: Sources) -> None:
    """`<<: *svc` where svc is a service's own anchor: the added service inherited its container_name
    (docker compose config: container name "cdb_ws" is already in use)."""
    text = """\
services:
  cdb_ws: &svc
    build: {context: ./ws}
    container_name: cdb_ws
    restart: always
  cdb_signal_in:
    <<: *svc
    build: {context: ./signal}
    container_name: cdb_signal_in
"""
    block = _block(_add(text, sources), "cdb_signal")
    assert "<<:" not in block
    assert "container_name" not in yaml.safe_load(_add(text, sources))["services"]["cdb_signal"]
    assert "    restart: always\n" in block  # what the services share is still followed
    # An x- block that sets container_name is not followed either.
    shared = "x-one: &one\n  container_name: only_one\n" + text.replace("&svc", "").replace("*svc", "*one")
    assert "<<:" not in _block(_add(shared, sources), "cdb_signal")
