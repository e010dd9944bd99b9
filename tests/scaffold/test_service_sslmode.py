"""The generated services' PostgreSQL login follows libpq's sslmode order, against a real PostgreSQL 15.

libpq (fe-connect.c): `allow` logs in without TLS first and with TLS only when the server refuses that
login; `prefer` asks for TLS first, and logs in once more without it when the server refuses the login over
TLS. What the client did is read from the server's own log (`log_connections`): each login attempt is one
`connection authorized: ... [SSL enabled]` line, or a FATAL `pg_hba.conf rejects connection ... SSL
encryption|no encryption` line. Roles: `cdb` may log in either way, `tls_only` only over TLS (`hostssl`),
`plain_only` only without it (`hostnossl`). TLS is turned on and off on the same cluster (ssl on/off).
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.scaffold.pg_tls import self_signed, set_ssl, superuser
from tests.servers import PostgresServer, ScriptedServer, ServerUnavailable

pytestmark = pytest.mark.integration

TLS_ONLY, PLAIN_ONLY = "tls_only", "plain_only"
PASSWORD = "sslmode-test-password"  # test-only roles of a throwaway cluster
REFUSED = "error: login rejected by the server's access rules (SQLSTATE 28000)"


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """A cluster with a certificate, log_connections on and the tls_only/plain_only roles."""
    try:
        pg = PostgresServer.start()
    except ServerUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        self_signed(pg.data_dir)
        hba = pg.data_dir / "pg_hba.conf"
        hba.write_text(
            f"hostssl all {TLS_ONLY} 127.0.0.1/32 scram-sha-256\n"
            f"host all {TLS_ONLY} 127.0.0.1/32 reject\n"
            f"hostnossl all {PLAIN_ONLY} 127.0.0.1/32 scram-sha-256\n"
            f"host all {PLAIN_ONLY} 127.0.0.1/32 reject\n" + hba.read_text()
        )
        with superuser(pg) as conn:
            for role in (TLS_ONLY, PLAIN_ONLY):
                conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")
            conn.execute("ALTER SYSTEM SET log_connections = on")
            # contrib's auth_delay: a refused login answers after auth_delay.milliseconds (default 0: at once)
            conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'auth_delay'")
        pg.restart()
        set_ssl(pg, True)  # reloads pg_hba.conf and log_connections too
        yield pg
    finally:
        pg.stop()


_ATTEMPT = re.compile(
    r"connection authorized: user=(?P<user>\S+) .*?application_name=cdb_core-ready(?P<tls> SSL enabled)?"
    r"|pg_hba\.conf rejects connection for host \S+, user \"(?P<ruser>[^\"]+)\", database \S+, "
    r"(?P<how>SSL encryption|no encryption)"
)


def _attempts(server: PostgresServer, since: int, user: str, expected: int) -> list[str]:
    """The login attempts of user in the server log after byte offset since: 'tls', 'plain', 'refused ...'."""
    log = Path(server.directory) / "postgres.log"
    deadline = time.monotonic() + 5
    while True:  # the server writes its log lines asynchronously
        found = []
        for m in _ATTEMPT.finditer(log.read_bytes()[since:].decode("utf-8", "replace")):
            if m["user"] == user:
                found.append("tls" if m["tls"] else "plain")
            elif m["ruser"] == user:
                found.append("refused tls" if m["how"] == "SSL encryption" else "refused plain")
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _login(readiness: ModuleType, server: PostgresServer, user: str, sslmode: str) -> tuple[str, list[str]]:
    since = (Path(server.directory) / "postgres.log").stat().st_size
    password = server.password if user == server.user else PASSWORD
    db = server.dbname if user == server.user else "postgres"
    answer = readiness.check_postgres(server.dsn(user, password, db) + f"?sslmode={sslmode}", 5.0)
    return answer, _attempts(server, since, user, 2 if answer != "ok" else 1)


# (sslmode, user) -> (answer, attempts) with TLS on, as libpq would do it
WITH_TLS = {
    ("allow", "cdb"): ("ok", ["plain"]),
    ("allow", PLAIN_ONLY): ("ok", ["plain"]),
    ("allow", TLS_ONLY): ("ok", ["refused plain", "tls"]),
    ("prefer", "cdb"): ("ok", ["tls"]),
    ("prefer", TLS_ONLY): ("ok", ["tls"]),
    ("prefer", PLAIN_ONLY): ("ok", ["refused tls", "plain"]),
    ("disable", TLS_ONLY): (REFUSED, ["refused plain"]),
    ("require", PLAIN_ONLY): (REFUSED, ["refused tls"]),
}
# ... and with TLS off (the server answers the SSLRequest with 'N')
WITHOUT_TLS = {
    ("allow", "cdb"): ("ok", ["plain"]),
    ("allow", TLS_ONLY): (REFUSED, ["refused plain", "refused plain"]),
    ("prefer", "cdb"): ("ok", ["plain"]),
    ("prefer", PLAIN_ONLY): ("ok", ["plain"]),
    ("prefer", TLS_ONLY): (REFUSED, ["refused plain"]),
    ("require", "cdb"): ("error: the server does not offer TLS (sslmode=require)", []),
}


CASES = [(True, *case, *answer) for case, answer in WITH_TLS.items()] + [
    (False, *case, *answer) for case, answer in WITHOUT_TLS.items()
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{'ssl' if c[0] else 'nossl'}-{c[1]}-{c[2]}")
def test_sslmode_tries_as_libpq_does(
    readiness: ModuleType, server: PostgresServer, case: tuple[bool, str, str, str, list[str]]
) -> None:
    on, sslmode, user, answer, attempts = case
    set_ssl(server, on)
    assert _login(readiness, server, user, sslmode) == (answer, attempts)


def test_a_wrong_password_with_allow_is_tried_with_tls_too_and_still_refused(
    readiness: ModuleType, server: PostgresServer
) -> None:
    set_ssl(server, True)
    since = (Path(server.directory) / "postgres.log").stat().st_size
    answer = readiness.check_postgres(server.dsn(password="Wr0ng") + "?sslmode=allow", 5.0)
    assert answer == "error: authentication failed (SQLSTATE 28P01)"
    log = (Path(server.directory) / "postgres.log").read_bytes()[since:].decode("utf-8", "replace")
    assert log.count('password authentication failed for user "cdb"') == 2  # plain, then TLS


def _auth_delay(server: PostgresServer, ms: int) -> None:
    with superuser(server) as conn:
        conn.execute(f"ALTER SYSTEM SET auth_delay.milliseconds = {ms}")
        conn.execute("SELECT pg_reload_conf()")
    time.sleep(0.3)  # the reload is asynchronous; new backends read it


def test_the_libpq_retry_stays_within_the_probes_time_budget(
    readiness: ModuleType, server: PostgresServer
) -> None:
    """`allow` with a wrong password logs in twice (plain, then TLS); a server that answers each refusal
    after 1.4 s must not make a 2 s probe take 2.8 s: the retry gets what is left of the budget, and the
    first refusal is the answer when the retry cannot finish in it."""
    set_ssl(server, True)
    _auth_delay(server, 1400)
    try:
        start = time.monotonic()
        answer = readiness.check_postgres(server.dsn(password="Wr0ng") + "?sslmode=allow", 2.0)
        took = time.monotonic() - start
    finally:
        _auth_delay(server, 0)
    assert answer == "error: authentication failed (SQLSTATE 28P01)"
    assert 1.4 <= took < 2.5, took


def test_a_server_that_trickles_its_answer_cannot_stretch_the_budget(readiness: ModuleType) -> None:
    """Each read waits at most what is left of the probe's budget, not a full timeout per read."""

    def script(conn: socket.socket) -> None:
        _startup_or_ssl(conn)
        conn.sendall(b"N")
        _startup_or_ssl(conn)
        for byte in struct.pack("!ci", b"R", 8) + struct.pack("!i", 0):  # AuthenticationOk, slowly
            time.sleep(0.4)
            conn.sendall(bytes([byte]))

    with ScriptedServer(script) as peer:
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            readiness.check_postgres(f"postgresql://cdb:pw@127.0.0.1:{peer.port}/cdb?sslmode=prefer", 1.0)
        assert time.monotonic() - start < 1.5


def _startup_or_ssl(conn: socket.socket) -> int:
    """The code of the first message (SSLRequest or the protocol version of a StartupMessage), read whole."""
    length, code = struct.unpack("!ii", conn.recv(8, socket.MSG_WAITALL))
    conn.recv(length - 8, socket.MSG_WAITALL)
    return int(code)


def test_prefer_retries_without_tls_when_the_handshake_fails(readiness: ModuleType) -> None:
    """A peer that says 'S' and then no TLS: libpq's prefer tries again without TLS, allow does not."""
    seen: list[int] = []

    def script(conn: socket.socket) -> None:
        seen.append(_startup_or_ssl(conn))
        if seen[-1] == 80877103:  # SSLRequest
            conn.sendall(b"S" + b"\x15\x03\x03\x00\x02\x02\x28")  # 'S', then a TLS alert instead of a hello

    with ScriptedServer(script) as peer:
        url = f"postgresql://cdb:pw@127.0.0.1:{peer.port}/cdb?sslmode=prefer"
        # The plain retry meets a peer that hangs up: not ready, but it was tried.
        assert readiness.check_postgres(url, 2.0) == "error: the server closed the connection"
        assert seen == [80877103, 196608]  # SSLRequest, then a plain StartupMessage (protocol 3.0)
        seen.clear()
        with pytest.raises(ssl.SSLError):  # require: the failed handshake is the answer (a TLS error)
            readiness.check_postgres(url.replace("prefer", "require"), 2.0)
        assert seen == [80877103]
