"""The generated /ready's logins beyond SCRAM over plain TCP: MD5, cleartext, TLS, a lying SCRAM server.

A PostgreSQL cluster of its own (TLS and pg_hba changes must not leak into the shared one, whose tests
expect a server without TLS), a real TLS handshake for rediss://, a scripted peer for the SCRAM server
that does not know the password (a real server cannot be made to lie).
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import ssl
import struct
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.scaffold.pg_tls import self_signed, set_ssl, superuser
from tests.servers import PostgresServer, ScriptedServer, ServerUnavailable

MD5_USER, MD5_PASSWORD = "md5_user", "md5-test-password"  # test-only roles of a throwaway cluster
CLEAR_USER, CLEAR_PASSWORD = "clear_user", "clear-test-password"


@pytest.fixture(scope="module")
def tls_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PostgresServer, Path]]:
    """A cluster with TLS on, an MD5 role and a cleartext-password role; yields it and its CA file."""
    try:
        server = PostgresServer.start()
    except ServerUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        crt, _ = self_signed(server.data_dir)
        ca = tmp_path_factory.mktemp("ca") / "root.crt"
        shutil.copyfile(crt, ca)
        hba = server.data_dir / "pg_hba.conf"
        hba.write_text(
            f"host all {MD5_USER} 127.0.0.1/32 md5\nhost all {CLEAR_USER} 127.0.0.1/32 password\n"
            + hba.read_text()
        )
        with superuser(server) as conn:
            conn.execute("SET password_encryption = 'md5'")  # stored as MD5: only the md5 method fits
            conn.execute(f"CREATE ROLE {MD5_USER} LOGIN PASSWORD '{MD5_PASSWORD}'")
            conn.execute("RESET password_encryption")
            conn.execute(f"CREATE ROLE {CLEAR_USER} LOGIN PASSWORD '{CLEAR_PASSWORD}'")
        set_ssl(server, True)  # the reload also reads the new pg_hba.conf
        yield server, ca
    finally:
        server.stop()


def _url(server: PostgresServer, user: str, password: str, query: str = "") -> str:
    return f"postgresql://{user}:{password}@{server.host}:{server.port}/postgres{query}"


@pytest.mark.parametrize(
    ("user", "password", "expected"),
    [
        (MD5_USER, MD5_PASSWORD, "ok"),
        (MD5_USER, "Wr0ng", "error: authentication failed (SQLSTATE 28P01)"),
        (CLEAR_USER, CLEAR_PASSWORD, "ok"),
        (CLEAR_USER, "Wr0ng", "error: authentication failed (SQLSTATE 28P01)"),
    ],
)
@pytest.mark.integration
def test_md5_and_cleartext_logins(
    readiness: ModuleType, tls_postgres: tuple[PostgresServer, Path], user: str, password: str, expected: str
) -> None:
    server, _ = tls_postgres
    assert readiness.check_postgres(_url(server, user, password, "?sslmode=disable"), 5.0) == expected


@pytest.mark.parametrize("sslmode", ["allow", "prefer", "require"])
@pytest.mark.integration
def test_tls_without_verification_logs_in_and_still_checks_the_password(
    readiness: ModuleType, tls_postgres: tuple[PostgresServer, Path], sslmode: str
) -> None:
    server, _ = tls_postgres
    assert readiness.check_postgres(f"{server.url}?sslmode={sslmode}", 5.0) == "ok"
    wrong = server.dsn(password="Wr0ng") + f"?sslmode={sslmode}"
    assert readiness.check_postgres(wrong, 5.0) == "error: authentication failed (SQLSTATE 28P01)"


@pytest.mark.parametrize("sslmode", ["verify-ca", "verify-full"])
@pytest.mark.integration
def test_verified_tls_uses_sslrootcert_and_an_unknown_ca_is_a_tls_error(
    readiness: ModuleType, tls_postgres: tuple[PostgresServer, Path], sslmode: str
) -> None:
    server, ca = tls_postgres
    assert readiness.check_all({"DATABASE_URL": f"{server.url}?sslmode={sslmode}&sslrootcert={ca}"}) == {
        "postgres": "ok"
    }
    # Not a "malformed reply" and not a bad URL: ssl.SSLCertVerificationError is a ValueError too.
    failed = readiness.check_all({"DATABASE_URL": f"{server.url}?sslmode={sslmode}"})["postgres"]
    assert failed.startswith("error: SSLCertVerificationError: ") and "certificate verify failed" in failed


@pytest.mark.integration
def test_rediss_with_an_unknown_ca_is_a_tls_error_not_a_bad_url(
    readiness: ModuleType, tmp_path: Path
) -> None:
    crt, key = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)

    def handshake(conn: socket.socket) -> None:
        with context.wrap_socket(conn, server_side=True):
            pass  # the client refuses the certificate first

    with ScriptedServer(handshake) as peer:
        result = readiness.check_all({"REDIS_URL": f"rediss://:pw@127.0.0.1:{peer.port}/0"})
    assert result["redis"].startswith("error: SSLCertVerificationError: "), result


def _message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def _read_message(conn: socket.socket) -> bytes:
    head = conn.recv(5, socket.MSG_WAITALL)
    return conn.recv(struct.unpack("!i", head[1:])[0] - 4, socket.MSG_WAITALL)


def _lying_scram_server(conn: socket.socket) -> None:
    """Asks for SCRAM-SHA-256, takes any proof and answers with a signature it cannot know."""
    conn.recv(8, socket.MSG_WAITALL)  # SSLRequest
    conn.sendall(b"N")
    length = struct.unpack("!i", conn.recv(4, socket.MSG_WAITALL))[0]
    conn.recv(length - 4, socket.MSG_WAITALL)  # StartupMessage
    conn.sendall(_message(b"R", struct.pack("!i", 10) + b"SCRAM-SHA-256\0\0"))
    first = _read_message(conn)
    nonce = first.split(b"r=", 1)[1].decode()
    salt = base64.b64encode(b"0123456789abcdef").decode()
    conn.sendall(_message(b"R", struct.pack("!i", 11) + f"r={nonce}srv,s={salt},i=4096".encode()))
    _read_message(conn)  # the client's proof, accepted unchecked
    bogus = base64.b64encode(bytes(32)).decode()
    conn.sendall(_message(b"R", struct.pack("!i", 12) + f"v={bogus}".encode()))
    conn.sendall(_message(b"R", struct.pack("!i", 0)))
    conn.recv(1024)


@pytest.mark.integration
def test_a_scram_server_that_does_not_know_the_password_is_not_ready(readiness: ModuleType) -> None:
    with ScriptedServer(_lying_scram_server) as peer:
        result = readiness.check_postgres(f"postgresql://u:secret@127.0.0.1:{peer.port}/db", 5.0)
    assert result == "error: the server's SCRAM signature is wrong (it does not know the password)"
