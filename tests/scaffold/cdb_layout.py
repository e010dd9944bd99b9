"""A repository laid out like the current CDB: layered compose files under infrastructure/compose/.

Written for these tests from what the public CDB repository shows (base.yml with the data stores and
monitoring, dev.yml adding ports and the application services, builds from services/<name>/Dockerfile
with `context: ../..`, secrets read with `$(cat /run/secrets/...)`); no file of it is copied.
"""

from __future__ import annotations

from pathlib import Path

BASE = """\
# Stack base: data stores and monitoring, nothing published.
name: ${STACK_NAME:-cdb}

services:
  cdb_redis:
    image: redis:7.4-alpine
    secrets: [redis_password]
    command: ["sh", "-c", "redis-server --requirepass $$(cat /run/secrets/redis_password)"]
    healthcheck:
      test: ["CMD", "sh", "-c", "redis-cli -a $$(cat /run/secrets/redis_password) ping"]
      interval: 10s

  cdb_postgres:
    image: postgres:15-alpine
    environment:
      POSTGRES_DB: claire_de_binare
      POSTGRES_USER: ${POSTGRES_USER:-claire_user}
      POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password
    secrets: [postgres_password]
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U ${POSTGRES_USER:-claire_user}"]

  cdb_prometheus:
    image: prom/prometheus:v2.55.0
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://localhost:9090/-/healthy"]

  cdb_execution:
    build:
      context: ../..
      dockerfile: services/execution/Dockerfile
    environment:
      MOCK_TRADING: "true"

secrets:
  redis_password:
    file: ${SECRETS_PATH:-../../.secrets}/redis_password
  postgres_password:
    file: ${SECRETS_PATH:-../../.secrets}/postgres_password
"""

DEV = """\
# Development overrides: loopback ports and the application services.
services:
  cdb_redis:
    ports:
      - "127.0.0.1:6379:6379"

  cdb_postgres:
    ports:
      - "127.0.0.1:5432:5432"

  cdb_risk:
    build:
      context: ../..
      dockerfile: services/risk/Dockerfile
    secrets: [redis_password]
    entrypoint: ["sh", "-c", "export REDIS_PASSWORD=$(cat /run/secrets/redis_password) && exec python -m services.risk"]
    ports:
      - "127.0.0.1:8002:8002"

  cdb_execution:
    ports:
      - "127.0.0.1:8003:8003"
"""

DOCKERFILE = "FROM python:3.12-slim\nCOPY . /app\n"


def make_cdb(root: Path) -> Path:
    """Write the layout under root and return root."""
    compose = root / "infrastructure" / "compose"
    compose.mkdir(parents=True)
    (compose / "base.yml").write_text(BASE)
    (compose / "dev.yml").write_text(DEV)
    for name in ("risk", "execution"):
        (root / "services" / name).mkdir(parents=True)
        (root / "services" / name / "Dockerfile").write_text(DOCKERFILE)
    (root / "services" / "__init__.py").write_text("")
    return root


LAYERS = ("infrastructure/compose/base.yml", "infrastructure/compose/dev.yml")
