"""TLS for the throwaway PostgreSQL clusters of the generated services' login tests."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.servers import PostgresServer


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made by openssl, readable by the server's user."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    crt, key = directory / "server.crt", directory / "server.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(crt)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        for path in (crt, key):
            os.chown(path, pw.pw_uid, pw.pw_gid)
    key.chmod(0o600)
    return crt, key


def superuser(server: PostgresServer) -> Any:
    """An autocommit superuser connection (psycopg) to the cluster's `postgres` database."""
    import psycopg

    return psycopg.connect(
        host=server.host, port=server.port, user="postgres", password=server.superuser_password,
        dbname="postgres", autocommit=True, connect_timeout=10,
    )  # fmt: skip


def set_ssl(server: PostgresServer, on: bool) -> None:
    """Turn the server's TLS on or off (server.crt/server.key in its data directory) and wait for it."""
    import psycopg

    with superuser(server) as conn:
        conn.execute(f"ALTER SYSTEM SET ssl = {'on' if on else 'off'}")
        conn.execute("SELECT pg_reload_conf()")
    deadline = time.monotonic() + 10
    while True:  # the reload is asynchronous: wait until new connections see it
        with psycopg.connect(server.url, sslmode="prefer", connect_timeout=5) as conn:
            if conn.pgconn.ssl_in_use == on:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL did not turn TLS {'on' if on else 'off'}")
        time.sleep(0.1)
