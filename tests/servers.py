"""Real local servers for integration tests, all bound to 127.0.0.1 on free ports.

Reusable from any test package: the session fixtures in tests/conftest.py (`redis_server`,
`redis_server_auth`, `postgres_server`) wrap the Redis and PostgreSQL classes here; the HTTP helpers
are plain context managers.

PostgreSQL refuses to run as root, so as root every PostgreSQL binary runs as the `postgres` user
through `runuser`, in a temporary directory that user owns (data dir and unix-socket dir inside).
"""

from __future__ import annotations

import contextlib
import glob
import http.server
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0


class ServerUnavailable(RuntimeError):
    """A server binary is not installed on this machine."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _wait_for(predicate: Callable[[], bool], what: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} while starting")
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not become ready within {START_TIMEOUT_S:.0f} s")


def resp_command(port: int, *args: str, timeout: float = 2.0) -> bytes:
    """Send one RESP command to 127.0.0.1:port and return the first reply line (b'+PONG', ...)."""
    payload = f"*{len(args)}\r\n".encode() + b"".join(
        b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args
    )
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(payload)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0]


# --------------------------------------------------------------------------------------------- Redis


@dataclass
class RedisServer:
    """A redis-server process on 127.0.0.1 (optionally with `requirepass`)."""

    port: int
    password: str | None
    directory: Path
    proc: subprocess.Popen[bytes]
    host: str = HOST

    @property
    def url(self) -> str:
        """redis:// URL including the password when there is one."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/0"

    @classmethod
    def start(cls, password: str | None = None, extra: Sequence[str] = ()) -> RedisServer:
        """Start redis-server without persistence (plus `extra` arguments); wait until it answers PING."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerUnavailable("redis-server is not installed (apt-get install redis-server)")
        directory = Path(tempfile.mkdtemp(prefix="cdbctl-redis-"))
        port = free_port()
        args = [binary, "--bind", HOST, "--port", str(port), "--save", "", "--appendonly", "no"]
        args += ["--dir", str(directory), "--daemonize", "no", "--logfile", str(directory / "redis.log")]
        if password:
            args += ["--requirepass", password]
        args += list(extra)
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        server = cls(port, password, directory, proc)

        def ready() -> bool:
            try:
                return resp_command(port, "PING") in (b"+PONG", b"-NOAUTH Authentication required.")
            except OSError:
                return False

        try:
            _wait_for(ready, "redis-server", proc)
        except BaseException:
            server.stop()
            raise
        return server

    def stop(self) -> None:
        """Terminate the process and remove its directory."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def self_signed_cert(directory: Path, subject: str = "/CN=cdb_redis") -> tuple[Path, Path]:
    """A fresh self-signed CA certificate and its key (openssl CLI) in directory: (cert, key)."""
    cert, key = directory / "ca.crt", directory / "ca.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", subject,
         "-addext", "basicConstraints=critical,CA:TRUE", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def start_tls_redis(
    directory: Path, password: str, auth_clients: str = "optional"
) -> tuple[RedisServer, int]:
    """A redis-server with a plain port and a TLS port (certificate from self_signed_cert): (server, TLS port)."""
    if shutil.which("openssl") is None:
        raise ServerUnavailable("openssl is not installed (apt-get install openssl)")
    cert, key = self_signed_cert(directory)
    tls_port = free_port()
    extra = ["--tls-port", str(tls_port), "--tls-cert-file", str(cert), "--tls-key-file", str(key),
             "--tls-ca-cert-file", str(cert), "--tls-auth-clients", auth_clients]  # fmt: skip
    server = RedisServer.start(password=password, extra=extra)
    return server, tls_port


# ---------------------------------------------------------------------------------------- PostgreSQL


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)
    if found is None:
        raise ServerUnavailable(f"PostgreSQL's {name} is not installed (apt-get install postgresql)")
    return found


@dataclass
class PostgresServer:
    """A PostgreSQL cluster on 127.0.0.1 with an application role and database (scram auth over TCP)."""

    port: int
    directory: Path
    user: str = "cdb"
    password: str = "cdb-test-password"  # test-only credential of a throwaway cluster
    dbname: str = "cdb"
    superuser_password: str = "postgres-test-password"  # test-only
    host: str = HOST
    _as_postgres: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """postgresql:// URL of the application role and database."""
        return self.dsn()

    def dsn(self, user: str | None = None, password: str | None = None, dbname: str | None = None) -> str:
        """A postgresql:// URL; any part can be replaced (e.g. a wrong password)."""
        user = self.user if user is None else user
        password = self.password if password is None else password
        dbname = self.dbname if dbname is None else dbname
        return f"postgresql://{user}:{password}@{self.host}:{self.port}/{dbname}"

    @property
    def socket_dir(self) -> Path:
        """The unix-socket directory (owned by the server's user)."""
        return self.directory / "sock"

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.directory / "data"

    def _run(self, *args: str) -> None:
        proc = subprocess.run([*self._as_postgres, *args], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            log = self.directory / "postgres.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {proc.stderr.strip()}\n{tail}")

    @classmethod
    def start(cls) -> PostgresServer:
        """initdb + pg_ctl start as the `postgres` user (when root); create role and database."""
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        as_postgres: list[str] = []
        # As root the server runs as `postgres`, which must be able to reach the directory: /tmp
        # always lets it through, a TMPDIR under /root would not.
        base = "/tmp" if os.geteuid() == 0 and Path("/tmp").is_dir() else None
        directory = Path(tempfile.mkdtemp(prefix="cdbctl-pg-", dir=base))
        server = cls(port=free_port(), directory=directory, _as_postgres=as_postgres)
        (directory / "sock").mkdir()
        pwfile = directory / "pwfile"
        pwfile.write_text(server.superuser_password + "\n")
        pwfile.chmod(0o600)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            for path in (directory, directory / "sock", pwfile):
                os.chown(path, pw.pw_uid, pw.pw_gid)
            as_postgres += ["runuser", "-u", "postgres", "--"]
        try:
            server._run(
                initdb, "-D", str(server.data_dir), "-U", "postgres", "-E", "UTF8", "--no-sync",
                "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}",
            )  # fmt: skip
            options = (
                f"-k {server.socket_dir} -h {HOST} -p {server.port} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            server._run(pg_ctl, "-D", str(server.data_dir), "-l", str(directory / "postgres.log"),
                        "-w", "-t", str(int(START_TIMEOUT_S)), "-o", options, "start")  # fmt: skip
            server._create_app_role()
        except BaseException:
            server.stop()
            raise
        return server

    def _create_app_role(self) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host=self.host, port=self.port, user="postgres", password=self.superuser_password,
            dbname="postgres", autocommit=True, connect_timeout=10,
        ) as conn:  # fmt: skip
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(self.user), sql.Literal(self.password)
                )
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(self.dbname), sql.Identifier(self.user)
                )
            )

    def restart(self) -> None:
        """Restart the cluster with the options it was started with (for settings a reload cannot change)."""
        # -l as at the start: without it the new server writes to (and holds open) pg_ctl's captured stdout
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.directory / "postgres.log"),
                  "-m", "fast", "-w", "-t", str(int(START_TIMEOUT_S)), "restart")  # fmt: skip

    def stop(self) -> None:
        """Stop the cluster (fast shutdown) and remove its directory."""
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):
                self._run(_pg_bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)


# --------------------------------------------------------------------------------------------- HTTP


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _StatusServer

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        body = b'{"status": "ok"}' if self.server.status < 300 else b'{"status": "error"}'
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean


class _StatusServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 drops bursts of concurrent connects (1 s SYN retry)
    status: int
    requests: list[str]


@contextlib.contextmanager
def http_server(status: int = 200, port: int = 0) -> Iterator[_StatusServer]:
    """An HTTP server on 127.0.0.1 answering every GET with `status`; `.server_port`, `.requests`."""
    server = _StatusServer((HOST, port), _Handler)
    server.status = status
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class HangingServer:
    """Accepts TCP connections and never answers; records how many were open at the same time."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((HOST, 0))
        self.sock.listen(512)
        self.port = int(self.sock.getsockname()[1])
        self.lock = threading.Lock()
        self.open = 0
        self.max_open = 0
        self.accepted = 0
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                self.open += 1
                self.accepted += 1
                self.max_open = max(self.max_open, self.open)
                self._conns.append(conn)
            t = threading.Thread(target=self._hold, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _hold(self, conn: socket.socket) -> None:
        # Read (and ignore) whatever the client sends until it closes; never write anything.
        conn.settimeout(0.05)
        while not self._stop.is_set():
            try:
                if not conn.recv(4096):
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        with self.lock:
            self.open -= 1

    def close(self) -> None:
        """Stop accepting, drop every held connection."""
        self._stop.set()
        self._threads[0].join()  # the accept loop: after it, no thread is added any more
        for t in self._threads[1:]:
            t.join()
        with self.lock:
            for conn in self._conns:
                conn.close()
        self.sock.close()

    def __enter__(self) -> HangingServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ScriptedServer:
    """A TCP server on 127.0.0.1 that runs `script(conn)` for every connection (fake protocol peers)."""

    def __init__(self, script: Callable[[socket.socket], None]) -> None:
        self.script = script
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((HOST, 0))
        self.sock.listen(64)
        self.sock.settimeout(0.05)
        self.port = int(self.sock.getsockname()[1])
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            with contextlib.suppress(OSError):
                self.script(conn)

    def close(self) -> None:
        """Stop accepting and wait for running scripts."""
        self._stop.set()
        self._accepter.join()
        for t in self._threads:
            t.join()
        self.sock.close()

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
