"""HTTP(S) probe: GET the URL, healthy on 2xx."""

from __future__ import annotations

import base64
import http.client
import ssl

from cdbctl.verify.model import Endpoint, Outcome, Status
from cdbctl.verify.probes.base import Deadline, describe_error, watchdog

USER_AGENT = "cdbctl-verify"


def probe_http(endpoint: Endpoint, deadline: Deadline) -> Outcome:
    """GET the endpoint's path; 2xx is healthy, anything else unhealthy with 'HTTP <code>'."""
    conn: http.client.HTTPConnection
    try:
        if endpoint.scheme == "https":
            conn = http.client.HTTPSConnection(
                endpoint.host,
                endpoint.port,
                timeout=deadline.remaining(),
                context=_tls_context(endpoint),
            )
        else:
            conn = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=deadline.remaining())
        try:
            conn.connect()
            sock = conn.sock
            if sock is None:  # connect() always sets it; keeps the type checker honest
                raise ConnectionAbortedError("no socket after connect")
            with watchdog(sock, deadline) as watch:
                sock.settimeout(deadline.remaining())
                conn.request("GET", endpoint.path, headers=_headers(endpoint))
                response = conn.getresponse()
                status = response.status
                response.close()
            if watch.fired:  # the answer was cut off at the deadline, whatever was parsed
                return Outcome(Status.unhealthy, deadline.timed_out)
        finally:
            conn.close()
    except (http.client.HTTPException, OSError) as exc:
        if deadline.expired:
            return Outcome(Status.unhealthy, deadline.timed_out)
        return _describe(exc, deadline)
    unchecked = " (certificate not checked, like the healthcheck)" if not endpoint.verify_tls else ""
    if 200 <= status < 300:
        return Outcome(Status.healthy, f"HTTP {status}{unchecked}")
    return Outcome(Status.unhealthy, f"HTTP {status}{unchecked}")


def _tls_context(endpoint: Endpoint) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not endpoint.verify_tls:
        # The stack's own healthcheck accepts any certificate (curl -k); demanding more would call a
        # container unhealthy that Docker reports healthy.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _headers(endpoint: Endpoint) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Connection": "close"}
    if endpoint.username is not None or endpoint.password is not None:
        # Credentials in the URL authenticate, as with curl (RFC 7617 Basic, UTF-8).
        pair = f"{endpoint.username or ''}:{endpoint.password or ''}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    return headers


def _describe(exc: BaseException, deadline: Deadline) -> Outcome:
    if isinstance(exc, http.client.RemoteDisconnected):
        return Outcome(Status.unhealthy, "connection closed by the server without an answer")
    if isinstance(exc, http.client.BadStatusLine):
        return Outcome(Status.unhealthy, f"bad HTTP answer: not an HTTP status line: {str(exc)[:80]}")
    if isinstance(exc, http.client.HTTPException):
        # http.client raises the bare class for "got more than 100 headers" (its limit, _MAXHEADERS).
        cause = str(exc) or type(exc).__name__
        if cause.startswith("got more than") and cause.endswith("headers"):
            cause = f"more than {cause.split()[3]} header lines (the limit cdbctl accepts)"
        return Outcome(Status.unhealthy, f"bad HTTP answer: {cause[:120]}")
    return describe_error(exc, deadline)
