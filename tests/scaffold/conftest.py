"""Fixtures for the scaffold tests: the real shipped sources and throwaway repositories."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from cdbctl.resources import compose_dir, templates_dir
from cdbctl.scaffold.plan import Sources
from cdbctl.scaffold.runner import package_dir
from cdbctl.scaffold.sources import load_sources
from tests.scaffold.service_helpers import scaffold_repo, service_app

DATA = Path(__file__).resolve().parent.parent / "data" / "scaffold"

SEED_COMPOSE = """\
services:
  redis:
    image: redis:7-alpine
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
  cdb_core:
    build:
      context: ./backoffice/services/signal_engine
      dockerfile: Dockerfile
  cdb_risk:
    build:
      context: ./backoffice/services/risk_manager
      dockerfile: Dockerfile
  cdb_execution:
    build:
      context: ./backoffice/services/execution_service
      dockerfile: Dockerfile
"""


@pytest.fixture(scope="session")
def sources() -> Sources:
    """The templates, compose fragment and vendored engine exactly as cdbctl ships them."""
    return load_sources(templates_dir(), compose_dir(), package_dir())


@pytest.fixture(scope="module")
def readiness(tmp_path_factory: pytest.TempPathFactory, sources: Sources) -> Iterator[ModuleType]:
    """The generated app/readiness.py of cdb_core (its app/pgwire.py logs in to PostgreSQL)."""
    root = scaffold_repo(tmp_path_factory.mktemp("ready") / "cdb", sources, ["cdb_core"])
    with service_app(root / "backoffice/services/cdb_core"):
        from app import readiness as module  # type: ignore[import-not-found]

        yield module


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A CDB-like repository with the seed's broken compose file and a shared services/ package."""
    root = tmp_path / "cdb"
    (root / "services").mkdir(parents=True)
    (root / "services" / "__init__.py").write_text("")
    (root / "docker-compose.yml").write_text(SEED_COMPOSE)
    return root


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root (relative POSIX path -> bytes)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(autouse=True)
def _no_compose_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's COMPOSE_FILE must not choose the compose files of these tests."""
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    monkeypatch.delenv("COMPOSE_PATH_SEPARATOR", raising=False)
