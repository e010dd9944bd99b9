"""Session fixtures shared by every test package: real Redis and PostgreSQL servers on 127.0.0.1.

Each server starts on first use and stops at the end of the session. Use them from any test:

    def test_x(redis_server, postgres_server):
        redis_server.url        # redis://127.0.0.1:<port>/0  (no password)
        postgres_server.url     # postgresql://cdb:<pw>@127.0.0.1:<port>/cdb
        postgres_server.dsn(password="wrong")

`redis_server_auth` requires a password (`.password`, and `.url` carries it). On a machine without
the binaries the tests using them are skipped, except under CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.servers import PostgresServer, RedisServer, ServerUnavailable


@pytest.fixture(autouse=True)
def _clean_risk_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs against the built-in risk defaults: risk keys (and their aliases, CDB's names
    included) in the caller's shell are removed, so `MAX_LEVERAGE=2 pytest` tests the same code."""
    from cdbctl.risk.config import KEYS

    for key in KEYS:
        for name in (key.name, *key.aliases):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _clean_output_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Output and error reports as a plain run gives them: a shell with CDBCTL_DEBUG=1 (tracebacks instead
    of one-line errors), FORCE_COLOR or NO_COLOR (escape codes in tables) or a narrow COLUMNS tests the same
    code. A test that needs one sets it itself."""
    for name in ("CDBCTL_DEBUG", "FORCE_COLOR", "NO_COLOR", "COLUMNS", "LINES"):
        monkeypatch.delenv(name, raising=False)


def _unavailable(exc: ServerUnavailable) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{exc} (required in CI: run bash .ci/setup.sh)")
    pytest.skip(str(exc))


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server on 127.0.0.1 without a password."""
    try:
        server = RedisServer.start()
    except ServerUnavailable as exc:
        _unavailable(exc)
        raise
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server_auth() -> Iterator[RedisServer]:
    """A redis-server on 127.0.0.1 with `requirepass` (test-only password in `.password`)."""
    try:
        server = RedisServer.start(password="cdb-redis-test-password")
    except ServerUnavailable as exc:
        _unavailable(exc)
        raise
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster on 127.0.0.1 with role/database `cdb` (password auth over TCP)."""
    try:
        server = PostgresServer.start()
    except ServerUnavailable as exc:
        _unavailable(exc)
        raise
    yield server
    server.stop()


LAYERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test says which layer it belongs to: exactly one of the unit/integration/e2e markers."""
    wrong = [item.nodeid for item in items if sum(1 for m in LAYERS if item.get_closest_marker(m)) != 1]
    if wrong:
        raise pytest.UsageError(
            f"{len(wrong)} test(s) without exactly one of the markers {', '.join(LAYERS)}: "
            + ", ".join(wrong[:5])
        )
