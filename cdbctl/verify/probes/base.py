"""The probe protocol, the shared deadline, and socket-error wording used by every probe."""

from __future__ import annotations

import errno
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from cdbctl.verify.model import Endpoint, Outcome, Status


class Probe(Protocol):
    """A probe checks one endpoint and never takes longer than the deadline allows."""

    def __call__(self, endpoint: Endpoint, deadline: Deadline) -> Outcome:
        """Probe the endpoint; return an Outcome, never raise for network trouble."""
        ...


class Deadline:
    """A monotonic point in time by which a probe must have answered."""

    def __init__(self, timeout: float, *, clock: float | None = None) -> None:
        self.timeout = timeout
        self.at = (time.monotonic() if clock is None else clock) + timeout

    def remaining(self) -> float:
        """Seconds left, raising TimeoutError once the deadline has passed."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        return left

    @property
    def expired(self) -> bool:
        """True once the deadline has passed."""
        return time.monotonic() >= self.at

    @property
    def timed_out(self) -> str:
        """The detail text used for every timeout, e.g. 'timed out after 3.0 s'."""
        return f"timed out after {self.timeout:.1f} s"


def connect(endpoint: Endpoint, deadline: Deadline) -> socket.socket:
    """Open a TCP connection within the deadline (IPv4 or IPv6, first address that answers)."""
    sock = socket.create_connection((endpoint.host, endpoint.port), timeout=deadline.remaining())
    sock.settimeout(deadline.remaining())
    return sock


class Watch:
    """State of a watchdog: `fired` once it shut the socket down."""

    fired = False


@contextmanager
def watchdog(sock: socket.socket | int, deadline: Deadline) -> Iterator[Watch]:
    """Shut the socket down when the deadline passes, waking any read blocked inside a library.

    http.client and libpq read in several steps, each with its own timeout; a server that answers
    byte by byte could stretch a probe far past the deadline. Shutting the socket down ends the
    read at once; the library then raises and the probe reports the timeout.
    """
    fd = sock if isinstance(sock, int) else sock.fileno()
    lock = threading.Lock()
    done = False
    watch = Watch()

    def fire() -> None:
        with lock:
            if done:  # the probe finished; the fd may already belong to someone else
                return
            watch.fired = True
            try:
                # A second socket object on a duplicate fd: shutdown acts on the shared socket.
                with socket.socket(fileno=os.dup(fd)) as twin:
                    twin.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed: nothing left to wake

    timer = threading.Timer(max(0.0, deadline.at - time.monotonic()), fire)
    timer.daemon = True
    timer.start()
    try:
        yield watch
    finally:
        timer.cancel()
        with lock:
            done = True


# Errors of this process, not of the endpoint: out of file descriptors (per process, system-wide).
LOCAL_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE})


def local_failure(cause: str) -> Outcome:
    """The outcome of a probe that could not run here: status unknown, an environment error."""
    return Outcome(Status.unknown, f"not checked: cdbctl itself {cause}", local=True)


def describe_error(exc: BaseException, deadline: Deadline) -> Outcome:
    """Turn a network exception into an unhealthy Outcome with a precise detail."""
    if isinstance(exc, OSError) and exc.errno in LOCAL_ERRNOS:
        return local_failure(f"ran out of file descriptors ({exc.strerror or exc})")
    if isinstance(exc, TimeoutError | socket.timeout):
        return Outcome(Status.unhealthy, deadline.timed_out)
    if isinstance(exc, ConnectionRefusedError):
        return Outcome(Status.unhealthy, "connection refused")
    if isinstance(exc, ConnectionResetError):
        return Outcome(Status.unhealthy, "connection reset by peer")
    if isinstance(exc, BrokenPipeError | ConnectionAbortedError):
        return Outcome(Status.unhealthy, "connection closed by the server")
    if isinstance(exc, socket.gaierror):
        return Outcome(Status.unhealthy, f"cannot resolve host: {exc.strerror or exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Outcome(Status.unhealthy, f"TLS certificate not accepted: {exc.verify_message}")
    if isinstance(exc, ssl.SSLError):
        return Outcome(Status.unhealthy, f"TLS error: {exc.reason or exc}")
    if isinstance(exc, OSError):
        if exc.errno == errno.EHOSTUNREACH:
            return Outcome(Status.unhealthy, "no route to host")
        if exc.errno == errno.ENETUNREACH:
            return Outcome(Status.unhealthy, "network unreachable")
        return Outcome(Status.unhealthy, exc.strerror or str(exc) or type(exc).__name__)
    return Outcome(Status.unhealthy, f"{type(exc).__name__}: {exc}")
