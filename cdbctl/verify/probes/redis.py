"""Redis probe: RESP over a plain or TLS socket: optional AUTH, then PING must answer PONG."""

from __future__ import annotations

import socket
import ssl

from cdbctl.verify.model import Endpoint, Outcome, Status
from cdbctl.verify.probes.base import Deadline, connect, describe_error

_MAX_LINE = 64 * 1024
_TLS_CLOSED = (
    "TLS connection closed by the server without an answer "
    "(does it demand a client certificate, tls-auth-clients yes? cdbctl presents none)"
)


def encode_command(*args: str) -> bytes:
    """Encode a command as a RESP array of bulk strings."""
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _read_line(sock: socket.socket, buf: bytearray, deadline: Deadline) -> str:
    """Read one CRLF-terminated line (the first line of a reply)."""
    while b"\r\n" not in buf:
        if len(buf) > _MAX_LINE:
            raise ValueError("reply line too long")
        sock.settimeout(deadline.remaining())
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionAbortedError("closed")
        buf.extend(chunk)
    line, _, rest = bytes(buf).partition(b"\r\n")
    buf[:] = rest
    return line.decode("utf-8", "replace")


def _simple_reply(sock: socket.socket, buf: bytearray, deadline: Deadline) -> str:
    """Read a reply; return '+...' / '-...' lines, and bulk strings as '+<text>'."""
    line = _read_line(sock, buf, deadline)
    if line.startswith("$") and line[1:].lstrip("-").isdigit() and int(line[1:]) >= 0:
        return "+" + _read_line(sock, buf, deadline)
    return line


def probe_redis(endpoint: Endpoint, deadline: Deadline) -> Outcome:
    """AUTH (when the URL carries a password), then PING; healthy on PONG."""
    buf = bytearray()
    try:
        with _open(endpoint, deadline) as sock:
            if endpoint.password is not None:
                user = endpoint.username
                auth = ("AUTH", user, endpoint.password) if user else ("AUTH", endpoint.password)
                sock.sendall(encode_command(*auth))
                reply = _simple_reply(sock, buf, deadline)
                if not reply.startswith("+"):
                    return Outcome(Status.unhealthy, f"AUTH failed: {_without_echo(_error_text(reply))}")
            if endpoint.database is not None:
                # A database the server does not have ('ERR DB index is out of range') is no healthy
                # endpoint: the service using this URL would fail on its first command.
                sock.sendall(encode_command("SELECT", endpoint.database))
                reply = _simple_reply(sock, buf, deadline)
                if reply != "+OK":
                    detail = f"SELECT {endpoint.database} failed: {_error_text(reply)}"
                    return Outcome(Status.unhealthy, detail)
            sock.sendall(encode_command("PING"))
            reply = _simple_reply(sock, buf, deadline)
    except ConnectionAbortedError:
        if endpoint.tls:
            return Outcome(Status.unhealthy, _TLS_CLOSED)
        return Outcome(Status.unhealthy, "connection closed by the server without an answer")
    except ssl.SSLError as exc:
        reason = str(exc.reason or exc).upper()
        if "CERTIFICATE_REQUIRED" in reason:
            detail = "the server requires a client certificate (tls-auth-clients yes); cdbctl presents none"
            return Outcome(Status.unhealthy, detail)
        if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError) or "EOF" in reason:
            # With TLS 1.3 the server checks the client's certificate after the handshake: it may close
            # before its alert arrives, so a missing client certificate can look like this too.
            return Outcome(Status.unhealthy, _TLS_CLOSED)
        return describe_error(exc, deadline)
    except ConnectionResetError:
        # A TLS-only Redis (--port 0) resets a plain connection: say what was tried.
        hint = "" if endpoint.tls else " (a TLS-only server? use rediss://)"
        return Outcome(Status.unhealthy, f"connection reset by peer{hint}")
    except ValueError as exc:
        return Outcome(Status.unhealthy, f"not a Redis answer: {exc}")
    except OSError as exc:
        return describe_error(exc, deadline)
    if reply == "+PONG":
        return Outcome(Status.healthy, "PONG")
    if reply.startswith("-"):
        return Outcome(Status.unhealthy, _error_text(reply))
    return Outcome(Status.unhealthy, f"unexpected answer to PING: {reply[:80]!r}")


def _open(endpoint: Endpoint, deadline: Deadline) -> socket.socket:
    """The connection, wrapped in TLS for rediss:// (handshake within the deadline)."""
    sock = connect(endpoint, deadline)
    if not endpoint.tls:
        return sock
    try:
        context = ssl.create_default_context(cafile=endpoint.ca_file)
        if endpoint.ca_file:
            # The stack's own CA, checked as redis-cli --cacert checks it: the chain, not the name (the
            # probe connects to 127.0.0.1, the certificate names the service).
            context.check_hostname = False
        sock.settimeout(deadline.remaining())
        hostname = None if endpoint.ca_file else endpoint.host
        return context.wrap_socket(sock, server_hostname=hostname)
    except BaseException:
        sock.close()
        raise


def _without_echo(text: str) -> str:
    """Drop the arguments a server echoes back ('... with args beginning with: '<password>' ').

    A Redis with AUTH renamed answers `ERR unknown command 'AUTH', with args beginning with: ...`,
    quoting the password; the report keeps the error, never the arguments.
    """
    head, sep, _ = text.partition(", with args beginning with:")
    return head + (" (arguments not shown)" if sep else "")


def _error_text(reply: str) -> str:
    """'-NOAUTH Authentication required.' -> 'NOAUTH Authentication required.'"""
    return reply[1:].strip() if reply.startswith("-") else f"unexpected answer {reply[:80]!r}"
