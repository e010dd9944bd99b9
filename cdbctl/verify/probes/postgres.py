"""PostgreSQL probe: connect with psycopg within the deadline and run `SELECT 1`."""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import parse_qsl

from cdbctl.verify.model import Endpoint, Outcome, Status
from cdbctl.verify.probes.base import Deadline, local_failure, watchdog

# libpq prefixes every failure with where it tried; the server's own words follow "FATAL:".
_SERVER_MSG = re.compile(r"(FATAL|ERROR|PANIC):\s+(.*)", re.DOTALL)
_REFUSED = re.compile(r"connection refused", re.IGNORECASE)
_TIMEOUT = re.compile(r"timeout expired|timed out", re.IGNORECASE)
# `connection failed: connection to server at "127.0.0.1", port 5432 failed: <cause>`: keep the cause.
_WHERE_PREFIX = re.compile(
    r"^(?:connection (?:failed|is bad): )?"
    r'(?:connection to server at "[^"]*"(?: \([^)]*\))?, port \d+ failed: )?'
)


def probe_postgres(endpoint: Endpoint, deadline: Deadline) -> Outcome:
    """Healthy when a session opens and `SELECT 1` answers 1."""
    import psycopg

    params: dict[str, Any] = {
        "host": endpoint.host,
        "port": endpoint.port,
        "user": endpoint.username or "postgres",
        "dbname": endpoint.database or endpoint.username or "postgres",
        "application_name": "cdbctl-verify",
        # libpq counts whole seconds with a minimum of 2; the runner still reports at the deadline.
        "connect_timeout": max(1, math.ceil(deadline.remaining())),
        "autocommit": True,
    }
    if endpoint.password is not None:
        params["password"] = endpoint.password
    # URL parameters (?sslmode=require, ...) are libpq keywords, as in any postgresql:// URI; the
    # deadline keeps its own connect_timeout.
    query = endpoint.path.partition("?")[2]
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key != "connect_timeout":
            params[key] = value
    try:
        with psycopg.connect(**params) as conn, watchdog(conn.pgconn.socket, deadline):
            row = conn.execute("SELECT 1").fetchone()
            version = conn.info.server_version
    except TimeoutError:
        return Outcome(Status.unhealthy, deadline.timed_out)
    except psycopg.Error as exc:
        if "too many open files" in str(exc).lower():  # libpq's socket() failed here, not the server
            return local_failure("ran out of file descriptors (Too many open files)")
        return Outcome(Status.unhealthy, describe_pg_error(exc, deadline))
    if row != (1,):
        return Outcome(Status.unhealthy, f"SELECT 1 answered {row!r}")
    return Outcome(Status.healthy, f"SELECT 1 ok (server {version // 10000}.{version % 10000})")


def describe_pg_error(exc: BaseException, deadline: Deadline) -> str:
    """Reduce a psycopg error to the server's message or a short network cause."""
    text = str(exc).strip()
    match = _SERVER_MSG.search(text)
    if match:
        first = match.group(2).strip().splitlines()[0].strip()
        return re.sub(r"\s+", " ", first)
    if _REFUSED.search(text):
        return "connection refused"
    if _TIMEOUT.search(text):
        return deadline.timed_out
    if "server closed the connection" in text or "consuming input failed" in text:
        if deadline.expired:
            return deadline.timed_out
        return "connection closed by the server"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return _WHERE_PREFIX.sub("", lines[-1]) or lines[-1] if lines else type(exc).__name__
