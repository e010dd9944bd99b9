"""Each probe against real servers on 127.0.0.1: healthy, refused, hanging, error answers."""

from __future__ import annotations

import shutil
import socket
import ssl
import struct
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from cdbctl.verify.model import Outcome, Status
from cdbctl.verify.probes import REGISTRY, Deadline
from cdbctl.verify.urls import parse_url
from tests.servers import (
    HOST,
    HangingServer,
    PostgresServer,
    RedisServer,
    ScriptedServer,
    ServerUnavailable,
    _wait_for,
    free_port,
    http_server,
    start_tls_redis,
)

pytestmark = pytest.mark.integration

APP_DIR = Path(__file__).parent.parent / "data" / "verify" / "app"


def probe(url: str, timeout: float = 3.0) -> Outcome:
    endpoint = parse_url(url)
    return REGISTRY[endpoint.scheme](endpoint, Deadline(timeout))


# ---------------------------------------------------------------------------------------------- HTTP


@pytest.fixture(scope="module")
def gunicorn_service() -> Iterator[str]:
    """The CDB-like Flask service under a real gunicorn on 127.0.0.1; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"{HOST}:{port}", "--workers", "1",
         "--chdir", str(APP_DIR), "--log-level", "warning", "cdb_app:app"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def ready() -> bool:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return True
        except OSError:
            return False

    try:
        _wait_for(ready, "gunicorn", proc)
        yield f"http://{HOST}:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_http_healthy_on_gunicorn_service(gunicorn_service: str) -> None:
    assert probe(f"{gunicorn_service}/health") == Outcome(Status.healthy, "HTTP 200")


def test_http_503_from_gunicorn_service(gunicorn_service: str) -> None:
    with urllib.request.urlopen(f"{gunicorn_service}/break", timeout=5) as r:
        assert r.status == 200
    try:
        assert probe(f"{gunicorn_service}/health") == Outcome(Status.unhealthy, "HTTP 503")
    finally:
        with urllib.request.urlopen(f"{gunicorn_service}/fix", timeout=5) as r:
            assert r.status == 200
    assert probe(f"{gunicorn_service}/health").status is Status.healthy


def test_http_404_is_unhealthy(gunicorn_service: str) -> None:
    assert probe(f"{gunicorn_service}/nope") == Outcome(Status.unhealthy, "HTTP 404")


@pytest.mark.parametrize(
    ("status", "expected"), [(200, Status.healthy), (204, Status.healthy), (500, Status.unhealthy)]
)
def test_http_status_codes(status: int, expected: Status) -> None:
    with http_server(status) as server:
        outcome = probe(f"http://{HOST}:{server.server_port}/health")
        assert server.requests == ["/health"]
    assert outcome == Outcome(expected, f"HTTP {status}")


def test_http_refused() -> None:
    assert probe(f"http://{HOST}:{free_port()}/health") == Outcome(Status.unhealthy, "connection refused")


def test_http_hanging_server_times_out() -> None:
    with HangingServer() as server:
        outcome = probe(f"http://{HOST}:{server.port}/health", timeout=0.5)
        assert server.accepted == 1
    assert outcome == Outcome(Status.unhealthy, "timed out after 0.5 s")


def test_http_server_that_drips_bytes_is_cut_at_the_deadline() -> None:
    # Each byte arrives well within the socket timeout; only the overall deadline can stop it.
    def drip(conn: socket.socket) -> None:
        conn.recv(4096)
        for ch in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
            conn.sendall(bytes([ch]))
            if server_stop.wait(0.02):
                return

    import threading

    server_stop = threading.Event()
    with ScriptedServer(drip) as server:
        outcome = probe(f"http://{HOST}:{server.port}/", timeout=0.5)
        server_stop.set()
    # a truncated answer (EOF after the shutdown) must not pass for a healthy one
    assert outcome == Outcome(Status.unhealthy, "timed out after 0.5 s")


def test_http_credentials_in_the_url_are_sent_as_basic_auth() -> None:
    # Like curl: http://user:password@host/ authenticates; a probe that dropped them would report 401.
    seen: list[bytes] = []

    def answer(conn: socket.socket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(4096)
        seen.append(request)
        ok = b"Authorization: Basic YWRtaW46cCBAc3M=\r\n" in request  # admin:p @ss
        status = b"200 OK" if ok else b"401 Unauthorized"
        conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    with ScriptedServer(answer) as server:
        assert probe(f"http://admin:p%20%40ss@{HOST}:{server.port}/health") == Outcome(
            Status.healthy, "HTTP 200"
        )
        assert probe(f"http://{HOST}:{server.port}/health") == Outcome(Status.unhealthy, "HTTP 401")
    assert b"Authorization" not in seen[-1]


def test_http_server_closing_without_answer() -> None:
    with ScriptedServer(lambda conn: conn.recv(4096)) as server:
        outcome = probe(f"http://{HOST}:{server.port}/health")
    assert outcome == Outcome(Status.unhealthy, "connection closed by the server without an answer")


def _tls_context(tmp_path: Path, subject: str, *extensions: str) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate (openssl CLI)."""
    extra = [arg for ext in extensions for arg in ("-addext", ext)]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", subject, *extra,
         "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return ctx


def test_redis_over_tls_with_the_servers_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # CDB's tls.yml runs Redis with --tls-port 6379 --port 0: a plain probe was "connection reset by peer"
    try:
        server, tls_port = start_tls_redis(tmp_path, "tls-pw")
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    try:
        ca = str(tmp_path / "ca.crt")
        endpoint = parse_url(f"rediss://:tls-pw@{HOST}:{tls_port}")
        assert endpoint.display == f"rediss://:***@{HOST}:{tls_port}"
        stack_ca = replace(endpoint, ca_file=ca)  # as discovery sets it from --tls-ca-cert-file
        assert REGISTRY["redis"](stack_ca, Deadline(3.0)) == Outcome(Status.healthy, "PONG")
        # rediss:// on the command line checks the certificate as https does: the system's CAs ...
        untrusted = probe(f"rediss://:tls-pw@{HOST}:{tls_port}")
        assert untrusted.detail == "TLS certificate not accepted: self-signed certificate"
        # ... or SSL_CERT_FILE's, and the host name (this certificate names cdb_redis, not 127.0.0.1)
        monkeypatch.setenv("SSL_CERT_FILE", ca)
        assert probe(f"rediss://:tls-pw@{HOST}:{tls_port}").detail.startswith(
            "TLS certificate not accepted: IP address mismatch"
        )
        assert probe(f"redis://:tls-pw@{HOST}:{tls_port}") == Outcome(
            Status.unhealthy, "connection reset by peer (a TLS-only server? use rediss://)"
        )
        assert probe(f"rediss://:tls-pw@{HOST}:{server.port}").status is Status.unhealthy  # plain port
    finally:
        server.stop()


def test_redis_over_tls_that_demands_a_client_certificate_says_so(tmp_path: Path) -> None:
    try:
        server, tls_port = start_tls_redis(tmp_path, "tls-pw", auth_clients="yes")
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    try:
        endpoint = replace(parse_url(f"rediss://:tls-pw@{HOST}:{tls_port}"), ca_file=str(tmp_path / "ca.crt"))
        outcome = REGISTRY["redis"](endpoint, Deadline(3.0))
        # the server's alert, or (TLS 1.3: it checks after the handshake) its close arriving first
        assert outcome.status is Status.unhealthy
        assert "client certificate" in outcome.detail and "tls-auth-clients yes" in outcome.detail, outcome
    finally:
        server.stop()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI needed to make a certificate")
def test_https_with_untrusted_certificate_is_unhealthy(tmp_path: Path) -> None:
    ctx = _tls_context(tmp_path, "/CN=127.0.0.1")

    def tls(conn: socket.socket) -> None:
        with ctx.wrap_socket(conn, server_side=True):
            pass

    with ScriptedServer(tls) as server:
        outcome = probe(f"https://{HOST}:{server.port}/health")
    assert outcome.status is Status.unhealthy
    assert outcome.detail.startswith("TLS certificate not accepted: self")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI needed to make a certificate")
def test_https_healthy_with_a_ca_trusted_through_ssl_cert_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = _tls_context(
        tmp_path, "/CN=cdb-test", "subjectAltName=IP:127.0.0.1", "basicConstraints=critical,CA:TRUE"
    )

    def https_ok(conn: socket.socket) -> None:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            tls.recv(4096)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))  # OpenSSL's standard trust override
    with ScriptedServer(https_ok) as server:
        assert probe(f"https://{HOST}:{server.port}/health") == Outcome(Status.healthy, "HTTP 200")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI needed to make a certificate")
def test_https_self_signed_is_healthy_when_the_healthcheck_skips_checks_too(tmp_path: Path) -> None:
    import dataclasses

    ctx = _tls_context(tmp_path, "/CN=localhost")

    def https_ok(conn: socket.socket) -> None:
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                tls.recv(4096)
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        except ssl.SSLError:
            pass  # the checking client hangs up on the self-signed certificate

    with ScriptedServer(https_ok) as server:
        checked = parse_url(f"https://{HOST}:{server.port}/health")
        unchecked = dataclasses.replace(checked, verify_tls=False)
        assert REGISTRY["https"](checked, Deadline(3.0)).status is Status.unhealthy
        assert REGISTRY["https"](unchecked, Deadline(3.0)) == Outcome(
            Status.healthy, "HTTP 200 (certificate not checked, like the healthcheck)"
        )


def test_https_against_plain_http_is_a_tls_error() -> None:
    with http_server(200) as server:
        outcome = probe(f"https://{HOST}:{server.server_port}/health")
    assert outcome.status is Status.unhealthy
    assert outcome.detail.startswith("TLS error")


# ----------------------------------------------------------------------------------------------- TCP


def test_tcp_healthy_and_refused() -> None:
    with HangingServer() as server:
        assert probe(f"tcp://{HOST}:{server.port}") == Outcome(Status.healthy, "connected")
    assert probe(f"tcp://{HOST}:{free_port()}") == Outcome(Status.unhealthy, "connection refused")


# --------------------------------------------------------------------------------------------- Redis


def test_redis_healthy(redis_server: RedisServer) -> None:
    assert probe(redis_server.url) == Outcome(Status.healthy, "PONG")


def test_redis_with_password_healthy(redis_server_auth: RedisServer) -> None:
    assert probe(redis_server_auth.url) == Outcome(Status.healthy, "PONG")


def test_redis_wrong_password(redis_server_auth: RedisServer) -> None:
    outcome = probe(f"redis://:wrong@{HOST}:{redis_server_auth.port}")
    assert outcome.status is Status.unhealthy
    assert outcome.detail.startswith("AUTH failed: WRONGPASS")


def test_redis_acl_user_and_password(redis_server_auth: RedisServer) -> None:
    # Redis 6+ `AUTH default <password>` form
    url = f"redis://default:{redis_server_auth.password}@{HOST}:{redis_server_auth.port}"
    assert probe(url) == Outcome(Status.healthy, "PONG")


def test_redis_password_missing(redis_server_auth: RedisServer) -> None:
    assert probe(f"redis://{HOST}:{redis_server_auth.port}") == Outcome(
        Status.unhealthy, "NOAUTH Authentication required."
    )


def test_redis_loading_answer_is_unhealthy_with_that_detail() -> None:
    def loading(conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(b"-LOADING Redis is loading the dataset in memory\r\n")

    with ScriptedServer(loading) as server:
        outcome = probe(f"redis://{HOST}:{server.port}")
    assert outcome == Outcome(Status.unhealthy, "LOADING Redis is loading the dataset in memory")


def test_redis_probe_against_http_server_is_unhealthy() -> None:
    with http_server(200) as server:
        outcome = probe(f"redis://{HOST}:{server.server_port}")
    assert outcome.status is Status.unhealthy
    assert outcome.detail.startswith(("unexpected answer to PING", "connection closed"))


def test_redis_hanging_and_refused() -> None:
    with HangingServer() as server:
        assert probe(f"redis://{HOST}:{server.port}", timeout=0.5) == Outcome(
            Status.unhealthy, "timed out after 0.5 s"
        )
    assert probe(f"redis://{HOST}:{free_port()}") == Outcome(Status.unhealthy, "connection refused")


# ---------------------------------------------------------------------------------------- PostgreSQL


def test_postgres_healthy(postgres_server: PostgresServer) -> None:
    outcome = probe(postgres_server.url)
    assert outcome.status is Status.healthy
    assert outcome.detail.startswith("SELECT 1 ok (server ")


def test_postgres_wrong_password(postgres_server: PostgresServer) -> None:
    assert probe(postgres_server.dsn(password="wrong")) == Outcome(
        Status.unhealthy, 'password authentication failed for user "cdb"'
    )


def test_postgres_wrong_database(postgres_server: PostgresServer) -> None:
    assert probe(postgres_server.dsn(dbname="no_such_db")) == Outcome(
        Status.unhealthy, 'database "no_such_db" does not exist'
    )


def test_postgres_url_parameters_reach_libpq(postgres_server: PostgresServer) -> None:
    # ?sslmode=require must be honoured (the test cluster has no TLS), as libpq and the app would.
    outcome = probe(postgres_server.url + "?sslmode=require")
    assert outcome == Outcome(Status.unhealthy, "server does not support SSL, but SSL was required")
    assert probe(postgres_server.url + "?sslmode=disable&application_name=ci").status is Status.healthy
    bad = probe(postgres_server.url + "?no_such_option=1")
    assert bad.status is Status.unhealthy and "no_such_option" in bad.detail


def test_postgres_refused() -> None:
    assert probe(f"postgresql://cdb:pw@{HOST}:{free_port()}/cdb") == Outcome(
        Status.unhealthy, "connection refused"
    )


def test_postgres_hanging_server_times_out() -> None:
    with HangingServer() as server:
        outcome = probe(f"postgresql://cdb:pw@{HOST}:{server.port}/cdb", timeout=0.5)
    assert outcome == Outcome(Status.unhealthy, "timed out after 0.5 s")


def _pg_error(message: str, code: str) -> bytes:
    fields = b"".join(
        k + v.encode() + b"\0" for k, v in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!I", len(body) + 4) + body


def test_postgres_starting_up_is_unhealthy_with_that_detail() -> None:
    # What a PostgreSQL that is still replaying WAL answers (SQLSTATE 57P03) to every new session.
    def starting(conn: socket.socket) -> None:
        length = struct.unpack("!I", conn.recv(4))[0]
        rest = conn.recv(length - 4)
        if length == 8 and rest[:4] == struct.pack("!I", 80877103):  # SSLRequest / GSSENCRequest
            conn.sendall(b"N")
            length = struct.unpack("!I", conn.recv(4))[0]
            conn.recv(length - 4)
        conn.sendall(_pg_error("the database system is starting up", "57P03"))

    with ScriptedServer(starting) as server:
        outcome = probe(f"postgresql://cdb:pw@{HOST}:{server.port}/cdb")
    assert outcome == Outcome(Status.unhealthy, "the database system is starting up")
